"""A brand's loyalty program, the pure part: tiers and their multipliers, points lots by month, expiry.

A shopper's points with a brand are kept as lots by the local month they were earned in
("2026-12": 120). Spending takes the oldest lots first; a lot expires when `expire_months`
full months have passed after the month it was earned in (earned in December 2026 with
12 months: usable through December 2027, gone on 1 January 2028, local time). The tier is
decided by the points earned in the current month and the eleven before it (a rolling
twelve months, by month), and multiplies the points of every scan.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = [
    "Tier",
    "Program",
    "DEFAULT_TIMEZONE",
    "month_of",
    "add_months",
    "month_start",
    "window",
    "earned_in_window",
    "tier_for",
    "multiplied",
    "next_tier",
    "tier_lapses_at",
    "spend_oldest",
    "expired",
    "expires_at",
    "next_expiry",
]

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
WINDOW_MONTHS = 12


@dataclass(frozen=True)
class Tier:
    """A rung of the ladder: reached with `min_points` earned in twelve months; scans earn `multiplier_pct`%."""

    name: str
    min_points: int
    multiplier_pct: int = 100


@dataclass(frozen=True)
class Program:
    """What a brand's points do: its tier ladder (lowest first, from 0 points) and when points expire."""

    tiers: tuple[Tier, ...] = ()
    expire_months: int | None = None
    # Set when expiry was introduced or shortened: lots from before this month count as
    # earned in it, so no point expires sooner than the program said when it was earned.
    expire_from: str | None = None
    timezone: str = DEFAULT_TIMEZONE

    @property
    def tiered(self) -> bool:
        """Whether a scan's points depend on the shopper's tier (then the claim reads the member)."""
        return any(t.multiplier_pct != 100 for t in self.tiers) or len(self.tiers) > 1


def month_of(instant: datetime, timezone: str) -> str:
    """The local month of an instant, as YYYY-MM."""
    local = instant.astimezone(zoneinfo.ZoneInfo(timezone))
    return f"{local.year:04d}-{local.month:02d}"


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    total = year * 12 + (mon - 1) + n
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def month_start(month: str, timezone: str) -> datetime:
    """The instant a local month begins (aware, UTC)."""
    local = datetime.combine(date(int(month[:4]), int(month[5:7]), 1), datetime.min.time())
    return local.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(UTC)


def window(month: str) -> list[str]:
    """The twelve months a tier is decided on: `month` and the eleven before it, oldest first."""
    return [add_months(month, -k) for k in range(WINDOW_MONTHS - 1, -1, -1)]


def earned_in_window(earned: Mapping[str, int], month: str) -> int:
    return sum(int(earned.get(m, 0)) for m in window(month))


def tier_for(tiers: Sequence[Tier], points: int) -> Tier | None:
    """The highest tier `points` reaches (None when the brand has no tiers)."""
    reached = None
    for tier in tiers:
        if points >= tier.min_points:
            reached = tier
    return reached


def multiplied(points: int, tier: Tier | None) -> int:
    """A scan's points under a tier's multiplier, rounded down (a 1.5x tier makes 10 points 15)."""
    return points if tier is None else points * tier.multiplier_pct // 100


def next_tier(tiers: Sequence[Tier], points: int) -> tuple[Tier, int] | None:
    """The next tier up and the points still to earn for it, or None at the top."""
    for tier in tiers:
        if tier.min_points > points:
            return tier, tier.min_points - points
    return None


def tier_lapses_at(tiers: Sequence[Tier], earned: Mapping[str, int], month: str, timezone: str) -> datetime | None:
    """When the current tier would drop, if nothing more is earned: the start of the first month
    whose twelve-month window holds fewer points than the tier asks. None at the lowest tier."""
    current = tier_for(tiers, earned_in_window(earned, month))
    if current is None or current.min_points == 0:
        return None
    for ahead in range(1, WINDOW_MONTHS + 1):
        later = add_months(month, ahead)
        if earned_in_window({m: v for m, v in earned.items() if m <= month}, later) < current.min_points:
            return month_start(later, timezone)
    return None


def spend_oldest(lots: Mapping[str, int], cost: int) -> dict[str, int] | None:
    """Which lots pay `cost`, oldest first: {month: points taken}, or None when they cannot."""
    taken: dict[str, int] = {}
    left = cost
    for month in sorted(lots):
        if left <= 0:
            break
        have = int(lots[month])
        if have <= 0:
            continue
        take = min(have, left)
        taken[month] = take
        left -= take
    return taken if left <= 0 else None


def _expiry_month(month: str, expire_months: int, since: str | None) -> str:
    """The month whose start a lot earned in `month` expires at."""
    counted = max(month, since) if since else month
    return add_months(counted, expire_months + 1)


def expires_at(month: str, expire_months: int, timezone: str, since: str | None = None) -> datetime:
    """When points earned in `month` expire: the start of the month after `expire_months` full months
    (counted from `since` for lots earned before it)."""
    return month_start(_expiry_month(month, expire_months, since), timezone)


def expired(
    lots: Mapping[str, int], now_month: str, expire_months: int | None, since: str | None = None
) -> dict[str, int]:
    """The lots that have expired by `now_month` (month -> points)."""
    if not expire_months:
        return {}
    return {m: int(v) for m, v in lots.items() if int(v) > 0 and _expiry_month(m, expire_months, since) <= now_month}


def next_expiry(lots: Mapping[str, int], program: Program) -> tuple[int, datetime] | None:
    """The points that expire next and when, or None when nothing will."""
    if not program.expire_months:
        return None
    by_end: dict[str, int] = {}
    for month, points in lots.items():
        if int(points) > 0:
            end = _expiry_month(month, program.expire_months, program.expire_from)
            by_end[end] = by_end.get(end, 0) + int(points)
    if not by_end:
        return None
    first = min(by_end)
    return by_end[first], month_start(first, program.timezone)
