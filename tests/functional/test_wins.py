"""Claiming a win through the API: offered to each winner once, accepted or declined by them, moved by the
brand, forfeited when the window ends, passed on to the next alternate exactly once, reminders once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.adapters.models import AuditEvent, Draw, Win
from chalicelib.domain import clock
from chalicelib.services import draw_runner, win_offers, wins
from tests.functional.test_draws import BRAND, PHONES, _claims, _schedule, at, memory_sms, world  # noqa: F401
from tests.functional.test_openapi import _check
from tests.support import run_schedule, shopper_token

DELIVERY = {"name": "Lan Nguyen", "phone": "0912 345 678", "address": "12 Le Loi Street, Hanoi"}
# The test campaign's draw line is a VND 40,000,000 motorbike in Vietnam: above the value that needs an ID.
ACCEPT = {**DELIVERY, "id_number": "001203004567"}


def _drawn(api, world, winners: int = 2, alternates: int = 2) -> dict:
    t0 = world["t0"]
    _claims(world, [1, 2, 3, 1, 4, 2], t0 + timedelta(minutes=1))
    draw = _schedule(api, world, winners=winners, alternates=alternates)
    return api.json("POST", f"/v1/draws/{draw['draw_id']}/run")


def _token_of(world, participant_shopper: str) -> str:
    return shopper_token(PHONES[world["shoppers"].index(participant_shopper)])


def _wins(draw_id: str) -> dict[int, Win]:
    return {int(w.pick): w for w in Win.query(draw_id, consistent_read=True)}


def _events(action: str) -> list[AuditEvent]:
    return [e for e in AuditEvent.query(BRAND) if e.action == action]


def test_each_winner_gets_one_win_with_the_prize_terms_and_deadline_and_accepts_it_once(api, world, memory_sms):
    drawn = _drawn(api, world)
    draw_id = drawn["draw_id"]
    run_schedule("draw_runner")
    api.json("POST", f"/v1/draws/{draw_id}/run")
    made = _wins(draw_id)
    assert sorted(made) == [1, 2] and {w.status for w in made.values()} == {"offered"}
    stored = Draw.get(draw_id)
    assert made[1].deadline == stored.drawn_at + timedelta(days=wins.CLAIM_DAYS)
    winner = made[1]
    token = _token_of(world, winner.shopper_id)
    listed = api.json("GET", "/v1/me/wins", token=token)["items"]
    assert [(w["draw_id"], w["pick"], w["status"]) for w in listed] == [(draw_id, 1, "offered")]
    # The prize line's terms: the market's default window, its value, Vietnam's 10% above VND 10,000,000.
    assert listed[0]["terms"] == {
        "claim_days": 30,
        "unit_value": 40_000_000,
        "currency": "VND",
        "taxable": 30_000_000,
        "tax_withheld": 3_000_000,
        "needs_id": True,
    }
    _check(listed[0], "MyWin")
    path = f"/v1/me/wins/{draw_id}/1/accept"
    # Bad input names its field and writes nothing.
    for body, field in (
        ({**DELIVERY, "address": ""}, "address"),
        ({"name": "X"}, "phone"),
        ({**DELIVERY, "x": 1}, "x"),
    ):
        refused = api.json("POST", path, body, token=token, expect=400)
        assert refused["error"]["field"] == field
    assert _wins(draw_id)[1].status == "offered" and not _events("win_accepted")
    # Only the winner may act: another shopper's token finds no such win.
    other = next(
        p for s, p in zip(world["shoppers"], PHONES, strict=True) if s not in {w.shopper_id for w in made.values()}
    )
    api.json("POST", path, ACCEPT, token=shopper_token(other), expect=404)
    assert api.json("POST", path, DELIVERY, token=token, expect=400)["error"]["field"] == "id_number"
    first = api.json("POST", path, ACCEPT, token=token)
    again = api.json("POST", path, ACCEPT, token=token)
    assert first == again and first["status"] == "accepted"
    assert len(_events("win_accepted")) == 1
    sealed = _wins(draw_id)[1].delivery_sealed
    assert sealed and "Le Loi" not in sealed  # sealed at rest


def test_the_brand_sees_delivery_details_by_role_and_moves_a_win_to_delivered_each_move_audited(api, world, memory_sms):
    draw_id = _drawn(api, world)["draw_id"]
    winner = _wins(draw_id)[1]
    api.json("POST", f"/v1/me/wins/{draw_id}/1/accept", ACCEPT, token=_token_of(world, winner.shopper_id))
    # Without a why an owner sees them masked, as a manager does; with one, in clear, audited with it.
    unsaid = api.json("GET", f"/v1/draws/{draw_id}/wins", role="owner")
    assert "Le Loi" not in json.dumps(unsaid) and unsaid["items"][0]["delivery"]["name"] == "L•••"
    assert _events("deliveries_viewed") == []
    owner = api.json("GET", f"/v1/draws/{draw_id}/wins?why=Shipping%20the%20prize", role="owner")
    _check(owner, "DrawWins")
    assert owner["items"][0]["delivery"] == ACCEPT and "shp_" not in json.dumps(owner)
    assert len(_events("deliveries_viewed")) == 1
    assert json.loads(_events("deliveries_viewed")[0].details)["why"] == "Shipping the prize"
    manager = api.json("GET", f"/v1/draws/{draw_id}/wins", role="manager")
    assert "Le Loi" not in json.dumps(manager) and manager["items"][0]["delivery"]["name"] == "L•••"
    viewer = api.json("GET", f"/v1/draws/{draw_id}/wins", role="viewer")
    assert viewer["items"][0]["delivery"] == {"given": True}
    assert len(_events("deliveries_viewed")) == 1  # only the owner's answer showed them in clear
    move = f"/v1/draws/{draw_id}/wins/1/status"
    api.json("POST", move, {"status": "verified"}, role="viewer", expect=403)
    not_yet = api.json("POST", move, {"status": "shipped", "note": "x"}, expect=409)  # not verified yet
    assert not_yet["error"]["field"] == "status"
    api.json("POST", move, {"status": "verified"})
    assert api.json("POST", move, {"status": "shipped"}, expect=400)["error"]["field"] == "note"
    shipped = api.json("POST", move, {"status": "shipped", "note": "VNPost EE123456789VN"})
    assert api.json("POST", move, {"status": "shipped", "note": "VNPost EE123456789VN"}) == shipped
    done = api.json("POST", move, {"status": "delivered"}, role="manager")
    assert done["status"] == "delivered" and done["note"] == "VNPost EE123456789VN"
    assert [len(_events(f"win_{s}")) for s in ("verified", "shipped", "delivered")] == [1, 1, 1]
    assert api.json("POST", move, {"status": "bogus"}, expect=400)["error"]["field"] == "status"
    api.json("POST", f"/v1/draws/{draw_id}/wins/9/status", {"status": "verified"}, expect=404)


def test_a_declined_rejected_or_forfeited_win_passes_to_the_next_alternate_once_then_the_prize_is_unclaimed(
    api, world, memory_sms
):
    drawn = _drawn(api, world, winners=2, alternates=2)
    draw_id = drawn["draw_id"]
    run_schedule("draw_runner")
    texted = len(memory_sms.messages)
    assert texted == 2
    made = _wins(draw_id)
    decline = f"/v1/me/wins/{draw_id}/2/decline"
    token2 = _token_of(world, made[2].shopper_id)
    first = api.json("POST", decline, token=token2)
    assert first == api.json("POST", decline, token=token2) and first["status"] == "declined"
    after = _wins(draw_id)
    assert sorted(after) == [1, 2, 3] and after[2].passed_to == "pick:3"
    alternate = after[3]
    assert (alternate.alternate, alternate.rank, alternate.replaces, alternate.status) == (True, 1, 2, "offered")
    assert alternate.participant_id == drawn["alternates"][0]["participant_id"]
    assert Draw.get(draw_id).promoted == 1
    # The runner tells the alternate, once, whatever the reruns.
    run_schedule("draw_runner")
    run_schedule("draw_runner")
    assert len(memory_sms.messages) == texted + 1 and "/wallet/brand-a" in memory_sms.messages[-1].text
    # The alternate accepts; the brand rejects: the second alternate steps in.
    api.json("POST", f"/v1/me/wins/{draw_id}/3/accept", ACCEPT, token=_token_of(world, alternate.shopper_id))
    move = f"/v1/draws/{draw_id}/wins/3/status"
    assert api.json("POST", move, {"status": "rejected"}, expect=400)["error"]["field"] == "reason"
    api.json("POST", move, {"status": "rejected", "reason": "Name does not match the ID"})
    api.json("POST", move, {"status": "rejected", "reason": "Name does not match the ID"})
    after = _wins(draw_id)
    assert sorted(after) == [1, 2, 3, 4] and after[4].replaces == 3 and Draw.get(draw_id).promoted == 2
    # The window ends for winner 1 and alternate 2: both forfeit; no alternate is left, so both prizes are unclaimed.
    with at(after[4].deadline + timedelta(seconds=1)):
        assert win_offers.run_due_wins(clock.now())["forfeited"] == 2
        assert win_offers.run_due_wins(clock.now())["forfeited"] == 0
    final = _wins(draw_id)
    assert [final[p].status for p in (1, 2, 3, 4)] == ["forfeited", "declined", "rejected", "forfeited"]
    assert final[1].passed_to == final[4].passed_to == "unclaimed"
    stored = Draw.get(draw_id)
    assert (stored.promoted, stored.unclaimed) == (2, 2)
    assert len(_events("win_forfeited")) == 2 and len(_events("win_declined")) == 1
    # The shopper's list and the operator's agree.
    listed = api.json("GET", f"/v1/draws/{draw_id}/wins")
    assert (listed["promoted"], listed["alternates_left"], listed["unclaimed"]) == (2, 0, 2)
    # So does the draw as the dashboard's draws panel reads it.
    shown = api.json("GET", f"/v1/draws/{draw_id}")
    _check(shown, "Draw")
    assert (shown["promoted"], shown["unclaimed"]) == (2, 2)


def test_reminders_go_seven_days_and_one_day_before_the_window_ends_each_once(api, world, memory_sms):
    draw_id = _drawn(api, world, winners=1, alternates=0)["draw_id"]
    run_schedule("draw_runner")
    assert len(memory_sms.messages) == 1
    deadline = _wins(draw_id)[1].deadline
    for moment, expected in (
        (deadline - timedelta(days=8), 1),
        (deadline - timedelta(days=7), 2),
        (deadline - timedelta(days=6), 2),
        (deadline - timedelta(days=1), 3),
        (deadline - timedelta(hours=1), 3),
    ):
        with at(moment):
            win_offers.run_due_wins(clock.now())
            win_offers.run_due_wins(clock.now())
        assert len(memory_sms.messages) == expected, moment
    assert "Reminder" in memory_sms.messages[-1].text or "Nhac nho" in memory_sms.messages[-1].text
    assert sorted(_wins(draw_id)[1].text_sent.as_dict()) == ["d1", "d7"]


def test_an_id_number_is_asked_for_when_the_prize_terms_say_so_and_shown_to_owners_only(
    api, world, memory_sms, monkeypatch
):
    draw_id = _drawn(api, world, winners=1, alternates=0)["draw_id"]
    terms = wins.PrizeTerms(30, 25_000_000_00, "VND", 15_000_000_00, 1_500_000_00, needs_id=True)
    monkeypatch.setattr(wins, "prize_terms", lambda draw: terms)
    token = _token_of(world, _wins(draw_id)[1].shopper_id)
    path = f"/v1/me/wins/{draw_id}/1/accept"
    assert api.json("POST", path, DELIVERY, token=token, expect=400)["error"]["field"] == "id_number"
    assert (
        api.json("POST", path, {**DELIVERY, "id_number": "x"}, token=token, expect=400)["error"]["field"] == "id_number"
    )
    assert api.json("GET", "/v1/me/wins", token=token)["items"][0]["terms"]["tax_withheld"] == 1_500_000_00
    api.json("POST", path, {**DELIVERY, "id_number": "001203004567"}, token=token)
    assert "001203004567" not in (_wins(draw_id)[1].id_number_sealed or "001203004567")
    clear = api.json("GET", f"/v1/draws/{draw_id}/wins?why=Declaring%20the%20tax")
    assert clear["items"][0]["delivery"]["id_number"] == "001203004567"
    assert "001203004567" not in json.dumps(api.json("GET", f"/v1/draws/{draw_id}/wins"))
    assert "001203004567" not in json.dumps(api.json("GET", f"/v1/draws/{draw_id}/wins?why=x", role="manager"))


def test_a_run_that_stopped_between_the_draw_and_its_wins_is_finished_by_the_next(api, world, memory_sms, monkeypatch):
    t0 = world["t0"]
    _claims(world, [1, 2, 3, 1, 4, 2], t0 + timedelta(minutes=1))
    draw = _schedule(api, world, winners=2, alternates=1)
    with monkeypatch.context() as patch:
        patch.setattr(draw_runner, "make_wins", lambda draw: (_ for _ in ()).throw(RuntimeError("crash")))
        run_schedule("draw_runner")  # draws, then dies before the wins (the runner logs and goes on)
    assert Draw.get(draw["draw_id"]).status == "drawn" and not _wins(draw["draw_id"])
    run_schedule("draw_runner")
    run_schedule("draw_runner")
    assert sorted(_wins(draw["draw_id"])) == [1, 2] and Draw.get(draw["draw_id"]).wins_made_at is not None


@pytest.mark.parametrize("pick", ["0", "abc", "99999999"])
def test_a_pick_of_the_wrong_shape_is_not_found(api, world, memory_sms, pick):
    draw_id = _drawn(api, world, winners=1, alternates=0)["draw_id"]
    api.json("POST", f"/v1/draws/{draw_id}/wins/{pick}/status", {"status": "verified"}, expect=404)


def test_the_public_results_and_the_regulators_report_follow_the_wins(api, world, memory_sms):
    drawn = _drawn(api, world)
    draw_id, made = drawn["draw_id"], _wins(drawn["draw_id"])
    api.json("POST", f"/v1/me/wins/{draw_id}/1/accept", ACCEPT, token=_token_of(world, made[1].shopper_id))
    api.json("POST", f"/v1/me/wins/{draw_id}/2/decline", {}, token=_token_of(world, made[2].shopper_id))
    campaign_id = Draw.get(draw_id).campaign_id
    public = api.json("GET", f"/results/{campaign_id}?format=json", token="")["draws"][0]
    assert [(w["status"], w["initials"]) for w in public["winners"]] == [("accepted", "L. N."), ("declined", None)]
    assert [(a["status"], a["initials"]) for a in public["alternates"]] == [("offered", None), ("waiting", None)]
    assert "Lan Nguyen" not in json.dumps(public) and "Le Loi" not in json.dumps(public)
    # The report lists the winner's details as given (owners), the declined prize as passed on, not awarded.
    report = api.call("GET", f"/v1/campaigns/{campaign_id}/reports/results.csv?why=Filing").body.decode()
    assert "Lan Nguyen" in report and "12 Le Loi Street, Hanoi" in report and "001203004567" in report
    masked = api.call("GET", f"/v1/campaigns/{campaign_id}/reports/results.csv", role="manager").body.decode()
    assert "Lan Nguyen" not in masked and "001203004567" not in masked
