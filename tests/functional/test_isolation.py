"""The isolation matrix, built from app.routes: every route, every kind of caller, every other brand's ids.

For each route the app registers: no token gets 401 (unless the route is public), a
shopper token gets 401 on operator routes and an operator token 401 on shopper routes, a
viewer gets 403 on every write, and brand A's owner gets 404 with brand B's ids, with
nothing of brand B in the answer; delivery details (names, phones, addresses) show in clear
to owners alone, each such answer audited, on every read route. A new route joins the matrix on its own: it must say
who may call it (app.ROUTE_AUTH), and a route with a new kind of id needs a maker below
(MAKERS) and, when it takes a body, a sample body (BODIES), or these tests fail.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from app import ROUTE_AUTH, app
from chalicelib.adapters.models import AuditEvent, Export, Redemption
from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import clock, codes
from chalicelib.domain.phones import seal_text
from chalicelib.services import batches, campaigns, draw_schedule, rewards, subject_requests, webhooks
from tests.support import CONSENT, VALID_CAMPAIGN, draw_line_id, shopper_token, with_draw_line

WRITES = ("POST", "PATCH", "PUT", "DELETE")
SECRET = "Brand-B-Secret-Name"
# A body each write route would accept for a resource of the caller's own brand, so a 404
# can only mean "not yours", never a bad body.
BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/v1/campaigns"): VALID_CAMPAIGN,
    ("PATCH", "/v1/campaigns/{campaign_id}"): {"name": "Taken over"},
    ("POST", "/v1/campaigns/{campaign_id}/status"): {"status": "paused"},
    ("POST", "/v1/campaigns/{campaign_id}/batches"): {"sku": "STOLEN", "quantity": 5},
    ("POST", "/v1/batches/{batch_id}/status"): {"status": "void"},
    ("POST", "/v1/batches/{batch_id}/exports"): {"format": "csv"},
    ("POST", "/v1/codes/{code}/status"): {"status": "void"},
    ("POST", "/v1/shopper/otp"): {"phone": "0912 345 678"},
    ("POST", "/v1/shopper/session"): {"phone": "0912 345 678", "otp": "123456", "consent": CONSENT},
    ("POST", "/v1/scans"): {"code": "10000-10000-00000-00000"},
    ("PUT", "/v1/loyalty/program"): {"tiers": []},
    ("PUT", "/v1/retention"): {"delivery_months": 6},
    ("POST", "/v1/rewards"): {"name": "Stolen", "kind": "gift", "cost": 5, "stock": 1},
    ("PATCH", "/v1/rewards/{reward_id}"): {"cost": 1},
    ("POST", "/v1/rewards/{reward_id}/retire"): {},
    ("POST", "/v1/rewards/{reward_id}/vouchers/{upload_id}/withdraw"): {},
    ("POST", "/v1/rewards/{reward_id}/vouchers"): {"code": "STOLEN-1"},
    ("POST", "/v1/redemptions/{redemption_id}/fulfil"): {},
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): {},
    ("POST", "/v1/me/redemptions"): {"reward_id": "rwd_01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    ("POST", "/v1/campaigns/{campaign_id}/draws"): {
        "name": "Stolen draw",
        "prize_id": "prz_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "winners": 1,
        "draw_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "entries_until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    },
    ("POST", "/v1/draws/{draw_id}/run"): {},
    ("POST", "/v1/draws/{draw_id}/beacon"): {"value": "01 02 03 04 05 06"},
    ("POST", "/v1/draws/{draw_id}/wins/{pick}/status"): {"status": "verified"},
    ("POST", "/v1/me/wins/{draw_id}/{pick}/accept"): {
        "name": "Lan Nguyen",
        "phone": "0912 345 678",
        "address": "12 Le Loi Street, Hanoi",
    },
    ("POST", "/v1/me/wins/{draw_id}/{pick}/decline"): {},
    ("POST", "/v1/me/deletion"): {},
    ("POST", "/v1/me/deletion/confirm"): {"otp": "123456"},
    ("PUT", "/v1/me/consents"): {"brand_id": "brand-b", "marketing": True},
    ("POST", "/v1/subject-requests"): {
        "kind": "access",
        "phone": "0987 654 321",
        "received_on": datetime.now(UTC).date().isoformat(),
        "channel": "letter",
    },
    ("POST", "/v1/subject-requests/{request_id}/close"): {"outcome": "done"},
    ("POST", "/v1/subject-requests/{request_id}/access"): {},
    ("POST", "/v1/subject-requests/{request_id}/erase"): {},
    ("POST", "/v1/subject-requests/{request_id}/correct"): {"marketing": False},
    ("PATCH", "/v1/batches/{batch_id}"): {"market": {"country": "VN", "places": ["VN-HN"]}},
    ("POST", "/v1/batches/{batch_id}/quarantine"): {"reason": "taken over"},
    ("POST", "/v1/batches/{batch_id}/release"): {},
    ("POST", "/v1/codes/{code}/quarantine"): {"reason": "taken over"},
    ("POST", "/v1/codes/{code}/release"): {},
    ("PUT", "/v1/integrity/thresholds"): {"farm_claims": 1},
    ("POST", "/v1/me/consents/withdrawals"): {"brand_id": "brand-b", "purpose": "partner-offers"},
    ("PUT", "/v1/consent-purposes"): {"purposes": [], "version": 0},
    ("POST", "/v1/webhooks"): {"url": "https://hooks.example.com/stolen", "event_types": ["claim.granted"]},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"url": "https://hooks.example.com/stolen"},
    ("DELETE", "/v1/webhooks/{webhook_id}"): {},
    ("POST", "/v1/webhooks/{webhook_id}/rotate"): {},
    ("POST", "/v1/webhooks/{webhook_id}/ping"): {},
    ("POST", "/v1/webhooks/{webhook_id}/replay"): {
        "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "to": datetime.now(UTC).isoformat(),
    },
}


def _routes() -> list[tuple[str, str]]:
    return sorted((path, method) for path, entry in app.routes.items() for method in entry)


def _brand_b() -> dict[str, str]:
    """One resource of each kind for brand B, created through the services, as ids by path parameter."""
    now = datetime.now(UTC)
    body = {
        **with_draw_line(VALID_CAMPAIGN),
        "name": SECRET,
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    campaign = campaigns.create_campaign("brand-b", "b-owner", body)
    campaigns.change_campaign_status("brand-b", campaign["campaign_id"], "b-owner", {"status": "active"})
    batch = batches.mint_batch(
        "brand-b", campaign["campaign_id"], "b-owner", {"sku": "SECRET-SKU", "quantity": 10, "label": SECRET}
    )
    export = Export(
        "exp_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        brand_id="brand-b",
        batch_id=batch["batch_id"],
        batch_number=batch["batch_number"],
        key_version=1,
        quantity=10,
        base_url="http://x",
        format="csv",
        file_name=f"{SECRET}.csv",
        chunk_size=10,
        chunks_total=1,
        created_by="b-owner",
        created_at=clock.now(),
        updated_at=clock.now(),
        expires_at=clock.now() + timedelta(days=1),
    )
    export.save()
    reward = rewards.create_reward("brand-b", "b-owner", {"name": SECRET, "kind": "gift", "cost": 5, "stock": 3})
    redemption = Redemption(
        "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        brand_id="brand-b",
        shopper_id="shp_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        reward_id=reward["reward_id"],
        reward_name=SECRET,
        kind="gift",
        cost=5,
        status="pending",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    redemption.save()
    draw = draw_schedule.create_draw(
        "brand-b",
        campaign["campaign_id"],
        "b-owner",
        {**BODIES[("POST", "/v1/campaigns/{campaign_id}/draws")], "name": SECRET, "prize_id": draw_line_id(campaign)},
    )
    webhook = webhooks.create_webhook(
        "brand-b",
        "b-owner",
        {"url": "https://hooks.example.com/b", "event_types": ["claim.granted"], "description": SECRET},
    )
    request = subject_requests.create(
        "brand-b",
        "b-owner",
        {**BODIES[("POST", "/v1/subject-requests")], "note": SECRET},
        get_settings(),
    )
    return {
        "webhook_id": webhook["webhook_id"],
        "request_id": request["request_id"],
        "draw_id": draw["draw_id"],
        "campaign_id": campaign["campaign_id"],
        "batch_id": batch["batch_id"],
        "export_id": export.export_id,
        "code": codes.mint_code(get_keyring(), batch["batch_number"], 3),
        "reward_id": reward["reward_id"],
        "redemption_id": redemption.redemption_id,
        "upload_id": "ab" * 32,  # a voucher file's id: another brand's reward is not found whatever the file
        "brand_id": "brand-b",
        "pick": "1",  # a win of brand B's draw: not found for brand A whatever the pick
        "kind": "claims",  # a page of "my data": the shopper's own, whoever's ids
    }


def _path(template: str, ids: dict[str, str]) -> str:
    names = re.findall(r"\{(\w+)\}", template)
    missing = [name for name in names if name not in ids]
    assert not missing, f"{template}: add a maker for {missing} to _brand_b() in tests/functional/test_isolation.py"
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


# The audit trail, the retention settings' changes and the data-subject requests are the owners' alone.
OWNERS_ONLY = {
    ("/v1/audit", "GET"),
    ("/v1/retention", "PUT"),
    ("/v1/subject-requests", "GET"),
    ("/v1/subject-requests", "POST"),
    ("/v1/webhooks", "GET"),
    ("/v1/webhooks", "POST"),
}


def _body(method: str, path: str) -> dict | None:
    if method not in WRITES:
        return None
    assert (method, path) in BODIES, (
        f"{method} {path}: add a sample body to BODIES in tests/functional/test_isolation.py"
    )
    return BODIES[(method, path)]


def _ids_of_a(api) -> dict[str, str]:
    campaign = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    batch = api.json(
        "POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", {"sku": "A", "quantity": 10}, expect=201
    )
    reward = api.json("POST", "/v1/rewards", {"name": "Own", "kind": "gift", "cost": 5, "stock": 3}, expect=201)
    request = api.json("POST", "/v1/subject-requests", BODIES[("POST", "/v1/subject-requests")], expect=201)
    return {
        "request_id": request["request_id"],
        "campaign_id": campaign["campaign_id"],
        "batch_id": batch["batch_id"],
        "export_id": "exp_01ARZ3NDEKTSV4RRFFQ69G5FAW",
        "code": codes.mint_code(get_keyring(), batch["batch_number"], 1),
        "reward_id": reward["reward_id"],
        "redemption_id": "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAW",
        "upload_id": "ab" * 32,
        "brand_id": "brand-a",
        "draw_id": "drw_01ARZ3NDEKTSV4RRFFQ69G5FAW",
        "pick": "1",
        "webhook_id": "whk_01ARZ3NDEKTSV4RRFFQ69G5FAW",
    }


def test_every_route_says_who_may_call_it():
    undeclared = [route for route in _routes() if route not in ROUTE_AUTH]
    assert not undeclared, f"declare auth= for {undeclared} in app.py (ROUTE_AUTH)"
    assert set(ROUTE_AUTH.values()) <= {"operator", "shopper", "public"}
    assert {route for route in _routes() if ROUTE_AUTH[route] == "public"} == {
        ("/health", "GET"),
        ("/dashboard", "GET"),
        ("/s/{code}", "GET"),
        ("/S/{code}", "GET"),
        ("/wallet/{brand_id}", "GET"),
        ("/privacy", "GET"),  # the full privacy notice: the same words for everyone, no data
        # A brand's own purposes under the sign-in notice, read before there is a token: published words.
        ("/v1/brands/{brand_id}/purposes", "GET"),
        # A campaign's draws are public once scheduled: the results, each draw and its frozen snapshot.
        ("/results/{campaign_id}", "GET"),
        ("/results/draws/{draw_id}", "GET"),
        ("/results/draws/{draw_id}/entries.csv", "GET"),
        ("/v1/shopper/otp", "POST"),
        ("/v1/shopper/session", "POST"),
    }, "a new public route is a decision: add it here with the reason in its route"


def test_the_wrong_kind_of_caller_gets_401(api):
    ids = _brand_b()
    shopper = shopper_token()
    for path, method in _routes():
        kind = ROUTE_AUTH[(path, method)]
        if kind == "public":
            continue
        url, body = _path(path, ids), _body(method, path)
        callers = {"no token": "", "shopper token": shopper if kind == "operator" else None}
        if kind == "shopper":
            callers["operator token"] = None  # api.call's default: an owner's operator token
        for name, token in callers.items():
            response = api.call(method, url, body, token=token)
            assert response.status_code == 401, (method, path, name, response.status_code, response.body[:200])
            assert response.json_body["error"]["code"] == "unauthorized"


def test_a_viewer_gets_403_on_every_write(api):
    ids = _ids_of_a(api)
    writes = [(p, m) for p, m in _routes() if ROUTE_AUTH[(p, m)] == "operator" and m in WRITES]
    assert len(writes) >= 7
    for path, method in writes:
        response = api.call(method, _path(path, ids), _body(method, path), role="viewer")
        assert response.status_code == 403, (method, path, response.status_code, response.body[:200])
        assert response.json_body["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ["owner", "manager", "viewer"])
def test_another_brands_ids_are_not_found_and_show_nothing_of_it(api, role):
    ids = _brand_b()
    operator_routes = [(p, m) for p, m in _routes() if ROUTE_AUTH[(p, m)] == "operator"]
    with_ids = [(p, m) for p, m in operator_routes if "{" in p]
    assert len(with_ids) >= 15
    # What the role may not do at all it is refused first (403), for its own brand's ids
    # as for anyone's, so the refusal says nothing about brand B: writes, and for viewers
    # the print files and QR images (live codes).
    own = _ids_of_a(api)
    refused_for_role = {
        (p, m) for p, m in with_ids if api.call(m, _path(p, own), _body(m, p), role=role).status_code == 403
    }
    assert role != "viewer" or {(p, m) for p, m in with_ids if m in WRITES} <= refused_for_role
    for path, method in with_ids:
        expected = 403 if (path, method) in refused_for_role else 404
        response = api.call(method, _path(path, ids), _body(method, path), role=role)
        assert response.status_code == expected, (role, method, path, response.status_code, response.body[:200])
        assert SECRET.lower() not in response.body.decode(errors="replace").lower()
    # Routes without ids answer for the caller's own brand only; the owners' own routes refuse the others.
    for path, method in operator_routes:
        if role != "owner" and (path, method) in OWNERS_ONLY:
            assert api.call(method, path, _body(method, path), role=role).status_code == 403, (role, method, path)
            continue
        if "{" in path or (role == "viewer" and method in WRITES):
            continue
        if path == "/v1/redemptions.csv" and role == "viewer":  # delivery details: writers only
            continue
        if (path, method) == ("/v1/integrity/thresholds", "PUT") and role != "owner":  # owners set thresholds
            assert api.call(method, path, _body(method, path), role=role).status_code == 403
            continue
        if (path, method) == ("/v1/consent-purposes", "PUT") and role != "owner":  # they speak for the brand
            assert api.call(method, path, _body(method, path), role=role).status_code == 403
            continue
        response = api.call(method, path, _body(method, path), role=role)
        assert response.status_code < 300, (method, path, response.status_code)
        assert SECRET.lower() not in response.body.decode(errors="replace").lower(), (method, path)


DELIVERY = {"name": "Lan Nguyen", "phone": "0912 345 678", "address": "12 Le Loi Street, Hanoi"}
CLEAR = ("Lan Nguyen", "345 678", "Le Loi")


def _own_redemption_with_delivery(reward_id: str) -> str:
    """A gift redemption of brand A with delivery details, as redeeming writes it."""
    sealed = seal_text(json.dumps(DELIVERY), get_phone_hash_pepper(), "delivery")
    redemption = Redemption(
        "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAX",
        brand_id="brand-a",
        shopper_id="shp_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        reward_id=reward_id,
        reward_name="Own",
        kind="gift",
        cost=5,
        status="pending",
        delivery_sealed=sealed,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    redemption.save()
    return redemption.redemption_id


@pytest.mark.parametrize("role", ["owner", "manager", "viewer"])
def test_delivery_details_are_clear_to_owners_alone_on_every_route_and_each_such_answer_is_audited(api, role):
    # Fails on main: GET /v1/redemptions and redemptions.csv gave managers names, phones and addresses in clear.
    ids = _ids_of_a(api)
    ids["redemption_id"] = _own_redemption_with_delivery(ids["reward_id"])
    reads = [(p, m) for p, m in _routes() if ROUTE_AUTH[(p, m)] == "operator" and m == "GET"]
    # Without a why nobody sees them in clear, owners included.
    for path, method in reads:
        body = api.call(method, _path(path, ids), role=role, sub=f"{role}-1").body.decode(errors="replace")
        assert not any(part in body for part in CLEAR), (role, method, path)
    assert not [e for e in AuditEvent.query("brand-a") if e.action == "deliveries_viewed"]
    clear_answers = []
    for path, method in reads:
        response = api.call(method, _path(path, ids) + "?why=Shipping%20gifts", role=role, sub=f"{role}-1")
        body = response.body.decode(errors="replace")
        if any(part in body for part in CLEAR):
            assert role == "owner", (role, method, path)
            clear_answers.append(path)
    viewed = [e for e in AuditEvent.query("brand-a") if e.action == "deliveries_viewed"]
    assert len(viewed) == len(clear_answers), "each answer that showed deliveries in clear is audited"
    assert all(e.actor == f"{role}-1" and json.loads(e.details)["why"] == "Shipping gifts" for e in viewed)
    if role == "owner":
        assert set(clear_answers) == {"/v1/redemptions", "/v1/redemptions.csv"}
