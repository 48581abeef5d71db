"""Pack integrity through the API: scan places, batch markets, statistics by place, signals, quarantine."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.models import CodeState
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import phones
from chalicelib.services import reconcile, scans
from chalicelib.services.integrity import put_thresholds
from scripts.stats_worker import drain
from tests.functional.test_scans import BRAND, IP, running  # noqa: F401 - fixture
from tests.support import shopper_id, shopper_token

HANOI = {"CloudFront-Viewer-Country": "VN", "CloudFront-Viewer-Country-Region": "HN"}
SAIGON = {"CloudFront-Viewer-Country": "VN", "CloudFront-Viewer-Country-Region": "SG"}


def _scan(api, code, phone="+84912345678", headers=None, expect=200):
    response = api.call("POST", "/v1/scans", {"code": code}, token=shopper_token(phone), headers=headers or {})
    assert response.status_code == expect, response.body
    return json.loads(response.body)


def _record(code_text):
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes

    parts, _ = codes.read_code(code_text, get_keyring())
    return CodeState.get(CodeState.key_for(parts.batch_number, parts.serial))


@pytest.mark.parametrize(
    ("headers", "place"),
    [
        (HANOI, "VN-HN"),
        ({"CloudFront-Viewer-Country": "VN", "CloudFront-Viewer-Country-Region": "61"}, "VN-HP"),  # Hải Dương, merged
        ({"CloudFront-Viewer-Country": "PH", "CloudFront-Viewer-Country-Region": "CEB"}, "PH-07"),
        ({"CloudFront-Viewer-Country": "VN", "CloudFront-Viewer-Country-Region": "<script>"}, "VN"),
        ({"CloudFront-Viewer-Country": "vn!"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_a_scan_stores_its_coarse_place_on_the_claim_record_and_never_refuses_for_it(api, running, headers, place):
    _, _, codes_ = running(quantity=3)
    assert _scan(api, codes_[0], headers=headers)["result"] == "granted"
    record = _record(codes_[0])
    assert record.place == place
    stored = json.dumps(record.attribute_values, default=str)
    assert IP not in stored and "Latitude" not in stored


def test_a_batch_names_its_market_before_activation_and_bad_markets_are_refused(api, running):
    campaign, _, _ = running(quantity=3, batch_status="inactive")
    path = f"/v1/campaigns/{campaign['campaign_id']}/batches"
    made = api.json(
        "POST", path, {"sku": "NOODLE", "quantity": 5, "market": {"country": "VN", "places": ["VN-HN"]}}, expect=201
    )
    assert made["market"] == {"country": "VN", "places": ["VN-HN"]}
    batch_path = f"/v1/batches/{made['batch_id']}"
    for body, field in [
        ({"market": {"country": "Vietnam"}}, "market.country"),
        ({"market": {"country": "VN", "places": ["VN-99"]}}, "market.places[0]"),
        ({"market": {"country": "VN", "places": ["PH-07"]}}, "market.places[0]"),
        ({"market": {"places": ["VN-HN"]}}, "market.country"),
        ({"market": {"country": "VN", "city": "Hà Nội"}}, "market.city"),
        ({"market": "VN"}, "market"),
        ({}, "market"),
        ({"status": "active"}, "status"),
    ]:
        response = api.call("PATCH", batch_path, body)
        assert response.status_code == 400, (body, response.body)
        assert json.loads(response.body)["error"]["field"] == field
    assert api.json("GET", batch_path)["market"] == {"country": "VN", "places": ["VN-HN"]}
    changed = api.json("PATCH", batch_path, {"market": {"country": "VN", "places": ["VN-HN", "VN-02"]}})
    assert changed["market"]["places"] == ["VN-02", "VN-HN"]
    assert api.call("PATCH", batch_path, {"market": None}, role="viewer").status_code == 403
    assert api.call("PATCH", batch_path, {"market": None}, brand="brand-b").status_code == 404
    api.json("POST", f"{batch_path}/status", {"status": "active"})
    response = api.call("PATCH", batch_path, {"market": None})
    assert response.status_code == 409 and json.loads(response.body)["error"]["field"] == "market"


def test_statistics_by_place_rank_scans_and_participants(api, running):
    campaign, _, codes_ = running(quantity=6)
    for code, phone, headers in [
        (codes_[0], "+84900000001", HANOI),
        (codes_[1], "+84900000001", HANOI),
        (codes_[2], "+84900000002", HANOI),
        (codes_[3], "+84900000003", SAIGON),
        (codes_[4], "+84900000004", {}),
    ]:
        _scan(api, code, phone, headers)
    drain()
    answer = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/places", role="viewer")
    assert answer["places"] == [
        {"place": "VN-HN", "name": "Hà Nội", "scans": 3, "participants": 2},
        {"place": "VN-SG", "name": "Hồ Chí Minh", "scans": 1, "participants": 1},
        {"place": "unknown", "name": "unknown", "scans": 1, "participants": 1},
    ]
    assert sum(p["scans"] for day in answer["days"] for p in day["places"]) == 5
    # The place counters are recomputed from the claim records like every other claim counter.
    assert reconcile.reconcile(campaign["campaign_id"]).clean
    bad = api.call("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/places?from=yesterday")
    assert bad.status_code == 400 and json.loads(bad.body)["error"]["field"] == "from"
    assert api.call("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats/places", brand="brand-b").status_code == 404


def _pseudonym(phone):
    return phones.brand_shopper_id(get_phone_hash_pepper(), BRAND, shopper_id(phone))


def test_a_copied_code_is_signalled_quarantined_and_released_with_an_audit_trail(api, running):
    campaign, _, codes_ = running(quantity=4)
    _scan(api, codes_[0], "+84911000000", HANOI)
    copiers = [f"+8491100000{i}" for i in range(1, 5)]
    for phone in copiers:
        _scan(api, codes_[0], phone, SAIGON, expect=409)
    drain()
    signals = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/signals", role="viewer")["signals"]
    (copied,) = [s for s in signals if s["kind"] == "copied_code"]
    assert copied["count"] == 4 and copied["places"] == ["VN-SG"]
    assert copied["codes"][0]["code"] == codes_[0] and copied["subject"] == codes_[0]
    assert sorted(copied["shoppers"]) == sorted(_pseudonym(p) for p in copiers)
    assert not any(shopper_id(p) in json.dumps(signals) for p in copiers)  # never the platform's ids
    path = f"/v1/codes/{codes_[0]}"
    assert api.call("POST", f"{path}/quarantine", {"reason": "x"}, role="viewer").status_code == 403
    assert api.call("POST", f"{path}/quarantine", {"reason": 5}).status_code == 400
    api.json("POST", f"{path}/quarantine", {"reason": "500 packs in the south", "signal": "copied_code"})
    # The copy answers as a voided code; the shopper who claimed it still gets their replay.
    assert _scan(api, codes_[0], "+84911000009", SAIGON, expect=404)["error"]["code"] == "code_invalid"
    assert _scan(api, codes_[0], "+84911000000", HANOI)["replay"] is True
    # An unclaimed code quarantined is refused to everybody, and claimable once released.
    api.json("POST", f"/v1/codes/{codes_[1]}/quarantine")
    _scan(api, codes_[1], "+84911000000", HANOI, expect=404)
    api.json("POST", f"/v1/codes/{codes_[1]}/release")
    assert _scan(api, codes_[1], "+84911000000", HANOI)["result"] == "granted"
    api.json("POST", f"{path}/release")
    assert api.call("POST", f"{path}/release").status_code == 409
    assert _scan(api, codes_[0], "+84911000009", SAIGON, expect=409)["error"]["code"] == "code_already_claimed"
    actions = [e["action"] for e in api.json("GET", "/v1/audit")["items"]]
    assert {"code_quarantine", "code_release"} <= set(actions)


def test_a_diverted_batch_is_signalled_and_a_quarantined_batch_refuses_scans_until_released(api, running):
    campaign, batch, codes_ = running(quantity=30, batch_status="inactive")
    batch_path = f"/v1/batches/{batch['batch_id']}"
    api.json("PATCH", batch_path, {"market": {"country": "VN", "places": ["VN-HN", "VN-02"]}})
    api.json("POST", f"{batch_path}/status", {"status": "active"})
    put_thresholds(BRAND, "owner", {"diverted_scans": 5, "diverted_percent": 20})
    for i in range(4):
        _scan(api, codes_[i], f"+8492200000{i}", HANOI)
    for i in range(4, 10):
        _scan(api, codes_[i], f"+8492200000{i}", SAIGON)
    drain()
    signals = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/signals")["signals"]
    (diverted,) = [s for s in signals if s["kind"] == "diverted_batch"]
    assert (diverted["count"], diverted["share"], diverted["places"]) == (6, 0.6, ["VN-SG"])
    api.json("POST", f"{batch_path}/quarantine", {"reason": "pallet found in Hồ Chí Minh"})
    from chalicelib.adapters import records

    records.clear_cache()
    assert _scan(api, codes_[20], "+84922000099", SAIGON, expect=404)["error"]["code"] == "code_invalid"
    assert api.call("POST", f"{batch_path}/quarantine", brand="brand-b").status_code == 404
    api.json("POST", f"{batch_path}/release")
    records.clear_cache()
    assert _scan(api, codes_[20], "+84922000099", HANOI)["result"] == "granted"
    assert api.call("POST", f"{batch_path}/release").status_code == 409
    actions = [e["action"] for e in api.json("GET", "/v1/audit")["items"]]
    assert {"batch_quarantine", "batch_release", "batch_market", "integrity_thresholds"} <= set(actions)


def test_a_farm_is_signalled_by_count_and_by_distance(api, running):
    campaign, _, codes_ = running(quantity=10, rules={"points_per_scan": 10, "entries_per_scan": 1})
    put_thresholds(BRAND, "owner", {"farm_claims": 3})
    for i in range(4):
        _scan(api, codes_[i], "+84933000001", HANOI)
    _scan(api, codes_[4], "+84933000002", HANOI)
    _scan(api, codes_[5], "+84933000002", SAIGON)
    _scan(api, codes_[6], "+84933000003", HANOI)
    drain()
    farms = {
        s["subject"]: s
        for s in api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}/signals")["signals"]
        if s["kind"] == "farm"
    }
    assert farms[_pseudonym("+84933000001")]["reason"] == "claims"
    assert farms[_pseudonym("+84933000002")]["reason"] == "distance"
    assert _pseudonym("+84933000003") not in farms


def test_guessing_from_one_network_is_signalled_without_storing_the_address(running):
    _, batch, codes_ = running(quantity=3)
    put_thresholds(BRAND, "owner", {"guessing_invalid": 3})
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes
    from chalicelib.domain.errors import CodeInvalid

    beyond = [codes.mint_code(get_keyring(), batch["batch_number"], 10 + i) for i in range(4)]
    for i, code in enumerate(beyond):
        with pytest.raises(CodeInvalid):
            scans.claim_code(f"shp_guess{i}", f"198.51.100.{i + 1}", {"code": code}, place="VN-HN")
    drain()
    from chalicelib.views.integrity import campaign_signals

    campaign_id = _record_campaign(batch)
    (guess,) = [s for s in campaign_signals(BRAND, campaign_id)["signals"] if s["kind"] == "guessing_network"]
    assert guess["count"] == 4 and guess["subject"].startswith("net-") and len(guess["shoppers"]) == 4
    assert "198.51.100" not in json.dumps(guess)


def _record_campaign(batch):
    return batch["campaign_id"]


def test_thresholds_are_the_owners_to_change_and_bad_values_are_refused(api):
    answer = api.json("GET", "/v1/integrity/thresholds", role="viewer")
    assert answer["thresholds"] == answer["defaults"]
    assert api.call("PUT", "/v1/integrity/thresholds", {"farm_claims": 5}, role="manager").status_code == 403
    for body, field in [
        ({"farm_claims": 0}, "farm_claims"),
        ({"farm_claims": "5"}, "farm_claims"),
        ({"speed": 1}, "speed"),
    ]:
        response = api.call("PUT", "/v1/integrity/thresholds", body)
        assert response.status_code == 400 and json.loads(response.body)["error"]["field"] == field
    changed = api.json("PUT", "/v1/integrity/thresholds", {"farm_claims": 5})
    assert changed["thresholds"]["farm_claims"] == 5
    assert api.json("GET", "/v1/integrity/thresholds", brand="brand-b")["thresholds"]["farm_claims"] == 20
