"""Statistics through the HTTP API: who may read what, bad ranges, buckets, phones and the CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.models import CodeState, StatShard
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import phones
from chalicelib.domain.csvfile import read_cell
from chalicelib.domain.errors import AlreadyClaimed, CodeNotActive
from chalicelib.services import reconcile, scans, shoppers
from chalicelib.views import stats
from scripts.stats_worker import drain
from tests.functional.test_scans import BRAND, running  # noqa: F401 - fixture
from tests.support import assert_safe_csv

PHONES = ["+84901234561", "+84901234562", "+84901234563"]
ROUTES = ("/stats", "/stats/timeseries", "/stats/batches", "/stats/participants", "/participants.csv")


def _brand_ids(shopper_ids, brand=BRAND):
    return [phones.brand_shopper_id(get_phone_hash_pepper(), brand, s) for s in shopper_ids]


def _shopper(phone: str) -> str:
    """A signed-up shopper as sign-in leaves it: hashed, masked and sealed phone."""
    settings = get_settings()
    number = phones.normalise_phone(phone, settings.phone_regions)
    return shoppers.record_account(number, get_phone_hash_pepper(settings), datetime.now(UTC))


@pytest.fixture
def played(api, running):
    """A running campaign with claims by three shoppers (3, 2 and 1 claims), one duplicate scan."""
    campaign, batch, codes_ = running(quantity=20)
    ids = [_shopper(p) for p in PHONES]
    for shopper, code in zip([ids[0]] * 3 + [ids[1]] * 2 + [ids[2]], codes_):
        scans.claim_code(shopper, "203.0.113.9", {"code": code})
    with pytest.raises(AlreadyClaimed):
        scans.claim_code(ids[1], "203.0.113.9", {"code": codes_[0]})
    assert drain() >= 6
    return campaign, batch, codes_, ids


@pytest.mark.parametrize("role", ["viewer", "manager", "owner"])
def test_every_role_may_read_every_statistic(api, played, role):
    campaign_id = played[0]["campaign_id"]
    for route in ROUTES:
        response = api.call("GET", f"/v1/campaigns/{campaign_id}{route}", role=role)
        assert response.status_code == 200, (route, response.body)


def test_statistics_of_another_brand_or_without_a_token_are_refused(api, played):
    campaign_id = played[0]["campaign_id"]
    for route in ROUTES:
        assert api.call("GET", f"/v1/campaigns/{campaign_id}{route}", brand="brand-b").status_code == 404
        assert api.call("GET", f"/v1/campaigns/{campaign_id}{route}", token="").status_code == 401


def test_totals_count_claims_refusals_participants_and_codes(api, played):
    campaign, batch, _, _ = played
    totals = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats")
    assert totals["codes"] == {"minted": 20, "active": 20, "batches": 1}
    assert totals["scans"] == {
        "total": 7,
        "granted": 6,
        "duplicate": 1,
        "invalid": 0,
        "refused_cap": 0,
        "refused_rate": 0,
        "refused_inactive": 0,
    }
    assert totals["participants"] == {"unique": 3, "new": 3, "returning": 0}
    assert (totals["points_issued"], totals["entries_issued"]) == (60, 6)
    by_batch = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/batches")
    assert by_batch["batches"][0]["claims"] == 6 and by_batch["batches"][0]["redemption_rate"] == 0.3
    assert by_batch["skus"] == [{"sku": "NOODLE", "batches": 1, "quantity": 20, "claims": 6, "redemption_rate": 0.3}]


def test_participants_histogram_repeat_rate_cohort_and_top(api, played):
    campaign_id = played[0]["campaign_id"]
    people = api.json("GET", f"/v1/campaigns/{campaign_id}/stats/participants", role="viewer")
    assert people["participants"] == 3
    assert {row["claims"]: row["participants"] for row in people["histogram"]}["1"] == 1
    assert [row["participants"] for row in people["histogram"][:3]] == [1, 1, 1]
    assert people["repeat_rate"] == round(2 / 3, 4)
    assert len(people["cohorts"]) == 1 and people["cohorts"][0]["retention"][0]["participants"] == 3
    assert [row["claims"] for row in people["top"]] == [3, 2, 1]
    assert all("•" in row["phone"] for row in people["top"]), "a viewer sees masked numbers"
    unsaid = api.json("GET", f"/v1/campaigns/{campaign_id}/stats/participants", role="owner")
    assert all("•" in row["phone"] for row in unsaid["top"]), "an owner who gives no why sees masked numbers"
    owner = api.json(
        "GET", f"/v1/campaigns/{campaign_id}/stats/participants?why=Calling%20the%20top%20three", role="owner"
    )
    assert [row["phone"] for row in owner["top"]] == PHONES
    # Each brand knows its shoppers by its own pseudonym, never by the platform's id.
    assert [row["shopper_id"] for row in owner["top"]] == _brand_ids(played[3])
    assert _brand_ids(played[3], "brand-b") != _brand_ids(played[3])


def test_refusals_of_a_known_campaign_are_counted_by_kind(api, running):
    campaign, _, codes_ = running(quantity=4, batch_status="inactive")
    for _ in range(2):  # the same request twice (a phone resending it): one refusal
        with pytest.raises(CodeNotActive):
            scans.claim_code("shp_x", "203.0.113.9", {"code": codes_[0]}, "scan-1")
    with pytest.raises(CodeNotActive):
        scans.claim_code("shp_x", "203.0.113.9", {"code": codes_[0]}, "scan-2")
    # Counted from the stream, as claims are.
    assert drain() >= 2
    totals = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats")
    assert totals["scans"]["refused_inactive"] == 2 and totals["scans"]["total"] == 2


@pytest.mark.parametrize(
    "query, field",
    [
        ("granularity=week", "granularity"),
        ("granularity=", "granularity"),
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("to=2026-11-01T08:00:00", "to"),  # an instant needs its offset
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("granularity=hour&from=2026-01-01&to=2027-01-02", "to"),
        ("granularity=day&from=2020-01-01&to=2026-01-02", "to"),
        ("from=0632-04-08&to=0632-04-09", "from"),  # more than five years before the campaign starts
        ("from=2099-01-01&to=2099-01-02", "to"),  # more than five years after it ends
        ("from=", "from"),
        ("granularity=day&granularity=hour", "granularity"),  # given twice: ambiguous
    ],
)
def test_bad_ranges_are_refused_naming_the_field(api, played, query, field):
    campaign_id = played[0]["campaign_id"]
    before = sorted(json.dumps(i.attribute_values, default=str, sort_keys=True) for i in StatShard.scan())
    response = api.call("GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?{query}")
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"]["field"] == field
    assert sorted(json.dumps(i.attribute_values, default=str, sort_keys=True) for i in StatShard.scan()) == before


def test_the_longest_ranges_allowed_are_answered(api, played):
    campaign_id = played[0]["campaign_id"]
    hours = api.json(
        "GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?granularity=hour&from=2026-01-01&to=2027-01-01"
    )
    assert len(hours["buckets"]) == 366 * 24
    days = api.json("GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?from=2022-01-01&to=2026-12-31")
    assert len(days["buckets"]) == 1826


def test_timeseries_buckets_are_local_hours_and_days_and_add_up(api, played):
    campaign_id = played[0]["campaign_id"]
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    today = datetime.now(tz).date()
    days = api.json("GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?from={today - timedelta(days=6)}&to={today}")
    assert [b["start"] for b in days["buckets"]] == [
        f"{today - timedelta(days=6 - i)}T00:00:00+07:00" for i in range(7)
    ]
    assert sum(b["granted"] for b in days["buckets"]) == 6 and sum(b["duplicate"] for b in days["buckets"]) == 1
    assert sum(b["new_participants"] for b in days["buckets"]) == 3
    hours = api.json("GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?granularity=hour&from={today}&to={today}")
    assert len(hours["buckets"]) == 24 and hours["buckets"][7]["start"] == f"{today}T07:00:00+07:00"
    assert sum(b["granted"] for b in hours["buckets"]) == 6
    now_hour = datetime.now(tz).hour
    assert hours["buckets"][now_hour]["granted"] + (hours["buckets"][now_hour - 1]["granted"] if now_hour else 0) >= 1


def test_default_range_is_the_campaign_so_far(api, played):
    campaign = played[0]
    series = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/timeseries")
    assert series["granularity"] == "day" and len(series["buckets"]) in (2, 3)
    assert sum(b["granted"] for b in series["buckets"]) == 6
    recent = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/timeseries?granularity=hour")
    assert 24 <= len(recent["buckets"]) <= 48 and sum(b["granted"] for b in recent["buckets"]) == 6


def test_participants_csv_masks_phones_below_owner_and_pages(api, played, monkeypatch):
    campaign_id = played[0]["campaign_id"]
    for role, why, clear in (
        ("manager", "x", False),
        ("viewer", "x", False),
        ("owner", "", False),
        ("owner", "x", True),
    ):
        response = api.call(
            "GET", f"/v1/campaigns/{campaign_id}/participants.csv" + (f"?why={why}" if why else ""), role=role
        )
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
        assert_safe_csv(response.body.decode())
        rows = list(csv.DictReader(io.StringIO(response.body.decode())))
        assert sorted(r["claims"] for r in rows) == ["1", "2", "3"]
        # Phone cells start with "+": neutralised for spreadsheets, the number itself intact.
        assert all(r["phone"].startswith("'+84") for r in rows)
        shown = sorted(read_cell(r["phone"]) for r in rows)
        assert (shown == PHONES) is clear
        assert clear or all("•" in p and p.startswith("+84") for p in shown)
    monkeypatch.setattr(stats, "CSV_ROWS", 2)
    first = api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv")
    cursor = first.headers["X-Next-Cursor"]
    assert 'rel="next"' in first.headers["Link"]
    second = api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv?cursor={cursor}")
    assert "X-Next-Cursor" not in second.headers
    ids = [r["shopper_id"] for r in csv.DictReader(io.StringIO(first.body.decode()))] + [
        r["shopper_id"] for r in csv.DictReader(io.StringIO(second.body.decode()))
    ]
    assert sorted(ids) == sorted(_brand_ids(played[3]))
    # The platform's own shopper ids stay inside the platform, cursor included.
    for body in (first.body.decode(), second.body.decode(), cursor):
        assert not any(shopper in body for shopper in played[3]) and "shp_" not in body
    bad = api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv?cursor=%%%")
    assert bad.status_code == 400 and json.loads(bad.body)["error"]["field"] == "cursor"


def test_claim_records_carry_what_recounting_needs(api, played):
    campaign_id = played[0]["campaign_id"]
    claims = sorted(
        (c for c in CodeState.scan() if c.state == "claimed" and c.shopper_id == played[3][0]), key=lambda c: c.nth
    )
    assert [c.nth for c in claims] == [1, 2, 3]
    assert claims[1].prev_claim_at == claims[0].changed_at and claims[2].first_claim_at == claims[0].changed_at
    assert all(c.counted and c.timezone == "Asia/Ho_Chi_Minh" for c in claims)
    assert reconcile.reconcile(campaign_id).clean


def test_statistics_answers_match_the_openapi_schemas(api, played):
    from tests.functional.test_openapi import _check

    campaign_id = played[0]["campaign_id"]
    for route, schema in (
        ("/stats", "CampaignStats"),
        ("/stats/timeseries", "Timeseries"),
        ("/stats/timeseries?granularity=hour", "Timeseries"),
        ("/stats/batches", "BatchStats"),
        ("/stats/participants", "ParticipantStats"),
    ):
        for role in ("viewer", "owner"):
            _check(api.json("GET", f"/v1/campaigns/{campaign_id}{route}", role=role), schema)
    _check(json.loads(api.call("GET", f"/v1/campaigns/{campaign_id}/stats/timeseries?granularity=week").body), "Error")


def test_every_look_at_clear_phone_numbers_is_in_the_owners_audit_trail(api, played):
    campaign_id = played[0]["campaign_id"]
    api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv?why=x", role="manager")  # masked: not recorded
    api.call("GET", f"/v1/campaigns/{campaign_id}/stats/participants", role="viewer")
    api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv", sub="owner-7")  # no why: masked, not recorded
    api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv?why=Winners%20list", sub="owner-7")
    api.call("GET", f"/v1/campaigns/{campaign_id}/stats/participants?why=Prize%20calls", sub="owner-7")
    seen = [e for e in api.json("GET", "/v1/audit")["items"] if e["action"] == "phones_viewed"]
    assert [(e["actor"], e["target"], e["details"]) for e in seen] == [
        ("owner-7", campaign_id, {"where": "stats/participants", "numbers": 3, "why": "Prize calls"}),
        ("owner-7", campaign_id, {"where": "participants.csv", "numbers": 3, "why": "Winners list"}),
    ]
    bad = api.call("GET", f"/v1/campaigns/{campaign_id}/participants.csv?why=%20", sub="owner-7")
    assert bad.status_code == 400 and json.loads(bad.body)["error"]["field"] == "why"


def test_a_resent_claim_is_not_a_duplicate_scan_but_a_second_scan_is(api, running):
    campaign, _, codes_ = running(quantity=4)
    first = scans.claim_code("shp_x", "203.0.113.9", {"code": codes_[0]}, "scan-1")
    resent = scans.claim_code("shp_x", "203.0.113.9", {"code": codes_[0]}, "scan-1")
    again = scans.claim_code("shp_x", "203.0.113.9", {"code": codes_[0]}, "scan-2")
    assert (first["replay"], resent["replay"], again["replay"]) == (False, True, True)
    assert resent["balance"] == again["balance"] == first["balance"]
    drain()
    totals = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats")
    assert (totals["scans"]["granted"], totals["scans"]["duplicate"]) == (1, 1)
