"""The claim's low-level requests hold exactly what PynamoDB's models would write and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.claim_store import ClaimTransaction, deserialize
from chalicelib.adapters.models import CodeState, Counter, Participant, RateCounter

NOW = datetime(2027, 1, 15, 3, 0, 5, 123456, tzinfo=UTC)
EARLIER = NOW - timedelta(days=3, seconds=17)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"prize_id": "prz_1", "prize_name": "Motorbike"},
        {"prev_claim_at": EARLIER, "nth": 4, "active_days": 2, "first_claim_at": EARLIER - timedelta(days=1)},
        {"request_key": "scan-1"},
    ],
    ids=["first claim", "with a prize", "a later claim", "with an idempotency key"],
)
def test_the_claim_record_is_the_item_pynamodb_writes(changes):
    values = {
        "batch_id": "bat_1",
        "brand_id": "brand-a",
        "shopper_id": "shp_1",
        "campaign_id": "cmp_1",
        "sku": "NOODLE",
        "points": 10,
        "entries": 1,
        "request_id": "a" * 32,
        "request_key": None,
        "prize_id": None,
        "prize_name": None,
        "timezone": "Asia/Ho_Chi_Minh",
        "nth": 1,
        "active_days": 1,
        "first_claim_at": NOW,
        "prev_claim_at": None,
        **changes,
    }
    tx = ClaimTransaction(NOW)
    tx.claim("7:5", **values)
    (put,) = [item["Put"] for item in tx.items]
    expected = CodeState("7:5", state="claimed", changed_at=NOW, changed_by="shp_1", **values).serialize()
    assert put["Item"] == expected
    assert put["ExpressionAttributeNames"] == {"#k": CodeState.code_key.attr_name}
    assert deserialize(CodeState, put["Item"]) == CodeState.from_raw_data(expected).attribute_values


def _typed(request: dict) -> dict[str, str]:
    """Attribute name -> the DynamoDB type of the value the request gives it (#x paired with :x)."""
    names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
    pairs = {"#c": ":one", "#n": ":one", "#v": ":amount"}
    return {
        stored: next(iter(values[pairs.get(name, ":" + name[1:])]))
        for name, stored in names.items()
        if pairs.get(name, ":" + name[1:]) in values
    }


def test_every_update_names_model_attributes_with_values_of_their_types():
    tx = ClaimTransaction(NOW)
    tx.unlocked("lock:scan:shp_1")
    tx.participant(
        "cmp_1", "shp_1", seen=3, points=10, entries=1, first_claim_at=EARLIER, active_days=2, rank_shard="cmp_1#3"
    )
    tx.window("rate", "scan:shp_1:60:1800000000", 30, 1_800_003_660)
    tx.spend("budget", "budget:cmp_1:0", 10, 312_500)
    assert tx.names == ["lock", "participant", "rate", "budget"]
    lock, participant, rate, budget = (next(iter(item.values())) for item in tx.items)
    for request, model in ((lock, RateCounter), (participant, Participant), (rate, RateCounter), (budget, Counter)):
        attributes = {a.attr_name: a for a in model.get_attributes().values()}
        assert set(request["ExpressionAttributeNames"].values()) <= set(attributes)
        for stored, kind in _typed(request).items():
            assert kind == attributes[stored].attr_type, (model.__name__, stored)
        assert set(request["Key"]) == {
            a.attr_name for a in model.get_attributes().values() if a.is_hash_key or a.is_range_key
        }
    # Instants in the forms the attributes store: TTL seconds, UTC text.
    assert lock["ExpressionAttributeValues"][":now"] == {"N": RateCounter.expires_at.serialize(NOW)}
    assert participant["ExpressionAttributeValues"][":l"] == {"S": Participant.last_claim_at.serialize(NOW)}
    assert participant["ExpressionAttributeValues"][":seen"] == {"N": "3"}
    assert rate["ExpressionAttributeValues"][":x"] == {
        "N": RateCounter.expires_at.serialize(datetime.fromtimestamp(1_800_003_660, UTC))
    }
    # A budget shard moves only while it can pay the whole scan; a first claim needs no record.
    assert budget["ExpressionAttributeValues"][":room"] == {"N": str(312_500 - 10)}
    first = ClaimTransaction(NOW)
    first.participant("cmp_1", "shp_1", seen=0, points=1, entries=0, first_claim_at=NOW, active_days=1, rank_shard="r")
    request = first.items[0]["Update"]
    assert (
        request["ConditionExpression"] == "attribute_not_exists(#c)"
        and ":seen" not in request["ExpressionAttributeValues"]
    )


def test_a_participant_reads_back_as_pynamodb_reads_it():
    record = Participant(
        "cmp_1", "shp_1", points=30, entries=3, claims=3, first_claim_at=EARLIER, last_claim_at=NOW, active_days=2
    )
    assert (
        deserialize(Participant, record.serialize()) == Participant.from_raw_data(record.serialize()).attribute_values
    )
