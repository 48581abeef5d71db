"""Campaign statistics, the writing part: claims from the stream folded into sharded counters, and refusals."""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable, Iterator
from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import Campaign, CodeState, StatShard
from chalicelib.domain.statistics import (
    CLAIM_SHARDS,
    REFUSAL_SHARDS,
    REFUSALS,
    add_counts,
    claim_increments,
    hour_of_day,
    zone,
)
from chalicelib.logs import log_event

__all__ = [
    "TX_ITEMS",
    "counter_update",
    "record_refusal",
    "handle_stream_records",
    "counters_of",
    "transaction_groups",
    "count_claims",
]

log = logging.getLogger(__name__)

TX_ITEMS = 100  # DynamoDB's limit on items in one transaction
_CONFLICT_ATTEMPTS = 8


def _number(value: int) -> dict:
    return {"N": str(value)}


def counter_update(campaign_id: str, stat_key: str, counts: dict[str, int]) -> dict:
    """The UpdateItem request that adds `counts` to the counters of one stats item."""
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(sorted(counts.items())):
        names[f"#a{i}"], values[f":a{i}"] = name, _number(value)
        parts.append(f"#a{i} :a{i}")
    return {
        "TableName": StatShard.Meta.table_name,
        "Key": {"campaign_id": {"S": campaign_id}, "stat_key": {"S": stat_key}},
        "UpdateExpression": "ADD " + ", ".join(parts),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def record_refusal(campaign: Campaign, kind: str, now: datetime) -> None:
    """Count one refused scan of a campaign's code, by kind, in its totals and its day.

    Called after the answer is decided; a failure here is logged and never changes the
    shopper's answer.
    """
    if kind not in REFUSALS:
        raise ValueError(f"unknown refusal kind {kind}")
    try:
        day, hour = hour_of_day(now, zone(campaign.timezone))
        shard = random.randrange(REFUSAL_SHARDS)
        client = dynamo.client()
        client.update_item(**counter_update(campaign.campaign_id, f"total#r{shard}", {kind: 1}))
        client.update_item(
            **counter_update(
                campaign.campaign_id, f"day#{day.isoformat()}#r{shard}", {kind: 1, f"{kind}@{hour:02d}": 1}
            )
        )
    except Exception:  # noqa: BLE001 - statistics never fail a scan
        log_event(
            log, "refusal_not_counted", level=logging.ERROR, exc_info=True, kind=kind, campaign_id=campaign.campaign_id
        )


def _claims_from_records(records: Iterable[dict]) -> list[CodeState]:
    """Claims inserted into code_states, from DynamoDB stream records (Lambda's event shape)."""
    claims = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if (image.get("state") or {}).get("S") != "claimed" or "campaign_id" not in image:
            continue
        claims.append(CodeState.from_raw_data(image))
    return claims


def handle_stream_records(records: list[dict]) -> int:
    """The stream handler: count the new claims among `records`; returns how many were counted now."""
    return count_claims(_claims_from_records(records))


def counters_of(group: list[CodeState]) -> dict[tuple[str, str], dict[str, int]]:
    """The summed increments of a group of claims, by (campaign, counter item)."""
    counters: dict[tuple[str, str], dict[str, int]] = {}
    for claim in group:
        add_counts(counters, {(claim.campaign_id, item): counts for item, counts in claim_increments(claim).items()})
    return counters


def transaction_groups(claims: list[CodeState]) -> Iterator[list[CodeState]]:
    """Groups of claims whose markers and counter items fit in one transaction."""
    group: list[CodeState] = []
    keys: set[tuple[str, str]] = set()
    for claim in claims:
        mine = {(claim.campaign_id, item) for item in claim_increments(claim)}
        if group and len(group) + 1 + len(keys | mine) > TX_ITEMS:
            yield group
            group, keys = [], set()
        group.append(claim)
        keys |= mine
    if group:
        yield group


def count_claims(claims: list[CodeState]) -> int:
    """Fold claims into the counters exactly once, however often they are delivered.

    One transaction per group marks each claim `counted` (on condition it was not) and
    adds the group's sums to one shard of each counter item: a claim delivered again is
    refused by its marker, and the group is recounted without it.
    """
    return sum(_count_group(group) for group in transaction_groups(sorted(claims, key=lambda c: c.code_key)))


def _count_group(group: list[CodeState]) -> int:
    attempt = 0
    while group:
        counters = counters_of(group)
        shard = random.randrange(CLAIM_SHARDS)
        items = [
            {
                "Update": {
                    "TableName": CodeState.Meta.table_name,
                    "Key": {"code_key": {"S": claim.code_key}},
                    "UpdateExpression": "SET #c = :t",
                    "ConditionExpression": "attribute_exists(#k) AND attribute_not_exists(#c)",
                    "ExpressionAttributeNames": {"#c": "counted", "#k": "code_key"},
                    "ExpressionAttributeValues": {":t": {"BOOL": True}},
                }
            }
            for claim in group
        ]
        for (campaign_id, item), counts in counters.items():
            items.append({"Update": counter_update(campaign_id, f"{item}#{shard}", counts)})
        # Same group, same token: botocore's resend of a timed-out request applies once.
        token = hashlib.sha256(
            f"{shard}:{attempt}:".encode() + "|".join(c.code_key for c in group).encode()
        ).hexdigest()[:36]
        try:
            dynamo.client().transact_write_items(
                TransactItems=items, ClientRequestToken=token, ReturnConsumedCapacity="TOTAL"
            )
            return len(group)
        except ClientError as error:
            reasons = dynamo.cancellation_codes(error)
            if reasons is None:
                raise
            counted_already = {
                group[i].code_key for i, code in enumerate(reasons[: len(group)]) if code == "ConditionalCheckFailed"
            }
            if counted_already:
                group = [c for c in group if c.code_key not in counted_already]
                continue
            if "TransactionConflict" in reasons and attempt < _CONFLICT_ATTEMPTS:
                attempt += 1
                dynamo.backoff(attempt)
                continue
            raise
    return 0
