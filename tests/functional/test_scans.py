"""Claims: grants, replays, refusals, caps, budget, lockout and the wallet, through the domain."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import records
from chalicelib.adapters.models import CodeState, Participant
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import clock, codes
from chalicelib.domain.errors import AlreadyClaimed, CampaignNotRunning, CodeInvalid, CodeNotActive, LimitReached
from chalicelib.services import batches, campaigns, scans
from chalicelib.views import wallet as wallet_view
from tests.support import VALID_CAMPAIGN

BRAND = "brand-a"
IP = "203.0.113.7"


@pytest.fixture
def running(store):
    """An active campaign (window around now) with one active batch of 50 codes."""
    records.clear_cache()

    def make(rules=None, quantity=50, batch_status="active", prizes=None):
        body = copy.deepcopy(VALID_CAMPAIGN)
        now = datetime.now(UTC)
        body.update(starts_at=(now - timedelta(days=1)).isoformat(), ends_at=(now + timedelta(days=365)).isoformat())
        body["rules"] = rules if rules is not None else {"points_per_scan": 10, "entries_per_scan": 1}
        if prizes is not None:
            body["prizes"] = prizes
        campaign = campaigns.create_campaign(BRAND, "op", body)
        campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "active"})
        batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": quantity})
        if batch_status != "inactive":
            batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
        if batch_status == "void":
            batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "void"})
        records.clear_cache()
        codes_ = [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(quantity)]
        return campaign, batch, codes_

    return make


def _claim(shopper, code):
    return scans.claim_code(shopper, IP, {"code": code})


def test_a_scan_grants_once_and_replays_the_original(running):
    campaign, _, codes_ = running()
    first = _claim("shp_a", codes_[0])
    assert first["result"] == "granted" and first["replay"] is False
    assert (first["points"], first["entries"]) == (10, 1)
    assert first["balance"] == {"points": 10, "entries": 1}
    assert first["campaign_id"] == campaign["campaign_id"]
    again = _claim("shp_a", codes_[0].lower().replace("-", ""))
    assert again["replay"] is True
    assert {k: again[k] for k in ("points", "entries", "balance", "claimed_at", "code")} == {
        k: first[k] for k in ("points", "entries", "balance", "claimed_at", "code")
    }
    with pytest.raises(AlreadyClaimed):
        _claim("shp_b", codes_[0])
    second = _claim("shp_a", codes_[1])
    assert second["balance"] == {"points": 20, "entries": 2}
    participant = Participant.get(campaign["campaign_id"], "shp_a")
    assert (participant.points, participant.entries, participant.claims) == (20, 2, 2)


def test_unknown_forged_and_voided_codes_answer_alike(running):
    _, batch, codes_ = running(quantity=5)
    batches.void_code(BRAND, codes_[2], "op", {"status": "void"})
    outside = codes.mint_code(get_keyring(), batch["batch_number"], 7)
    forged = codes_[0][:-2] + ("0" if codes_[0][-2] != "0" else "1") + codes_[0][-1]
    unknown_batch = codes.mint_code(get_keyring(), 999_999, 1)
    errors = []
    for candidate in (codes_[2], outside, forged, unknown_batch, "hello"):
        with pytest.raises(CodeInvalid) as info:
            _claim("shp_a", candidate)
        errors.append(info.value.to_dict())
    assert all(e == errors[0] for e in errors)
    assert CodeState.get(CodeState.key_for(batch["batch_number"], 2)).state == "void"


def test_inactive_batch_and_stopped_campaign(running):
    campaign, _, codes_ = running(batch_status="inactive")
    with pytest.raises(CodeNotActive):
        _claim("shp_a", codes_[0])
    campaign2, _, codes2 = running()
    campaigns.change_campaign_status(BRAND, campaign2["campaign_id"], "op", {"status": "paused"})
    records.clear_cache()
    with pytest.raises(CampaignNotRunning):
        _claim("shp_a", codes2[0])
    assert Participant.count() == 0


def test_daily_and_campaign_caps(running):
    _, _, codes_ = running(
        rules={"points_per_scan": 5, "max_claims_per_participant_per_day": 2, "max_claims_per_participant": 3}
    )
    _claim("shp_a", codes_[0])
    _claim("shp_a", codes_[1])
    with pytest.raises(LimitReached) as info:
        _claim("shp_a", codes_[2])
    assert "today" in info.value.message
    # The refused code stays unclaimed: another shopper may still claim it.
    assert _claim("shp_b", codes_[2])["points"] == 5


def test_budget_is_never_exceeded(running):
    _, _, codes_ = running(rules={"points_per_scan": 10, "budget_points": 35})
    granted = 0
    for i, code in enumerate(codes_[:6]):
        try:
            granted += _claim(f"shp_{i}", code)["points"]
        except LimitReached as exc:
            assert "points" in exc.message
    assert granted == 30
    assert sum(p.points for p in Participant.scan()) == 30


def test_ten_invalid_codes_lock_the_shopper_out(running):
    _, _, codes_ = running()
    for i in range(10):
        with pytest.raises(CodeInvalid):
            _claim("shp_bad", f"AAAAA-BBBBB-CCCCC-DDDD{i}")
    with pytest.raises(LimitReached) as info:
        _claim("shp_bad", "AAAAA-BBBBB-CCCCC-DDDDD")
    assert "locked" in info.value.message and info.value.retry_after > 3000
    with pytest.raises(LimitReached):
        _claim("shp_bad", codes_[0])  # even a genuine code, while locked
    # Another container, which has not met the lock, finds it and does not extend it.
    scans.LOCKS.clear()
    with clock.replaced(lambda: time.time() + 600), pytest.raises(LimitReached) as later:
        _claim("shp_bad", "AAAAA-BBBBB-CCCCC-DDDDD")
    assert info.value.retry_after - 700 <= later.value.retry_after <= info.value.retry_after - 500
    assert _claim("shp_good", codes_[0])["points"] == 10


def test_wallet_lists_balances_and_history(running):
    campaign, _, codes_ = running()
    for code in codes_[:3]:
        _claim("shp_w", code)
    wallet = wallet_view.wallet("shp_w")
    assert wallet["campaigns"] == [{"campaign_id": campaign["campaign_id"], "points": 30, "entries": 3, "claims": 3}]
    assert len(wallet["history"]) == 3 and wallet["next_cursor"] is None
    assert wallet_view.wallet("shp_nobody") == {"campaigns": [], "history": [], "next_cursor": None}
    pages, cursor = [], None
    while True:
        page = wallet_view.wallet("shp_w", limit="2", cursor=cursor)
        pages.append([h["claimed_at"] for h in page["history"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    flat = [t for page in pages for t in page]
    assert len(flat) == 3 and flat == sorted(flat, reverse=True) and len(pages[0]) == 2
    from chalicelib.domain.errors import InvalidInput

    with pytest.raises(InvalidInput):
        wallet_view.wallet("shp_w", cursor="bm9wZQ")


@pytest.mark.parametrize("body", [{}, {"code": 5}, {"code": ""}, {"code": "X", "points": 100}])
def test_bad_scan_bodies(running, body):
    from chalicelib.domain.errors import InvalidInput

    with pytest.raises(InvalidInput):
        scans.claim_code("shp_a", IP, body)


def test_secret_instant_wins_award_exactly_the_allocated_codes(store):
    records.clear_cache()
    now = datetime.now(UTC)
    body = {
        **copy.deepcopy(VALID_CAMPAIGN),
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "rules": {"points_per_scan": 1},
        "prizes": [{"name": "Motorbike", "quantity": 2}, {"name": "Cap", "quantity": 10}],
    }
    campaign = campaigns.create_campaign(BRAND, "op", body)
    bike, cap = (p["prize_id"] for p in campaign["prizes"])
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "active"})
    batch = batches.mint_batch(
        BRAND,
        campaign["campaign_id"],
        "op",
        {
            "sku": "NOODLE",
            "quantity": 40,
            "instant_wins": [{"prize_id": bike, "count": 2}, {"prize_id": cap, "count": 6}],
        },
    )
    assert batch["instant_wins"] == [{"prize_id": bike, "count": 2}, {"prize_id": cap, "count": 6}]
    batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
    # The allocation is reserved against the prize: a second batch cannot oversubscribe it.
    from chalicelib.domain.errors import Conflict

    with pytest.raises(Conflict):
        batches.mint_batch(
            BRAND,
            campaign["campaign_id"],
            "op",
            {"sku": "NOODLE", "quantity": 40, "instant_wins": [{"prize_id": cap, "count": 5}]},
        )
    won = [_claim(f"shp_{s}", codes.mint_code(get_keyring(), batch["batch_number"], s))["prize"] for s in range(40)]
    names = [p["name"] for p in won if p]
    assert sorted(names) == ["Cap"] * 6 + ["Motorbike"] * 2
    # Nothing in the batch record, the claims or the print file lists the winning codes in advance.
    assert "prize" not in "".join(batches.csv_lines(batches.Batch.get(batch["batch_id"]), 0, 40)).lower()


def test_odds_prizes_stop_at_their_stock(running):
    prize = {"name": "Sticker", "quantity": 4, "odds_per_million": 1_000_000}
    campaign, _, codes_ = running(rules={"points_per_scan": 3}, prizes=[prize])
    results = [_claim(f"shp_{i}", code) for i, code in enumerate(codes_[:10])]
    assert sum(1 for r in results if r["prize"]) == 4
    assert all(r["points"] == 3 for r in results), "a scan past the stock still grants its points"
    assert campaign["prizes"][0]["odds_per_million"] == 1_000_000


def test_the_scan_api_end_to_end(api, running):
    from tests.support import operator_token, shopper_id, shopper_token

    campaign, _, codes_ = running(quantity=5)
    alice, bob = shopper_token("+84912345678"), shopper_token("0917 123 4567")
    granted = api.json("POST", "/v1/scans", {"code": codes_[0]}, token=alice, headers={"Idempotency-Key": "pack-1"})
    assert granted["result"] == "granted" and granted["replay"] is False and granted["points"] == 10
    replay = api.json("POST", "/v1/scans", {"code": codes_[0]}, token=alice, headers={"Idempotency-Key": "pack-1"})
    assert replay["replay"] is True and replay["claimed_at"] == granted["claimed_at"]
    taken = api.call("POST", "/v1/scans", {"code": codes_[0]}, token=bob)
    assert taken.status_code == 409 and taken.json_body["error"]["code"] == "code_already_claimed"
    invalid = api.call("POST", "/v1/scans", {"code": "NOT-A-CODE"}, token=bob)
    assert invalid.status_code == 404 and invalid.json_body["error"]["code"] == "code_invalid"
    # Operator tokens are not shopper tokens, and the reverse.
    assert api.call("POST", "/v1/scans", {"code": codes_[1]}, token=operator_token()).status_code == 401
    assert api.call("GET", "/v1/campaigns", token=alice).status_code == 401
    bad_key = api.call("POST", "/v1/scans", {"code": codes_[1]}, token=alice, headers={"Idempotency-Key": "a b"})
    assert bad_key.status_code == 400 and bad_key.json_body["error"]["field"] == "Idempotency-Key"
    wallet = api.json("GET", "/v1/me", token=alice)
    assert wallet["campaigns"] == [{"campaign_id": campaign["campaign_id"], "points": 10, "entries": 1, "claims": 1}]
    assert wallet["phone"].endswith("678") and "912" not in wallet["phone"]
    assert Participant.get(campaign["campaign_id"], shopper_id("+84912345678")).points == 10


def test_rate_windows_ignore_old_items_that_ttl_has_not_removed(store):
    from chalicelib.adapters import limits
    from chalicelib.adapters.models import RateCounter

    start = 1_800_000_000.0
    for _ in range(3):
        limits.hit("t", "shopper", limit=3, window_seconds=60, message="slow down", now=start)
    with pytest.raises(LimitReached):
        limits.hit("t", "shopper", limit=3, window_seconds=60, message="slow down", now=start + 10)
    # The full window is still stored (TTL lags), yet the next window starts from zero.
    assert len(list(RateCounter.scan())) == 1
    assert limits.hit("t", "shopper", limit=3, window_seconds=60, message="slow down", now=start + 61) == 1


def test_a_sku_override_sets_what_its_packs_earn_and_the_landing_page_shows_it(running):
    from chalicelib.views import codes as code_view

    rules = {
        "points_per_scan": 10,
        "entries_per_scan": 1,
        "sku_overrides": {"NOODLE": {"points_per_scan": 25, "entries_per_scan": 3}, "OTHER": {"points_per_scan": 1}},
    }
    _, _, codes_ = running(rules=rules)
    described = code_view.describe_code(codes_[0])
    assert (described["points_per_scan"], described["entries_per_scan"]) == (25, 3)
    granted = _claim("shp_sku", codes_[0])
    assert (granted["points"], granted["entries"]) == (25, 3)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"NOODLE": {"entries_per_scan": 1}}, "rules.sku_overrides.NOODLE.points_per_scan"),
        ({"NOODLE": {"points_per_scan": -1}}, "rules.sku_overrides.NOODLE.points_per_scan"),
        ({"": {"points_per_scan": 1}}, "rules.sku_overrides"),
        ({"NOODLE": {"points_per_scan": 1, "bonus": 2}}, "rules.sku_overrides.NOODLE.bonus"),
    ],
)
def test_bad_sku_overrides_name_the_field_and_create_nothing(api, overrides, field):
    from chalicelib.adapters.models import Campaign

    body = {**VALID_CAMPAIGN, "rules": {**VALID_CAMPAIGN["rules"], "sku_overrides": overrides}}
    response = api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"]["field"].startswith(field)
    assert list(Campaign.scan()) == []
