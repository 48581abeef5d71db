"""scripts/copy_table.py writes a restored table's items back into the live one, and refuses a mismatch."""

from __future__ import annotations

import pytest
from moto import mock_aws

from scripts.copy_table import _client, copy_table


def _table(client, name: str, keys: list[tuple[str, str]]) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
    )


def _items(client, name: str) -> dict[tuple[str, str], dict]:
    found = {}
    for page in client.get_paginator("scan").paginate(TableName=name):
        for item in page["Items"]:
            found[(item["brand_id"]["S"], item["reward_id"]["S"])] = item
    return found


@pytest.fixture
def dynamodb():
    with mock_aws():
        yield _client("us-east-1", None)


def test_restored_items_replace_the_live_ones_and_others_stay(dynamodb):
    keys = [("brand_id", "HASH"), ("reward_id", "RANGE")]
    _table(dynamodb, "qrc-dev-rewards-restored", keys)
    _table(dynamodb, "qrc-dev-rewards", keys)
    for n in range(60):
        item = {"brand_id": {"S": f"b{n % 3}"}, "reward_id": {"S": f"r{n}"}, "stock": {"N": str(n)}}
        dynamodb.put_item(TableName="qrc-dev-rewards-restored", Item=item)
    damaged = {"brand_id": {"S": "b0"}, "reward_id": {"S": "r0"}, "stock": {"N": "-5"}}
    newer = {"brand_id": {"S": "b9"}, "reward_id": {"S": "new"}, "stock": {"N": "1"}}
    for item in (damaged, newer):
        dynamodb.put_item(TableName="qrc-dev-rewards", Item=item)

    assert copy_table("qrc-dev-rewards-restored", "qrc-dev-rewards", client=dynamodb, dry_run=True) == 60
    assert len(_items(dynamodb, "qrc-dev-rewards")) == 2
    assert copy_table("qrc-dev-rewards-restored", "qrc-dev-rewards", client=dynamodb, segments=3) == 60

    live = _items(dynamodb, "qrc-dev-rewards")
    assert len(live) == 61
    assert live[("b0", "r0")]["stock"] == {"N": "0"}
    assert live[("b9", "new")] == newer
    assert {key: item for key, item in live.items() if key != ("b9", "new")} == _items(
        dynamodb, "qrc-dev-rewards-restored"
    )


def test_tables_with_other_keys_are_refused_before_anything_is_written(dynamodb):
    _table(dynamodb, "qrc-dev-rewards-restored", [("brand_id", "HASH"), ("reward_id", "RANGE")])
    _table(dynamodb, "qrc-dev-campaigns", [("brand_id", "HASH"), ("campaign_id", "RANGE")])
    dynamodb.put_item(TableName="qrc-dev-rewards-restored", Item={"brand_id": {"S": "b"}, "reward_id": {"S": "r"}})
    with pytest.raises(SystemExit, match="different keys; nothing was written"):
        copy_table("qrc-dev-rewards-restored", "qrc-dev-campaigns", client=dynamodb)
    assert dynamodb.scan(TableName="qrc-dev-campaigns")["Count"] == 0
    with pytest.raises(SystemExit, match="the same table"):
        copy_table("qrc-dev-campaigns", "qrc-dev-campaigns", client=dynamodb)
