"""Deleting an account through the API: told what happens, confirmed by a fresh code, exactly once; nothing
that identifies the person is left, the draw's proof and the brand's figures stand."""

from __future__ import annotations

import re

import pytest

from chalicelib.adapters import models
from chalicelib.adapters.models import Draw, ShopperAccount
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import clock, phones
from chalicelib.domain.errors import Conflict
from chalicelib.services import erasure, shoppers
from tests.functional.test_draws import BRAND, PHONES, _csv, memory_sms, world  # noqa: F401
from tests.functional.test_openapi import _check
from tests.functional.test_wins import ACCEPT, _drawn, _wins
from tests.support import run_schedule, shopper_token


def traces(phone: str) -> dict[str, str]:
    """Every form a stored value derived from `phone` could take, and the delivery details and ID number."""
    pepper = get_phone_hash_pepper()
    number = phones.normalise_phone(phone, get_settings().phone_regions)
    hashed = phones.phone_hash(number.e164, pepper)
    national = "0" + number.e164[3:]
    return {
        "e164": number.e164,
        "national": national,
        "digits": number.e164[1:],
        "hash": hashed,
        "hash prefix": hashed[:32],
        "masked": number.masked,
        "address": ACCEPT["address"],
        "delivery name": ACCEPT["name"],
        "id number": ACCEPT["id_number"],
    }


def found_in_tables(phone: str, sealed: set[str]) -> list[str]:
    """Every (table, item, trace) where a value derived from the phone or its delivery details is stored."""
    found = []
    wanted = traces(phone)
    for model in models.ALL_MODELS:
        for item in model.scan():
            text = repr(item.serialize())
            found += [f"{model.Meta.table_name}: {name}" for name, value in wanted.items() if value in text]
            found += [f"{model.Meta.table_name}: a sealed value" for value in sealed if value in text]
    return found


def _sealed_values(shopper_id: str, draw_id: str) -> set[str]:
    account = ShopperAccount.get(shopper_id)
    values = {account.phone_sealed or ""}
    for win in _wins(draw_id).values():
        if win.shopper_id == shopper_id:
            values |= {win.delivery_sealed or "", win.id_number_sealed or ""}
    return {v for v in values if v}


def _delivered_winner(api, world, memory_sms) -> tuple[str, str, str]:
    """A drawn draw whose first winner accepted (delivery details, ID number) and got the prize."""
    draw_id = _drawn(api, world)["draw_id"]
    winner = _wins(draw_id)[1]
    phone = PHONES[world["shoppers"].index(winner.shopper_id)]
    token = shopper_token(phone)
    api.json("POST", f"/v1/me/wins/{draw_id}/1/accept", ACCEPT, token=token)
    for status, extra in (("verified", {}), ("shipped", {"note": "VNPost EE1VN"}), ("delivered", {})):
        api.json("POST", f"/v1/draws/{draw_id}/wins/1/status", {"status": status, **extra})
    return draw_id, winner.shopper_id, phone


