"""The retention job on DynamoDB Local: after it runs, no table holds the delivery details, ID numbers and
inactive account it removed (every table read), what is not due yet is still there, and the draw still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters import models
from chalicelib.adapters.models import Redemption, ShopperAccount, Win
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import clock, phones, retention
from chalicelib.services import shoppers
from tests.functional.test_draws import PHONES, _csv, memory_sms, world  # noqa: F401 - fixtures
from tests.functional.test_erasure import _delivered_winner, found_in_tables
from tests.functional.test_isolation import _own_redemption_with_delivery
from tests.integration.test_erasure_on_dynamodb_local import _verify
from tests.support import run_schedule

pytestmark = pytest.mark.timeout(900)
BRAND = "brand-a"
IDLE_PHONE = "+84912340099"


def _anywhere(values: set[str]) -> list[str]:
    """Every (table: value) where one of `values` is stored, reading every item of every table."""
    found = []
    for model in models.ALL_MODELS:
        for item in model.scan():
            text = repr(item.serialize())
            found += [f"{model.Meta.table_name}: {value[:20]}" for value in values if value in text]
    return found


def _idle_account(last_sign_in: datetime) -> tuple[str, str]:
    """An account last signed in at `last_sign_in`, written as a sign-in writes it; its sealed number."""
    number = phones.normalise_phone(IDLE_PHONE, get_settings().phone_regions)
    sid = shoppers.record_account(number, get_phone_hash_pepper(), last_sign_in)
    return sid, ShopperAccount.get(sid).phone_sealed or ""


def _shipped_gift(api) -> str:
    """A gift of the brand with delivery details (as redeeming writes it), shipped through the API; its sealed
    details."""
    redemption_id = _own_redemption_with_delivery("rwd_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    api.json("POST", f"/v1/redemptions/{redemption_id}/fulfil", {"note": "VN1"})
    return Redemption.get(redemption_id).delivery_sealed or ""


def test_after_the_retention_job_no_table_holds_what_it_removed(api, world, memory_sms, tmp_path: Path):
    draw_id, _, _ = _delivered_winner(api, world, memory_sms)
    win = Win.get(draw_id, 1)
    win_values = {win.delivery_sealed or "", win.id_number_sealed or ""}
    gift = _shipped_gift(api)
    idle, idle_sealed = _idle_account(clock.now() - timedelta(days=300))
    stats = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    assert all(win_values) and _anywhere({*win_values, gift}) and found_in_tables(IDLE_PHONE, {idle_sealed})

    # Sixteen months on: the gift (6), the closed win (16) and the idle account (24 since its sign-in) are due;
    # the draw's other shoppers, signed in today, are not.
    later = datetime.combine(retention.add_months(clock.now().date(), 16), datetime.min.time(), UTC)
    with clock.replaced((later + timedelta(days=1)).timestamp):
        done = run_schedule("retention")
        assert run_schedule("retention") == {"deliveries": 0, "wins": 0, "accounts": 0}
    assert done == {"deliveries": 1, "wins": 1, "accounts": 1}

    assert _anywhere({*win_values, gift}) == []
    assert found_in_tables(IDLE_PHONE, {idle_sealed}) == []
    assert ShopperAccount.get(idle).erasure_status == "done"
    assert all(ShopperAccount.get(s).phone_hash for s in world["shoppers"])  # not due: kept
    assert Win.get(draw_id, 1).status == "delivered"
    assert _verify(api, draw_id, tmp_path).startswith("MATCH")
    after = api.json("GET", f"/v1/campaigns/{world['campaign_id']}/stats")
    assert {**after, "as_of": None} == {**stats, "as_of": None}
    assert api.json("GET", "/v1/retention")["removed"] == {"deliveries": 1, "wins": 1, "accounts": 0}
