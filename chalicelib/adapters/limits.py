"""Fixed-window rate limits and lockouts kept in DynamoDB, correct whether or not TTL has run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import RateCounter
from chalicelib.domain import clock
from chalicelib.domain.errors import LimitReached

__all__ = ["hit", "spend_budget", "peek", "window_key"]


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


def peek(name: str, subject: str, *, window_seconds: int, now: float | None = None) -> int:
    """Events counted in the current window (0 when none): a read, for lockout checks."""
    key, _ = window_key(name, subject, window_seconds, now)
    try:
        return int(RateCounter.get(key).count)
    except RateCounter.DoesNotExist:
        return 0
