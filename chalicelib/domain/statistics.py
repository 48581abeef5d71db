"""Campaign statistics, the pure part: what one claim adds to which counter, and local-time buckets."""

from __future__ import annotations

import zlib
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Protocol

__all__ = [
    "CLAIM_SHARDS",
    "RANK_SHARDS",
    "TOP",
    "REFUSALS",
    "HISTOGRAM",
    "MAX_HOUR_RANGE",
    "MAX_DAY_RANGE",
    "ClaimRecord",
    "zone",
    "midnight",
    "local_day",
    "hour_of_day",
    "monday",
    "histogram_bin",
    "rank_shard",
    "claim_increments",
    "refusal_increments",
    "place_increments",
    "add_counts",
]


# Counters are written by the aggregator, a few transactions a second per stream shard:
# a handful of shards keeps those transactions from meeting on one item. Claims and
# refusals have shards of their own (`#<n>` and `#r<n>`), so a reconciliation of claim
# counters can leave refusals out.
CLAIM_SHARDS = 4
RANK_SHARDS = 8
TOP = 20
REFUSALS = ("duplicate", "invalid", "refused_cap", "refused_rate", "refused_inactive")
HISTOGRAM = ((1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5"), (6, "6-10"), (11, "11-20"), (21, "21-50"), (51, "51+"))
MAX_HOUR_RANGE = timedelta(days=366)
MAX_DAY_RANGE = timedelta(days=5 * 365 + 2)
# How far before its start and after its end a campaign's time series may be asked for:
# the longest range, so every range allowed can include the campaign.
SERIES_MARGIN = MAX_DAY_RANGE


class ClaimRecord(Protocol):
    """What the fold reads of one claim record (code_states item); nothing else is needed.

    Optional numbers and instants are None on records written before they existed.
    """

    batch_id: str
    changed_at: datetime
    timezone: str
    points: int
    entries: int
    nth: int
    active_days: int
    first_claim_at: datetime
    prev_claim_at: datetime
    place: str


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name or "UTC")


def midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant a local day starts (aware, UTC)."""
    return datetime.combine(day, clock(0), tzinfo=tz).astimezone(UTC)


def local_day(instant: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def hour_of_day(instant: datetime, tz: zoneinfo.ZoneInfo) -> tuple[date, int]:
    """The local day of an instant and the hour of that day it falls in, counted from local midnight.

    Counting elapsed hours (not reading the wall clock) keeps a 25-hour day's repeated
    hour apart and works for zones whose offset is not a whole hour.
    """
    day = local_day(instant, tz)
    return day, int((instant - midnight(day, tz)).total_seconds() // 3600)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def histogram_bin(claims: int) -> str:
    label = HISTOGRAM[0][1]
    for low, name in HISTOGRAM:
        if claims >= low:
            label = name
    return label


def rank_shard(campaign_id: str, shopper_id: str) -> str:
    """The key of the leaderboard index a participant is filed under (one of a few per campaign)."""
    return f"{campaign_id}#{zlib.crc32(shopper_id.encode()) % RANK_SHARDS}"


# --- what one claim adds ---------------------------------------------------------------


def claim_increments(claim: ClaimRecord) -> dict[str, dict[str, int]]:
    """The counters one claim moves, by counter item (`total` or `day#<date>`), unsharded.

    Everything comes from the claim record alone, so a reconciliation can recompute it.
    """
    tz = zone(claim.timezone)
    at = claim.changed_at
    nth = int(claim.nth or 1)
    previous = claim.prev_claim_at
    points, entries = int(claim.points or 0), int(claim.entries or 0)
    day, hour = hour_of_day(at, tz)
    day_start = midnight(day, tz)
    hour_start = day_start + timedelta(hours=hour)
    total = {"granted": 1, "points": points, "entries": entries, f"b#{claim.batch_id}": 1}
    daily = {"granted": 1, "points": points, f"granted@{hour:02d}": 1, f"points@{hour:02d}": points}
    if nth == 1:
        total["participants"] = 1
        daily["new"] = 1
        daily[f"new@{hour:02d}"] = 1
    else:
        if previous is not None and previous < day_start:
            daily["returning"] = 1
            if int(claim.active_days or 0) == 2:
                total["returning"] = 1
        if previous is not None and previous < hour_start:
            daily[f"returning@{hour:02d}"] = 1
    # The histogram moves a participant from the bin of their previous count to this one.
    now_bin, was_bin = histogram_bin(nth), (histogram_bin(nth - 1) if nth > 1 else None)
    if now_bin != was_bin:
        total[f"hist#{now_bin}"] = 1
        if was_bin:
            total[f"hist#{was_bin}"] = -1
    # Cohort cell: the first claim of the participant in this week, by week of first claim.
    week = monday(day)
    if previous is None or monday(local_day(previous, tz)) < week:
        first = claim.first_claim_at or at
        cohort = monday(local_day(first, tz))
        total[f"coh#{cohort.isoformat()}#{(week - cohort).days // 7}"] = 1
    found = {
        "total": {k: v for k, v in total.items() if v},
        f"day#{day.isoformat()}": {k: v for k, v in daily.items() if v},
    }
    if claim.place:
        found.update(place_increments(claim.place, claim.batch_id, day, first=nth == 1))
    return found


def place_increments(place: str, batch_id: str, day: date, *, first: bool) -> dict[str, dict[str, int]]:
    """The place counters one claim moves, in items of their own so the totals stay small: scans (`s#`)
    and new participants (`p#`, at the place of their first claim) in `place` and `pday#<date>`, and the
    batch's scans by place in `bp#<batch>` (the diverted-batch signal)."""
    counts = {f"s#{place}": 1, f"p#{place}": 1} if first else {f"s#{place}": 1}
    return {"place": counts, f"pday#{day.isoformat()}": dict(counts), f"bp#{batch_id}": {place: 1}}


def refusal_increments(kind: str, at: datetime, tz: zoneinfo.ZoneInfo) -> dict[str, dict[str, int]]:
    """The counters one refused scan moves, by counter item: its kind, in the totals and its local hour."""
    day, hour = hour_of_day(at, tz)
    return {"total": {kind: 1}, f"day#{day.isoformat()}": {kind: 1, f"{kind}@{hour:02d}": 1}}


def add_counts(into: dict, more: dict) -> None:
    """Add nested counts `more` ({item: {name: n}}) into `into`."""
    for item, counts in more.items():
        target = into.setdefault(item, {})
        for name, value in counts.items():
            target[name] = target.get(name, 0) + value
