"""The statistics store: sharded counter items of campaigns and brands, added to exactly once and read back summed.

A counter item (models.StatShard) holds top-level number attributes named by what they
count (`granted`, `b#<batch>`, `t#<tier>`...), which the model cannot declare; so its
updates and reads are low-level requests, whose values this module alone reads and writes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import CodeState, StatShard
from chalicelib.domain.lifecycle import CodeStatus
from chalicelib.domain.statistics import CLAIM_SHARDS

__all__ = [
    "Increments",
    "brand_partition",
    "counter_update",
    "add",
    "brand_item",
    "items",
    "summed",
    "totals",
    "days",
    "count_once",
]

Increments = dict[tuple[str, str, str], dict[str, int]]
"""What claims add, by (partition, counter item, shard prefix): counts by counter name."""

_KEYS = ("campaign_id", "stat_key")
# A transaction that met another one is sent again; past this many tries the stream's
# batch fails and Lambda delivers it again (markers make that count once).
_COUNT_ATTEMPTS = 9
_COUNT_BUSY = "Many counts at once; the batch will be counted again."


def brand_partition(brand_id: str) -> str:
    """The statistics partition of a brand's loyalty figures (beside its campaigns' own)."""
    return f"brand:{brand_id}"


def counter_update(partition: str, stat_key: str, counts: Mapping[str, int]) -> dict:
    """The UpdateItem request that adds `counts` to the counters of one stats item."""
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(sorted(counts.items())):
        names[f"#a{i}"], values[f":a{i}"] = name, {"N": str(value)}
        parts.append(f"#a{i} :a{i}")
    return {
        "TableName": StatShard.Meta.table_name,
        "Key": {"campaign_id": {"S": partition}, "stat_key": {"S": stat_key}},
        "UpdateExpression": "ADD " + ", ".join(parts),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def add(partition: str, stat_key: str, counts: Mapping[str, int]) -> None:
    """Add `counts` to one counter item, alone (a correction; claims are counted by `count_once`)."""
    dynamo.client().update_item(**counter_update(partition, stat_key, counts))


def brand_item(brand_id: str, counts: Mapping[str, int]) -> dict:
    """The transaction item that adds `counts` to a random shard of the brand's loyalty figures."""
    return {"Update": counter_update(brand_partition(brand_id), f"total#{random.randrange(CLAIM_SHARDS)}", counts)}


def items(
    partition: str, low: str, high: str, read: Callable[[Mapping[str, dict]], Any] | None = None
) -> list[tuple[str, Any]]:
    """Every counter item of a partition whose key lies in [low, high] (all pages): its key and its counts
    (or what `read` makes of the item: the integrity signals' sets)."""
    read = read or _counts
    found: list[tuple[str, Any]] = []
    start = None
    while True:
        kwargs = {
            "TableName": StatShard.Meta.table_name,
            "KeyConditionExpression": "campaign_id = :c AND stat_key BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":c": {"S": partition}, ":lo": {"S": low}, ":hi": {"S": high}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = dynamo.client().query(**kwargs)
        found.extend((item["stat_key"]["S"], read(item)) for item in page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


def totals(partition: str) -> dict[str, int]:
    """A partition's total counters, summed over shards."""
    # "total$" sorts after every "total#<shard>" key.
    return summed(counts for _, counts in items(partition, "total#", "total$"))


def days(partition: str, first: date, last: date) -> dict[date, dict[str, int]]:
    """The day counters of a partition from `first` to `last` (local days), summed over shards, by day."""
    shards: dict[date, list[dict[str, int]]] = defaultdict(list)
    for stat_key, counts in items(partition, f"day#{first.isoformat()}", f"day#{last.isoformat()}$"):
        shards[date.fromisoformat(stat_key.split("#")[1])].append(counts)
    return {day: summed(found) for day, found in shards.items()}


def _counts(item: Mapping[str, dict]) -> dict[str, int]:
    return {name: int(value["N"]) if "N" in value else 0 for name, value in item.items() if name not in _KEYS}


def summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts of several items (shards) added up by name."""
    sums: dict[str, int] = defaultdict(int)
    for each in counts:
        for name, value in each.items():
            sums[name] += value
    return sums


def count_once(group: list[CodeState], increments: Callable[[list[CodeState]], Increments]) -> int:
    """Fold a group of claims and refusals into the counters exactly once; returns how many were counted now.

    One transaction marks each item `counted` (on condition it was not) and adds the group's
    `increments` to one random shard of each counter item: an item delivered again is refused
    by its marker, and the group is counted again without it. A transaction that met another
    is sent again after a pause.
    """
    for _ in dynamo.attempts(_COUNT_ATTEMPTS, _COUNT_BUSY):
        try:
            return _count_uncounted(group, increments)
        except ClientError as error:
            if not dynamo.transient(error):
                raise
    return 0  # never reached: attempts raises past its last try


def _count_uncounted(group: list[CodeState], increments: Callable[[list[CodeState]], Increments]) -> int:
    while group:
        shard = random.randrange(CLAIM_SHARDS)
        requests = [_marker(claim.code_key) for claim in group]
        for (partition, item, prefix), counts in increments(group).items():
            requests.append({"Update": counter_update(partition, f"{item}#{prefix}{shard}", counts)})
        try:
            # Raw: the counter attributes are not the model's, and the reasons of a cancellation
            # tell which items were counted already.
            dynamo.client().transact_write_items(
                TransactItems=requests, ClientRequestToken=dynamo.request_token(), ReturnConsumedCapacity="TOTAL"
            )
            return len(group)
        except ClientError as error:
            reasons = dynamo.cancellation_codes(error) or []
            counted = {
                group[i].code_key for i, code in enumerate(reasons[: len(group)]) if code == "ConditionalCheckFailed"
            }
            if not counted:
                raise
            group = [claim for claim in group if claim.code_key not in counted]
    return 0


def _marker(code_key: str) -> dict:
    """The transaction item that marks a claim or refusal counted, on condition it exists and was not."""
    return {
        "Update": {
            "TableName": CodeState.Meta.table_name,
            "Key": {"code_key": {"S": code_key}},
            "UpdateExpression": "SET #c = :t",
            "ConditionExpression": "attribute_exists(#k) AND attribute_not_exists(#c)",
            "ExpressionAttributeNames": {"#c": "counted", "#k": "code_key"},
            "ExpressionAttributeValues": {":t": {"BOOL": True}},
        }
    }


_COUNTED = (CodeStatus.CLAIMED, CodeStatus.REFUSED)


def inserted_codes(records: Iterable[dict]) -> list[CodeState]:
    """The claims and refusals a DynamoDB stream batch of code_states inserted (Lambda's event shape),
    as the records the statistics count."""
    found = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if "campaign_id" in image and (image.get("state") or {}).get("S") in _COUNTED:
            found.append(CodeState.from_raw_data(image))
    return found
