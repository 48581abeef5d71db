"""Bad input of every shape: 400 naming the field, the same error format, nothing written."""

from __future__ import annotations

import copy
import json
import re

import pytest

from chalicelib.adapters.models import Campaign
from tests.support import VALID_CAMPAIGN


def _with(**changes):
    body = copy.deepcopy(VALID_CAMPAIGN)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body)


def _rules(**changes):
    return _with(rules={**VALID_CAMPAIGN["rules"], **changes})


_DROP = object()
_LONG_NAME = "x" * 121

# (raw body, field the error must name)
CREATE_CASES = {
    "empty body": ("", "body"),
    "malformed json": ('{"name": "x",', "body"),
    "json array": ("[1, 2]", "body"),
    "json string": ('"campaign"', "body"),
    "NaN constant": (_with().replace('"points_per_scan": 10', '"points_per_scan": NaN'), "body"),
    "oversize body": (_with(name="x" * 70_000), "body"),
    "deeply nested": ('{"rules": ' + "[" * 30_000 + "]" * 30_000 + "}", "body"),
    "missing name": (_with(name=_DROP), "name"),
    "missing starts_at": (_with(starts_at=_DROP), "starts_at"),
    "missing timezone": (_with(timezone=_DROP), "timezone"),
    "name not a string": (_with(name=42), "name"),
    "name empty": (_with(name="   "), "name"),
    "name too long": (_with(name=_LONG_NAME), "name"),
    "name with control chars": (_with(name="Promo\x00\x07"), "name"),
    "name null": (_with(name=None), "name"),
    "unknown field": (_with(colour="red"), "colour"),
    "brand in body": (_with(brand="brand-b"), "brand"),
    "status in body": (_with(status="active"), "status"),
    "campaign_id in body": (_with(campaign_id="cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV"), "campaign_id"),
    "counters in body": (_with(counters={"scans": 10}), "counters"),
    "ends before starts": (_with(ends_at="2026-11-01T00:00:00+07:00"), "ends_at"),
    "ends equal starts": (_with(ends_at=VALID_CAMPAIGN["starts_at"]), "ends_at"),
    "window over 3 years": (_with(ends_at="2031-01-01T00:00:00Z"), "ends_at"),
    "date without offset": (_with(starts_at="2026-12-01T00:00:00"), "starts_at"),
    "date only": (_with(starts_at="2026-12-01"), "starts_at"),
    "date not a date": (_with(starts_at="next tuesday"), "starts_at"),
    "date as number": (_with(starts_at=1764547200), "starts_at"),
    "year 9999": (_with(ends_at="9999-12-31T00:00:00Z"), "ends_at"),
    "bad time zone": (_with(timezone="Mars/Olympus_Mons"), "timezone"),
    "time zone as path": (_with(timezone="../../etc/passwd"), "timezone"),
    "time zone abbreviation": (_with(timezone="ICT"), "timezone"),
    "negative points": (_rules(points_per_scan=-1), "rules.points_per_scan"),
    "absurd points": (_rules(points_per_scan=10**12), "rules.points_per_scan"),
    "points as float": (_rules(points_per_scan=10.5), "rules.points_per_scan"),
    "points as string": (_rules(points_per_scan="10"), "rules.points_per_scan"),
    "points as bool": (_rules(points_per_scan=True), "rules.points_per_scan"),
    "huge integer": (_with().replace('"points_per_scan": 10', '"points_per_scan": ' + "9" * 5000), "body"),
    "negative entries": (_rules(entries_per_scan=-5), "rules.entries_per_scan"),
    "zero daily cap": (_rules(max_claims_per_participant_per_day=0), "rules.max_claims_per_participant_per_day"),
    "absurd budget": (_rules(budget_points=10**15), "rules.budget_points"),
    "unknown rule": (_rules(double_points=True), "rules.double_points"),
    "rules not an object": (_with(rules="generous"), "rules"),
    "prizes not a list": (_with(prizes={"name": "Car"}), "prizes"),
    "prize without quantity": (_with(prizes=[{"name": "Car"}]), "prizes[0].quantity"),
    "prize quantity zero": (_with(prizes=[{"name": "Car", "quantity": 0}]), "prizes[0].quantity"),
    "prize quantity absurd": (_with(prizes=[{"name": "Car", "quantity": 10**9}]), "prizes[0].quantity"),
    "prize name empty": (_with(prizes=[{"name": "", "quantity": 1}]), "prizes[0].name"),
    "duplicate prize names": (
        _with(prizes=[{"name": "Car", "quantity": 1}, {"name": "car", "quantity": 2}]),
        "prizes[1].name",
    ),
    "prize with server id": (
        _with(prizes=[{"name": "Car", "quantity": 1, "prize_id": "prz_01ARZ3NDEKTSV4RRFFQ69G5FAV"}]),
        "prizes[0].prize_id",
    ),
    "too many prizes": (_with(prizes=[{"name": f"P{i}", "quantity": 1} for i in range(51)]), "prizes"),
}


