"""What a brand's owner can review: changes to started campaigns, who saw phone numbers; no answer is cached."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.functional.test_openapi import _check
from tests.support import VALID_CAMPAIGN


def _started(api) -> dict:
    body = copy.deepcopy(VALID_CAMPAIGN)
    now = datetime.now(UTC)
    body.update(starts_at=(now - timedelta(days=1)).isoformat(), ends_at=(now + timedelta(days=30)).isoformat())
    campaign = api.json("POST", "/v1/campaigns", body, expect=201)
    api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", {"status": "active"}, role="manager", sub="mgr")
    return api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}")


def _events(api, **kwargs) -> list[dict]:
    items = api.json("GET", "/v1/audit", **kwargs)["items"]
    for item in items:
        _check(item, "AuditEvent")
    return items


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Asia/Manila"}, "timezone"),
        ({"starts_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "starts_at"),
        ("drop the second prize", "prizes"),
        ("shrink the first prize", "prizes"),
    ],
)
def test_a_started_campaign_cannot_take_back_what_it_promised(api, change, field):
    campaign = _started(api)
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    prizes = [{"prize_id": p["prize_id"], "name": p["name"], "quantity": p["quantity"]} for p in campaign["prizes"]]
    if change == "drop the second prize":
        change = {"prizes": prizes[:1]}
    elif change == "shrink the first prize":
        change = {"prizes": [{**prizes[0], "quantity": prizes[0]["quantity"] - 1}, prizes[1]]}
    error = api.json("PATCH", path, change, role="manager", expect=409)["error"]
    assert error["field"] == field
    assert api.json("GET", path) == campaign  # nothing written
    assert [e["action"] for e in _events(api)] == ["campaign_status"]


def test_what_a_started_campaign_may_change_is_recorded_with_before_and_after(api):
    campaign = _started(api)
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    prizes = [{"prize_id": p["prize_id"], "name": p["name"], "quantity": p["quantity"] + 5} for p in campaign["prizes"]]
    api.json(
        "PATCH", path, {"rules": {"points_per_scan": 5}, "prizes": prizes, "name": "Renamed"}, role="manager", sub="mgr"
    )
    changed, status = _events(api)
    assert changed["action"] == "campaign_changed" and changed["actor"] == "mgr"
    assert changed["target"] == campaign["campaign_id"]
    assert changed["details"]["name"] == {"before": campaign["name"], "after": "Renamed"}
    assert changed["details"]["rules"]["before"]["points_per_scan"] == 10
    assert changed["details"]["rules"]["after"]["points_per_scan"] == 5
    assert set(changed["details"]) == {"name", "rules", "prizes"}
    assert status["details"] == {"status": {"before": "draft", "after": "active"}}
    # A draft changes freely and leaves no trail.
    draft = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    api.json("PATCH", f"/v1/campaigns/{draft['campaign_id']}", {"timezone": "Asia/Manila"})
    assert len(_events(api)) == 2


def test_only_owners_read_the_trail_and_only_their_brands(api):
    _started(api)
    for role in ("manager", "viewer"):
        assert api.call("GET", "/v1/audit", role=role).status_code == 403
    assert _events(api, brand="brand-b") == []
    assert api.call("GET", "/v1/audit", token="").status_code == 401
    page = api.json("GET", "/v1/audit?limit=1")
    assert len(page["items"]) == 1 and page["next_cursor"] is None
    assert api.call("GET", "/v1/audit?cursor=bm9wZQ").status_code == 400


def test_every_answer_forbids_caches(api):
    campaign = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    for method, path, kwargs in (
        ("GET", "/v1/campaigns", {}),
        ("GET", f"/v1/campaigns/{campaign['campaign_id']}", {}),
        ("GET", f"/v1/campaigns/{campaign['campaign_id']}/stats", {}),
        ("GET", "/v1/campaigns/cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV", {}),  # errors too
        ("GET", "/v1/campaigns", {"token": ""}),
        ("POST", "/v1/shopper/otp", {"token": "", "body": {"phone": "garbage"}}),
        ("GET", "/v1/audit", {}),
    ):
        body = kwargs.pop("body", None)
        response = api.call(method, path, body, **kwargs)
        assert response.headers.get("Cache-Control") == "no-store", (method, path, response.status_code)
