"""Fixed-window rate limits and lockouts kept in DynamoDB, correct whether or not TTL has run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters import dynamo
from chalicelib.adapters.dynamo import attempts, condition_failed
from chalicelib.adapters.models import Counter, RateCounter
from chalicelib.domain import clock
from chalicelib.domain.errors import LimitReached

__all__ = [
    "hit",
    "hit_unless_locked",
    "lock",
    "lock_end",
    "spend_budget",
    "take_slot",
    "free_slot",
    "peek",
    "window_key",
]

# Slot holders race on one item: a write that lost reads the slots again, up to this many tries.
_SLOT_ATTEMPTS = 6
_SLOTS_BUSY = "Many requests at once; please try again."


def window_key(name: str, subject: str, window_seconds: int, now: float | None = None) -> tuple[str, int]:
    """The counter key of the current window and the second that window ends."""
    now = clock.epoch() if now is None else now
    start = int(now // window_seconds) * window_seconds
    return f"{name}:{subject}:{window_seconds}:{start}", start + window_seconds


def hit(
    name: str,
    subject: str,
    *,
    limit: int,
    window_seconds: int,
    message: str,
    field: str | None = None,
    now: float | None = None,
) -> int:
    """Count one event; refuse with LimitReached once `limit` events fell in this window.

    One conditional UpdateItem: the count only moves while it is under the limit, so
    concurrent callers can never push it past the limit, and a refused call writes nothing.
    """
    now = clock.epoch() if now is None else now
    key, ends = window_key(name, subject, window_seconds, now)
    counter = RateCounter(key)
    try:
        counter.update(
            actions=[
                RateCounter.count.add(1),
                RateCounter.expires_at.set(datetime.fromtimestamp(ends, UTC) + timedelta(hours=1)),
            ],
            condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            retry_after = max(1, int(ends - now))
            raise LimitReached(message, field=field, retry_after=retry_after) from None
        raise
    return int(counter.count)


def hit_unless_locked(
    name: str, subject: str, *, lock_key: str, limit: int, window_seconds: int, message: str, now: float | None = None
) -> float | None:
    """`hit`, but only while `lock_key` holds no lock in force; then the lock's end is returned
    and nothing is counted (None once counted). LimitReached once the window is full.

    One transaction of a check and an update, no read: a lock in force comes back with
    the refusal.
    """
    now = clock.epoch() if now is None else now
    key, ends = window_key(name, subject, window_seconds, now)
    expires = RateCounter.expires_at.attr_name
    count = RateCounter.count.attr_name
    table, hash_key = RateCounter.Meta.table_name, RateCounter.counter_key.attr_name
    # Raw: PynamoDB's TransactWrite cannot ask for the failed check's item (the lock in force),
    # which is what spares this call a read.
    try:
        dynamo.client().transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {hash_key: {"S": lock_key}},
                        "ConditionExpression": "attribute_not_exists(#x) OR #x < :now",
                        "ExpressionAttributeNames": {"#x": expires},
                        "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {hash_key: {"S": key}},
                        "UpdateExpression": "ADD #n :one SET #x = :x",
                        "ConditionExpression": "attribute_not_exists(#n) OR #n < :limit",
                        "ExpressionAttributeNames": {"#n": count, "#x": expires},
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":x": {"N": str(int(ends) + 3600)},
                            ":limit": {"N": str(limit)},
                        },
                    }
                },
            ]
        )
    except ClientError as exc:
        reasons = exc.response.get("CancellationReasons") or []
        codes = [reason.get("Code") for reason in reasons]
        if codes[:1] == ["ConditionalCheckFailed"]:
            return lock_end(reasons[0].get("Item"), default=now)
        if codes[1:2] == ["ConditionalCheckFailed"]:
            raise LimitReached(message, retry_after=max(1, int(ends - now))) from None
        raise
    return None


def lock(key: str, seconds: int, now: float | None = None) -> float:
    """Lock `key` for `seconds` unless a lock is in force already; returns when the lock in force ends.

    One conditional PutItem and no read: when a lock is in force the refused write brings
    it back (ReturnValuesOnConditionCheckFailure), so its end is known either way. The
    item's `expires_at` is what the claim's transaction checks.
    """
    now = clock.epoch() if now is None else now
    until = int(now + seconds)
    names = {"#x": RateCounter.expires_at.attr_name}
    # Raw: PynamoDB's save cannot ask for the item that failed its condition (the lock in force).
    try:
        dynamo.client().put_item(
            TableName=RateCounter.Meta.table_name,
            Item={
                RateCounter.counter_key.attr_name: {"S": key},
                RateCounter.count.attr_name: {"N": "1"},
                names["#x"]: {"N": str(until)},
            },
            ConditionExpression="attribute_not_exists(#x) OR #x < :now",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not condition_failed(exc):
            raise
        return lock_end(exc.response.get("Item"), default=until)
    return until


def lock_end(item: dict | None, *, default: float) -> float:
    """When the lock in a RateCounter item (low-level form, as a refused write returns it) ends."""
    try:
        return float((item or {})[RateCounter.expires_at.attr_name]["N"])
    except (KeyError, TypeError, ValueError):
        return default


def spend_budget(
    name: str, subject: str, *, budget: int, window_seconds: int, shards: int, now: float | None = None
) -> int | None:
    """Spend one unit of a budget many callers share (a day's SMS for a country, say).

    The budget is split over `shards` counters so no one key takes every write; a caller
    starts at a random shard and moves on while shards are full, so the budget is spent
    to the last unit. Returns None when spent, else the seconds until the window ends:
    once every shard is full the budget stays shut until then (a circuit breaker).
    """
    now = clock.epoch() if now is None else now
    start = random.randrange(shards)
    for step in range(shards):
        shard = (start + step) % shards
        allowance = budget // shards + (1 if shard < budget % shards else 0)
        if allowance <= 0:
            continue
        try:
            hit(name, f"{subject}#{shard}", limit=allowance, window_seconds=window_seconds, message=name, now=now)
            return None
        except LimitReached:
            continue
    _, ends = window_key(name, f"{subject}#0", window_seconds, now)
    return max(1, int(ends - now))


def _slots(key: str) -> tuple[dict[str, float], int | None]:
    try:
        item = Counter.get(key, consistent_read=True)
    except Counter.DoesNotExist:
        return {}, None
    held = item.slots.as_dict() if item.slots else {}
    return {holder: float(taken) for holder, taken in held.items()}, int(item.value)


def _save_slots(key: str, slots: dict[str, float], version: int | None) -> bool:
    """Write the slots if nobody changed them since they were read (their version)."""
    condition = Counter.name.does_not_exist() if version is None else Counter.value == version
    try:
        Counter(key, value=(version or 0) + 1, slots=slots).save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def take_slot(
    name: str, subject: str, holder: str, *, limit: int, lease_seconds: int, message: str, now: float | None = None
) -> None:
    """Hold one of `limit` slots of `subject` for `holder` (an export, say) until freed or the lease runs out.

    Taking a slot one already holds changes nothing. A lease that ran out (its holder was
    lost for good) no longer counts, so a slot can never be held for ever. The write is
    conditional on the slots read; a racing writer makes this one read again.
    """
    now = clock.epoch() if now is None else now
    key = f"{name}:{subject}"
    for _ in attempts(_SLOT_ATTEMPTS, _SLOTS_BUSY):
        slots, version = _slots(key)
        live = {h: taken for h, taken in slots.items() if taken > now - lease_seconds}
        if holder in live:
            return
        if len(live) >= limit:
            wait = max(1, int(min(live.values()) + lease_seconds - now))
            raise LimitReached(message, retry_after=wait, kind="cap")
        if _save_slots(key, {**live, holder: now}, version):
            return


def free_slot(name: str, subject: str, holder: str) -> None:
    """Give a slot back (freeing one that is not held changes nothing)."""
    key = f"{name}:{subject}"
    for _ in attempts(_SLOT_ATTEMPTS, _SLOTS_BUSY):
        slots, version = _slots(key)
        if holder not in slots:
            return
        if _save_slots(key, {h: taken for h, taken in slots.items() if h != holder}, version):
            return


def peek(name: str, subject: str, *, window_seconds: int, now: float | None = None) -> int:
    """Events counted in the current window (0 when none): a read, for lockout checks."""
    key, _ = window_key(name, subject, window_seconds, now)
    try:
        return int(RateCounter.get(key).count)
    except RateCounter.DoesNotExist:
        return 0