def _snapshot():
    return sorted((c.brand_id, c.campaign_id, c.version) for c in Campaign.scan())


def test_the_table_has_at_least_thirty_cases():
    assert len(CREATE_CASES) >= 30


@pytest.mark.parametrize("name", list(CREATE_CASES))
def test_create_refuses_bad_bodies(api, campaign, name):
    raw, field = CREATE_CASES[name]
    before = _snapshot()
    response = api.call("POST", "/v1/campaigns", raw=raw)
    error = response.json_body["error"]
    # An oversize body is refused unread as 413 Payload Too Large; every other bad body is a 400.
    assert response.status_code == (413 if error["code"] == "body_too_large" else 400), response.body
    assert (error["code"] == "body_too_large") is (name == "oversize body")
    assert error["field"] == field
    assert error["code"] in {"invalid_input", "malformed_json", "read_only_field", "body_too_large"}
    assert error["message"] and "Traceback" not in error["message"]
    assert _snapshot() == before


PATCH_CASES = {
    "empty object": ("{}", "body"),
    "status in patch": ('{"status": "ended"}', "status"),
    "version in patch": ('{"version": 99}', "version"),
    "ends before stored start": ('{"ends_at": "2026-01-01T00:00:00Z"}', "ends_at"),
    "null name": ('{"name": null}', "name"),
    "null ends_at": ('{"ends_at": null}', "ends_at"),
    "rule negative": ('{"rules": {"points_per_scan": -1}}', "rules.points_per_scan"),
    "unknown rule": ('{"rules": {"bonus": 1}}', "rules.bonus"),
    "unknown prize id": (
        '{"prizes": [{"prize_id": "prz_01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "Car", "quantity": 1}]}',
        "prizes[0].prize_id",
    ),
    "unknown field": ('{"owner": "me"}', "owner"),
    "malformed json": ("{", "body"),
}


@pytest.mark.parametrize("name", list(PATCH_CASES))
def test_patch_refuses_bad_bodies(api, campaign, name):
    raw, field = PATCH_CASES[name]
    before = api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}")
    response = api.call("PATCH", f"/v1/campaigns/{campaign['campaign_id']}", raw=raw)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["field"] == field
    assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}") == before


@pytest.mark.parametrize(
    "raw",
    [
        "{}",
        '{"status": "draft"}',
        '{"status": "deleted"}',
        '{"status": 1}',
        '{"status": "active", "force": true}',
        "null",
    ],
)
def test_status_refuses_bad_bodies(api, campaign, raw):
    response = api.call("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", raw=raw)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["field"] in {"status", "force", "body"}
    assert api.json("GET", f"/v1/campaigns/{campaign['campaign_id']}")["status"] == "draft"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_bodies_not_sent_as_json_get_our_error_format(api, campaign, content_type):
    before = _snapshot()
    response = api.call("POST", "/v1/campaigns", VALID_CAMPAIGN, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "unsupported_media_type"
    assert response.json_body["error"]["field"] == "Content-Type"
    assert _snapshot() == before


def test_json_with_a_charset_is_accepted(api):
    response = api.call(
        "POST", "/v1/campaigns", VALID_CAMPAIGN, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201


def _body_routes() -> list[tuple[str, str]]:
    from app import app

    return sorted(
        (path, method) for path, entry in app.routes.items() for method in entry if method in ("POST", "PATCH", "PUT")
    )


@pytest.mark.parametrize(("path", "method"), _body_routes())
def test_every_body_route_refuses_an_oversize_body_unread(api, path, method):
    from tests.support import shopper_token

    before = _snapshot()
    concrete = re.sub(
        r"\{(\w+)\}",
        lambda m: {"campaign_id": "cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV", "batch_id": "bat_01ARZ3NDEKTSV4RRFFQ69G5FAV"}.get(
            m.group(1), "x"
        ),
        path,
    )
    from chalicelib.config import get_settings
    from chalicelib.services.rewards import MAX_VOUCHER_FILE_BYTES

    # A voucher file may be larger than a JSON body; past its own limit it is refused alike.
    limit = MAX_VOUCHER_FILE_BYTES if path.endswith("/vouchers") else get_settings().max_body_bytes
    oversize = json.dumps({"name": "x" * (limit + 1)})
    # Each route is tried with both kinds of token: the one it does not take answers 401.
    answers = [api.call(method, concrete, raw=oversize, token=token) for token in (None, shopper_token())]
    assert 413 in [a.status_code for a in answers], (path, [(a.status_code, a.body[:120]) for a in answers])
    refused = next(a for a in answers if a.status_code == 413).json_body["error"]
    assert refused["code"] == "body_too_large" and refused["field"] == "body"
    assert _snapshot() == before
