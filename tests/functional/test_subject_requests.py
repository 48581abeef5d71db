"""Data-subject requests handled by owners, on moto: recorded with the market's deadline, acted on with the
shopper's own machinery (my data, deletion, consents), each step audited, and every clear view given a why."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from chalicelib.adapters import records
from chalicelib.adapters.models import AuditEvent, Redemption, ShopperAccount, SubjectRequest
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock, markets
from chalicelib.domain.phones import brand_shopper_id
from tests.functional.test_erasure import found_in_tables
from tests.functional.test_openapi import SPEC
from tests.functional.test_shopper_auth import MASKED, PHONE, ask, last_code, outbox  # noqa: F401 - the fixture
from tests.functional.test_shopper_data import DELIVERY, E164, OTHER, _own_redemption
from tests.support import CONSENT, active_batch, shopper_id

URL = "/v1/subject-requests"


@pytest.fixture(autouse=True)
def _fresh_lookups():
    records.clear_cache()
    yield
    records.clear_cache()


def _signed_in(api, outbox, phone: str = PHONE) -> str:
    ask(api, phone)
    body = {"phone": phone, "otp": last_code(outbox, E164[phone]), "consent": CONSENT}
    return api.json("POST", "/v1/shopper/session", body, token="")["token"]


def _claimed(api, token: str, brand: str = "brand-a") -> None:
    _, _, codes = active_batch(brand, 2)
    api.json("POST", "/v1/scans", {"code": codes[0]}, token=token)


def _days_ago(days: int) -> str:
    return (clock.now().date() - timedelta(days=days)).isoformat()


def _request(api, kind: str = "access", phone: str = PHONE, **extra) -> dict:
    body = {"kind": kind, "phone": phone, "received_on": _days_ago(1), "channel": "email", **extra}
    return api.json("POST", URL, body, expect=201)


def _check(instance, path: str, method: str = "get", status: str = "200") -> None:
    from openapi_schema_validator import OAS31Validator

    schema = SPEC["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(instance)


def _events(action: str, brand: str = "brand-a") -> list[dict]:
    return [
        {"actor": e.actor, "target": e.target, **json.loads(e.details)}
        for e in AuditEvent.query(brand)
        if e.action == action
    ]


def test_requests_take_their_markets_deadline_and_list_open_first_with_overdue_flagged(api, outbox):
    token = _signed_in(api, outbox)
    _claimed(api, token)
    late = _request(api, market="VN", received_on=_days_ago(15), note="Letter of 1 Dec")
    _check(late, URL, "post", "201")
    assert late["deadline"] == (date.fromisoformat(_days_ago(15)) + timedelta(days=10)).isoformat()
    assert late["overdue"] is True and late["status"] == "open" and late["data_held"] is True
    assert late["phone"] == MASKED
    ph = _request(api, "correction", market="PH")
    assert ph["deadline"] == (date.fromisoformat(_days_ago(1)) + timedelta(days=30)).isoformat()
    assert ph["overdue"] is False
    # No market named: the shortest period of all markets, so every market's deadline is met.
    unnamed = _request(api, "deletion")
    shortest = min(markets.subject_request_days(m) for m in ("VN", "PH"))
    assert markets.subject_request_days(None) == shortest == 10
    assert unnamed["deadline"] == (date.fromisoformat(_days_ago(1)) + timedelta(days=shortest)).isoformat()
    # Each deadline rests on a row with its source.
    for code in ("VN", "PH"):
        row = next(r for r in markets.market(code).rules if r.name == "subject_request_days")
        assert row.source and row.url
    # A number nobody signed in with, or that holds nothing of this brand, is closed as "no data held".
    nobody = _request(api, phone=OTHER)
    assert nobody["status"] == "closed" and nobody["outcome"] == "no_data_held" and nobody["data_held"] is False
    listed = api.json("GET", URL)
    _check(listed, URL)
    ids = [r["request_id"] for r in listed["items"]]
    assert ids == [late["request_id"], unnamed["request_id"], ph["request_id"], nobody["request_id"]]
    first = api.json("GET", f"{URL}/{late['request_id']}")
    _check(first, f"{URL}/{{request_id}}")
    assert first == listed["items"][0]
    # Paged: a page of one carries a cursor to the next.
    page = api.json("GET", f"{URL}?limit=1")
    after = api.json("GET", f"{URL}?limit=1&cursor={page['next_cursor']}")
    assert [r["request_id"] for r in page["items"] + after["items"]] == ids[:2]
    # The number is never stored: neither in clear nor as its hash; each request is in the audit trail.
    stored = repr([r.serialize() for r in SubjectRequest.scan()])
    assert "+84912345678" not in stored and "912345678" not in stored
    assert ShopperAccount.get(shopper_id()).phone_hash not in stored
    assert len(_events("subject_request_recorded")) == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "kind"),
        ({"kind": "rectify"}, "kind"),
        ({"phone": "0912 345 67"}, "phone"),
        ({"phone": "hello"}, "phone"),
        ({"received_on": "2026-13-01"}, "received_on"),
        ({"received_on": "2999-01-01"}, "received_on"),
        ({"received_on": "2020-01-01"}, "received_on"),
        ({"channel": "fax"}, "channel"),
        ({"market": "SG"}, "market"),
        ({"note": ""}, "note"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_requests_are_400_naming_the_field_and_write_nothing(api, body, field):
    good = {"kind": "access", "phone": PHONE, "received_on": _days_ago(1), "channel": "letter"}
    sent = {**good, **body} if body else {}
    error = api.json("POST", URL, sent, expect=400)["error"]
    assert error["field"] == field, error
    assert list(SubjectRequest.scan()) == [] and list(AuditEvent.scan()) == []


def test_only_owners_handle_requests(api, outbox):
    request_id = _request(api, phone=OTHER)["request_id"]
    for role in ("manager", "viewer"):
        for method, path, body in (
            ("POST", URL, {"kind": "access"}),
            ("GET", URL, None),
            ("GET", f"{URL}/{request_id}", None),
            ("POST", f"{URL}/{request_id}/close", {"outcome": "done"}),
            ("POST", f"{URL}/{request_id}/access", None),
            ("POST", f"{URL}/{request_id}/erase", None),
            ("POST", f"{URL}/{request_id}/correct", {"marketing": False}),
        ):
            assert api.call(method, path, body, role=role).status_code == 403, (role, method, path)
    # Another brand's owner finds nothing.
    assert api.call("GET", f"{URL}/{request_id}", brand="brand-b").status_code == 404
    assert api.json("GET", URL, brand="brand-b")["items"] == []


def test_an_access_request_gives_the_owner_the_shoppers_my_data_as_this_brand_holds_it(api, outbox):
    token = _signed_in(api, outbox)
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-b", "marketing": True}, token=token)
    _claimed(api, token)
    _claimed(api, token, "brand-b")  # what the shopper did with another brand is not this brand's to give
    _own_redemption(PHONE)
    mine = api.json("GET", "/v1/me/data", token=token)
    request_id = _request(api)["request_id"]
    response = api.call("POST", f"{URL}/{request_id}/access", role="owner", sub="owner-7")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{request_id}-data.json"'
    document = json.loads(response.body)
    _check(document, f"{URL}/{{request_id}}/access", "post")
    participant = brand_shopper_id(get_phone_hash_pepper(), "brand-a", shopper_id())
    # The same document as the shopper's own, but this brand's part, named by the brand's pseudonym.
    expected = {
        **mine,
        "account": {"participant_id": participant, **{k: v for k, v in mine["account"].items() if k != "shopper_id"}},
        "consents": {
            **mine["consents"],
            "marketing_brands": ["brand-a"],
            "marketing_changes": [c for c in mine["consents"]["marketing_changes"] if c["brand_id"] == "brand-a"],
        },
        "memberships": [m for m in mine["memberships"] if m["brand_id"] == "brand-a"],
        "claims": {"items": [c for c in mine["claims"]["items"] if c["brand_id"] == "brand-a"], "next_cursor": None},
        "draws": [],
    }
    assert document == expected
    assert document["redemptions"]["items"][0]["delivery"] == DELIVERY
    assert shopper_id() not in response.body.decode() and "brand-b" not in response.body.decode()
    # Recorded on the request and audited with its id as the why.
    seen = api.json("GET", f"{URL}/{request_id}")
    assert [a["action"] for a in seen["actions"]] == ["record", "access"] and seen["status"] == "open"
    [event] = _events("subject_request_access")
    assert event["actor"] == "owner-7" and event["why"] == request_id and event["claims"] == 1
    # A request of another kind is not an access request; a closed one is acted on no more.
    other = _request(api, "deletion")["request_id"]
    assert api.json("POST", f"{URL}/{other}/access", expect=409)["error"]["field"] == "kind"
    api.json("POST", f"{URL}/{request_id}/close", {"outcome": "done"})
    assert api.json("POST", f"{URL}/{request_id}/access", expect=409)["error"]["field"] == "status"
    assert api.json("POST", f"{URL}/{request_id}/close", {"outcome": "refused"}, expect=400)["error"]["field"] == "note"


def test_a_deletion_request_runs_the_accounts_deletion_once_and_closes(api, outbox):
    token = _signed_in(api, outbox)
    _claimed(api, token)
    sid = shopper_id()
    sealed = {ShopperAccount.get(sid).phone_sealed}
    request_id = _request(api, "deletion")["request_id"]
    assert found_in_tables(PHONE, sealed)  # the check finds the request's masked number and the account before
    closed = api.json("POST", f"{URL}/{request_id}/erase")
    _check(closed, f"{URL}/{{request_id}}/erase", "post")
    assert closed["status"] == "closed" and closed["outcome"] == "done" and closed["phone"] is None
    assert closed["actions"][-1]["result"] == {"status": "done"}
    account = ShopperAccount.get(sid)
    assert account.erasure_status == "done" and account.phone_hash is None
    assert found_in_tables(PHONE, sealed) == []
    [event] = _events("subject_request_erase")
    assert event["why"] == request_id
    # Exactly once: the request is closed, and the account has nothing left to find.
    assert api.json("POST", f"{URL}/{request_id}/erase", expect=409)["error"]["field"] == "status"
    assert _request(api, "deletion")["outcome"] == "no_data_held"


def test_a_deletion_request_for_an_account_another_brand_also_holds_is_refused(api, outbox):
    token = _signed_in(api, outbox)
    _claimed(api, token)
    _claimed(api, token, "brand-b")
    request_id = _request(api, "deletion")["request_id"]
    assert api.json("POST", f"{URL}/{request_id}/erase", expect=409)["error"]["field"] == "request_id"
    assert ShopperAccount.get(shopper_id()).phone_hash is not None
    assert api.json("GET", f"{URL}/{request_id}")["status"] == "open"


def test_a_correction_request_corrects_a_pending_gifts_delivery_or_withdraws_marketing(api, outbox):
    token = _signed_in(api, outbox)
    api.json("PUT", "/v1/me/consents", {"brand_id": "brand-a", "marketing": True}, token=token)
    _claimed(api, token)
    _own_redemption(PHONE)
    request_id = _request(api, "correction")["request_id"]
    path = f"{URL}/{request_id}/correct"
    new = {"name": "Lan Tran", "phone": "0912 000 222", "address": "14 Hang Bai Street, Hanoi"}
    rdm = "rdm_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    # Bad input names its field and writes nothing.
    for body, field in (
        ({}, "redemption"),
        ({"redemption": {"redemption_id": rdm, "delivery": {**new, "address": "x"}}}, "redemption.delivery.address"),
        ({"redemption": {"redemption_id": "rdm_1", "delivery": new}}, "redemption.redemption_id"),
        ({"marketing": True}, "marketing"),
        ({"marketing": False, "redemption": {"redemption_id": rdm, "delivery": new}}, "redemption"),
    ):
        assert api.json("POST", path, body, expect=400)["error"]["field"] == field, body
    assert _events("subject_request_correct") == []
    done = api.json("POST", path, {"redemption": {"redemption_id": rdm, "delivery": new}, "note": "New address"})
    _check(done, path.replace(request_id, "{request_id}"), "post")
    assert api.json("GET", "/v1/me/data", token=token)["redemptions"]["items"][0]["delivery"] == new
    sealed = Redemption.get(rdm).delivery_sealed
    assert "Lan Tran" not in sealed and "Hang Bai" not in sealed
    api.json("POST", path, {"marketing": False})
    assert ShopperAccount.get(shopper_id()).marketing_brands is None
    # Withdrawn already: nothing to change, nothing written.
    api.json("POST", path, {"marketing": False}, expect=409)
    # Another brand's gift, or one already shipped, is not corrected.
    Redemption.get(rdm).update(actions=[Redemption.status.set("shipped")])
    api.json("POST", path, {"redemption": {"redemption_id": rdm, "delivery": DELIVERY}}, expect=409)
    events = _events("subject_request_correct")
    assert [e["corrected"] for e in events] == ["redemption", "marketing"]
    assert all(e["why"] == request_id for e in events)
    assert "Lan Tran" not in json.dumps(events)


def test_clear_sight_needs_a_why_and_every_such_view_records_it(api, outbox):
    token = _signed_in(api, outbox)
    _claimed(api, token)
    _own_redemption(PHONE)
    # Without a why an owner sees the delivery masked, as a manager does, and nothing is audited.
    masked = api.json("GET", "/v1/redemptions")["items"][0]["delivery"]
    assert masked["name"] == "L•••"
    assert _events("deliveries_viewed") == []
    # With one, in clear, and the trail says who, when, what and why.
    clear = api.json("GET", "/v1/redemptions?why=Shipping%20the%20December%20gifts", sub="owner-2")
    assert clear["items"][0]["delivery"] == DELIVERY
    [event] = _events("deliveries_viewed")
    assert event["actor"] == "owner-2" and event["why"] == "Shipping the December gifts"
    assert event["redemptions"] == ["rdm_01ARZ3NDEKTSV4RRFFQ69G5FAV"]
    # A request's id is a why too; another brand's request, or a blank or long one, is a 400 naming `why`.
    request_id = _request(api)["request_id"]
    api.json("GET", f"/v1/redemptions?why={request_id}")
    assert _events("deliveries_viewed")[-1]["why"] == request_id
    theirs = api.json(
        "POST",
        URL,
        {"kind": "access", "phone": OTHER, "received_on": _days_ago(1), "channel": "email"},
        brand="brand-b",
        expect=201,
    )["request_id"]
    for why in (theirs, "dsr_1", "%20", "x" * 201, "a%0Ab"):
        for path in ("/v1/redemptions", "/v1/redemptions.csv"):
            error = api.json("GET", f"{path}?why={why}", expect=400)["error"]
            assert error["field"] == "why", (path, why)
    # A manager's why changes nothing: clear sight is the owners'.
    assert api.json("GET", "/v1/redemptions?why=x", role="manager")["items"][0]["delivery"]["name"] == "L•••"
    assert len(_events("deliveries_viewed")) == 2
