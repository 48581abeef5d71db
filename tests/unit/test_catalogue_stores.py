"""The catalogue's stores without a database: the lists' cursors keep their wire format, and each item of the
redeem transaction whose condition fails maps to the same answer as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.adapters import redemption_store, reward_store
from chalicelib.adapters.models import Redemption, Reward
from chalicelib.adapters.redemption_store import Redeemed, Written
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.lifecycle import RedemptionStatus
from chalicelib.domain.validation import encode_cursor

REWARD = "rwd_" + "0" * 26
REDEMPTION = "rdm_" + "1" * 26
CREATED = "2027-03-01T10:00:00.000000+0000"


def test_a_reward_page_cursor_is_the_last_reward_id_as_before():
    assert reward_store.CURSOR.start_key(encode_cursor(REWARD), brand_id="b") == {
        "brand_id": {"S": "b"},
        "reward_id": {"S": REWARD},
    }
    last = {"brand_id": {"S": "b"}, "reward_id": {"S": REWARD}}
    assert reward_store.CURSOR.after(last, 2, 2) == encode_cursor(REWARD)


def test_a_redemption_page_cursor_is_time_and_id_as_before():
    cursor = encode_cursor(f"{CREATED}|{REDEMPTION}")
    assert redemption_store.CURSOR.start_key(cursor, shopper_id="s") == {
        "shopper_id": {"S": "s"},
        "created_at": {"S": CREATED},
        "redemption_id": {"S": REDEMPTION},
    }
    last = {"brand_id": {"S": "b"}, "created_at": {"S": CREATED}, "redemption_id": {"S": REDEMPTION}}
    assert redemption_store.CURSOR.after(last, 5, 5) == cursor
    with pytest.raises(InvalidInput):
        redemption_store.CURSOR.start_key(encode_cursor(REDEMPTION), brand_id="b")


def _try(monkeypatch, failed: dict[str, str] | None, *, voucher: bool = True, limit: int | None = 2) -> Redeemed:
    sent: list[list[str]] = []

    def send(named):
        sent.append([name for name, _ in named])
        return None if failed is None else {name: failed.get(name, "None") for name, _ in named}

    monkeypatch.setattr(redemption_store, "_send", send)
    now = datetime(2027, 3, 1, tzinfo=UTC)
    reward = Reward(
        REWARD,
        brand_id="b",
        name="Coffee",
        kind="voucher" if voucher else "gift",
        cost=10,
        stock=5,
        issued=1,
        per_shopper_limit=limit,
        version=3,
    )
    record = Redemption(
        REDEMPTION,
        brand_id="b",
        shopper_id="s",
        reward_id=REWARD,
        reward_name="Coffee",
        kind=reward.kind,
        cost=10,
        status=RedemptionStatus.ISSUED if voucher else RedemptionStatus.PENDING,
        voucher_seq=2 if voucher else None,
        created_at=now,
        updated_at=now,
    )
    outcome = redemption_store.redeem(reward, record, {"2027-01": 10}, {"Update": {}}, issued=1)
    expected = ["member", *(["voucher"] if voucher else []), "reward", *(["limit"] if limit else []), "redemption"]
    assert sent == [[*expected, "stats"]]
    return outcome


def test_each_failed_item_of_a_redemption_maps_to_its_answer(monkeypatch):
    failed = "ConditionalCheckFailed"
    assert _try(monkeypatch, None) == Redeemed.MADE
    assert _try(monkeypatch, {"redemption": failed, "limit": failed}) == Redeemed.REPLAY
    assert _try(monkeypatch, {"limit": failed}) == Redeemed.LIMIT_REACHED
    for moved in ("member", "voucher", "reward"):
        assert _try(monkeypatch, {moved: failed}) == Redeemed.MOVED
    assert _try(monkeypatch, {"reward": "TransactionConflict"}) == Redeemed.MOVED
    assert _try(monkeypatch, None, voucher=False, limit=None) == Redeemed.MADE


def test_an_operator_change_that_met_another_transaction_is_sent_again(monkeypatch):
    monkeypatch.setattr(redemption_store, "_send", lambda named: {name: "TransactionConflict" for name, _ in named})
    now = datetime(2027, 3, 1, tzinfo=UTC)
    record = Redemption(REDEMPTION, status=RedemptionStatus.PENDING)
    assert redemption_store.ship(record, "op", None, now, {"Put": {}}, purge_on="2027-09-01") == Written.BUSY
    monkeypatch.setattr(redemption_store, "_send", lambda named: {"redemption": "ConditionalCheckFailed"})
    assert redemption_store.ship(record, "op", "T-1", now, {"Put": {}}, purge_on="2027-09-01") == Written.REFUSED
    monkeypatch.setattr(redemption_store, "_send", lambda named: None)
    assert redemption_store.ship(record, "op", None, now, {"Put": {}}, purge_on="2027-09-01") == Written.DONE
