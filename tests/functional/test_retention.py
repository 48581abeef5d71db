"""Retention through the API and the scheduled job: a brand's settings (owners change them, audited, bounded by
the law), and the job removing exactly what is due, counted per brand, nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import retention_store, shopper_store
from chalicelib.adapters.models import AuditEvent, BrandSettings, Redemption, ShopperAccount, Win
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import clock, phones, retention
from chalicelib.services import shoppers
from tests.functional.test_draws import BRAND, PHONES, memory_sms, world  # noqa: F401 - fixtures
from tests.functional.test_erasure import _delivered_winner, found_in_tables
from tests.functional.test_loyalty_api import ALICE, BOB, _earn, _redeem
from tests.functional.test_scans import running  # noqa: F401 - fixture
from tests.functional.test_wins import ACCEPT, _drawn, _wins
from tests.support import run_schedule, shopper_token

DELIVERY = {"name": "Lan", "phone": "0912 345 678", "address": "1 Le Loi, Hanoi"}


def _at(moment: datetime):
    return clock.replaced(moment.timestamp)


def _months_on(months: int, days: int = 1) -> datetime:
    return datetime.combine(retention.add_months(clock.now().date(), months), datetime.min.time(), UTC) + timedelta(
        days=days
    )


# --- the settings -----------------------------------------------------------------------------


def test_the_settings_start_at_the_defaults_and_an_owners_change_is_read_back_and_audited(api):
    first = api.json("GET", "/v1/retention", role="viewer")
    assert (first["delivery_months"], first["prize_record_months"], first["inactive_account_months"]) == (6, 16, 24)
    assert first["bounds"] == {"delivery_months": {"min": 1, "max": 24}, "prize_record_months": {"min": 16, "max": 120}}
    assert first["removed"] == {"deliveries": 0, "wins": 0, "accounts": 0} and first["version"] == 0
    saved = api.json("PUT", "/v1/retention", {"delivery_months": 3, "prize_record_months": 24})
    assert (saved["delivery_months"], saved["prize_record_months"], saved["version"]) == (3, 24, 1)
    assert api.json("GET", "/v1/retention", role="manager")["delivery_months"] == 3
    (event,) = [e for e in AuditEvent.query("brand-a") if e.action == "retention_settings"]
    assert '"delivery_months": {"after": 3, "before": 6}' in event.details
    # Another brand still has the defaults.
    assert api.json("GET", "/v1/retention", brand="brand-b")["delivery_months"] == 6


def test_managers_and_viewers_read_the_settings_but_only_owners_change_them(api):
    for role in ("manager", "viewer"):
        answer = api.json("PUT", "/v1/retention", {"delivery_months": 2}, role=role, expect=403)
        assert answer["error"]["code"] == "forbidden"
    assert list(BrandSettings.scan()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delivery_months": 0}, "delivery_months"),
        ({"delivery_months": 25}, "delivery_months"),  # the law's most (markets.py delivery_months_max)
        ({"delivery_months": "6"}, "delivery_months"),
        ({"delivery_months": 6.5}, "delivery_months"),
        ({"prize_record_months": 15}, "prize_record_months"),  # under the tax records' least
        ({"prize_record_months": 121}, "prize_record_months"),
        ({"prize_record_months": None}, "prize_record_months"),
        ({"inactive_account_months": 12}, "inactive_account_months"),  # the platform's, not a brand's
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_written(api, body, field):
    answer = api.json("PUT", "/v1/retention", body, expect=400)
    assert answer["error"]["field"] == field
    assert list(BrandSettings.scan()) == []
    assert [e for e in AuditEvent.scan() if e.action == "retention_settings"] == []


# --- the job --------------------------------------------------------------------------------------


def _gifts(api, running) -> dict[str, str]:
    """Three gifts of BRAND with delivery details: one shipped, one cancelled, one still pending."""
    _, _, codes_ = running()
    _earn(codes_, ALICE, 10)
    gift = api.json("POST", "/v1/rewards", {"name": "Mug", "kind": "gift", "cost": 30, "stock": 5}, expect=201)
    made = {name: _redeem(api, ALICE, gift["reward_id"], delivery=DELIVERY)["redemption_id"] for name in "abc"}
    api.json("POST", f"/v1/redemptions/{made['a']}/fulfil", {"note": "VN1"})
    api.json("POST", f"/v1/redemptions/{made['b']}/cancel", {})
    return {"shipped": made["a"], "cancelled": made["b"], "pending": made["c"]}


def _details(redemption_id: str) -> tuple[bool, bool]:
    record = Redemption.get(redemption_id)
    return bool(record.delivery_sealed), bool(record.request_digest)


def test_the_job_removes_closed_gifts_delivery_details_once_due_and_nothing_else(api, running):
    made = _gifts(api, running)
    shipped = Redemption.get(made["shipped"])
    # The move that started the clock put it on the index, at the brand's setting.
    assert shipped.purge_on == retention.due_day(shipped.fulfilled_at, 6)
    assert Redemption.get(made["pending"]).purge_on is None
    assert run_schedule("retention") == {"deliveries": 0, "wins": 0, "accounts": 0}
    assert all(_details(r) == (True, True) for r in made.values())
    with _at(_months_on(6)):
        assert run_schedule("retention") == {"deliveries": 2, "wins": 0, "accounts": 0}
        # Again (a late or repeated run): nothing more is removed nor counted.
        assert run_schedule("retention") == {"deliveries": 0, "wins": 0, "accounts": 0}
    assert _details(made["shipped"]) == (False, False) and _details(made["cancelled"]) == (False, False)
    assert _details(made["pending"]) == (True, True)  # still to ship: the brand needs the address
    kept = Redemption.get(made["shipped"])
    assert kept.status == "shipped" and kept.purge_on is None and kept.cost == 30
    assert api.json("GET", "/v1/retention", role="viewer")["removed"] == {"deliveries": 2, "wins": 0, "accounts": 0}
    assert api.json("GET", "/v1/retention", brand="brand-b")["removed"] == {"deliveries": 0, "wins": 0, "accounts": 0}


def test_a_shorter_setting_applies_to_what_ships_after_it(api, running):
    api.json("PUT", "/v1/retention", {"delivery_months": 1})
    made = _gifts(api, running)
    with _at(_months_on(1)):
        assert run_schedule("retention")["deliveries"] == 2
    assert _details(made["shipped"]) == (False, False)


def test_a_closed_wins_details_go_at_the_brands_setting_and_an_open_ones_stay(api, world, memory_sms):
    draw_id, _, _ = _delivered_winner(api, world, memory_sms)
    delivered = Win.get(draw_id, 1)
    assert delivered.delivery_sealed and delivered.id_number_sealed
    assert delivered.purge_on == retention.due_day(delivered.updated_at, 16)
    # Another winner accepted but not yet delivered: open, so kept whatever the day.
    second = _wins(draw_id)[2]
    token = shopper_token(PHONES[world["shoppers"].index(second.shopper_id)])
    api.json("POST", f"/v1/me/wins/{draw_id}/2/accept", ACCEPT, token=token)
    with _at(_months_on(15)):
        assert run_schedule("retention")["wins"] == 0
    with _at(_months_on(16)):
        assert run_schedule("retention")["wins"] == 1
        assert run_schedule("retention")["wins"] == 0
    gone, kept = Win.get(draw_id, 1), Win.get(draw_id, 2)
    assert gone.delivery_sealed is None and gone.id_number_sealed is None and gone.status == "delivered"
    assert kept.delivery_sealed and kept.id_number_sealed and kept.purge_on is None
    assert api.json("GET", "/v1/retention")["removed"]["wins"] == 1


def test_a_deleted_accounts_open_win_is_kept_until_it_closes_then_only_the_laws_least(api, world, memory_sms):
    api.json("PUT", "/v1/retention", {"delivery_months": 6, "prize_record_months": 60})
    draw_id = _drawn(api, world)["draw_id"]
    winner = _wins(draw_id)[1]
    phone = PHONES[world["shoppers"].index(winner.shopper_id)]
    api.json("POST", f"/v1/me/wins/{draw_id}/1/accept", ACCEPT, token=shopper_token(phone))
    from chalicelib.adapters import erasure_store
    from chalicelib.services import erasure

    erasure_store.start(winner.shopper_id, clock.now())
    erasure.run(winner.shopper_id)
    assert Win.get(draw_id, 1).owner_erased and Win.get(draw_id, 1).delivery_sealed
    for status, extra in (("verified", {}), ("shipped", {"note": "VNPost EE1VN"}), ("delivered", {})):
        api.json("POST", f"/v1/draws/{draw_id}/wins/1/status", {"status": status, **extra})
    closed = Win.get(draw_id, 1)
    assert closed.purge_on == retention.due_day(closed.updated_at, retention.bounds("prize_record_months")[0])
    with _at(_months_on(16)):
        assert run_schedule("retention")["wins"] == 1
    assert found_in_tables(phone, set()) == []


def _signed_in(phone: str, at: datetime) -> str:
    """The number signing in at `at` (its account opened, or refreshed): the shopper id."""
    number = phones.normalise_phone(phone, get_settings().phone_regions)
    return shoppers.record_account(number, get_phone_hash_pepper(), at)


def test_an_account_with_no_sign_in_for_24_months_is_deleted_once_and_counted_for_its_brands(api, running):
    _, _, codes_ = running()
    _earn(codes_, ALICE, 2)  # Alice has points with BRAND
    long_ago = clock.now() - timedelta(days=2 * 366 + 1)
    alice = _signed_in(ALICE, long_ago)
    bob = _signed_in(BOB, clock.now() - timedelta(days=30))  # signed in lately: kept
    assert ShopperAccount.get(alice).expires_on == retention.inactive_due_day(long_ago)
    assert run_schedule("retention")["accounts"] == 1
    assert run_schedule("retention")["accounts"] == 0
    gone, kept = ShopperAccount.get(alice), ShopperAccount.get(bob)
    assert gone.erasure_status == "done" and gone.phone_hash is None and gone.phone_sealed is None
    assert gone.expires_on is None and gone.last_sign_in_at is None
    assert kept.phone_hash and kept.erasure_status is None
    assert retention_store.removed_counts(BRAND)["accounts"] == 1
    # Signing in again starts a new account with a new clock.
    again = _signed_in(ALICE, clock.now())
    assert ShopperAccount.get(again).expires_on == retention.inactive_due_day(clock.now())


def test_a_sign_in_since_the_index_was_read_keeps_the_account(api):
    alice = _signed_in(ALICE, clock.now() - timedelta(days=2 * 366 + 1))
    day = retention.day_text(clock.now().date())
    assert list(retention_store.due_accounts(day)) == [alice]
    _signed_in(ALICE, clock.now())  # the shopper comes back between the job's Query and its write
    assert retention_store.start_inactive(alice, clock.now(), day, [BRAND]) is False
    assert ShopperAccount.get(alice).phone_hash
    assert retention_store.removed_counts(BRAND)["accounts"] == 0


def test_the_local_tables_expire_sign_in_and_limit_records_by_ttl_as_in_aws(store):
    # PynamoDB's create_table turns TTL on for a model with a TTLAttribute (tables.create_tables makes them so);
    # infra/*.json does it in AWS (tests/functional/test_deploy_package.py).
    from chalicelib.adapters import dynamo
    from chalicelib.adapters.models import AuditEvent, CodeState, Export, OtpChallenge, RateCounter

    for model in (OtpChallenge, RateCounter, CodeState, Export, AuditEvent):
        ttl = dynamo.client().describe_time_to_live(TableName=model.Meta.table_name)["TimeToLiveDescription"]
        assert (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")) == ("ENABLED", "expires_at"), model


def test_what_closed_before_the_indexes_is_put_on_its_day_once_and_then_removed(api, running):
    made = _gifts(api, running)  # Alice's
    bob = _signed_in(BOB, clock.now() - timedelta(days=2 * 366 + 1))
    # As they were before the indexes: no due day on the closed gifts nor on the account.
    for key in (made["shipped"], made["cancelled"]):
        Redemption(key).update(actions=[Redemption.purge_shard.remove(), Redemption.purge_on.remove()])
    ShopperAccount(bob).update(actions=shopper_store.expiry_removed())
    assert run_schedule("retention") == {"deliveries": 0, "wins": 0, "accounts": 0}
    from chalicelib.services import retention as retention_service
    from scripts import retention_backfill  # noqa: F401 - the script's module imports cleanly

    assert retention_service.backfill() == {"deliveries": 2, "wins": 0, "accounts": 1}
    assert retention_service.backfill() == {"deliveries": 0, "wins": 0, "accounts": 0}
    shipped = Redemption.get(made["shipped"])
    assert shipped.purge_on == retention.due_day(shipped.fulfilled_at, 6)
    assert Redemption.get(made["pending"]).purge_on is None
    assert run_schedule("retention")["accounts"] == 1  # 24 months without a sign-in already: due now
    with _at(_months_on(6)):
        assert run_schedule("retention")["deliveries"] == 2