def _code_sent(memory_sms, phone: str) -> str:
    text = [m.text for m in memory_sms.messages if m.to == phone][-1]
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_a_deletion_removes_what_identifies_the_person_and_keeps_the_proofs_and_figures(api, world, memory_sms):
    draw_id, shopper, phone = _delivered_winner(api, world, memory_sms)
    token = shopper_token(phone)
    # A sign-in code asked for: its pending code and the number's limit counters hold the hash (or not).
    api.json("POST", "/v1/shopper/otp", {"phone": phone}, token="", expect=202)
    sealed = _sealed_values(shopper, draw_id)
    assert found_in_tables(phone, sealed)  # the check does find them before
    before_csv = _csv(api, draw_id)
    before_draw = api.json("GET", f"/v1/draws/{draw_id}")
    before_stats = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    api.json("PUT", "/v1/me/consents", {"brand_id": BRAND, "marketing": True}, token=token)
    assert ShopperAccount.get(shopper).marketing_brands == {BRAND}
    told = api.json("POST", "/v1/me/deletion", token=token, expect=202)
    _check(told, "DeletionRequested")
    assert told["sent"] is True and told["points_forfeited"] and told["wins_kept"] == []
    # Bad input names its field and writes nothing; a wrong code is refused.
    confirm = "/v1/me/deletion/confirm"
    assert api.json("POST", confirm, {}, token=token, expect=400)["error"]["field"] == "otp"
    assert api.json("POST", confirm, {"otp": "12"}, token=token, expect=400)["error"]["field"] == "otp"
    assert api.json("POST", confirm, {"otp": "000000", "x": 1}, token=token, expect=400)["error"]["field"] == "x"
    assert api.json("POST", "/v1/me/deletion", {"x": 1}, token=token, expect=400)["error"]["field"] == "x"
    assert ShopperAccount.get(shopper).erasure_status is None
    done = api.json("POST", confirm, {"otp": _code_sent(memory_sms, phone)}, token=token)
    _check(done, "Deletion")
    assert done["status"] == "done"
    assert found_in_tables(phone, sealed) == []
    # Nobody markets in its name any more; what it granted and withdrew, and when, stays as proof under the
    # pseudonym (as the notices it accepted would: this test's shopper signed in with a token, not the page).
    gone = ShopperAccount.get(shopper)
    assert gone.marketing_brands is None and [c.granted for c in gone.marketing_log] == [True]
    # What the brand published stays true.
    assert _csv(api, draw_id) == before_csv
    after_draw = api.json("GET", f"/v1/draws/{draw_id}")
    assert after_draw["snapshot_sha256"] == before_draw["snapshot_sha256"]
    assert [w["participant_id"] for w in after_draw["winners"]] == [w["participant_id"] for w in before_draw["winners"]]
    after_stats = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    assert {**after_stats, "as_of": None} == {**before_stats, "as_of": None}
    assert api.json("GET", "/v1/loyalty/stats")["points"]["forfeited"] == told["points_forfeited"][0]["points"]
    # Exactly once: confirmed again, nothing is left to delete.
    api.json("POST", confirm, {"otp": "000000"}, token=token, expect=404)
    # The token still held from before (it lives its hours) finds no account behind "my data".
    assert Draw.get(draw_id).winners[0].phone_masked is None
    # The token the page held names a deleted account: its data and consents answer 401, and nothing
    # new is recorded under it.
    for method, path, body in (
        ("GET", "/v1/me/data", None),
        ("GET", "/v1/me/data/claims", None),
        ("GET", "/v1/me/consents", None),
        ("PUT", "/v1/me/consents", {"brand_id": BRAND, "marketing": True}),
    ):
        assert api.call(method, path, body, token=token).status_code == 401, path
    assert ShopperAccount.get(shopper).marketing_brands is None
    # The number signing in again opens a new account under a new random id: nothing leads from the
    # number to the deleted one.
    number = phones.normalise_phone(phone, get_settings().phone_regions)
    again = shoppers.record_account(number, get_phone_hash_pepper(), clock.now())
    assert again != shopper and ShopperAccount.get(again).sign_ins == 1


def test_a_deletion_that_stopped_halfway_is_finished_by_the_scheduler(api, world, memory_sms, monkeypatch):
    draw_id, shopper, phone = _delivered_winner(api, world, memory_sms)
    token = shopper_token(phone)
    sealed = _sealed_values(shopper, draw_id)
    api.json("POST", "/v1/me/deletion", token=token, expect=202)

    def crash(shopper_id: str, account: ShopperAccount) -> None:
        raise RuntimeError("the container stopped")

    monkeypatch.setitem(erasure._DO, "draws", crash)
    response = api.call("POST", "/v1/me/deletion/confirm", {"otp": _code_sent(memory_sms, phone)}, token=token)
    assert response.status_code == 500
    account = ShopperAccount.get(shopper)
    assert account.erasure_status == "running" and account.erasure_steps == {"points", "wins", "redemptions"}
    # Signing in meanwhile is refused (the code used up, nothing else written); the every-minute run finishes it.
    number = phones.normalise_phone(phone, get_settings().phone_regions)
    with pytest.raises(Conflict):
        shoppers.record_account(number, get_phone_hash_pepper(), clock.now())
    assert ShopperAccount.get(shopper).sign_ins == account.sign_ins
    monkeypatch.undo()
    run_schedule("draw_runner")
    assert ShopperAccount.get(shopper).erasure_status == "done"
    assert found_in_tables(phone, sealed) == []


def test_an_open_win_keeps_its_details_and_is_listed(api, world, memory_sms):
    draw_id = _drawn(api, world)["draw_id"]
    winner = _wins(draw_id)[1]
    token = shopper_token(PHONES[world["shoppers"].index(winner.shopper_id)])
    api.json("POST", f"/v1/me/wins/{draw_id}/1/accept", ACCEPT, token=token)
    told = api.json("POST", "/v1/me/deletion", token=token, expect=202)
    assert [(w["draw_id"], w["pick"], w["status"]) for w in told["wins_kept"]] == [(draw_id, 1, "accepted")]
