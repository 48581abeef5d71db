"""Registered prize lines: their fields by market, a draw awarding one line, and what no draw or change may overrun."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import records
from chalicelib.adapters.models import AuditEvent, Campaign, Draw, Prize, Rules
from tests.support import DRAW_LINE, VALID_CAMPAIGN

BRAND = "brand-a"
INSTANT = {"name": "Phone", "quantity": 20}


def _body(**changes) -> dict:
    now = datetime.now(UTC)
    body = copy.deepcopy(VALID_CAMPAIGN)
    body.update(
        starts_at=(now - timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=30)).isoformat(),
        market="VN",
        prizes=[INSTANT, {**DRAW_LINE, "quantity": 5}],
    )
    body.update(changes)
    return body


def _draw_body(prize_id: str | None, winners: int = 1, **changes) -> dict:
    """A draw of the line `prize_id` in two days, entries until tomorrow; `changes` set to None are left out."""
    now = datetime.now(UTC)
    body = {
        "name": "Weekly draw",
        "prize_id": prize_id,
        "winners": winners,
        "draw_at": (now + timedelta(days=2)).isoformat(),
        "entries_until": (now + timedelta(days=1)).isoformat(),
        **changes,
    }
    return {k: v for k, v in body.items() if v is not None}


def _draw(api, campaign_id: str, prize_id: str, winners: int, expect: int = 201, **changes) -> dict:
    return api.json(
        "POST", f"/v1/campaigns/{campaign_id}/draws", _draw_body(prize_id, winners, **changes), expect=expect
    )


@pytest.fixture
def running(api):
    """An active campaign in Vietnam: an instant line, then a registered draw line of 5 prizes."""
    campaign = api.json("POST", "/v1/campaigns", _body(), expect=201)
    api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/status", {"status": "active"})
    instant, line = campaign["prizes"]
    return {"campaign_id": campaign["campaign_id"], "instant": instant, "line": line, "campaign": campaign}


def test_a_campaign_registers_its_lines_in_its_markets_currency_with_tax_and_claim_window(running):
    instant, line = running["instant"], running["line"]
    assert running["campaign"]["market"] == "VN"
    assert line == {
        "prize_id": line["prize_id"],
        "kind": "draw",
        "name": "Motorbike draw",
        "quantity": 5,
        "odds_per_million": None,
        "unit_value": 40_000_000,
        "currency": "VND",
        "registration": "1234/SCT-QLTM",
        "claim_days": 30,  # Vietnam's default (docs/winners.md)
        "drawn": 0,
        "tax": {"taxable": 30_000_000, "withheld": 3_000_000},
    }
    assert instant["kind"] == "instant" and instant["unit_value"] is None and instant["tax"] is None
    assert instant["currency"] == "VND" and instant["claim_days"] == 30


def test_a_philippine_line_is_in_centavos_taxed_whole_over_ten_thousand_pesos_with_sixty_days_to_claim(api):
    prizes = [
        {"kind": "draw", "name": "Cash 10k", "quantity": 1, "unit_value": 1_000_000},
        {"kind": "draw", "name": "Cash 50k", "quantity": 1, "unit_value": 5_000_000, "currency": "PHP"},
    ]
    campaign = api.json("POST", "/v1/campaigns", _body(market="PH", timezone="Asia/Manila", prizes=prizes), expect=201)
    at_threshold, over = campaign["prizes"]
    assert at_threshold["tax"] == {"taxable": 0, "withheld": 0} and at_threshold["claim_days"] == 60
    assert over["tax"] == {"taxable": 5_000_000, "withheld": 1_000_000} and over["currency"] == "PHP"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"market": "TH"}, "market"),
        ({"market": None, "prizes": [DRAW_LINE]}, "market"),
        ({"market": None, "prizes": [{**INSTANT, "unit_value": 100}]}, "market"),
        ({"prizes": [{**DRAW_LINE, "currency": "PHP"}]}, "prizes[0].currency"),
        ({"prizes": [{**DRAW_LINE, "unit_value": None}]}, "prizes[0].unit_value"),
        ({"prizes": [{**DRAW_LINE, "unit_value": 0}]}, "prizes[0].unit_value"),
        ({"prizes": [{**DRAW_LINE, "unit_value": 1.5}]}, "prizes[0].unit_value"),
        ({"prizes": [{**DRAW_LINE, "odds_per_million": 10}]}, "prizes[0].odds_per_million"),
        ({"prizes": [INSTANT, {**DRAW_LINE, "name": "Call 0912 345 678"}]}, "prizes[1].name"),
        ({"prizes": [{**DRAW_LINE, "kind": "raffle"}]}, "prizes[0].kind"),
        ({"prizes": [{**DRAW_LINE, "claim_days": 91}]}, "prizes[0].claim_days"),
        ({"prizes": [{**DRAW_LINE, "claim_days": 6}]}, "prizes[0].claim_days"),
        ({"market": "PH", "prizes": [{**DRAW_LINE, "claim_days": 59}]}, "prizes[0].claim_days"),
        ({"prizes": [{**DRAW_LINE, "registration": ""}]}, "prizes[0].registration"),
    ],
)
def test_bad_prize_lines_are_refused_naming_the_field_and_write_nothing(api, changes, field):
    body = {k: v for k, v in _body(**changes).items() if v is not None}
    body["prizes"] = [{k: v for k, v in p.items() if v is not None} for p in body["prizes"]]
    response = api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["field"] == field, response.json_body
    assert list(Campaign.scan()) == []


def test_a_campaign_without_a_market_is_unregistered_and_its_instant_lines_work_as_before(api):
    body = {k: v for k, v in _body(prizes=[INSTANT]).items() if k != "market"}
    campaign = api.json("POST", "/v1/campaigns", body, expect=201)
    assert campaign["market"] is None
    (line,) = campaign["prizes"]
    assert (line["kind"], line["currency"], line["claim_days"], line["tax"]) == ("instant", None, None, None)
    batch = {"sku": "NOODLE", "quantity": 10, "instant_wins": [{"prize_id": line["prize_id"], "count": 2}]}
    api.json("POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", batch, expect=201)


def test_a_campaign_stored_before_prize_lines_still_loads_with_instant_lines(api):
    now = datetime.now(UTC)
    Campaign(
        BRAND,
        "cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        name="Old",
        starts_at=now,
        ends_at=now + timedelta(days=3),
        timezone="Asia/Ho_Chi_Minh",
        rules=Rules(),
        prizes=[Prize(prize_id="prz_01ARZ3NDEKTSV4RRFFQ69G5FAV", name="Mug", quantity=3)],
        created_at=now,
        updated_at=now,
        created_by="op",
    ).save()
    old = api.json("GET", "/v1/campaigns/cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert old["market"] is None
    assert old["prizes"][0] | {"prize_id": None} == {
        "prize_id": None,
        "kind": "instant",
        "name": "Mug",
        "quantity": 3,
        "odds_per_million": None,
        "unit_value": None,
        "currency": None,
        "registration": None,
        "claim_days": None,
        "drawn": 0,
        "tax": None,
    }


def test_a_batch_cannot_allocate_secret_codes_to_a_draw_line(api, running):
    wins = [{"prize_id": running["line"]["prize_id"], "count": 1}]
    response = api.call(
        "POST", f"/v1/campaigns/{running['campaign_id']}/batches", {"sku": "X", "quantity": 5, "instant_wins": wins}
    )
    assert response.status_code == 400 and response.json_body["error"]["field"] == "instant_wins[0].prize_id"


def test_a_draw_awards_one_registered_draw_line_and_keeps_its_name(api, running):
    cid, line = running["campaign_id"], running["line"]
    draw = _draw(api, cid, line["prize_id"], 2)
    assert (draw["prize"], draw["prize_id"], draw["winners_wanted"]) == ("Motorbike draw", line["prize_id"], 2)
    assert _draw(api, cid, line["prize_id"], 1, prize="MOTORBIKE DRAW")["prize"] == "Motorbike draw"
    scheduled = [json.loads(e.details) for e in AuditEvent.query(BRAND) if e.action == "draw_scheduled"]
    assert all(d["prize_id"] == line["prize_id"] for d in scheduled) and len(scheduled) == 2
    assert api.json("GET", f"/v1/campaigns/{cid}")["prizes"][1]["drawn"] == 3


@pytest.mark.parametrize(
    ("which", "changes", "field"),
    [
        ("instant", {}, "prize_id"),
        (None, {"prize_id": "prz_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "prize_id"),
        (None, {"prize_id": "Motorbike"}, "prize_id"),
        ("line", {"prize": "Car"}, "prize"),
        ("line", {"prize_id": None}, "prize_id"),
    ],
)
def test_a_draw_of_no_draw_line_of_the_campaign_is_refused_naming_the_field(api, running, which, changes, field):
    body = _draw_body(**{"prize_id": running[which]["prize_id"] if which else None, **changes})
    response = api.call("POST", f"/v1/campaigns/{running['campaign_id']}/draws", body)
    assert response.status_code == 400 and response.json_body["error"]["field"] == field, response.body
    assert list(Draw.scan()) == []


def test_a_draw_line_without_a_registration_reference_cannot_be_drawn_yet(api, running):
    unregistered = {k: v for k, v in DRAW_LINE.items() if k != "registration"}
    changed = api.json(
        "PATCH",
        f"/v1/campaigns/{running['campaign_id']}",
        {"prizes": [*_lines(running)["prizes"], {**unregistered, "name": "Car"}]},
    )
    response = api.call(
        "POST", f"/v1/campaigns/{running['campaign_id']}/draws", _draw_body(changed["prizes"][2]["prize_id"])
    )
    assert response.status_code == 400 and response.json_body["error"]["field"] == "prize_id"
    assert "registration" in response.json_body["error"]["message"]


def test_draws_of_a_line_never_award_more_than_it_holds_counting_every_draw(api, running):
    cid, line = running["campaign_id"], running["line"]
    _draw(api, cid, line["prize_id"], 3)
    events = len(list(AuditEvent.query(BRAND)))
    refused = _draw(api, cid, line["prize_id"], 3, expect=409)
    assert refused["error"]["field"] == "winners" and "at most 2" in refused["error"]["message"]
    assert len(list(Draw.scan())) == 1 and len(list(AuditEvent.query(BRAND))) == events
    _draw(api, cid, line["prize_id"], 2)
    assert _draw(api, cid, line["prize_id"], 1, expect=409)["error"]["field"] == "winners"
    assert api.json("GET", f"/v1/campaigns/{cid}")["prizes"][1]["drawn"] == 5


def _lines(running, **line_changes) -> dict:
    instant = {**INSTANT, "prize_id": running["instant"]["prize_id"]}
    line = {**DRAW_LINE, "quantity": 5, "prize_id": running["line"]["prize_id"], **line_changes}
    return {"prizes": [instant, {k: v for k, v in line.items() if v is not None}]}


def test_a_change_cannot_shrink_remove_or_turn_instant_a_line_below_what_its_draws_award(api, running):
    cid = running["campaign_id"]
    _draw(api, cid, running["line"]["prize_id"], 3)
    before = api.json("GET", f"/v1/campaigns/{cid}")
    for changes, field in [
        (_lines(running, quantity=2), "prizes[1].quantity"),
        (_lines(running, kind="instant", unit_value=None), "prizes[1].kind"),
        ({"prizes": [{**INSTANT, "prize_id": running["instant"]["prize_id"]}]}, "prizes"),
    ]:
        response = api.call("PATCH", f"/v1/campaigns/{cid}", changes)
        assert response.status_code == 409 and response.json_body["error"]["field"] == field, response.body
    assert api.json("GET", f"/v1/campaigns/{cid}") == before
    grown = api.json("PATCH", f"/v1/campaigns/{cid}", _lines(running, quantity=8))
    assert grown["prizes"][1]["quantity"] == 8 and grown["prizes"][1]["drawn"] == 3


def test_in_a_draft_the_line_may_shrink_to_what_its_draws_award_and_no_further(api):
    body = _body(starts_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    campaign = api.json("POST", "/v1/campaigns", body, expect=201)
    running = {"instant": campaign["prizes"][0], "line": campaign["prizes"][1]}
    _draw(api, campaign["campaign_id"], running["line"]["prize_id"], 2)
    path = f"/v1/campaigns/{campaign['campaign_id']}"
    assert api.json("PATCH", path, _lines(running, quantity=2))["prizes"][1]["quantity"] == 2
    assert api.call("PATCH", path, _lines(running, quantity=1)).status_code == 409


def test_a_campaign_change_read_before_a_draw_cannot_write_over_its_count(api, running):
    stale = records.load_campaign(BRAND, running["campaign_id"])
    _draw(api, running["campaign_id"], running["line"]["prize_id"], 4)
    stale.prizes[1].quantity = 1
    assert records.save_campaign(stale) is False  # the draw moved the version on
    line = api.json("GET", f"/v1/campaigns/{running['campaign_id']}")["prizes"][1]
    assert (line["drawn"], line["quantity"]) == (4, 5)


def test_the_market_is_fixed_once_the_campaign_has_left_draft(api, running):
    response = api.call("PATCH", f"/v1/campaigns/{running['campaign_id']}", {"market": "PH"})
    assert response.status_code == 409 and response.json_body["error"]["field"] == "market"


def test_the_statistics_count_a_draw_line_as_awarded_by_its_draws(api, running):
    _draw(api, running["campaign_id"], running["line"]["prize_id"], 3)
    prizes = {p["prize_id"]: p for p in api.json("GET", f"/v1/campaigns/{running['campaign_id']}/stats")["prizes"]}
    assert (prizes[running["line"]["prize_id"]]["awarded"], prizes[running["line"]["prize_id"]]["left"]) == (3, 2)
    assert prizes[running["instant"]["prize_id"]]["awarded"] == 0
