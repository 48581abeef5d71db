"""Campaigns API: create, list, read, change, lifecycle, brand scoping and roles."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support import VALID_CAMPAIGN


def _create(api, brand="brand-a", **changes):
    body = copy.deepcopy(VALID_CAMPAIGN)
    body.update(changes)
    return api.json("POST", "/v1/campaigns", body, brand=brand, expect=201)


def test_create_returns_draft_with_server_fields(api):
    campaign = _create(api)
    assert campaign["campaign_id"].startswith("cmp_")
    assert campaign["status"] == "draft"
    assert campaign["name"] == VALID_CAMPAIGN["name"]
    # Instants come back in UTC whatever offset they were sent with.
    assert campaign["starts_at"] == "2026-11-30T17:00:00Z"
    assert campaign["ends_at"] == "2027-02-28T17:00:00Z"
    assert campaign["timezone"] == "Asia/Ho_Chi_Minh"
    assert campaign["rules"] == {**VALID_CAMPAIGN["rules"], "sku_overrides": None}
    assert [p["name"] for p in campaign["prizes"]] == ["Motorbike", "Phone"]
    assert all(p["prize_id"].startswith("prz_") for p in campaign["prizes"])
    assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}") == campaign


def test_minimal_campaign_gets_default_rules(api):
    body = {k: VALID_CAMPAIGN[k] for k in ("name", "starts_at", "ends_at", "timezone")}
    campaign = api.json("POST", "/v1/campaigns", body, expect=201)
    assert campaign["rules"] == {
        "points_per_scan": 0,
        "entries_per_scan": 0,
        "max_claims_per_participant_per_day": None,
        "max_claims_per_participant": None,
        "budget_points": None,
        "sku_overrides": None,
    }
    assert campaign["prizes"] == []


def test_another_brands_campaign_is_not_found(api):
    campaign = _create(api, brand="brand-a")
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"name": "x"}),
        ("POST", "/status", {"status": "active"}),
    ):
        response = api.call(method, path + suffix, body, brand="brand-b")
        assert response.status_code == 404, (method, suffix)
        assert response.json_body["error"]["code"] == "not_found"
    assert api.json("GET", "/v1/campaigns", brand="brand-b")["items"] == []
    assert api.json("GET", path, brand="brand-a")["name"] == VALID_CAMPAIGN["name"]


def test_unknown_and_malformed_ids_are_not_found(api):
    for campaign_id in ("cmp_00000000000000000000000000", "nope", "cmp_" + "Z" * 40):
        response = api.call("GET", f"/v1/campaigns/{campaign_id}")
        assert response.status_code == 404


def test_list_pages_newest_first_without_gaps_or_repeats(api):
    created = [_create(api, name=f"Campaign {i}")["campaign_id"] for i in range(7)]
    _create(api, brand="brand-b", name="Not mine")
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.json("GET", "/v1/campaigns" + query)
        seen += [c["campaign_id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))
    assert pages == 3


def test_list_refuses_bad_paging_parameters(api):
    for query, field in (
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),  # empty is not absent
        ("limit=2&limit=3", "limit"),  # given twice: ambiguous
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWFuLWlk", "cursor"),
    ):
        response = api.call("GET", f"/v1/campaigns?{query}")
        assert response.status_code == 400, query
        assert response.json_body["error"]["field"] == field


def test_patch_changes_fields_and_merges_rules(api):
    campaign = _create(api)
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    motorbike = campaign["prizes"][0]
    changed = api.json(
        "PATCH",
        path,
        {
            "name": "Renamed",
            "rules": {"points_per_scan": 25, "max_claims_per_participant_per_day": None},
            "prizes": [
                {"prize_id": motorbike["prize_id"], "name": "Motorbike", "quantity": 5},
                {"name": "Helmet", "quantity": 50},
            ],
        },
    )
    assert changed["name"] == "Renamed"
    assert changed["rules"]["points_per_scan"] == 25
    assert changed["rules"]["entries_per_scan"] == 1
    assert changed["rules"]["max_claims_per_participant_per_day"] is None
    assert changed["prizes"][0] == {**motorbike, "quantity": 5}
    assert changed["prizes"][1]["name"] == "Helmet"
    assert changed["version"] == campaign["version"] + 1
    assert api.json("GET", path) == changed


def test_patch_checks_window_against_stored_values(api):
    campaign = _create(api)
    response = api.call("PATCH", f"/v1/campaigns/{campaign['campaign_id']}", {"ends_at": "2026-11-01T00:00:00Z"})
    assert response.status_code == 400
    assert response.json_body["error"]["field"] == "ends_at"
    assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}") == campaign


@pytest.mark.parametrize(
    "path_and_status",
    [
        [("active", 200), ("paused", 200), ("active", 200), ("ended", 200), ("active", 409), ("paused", 409)],
        [("paused", 409), ("ended", 200), ("active", 409)],
        [("active", 200), ("ended", 200), ("ended", 200)],
    ],
)
def test_status_lifecycle(api, path_and_status):
    campaign = _create(api, ends_at="2029-06-01T00:00:00Z")
    path = f"/v1/campaigns/{campaign['campaign_id']}/status"
    expected_status = "draft"
    for target, code in path_and_status:
        response = api.call("POST", path, {"status": target})
        assert response.status_code == code, (target, response.json_body)
        if code == 200:
            expected_status = target
        else:
            assert response.json_body["error"] == {
                "code": "invalid_transition",
                "message": response.json_body["error"]["message"],
                "field": "status",
            }
        assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}")["status"] == expected_status


def test_ended_campaign_cannot_be_changed(api):
    campaign = _create(api)
    api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", {"status": "ended"})
    response = api.call("PATCH", f"/v1/campaigns/{campaign['campaign_id']}", {"name": "Too late"})
    assert response.status_code == 409
    assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}")["name"] == VALID_CAMPAIGN["name"]


def test_campaign_past_its_end_cannot_be_activated(api):
    campaign = _create(api, starts_at="2020-01-01T00:00:00Z", ends_at="2020-02-01T00:00:00Z")
    response = api.call("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", {"status": "active"})
    assert response.status_code == 409
    assert response.json_body["error"]["field"] == "status"


def test_viewer_reads_but_cannot_write(api):
    campaign = _create(api)
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    assert api.json("GET", path, role="viewer")["campaign_id"] == campaign["campaign_id"]
    assert api.json("GET", "/v1/campaigns", role="viewer")["items"][0]["campaign_id"] == campaign["campaign_id"]
    for method, suffix, body in (
        ("POST", "", VALID_CAMPAIGN),
        ("PATCH", path[len("/v1/campaigns") :], {"name": "x"}),
        ("POST", path[len("/v1/campaigns") :] + "/status", {"status": "active"}),
    ):
        response = api.call(method, "/v1/campaigns" + suffix, body, role="viewer")
        assert response.status_code == 403, (method, suffix)
        assert response.json_body["error"]["code"] == "forbidden"
    assert api.json("GET", path) == campaign
    assert len(api.json("GET", "/v1/campaigns")["items"]) == 1


def test_manager_may_write(api):
    campaign = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, role="manager", expect=201)
    api.json("PATCH", f"/v1/campaigns/{campaign['campaign_id']}", {"name": "By manager"}, role="manager")


def test_health_needs_no_token(api):
    response = api.call("GET", "/health", token="")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok"}


def test_a_crash_answers_a_generic_500_without_internals(api, campaign, monkeypatch):
    from chalicelib.services import campaigns

    def explode(*args, **kwargs):
        raise RuntimeError("table qrc-secret-campaigns is on fire")

    monkeypatch.setattr(campaigns, "get_campaign", explode)
    response = api.call("GET", f"/v1/campaigns/{campaign['campaign_id']}")
    assert response.status_code == 500
    error = response.json_body["error"]
    assert error["code"] == "internal_error"
    assert "on fire" not in response.body.decode() and "Traceback" not in response.body.decode()


@pytest.mark.parametrize("kind", ["throttle", "timeout_after_commit"])
def test_aws_saying_not_now_is_a_503_to_retry_never_a_500(api, campaign, kind):
    from tests.faults import Injector

    with Injector().installed() as injector:
        injector.arm(kind, 1)
        response = api.call("PATCH", f"/v1/campaigns/{campaign['campaign_id']}", {"name": "Renamed"})
    assert injector.fired is not None
    assert response.status_code == 503, response.body
    assert response.headers["Retry-After"] == "1"
    assert json.loads(response.body)["error"]["code"] == "busy"
