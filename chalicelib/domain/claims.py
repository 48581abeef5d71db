"""Claim rules, pure: whether a code can be claimed now, what it earns, caps, budget shards, refusals."""

from __future__ import annotations

import enum
import functools
import hashlib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.errors import (
    AlreadyClaimed,
    CampaignNotRunning,
    CodeInvalid,
    CodeNotActive,
    DomainError,
    LimitReached,
    ServiceBusy,
)
from chalicelib.domain.lifecycle import BatchStatus, CampaignStatus

__all__ = [
    "ScanLimits",
    "LIMITS",
    "LOCK_SECONDS",
    "Refusal",
    "Cancel",
    "ClaimHistory",
    "ParticipantSoFar",
    "is_running",
    "refusal_before_claim",
    "reward",
    "budget_shards",
    "shard_allowance",
    "budget_shard_choices",
    "participant_cap_reached",
    "local_date",
    "history",
    "ip_shard",
    "locked",
    "explain",
    "busy",
    "stat_of",
]

LOCK_SECONDS = 3600
"""How long scanning stays locked after too many invalid codes in an hour."""


@dataclass(frozen=True)
class ScanLimits:
    """Abuse limits; per-IP counting is split over shards so a carrier NAT is not one hot key."""

    ip_shards: int = 4
    invalid_per_hour: int = 10
    budget_shards: int = 16


LIMITS = ScanLimits()


class Refusal(enum.Enum):
    """Why a scan grants nothing; each reason has one error the shopper is answered with."""

    INVALID = "invalid"  # unknown, forged, mistyped or voided: all alike, no oracle
    NOT_ACTIVE = "not_active"
    NOT_RUNNING = "not_running"
    ALREADY_CLAIMED = "already_claimed"
    PARTICIPANT_CAP = "participant_cap"
    DAILY_CAP = "daily_cap"
    BUDGET = "budget"
    RATE = "rate"

    def error(self) -> DomainError:
        """The error the shopper is answered with."""
        if self is Refusal.INVALID:
            return CodeInvalid()
        if self is Refusal.NOT_ACTIVE:
            return CodeNotActive()
        if self is Refusal.NOT_RUNNING:
            return CampaignNotRunning("This campaign is not running at the moment.")
        if self is Refusal.ALREADY_CLAIMED:
            return AlreadyClaimed()
        if self is Refusal.RATE:
            return LimitReached(_LIMIT_MESSAGES[self], retry_after=60, kind="rate")
        return LimitReached(_LIMIT_MESSAGES[self], kind="cap")


_LIMIT_MESSAGES = {
    Refusal.PARTICIPANT_CAP: "You have reached the most claims allowed in this campaign.",
    Refusal.DAILY_CAP: "You have reached today's claim limit for this campaign; try again tomorrow.",
    Refusal.BUDGET: "This campaign has given out all its points.",
    Refusal.RATE: "Too many scans in a short time; wait a minute and try again.",
}


def stat_of(error: DomainError) -> str | None:
    """The statistics counter a refused scan moves (docs/stats.md), or None when it counts nowhere."""
    if isinstance(error, LimitReached):
        return f"refused_{error.kind}"
    if isinstance(error, (CodeNotActive, CampaignNotRunning)):
        return "refused_inactive"
    if isinstance(error, AlreadyClaimed):
        return "duplicate"
    if isinstance(error, CodeInvalid):
        return "invalid"
    return None


def locked(seconds: float) -> LimitReached:
    """The answer while scanning is locked after too many invalid codes."""
    minutes = max(1, round(seconds / 60))
    return LimitReached(
        f"Too many invalid codes: scanning is locked for about {minutes} minutes.", retry_after=int(seconds)
    )


# Read on every scan: a module global costs a tenth of an enum member's lookup.
_RUNNING, _SHIPPED = CampaignStatus.ACTIVE, BatchStatus.ACTIVE
# A quarantined batch is refused as a void one is, so a counterfeiter learns nothing from the answer.
_HELD = frozenset({BatchStatus.VOID, BatchStatus.QUARANTINED})


def is_running(status: str, starts_at: datetime, ends_at: datetime, now: datetime) -> bool:
    """A campaign takes claims while active and inside its window (the end is excluded)."""
    return status == _RUNNING and starts_at <= now < ends_at


def refusal_before_claim(
    batch_status: str, campaign_status: str, starts_at: datetime, ends_at: datetime, now: datetime
) -> Refusal | None:
    """What refuses a genuine code before anything is written, if anything: its batch, then its campaign."""
    if batch_status in _HELD:
        return Refusal.INVALID
    if batch_status != _SHIPPED:
        return Refusal.NOT_ACTIVE
    if not is_running(campaign_status, starts_at, ends_at, now):
        return Refusal.NOT_RUNNING
    return None


class _Rules(Protocol):
    points_per_scan: int
    entries_per_scan: int
    sku_overrides: Any


def reward(rules: _Rules, sku: str | None = None) -> tuple[int, int]:
    """Points and entries one granted scan of a `sku` pack earns under a campaign's rules.

    `rules.sku_overrides` ({sku: {points_per_scan, entries_per_scan}}) sets them per SKU;
    other SKUs earn the campaign's own.
    """
    overrides = getattr(rules, "sku_overrides", None)
    if overrides is not None and sku is not None:
        found = overrides.as_dict() if hasattr(overrides, "as_dict") else overrides
        if sku in found:
            own = found[sku]
            return int(own.get("points_per_scan") or 0), int(own.get("entries_per_scan") or 0)
    return int(rules.points_per_scan or 0), int(rules.entries_per_scan or 0)


def budget_shards(budget: int, most: int = LIMITS.budget_shards) -> int:
    """How many counters a points budget is split over.

    Enough to spread a big campaign's writes, few enough that a small budget is not
    stranded in slivers too small for one scan. Depends on the budget alone, which is
    frozen once the campaign leaves draft, so the split never changes under spend.
    """
    return max(1, min(most, budget // 10_000))


def shard_allowance(budget: int, shard: int) -> int:
    """The points shard `shard` of a budget may give out."""
    base, extra = divmod(budget, budget_shards(budget))
    return base + (1 if shard < extra else 0)


def budget_shard_choices(budget: int, points: int) -> list[int]:
    """The shards whose allowance can hold one scan's points (empty: the budget cannot pay it)."""
    return [n for n in range(budget_shards(budget)) if shard_allowance(budget, n) >= points]


def participant_cap_reached(cap: int | None, claims_so_far: int) -> bool:
    """Whether a participant with `claims_so_far` claims may claim no more in the campaign."""
    return bool(cap) and claims_so_far >= int(cap or 0)


@functools.lru_cache(maxsize=256)
def local_date(tz_name: str, instant: datetime) -> str:
    """The campaign-local date of an instant (ISO), the day the daily cap counts in.

    Kept for a few instants: a claim asks it of the same instant two or three times.
    """
    return instant.astimezone(zoneinfo.ZoneInfo(tz_name)).date().isoformat()


class ParticipantSoFar(Protocol):
    """What a claim needs to know of the participant's earlier claims in the campaign."""

    @property
    def claims(self) -> int: ...

    @property
    def active_days(self) -> int | None: ...

    @property
    def first_claim_at(self) -> datetime | None: ...

    @property
    def last_claim_at(self) -> datetime | None: ...


@dataclass(slots=True)
class ClaimHistory:
    """The claim's place in the participant's history, written on the claim record for statistics."""

    nth: int
    active_days: int
    first_claim_at: datetime
    prev_claim_at: datetime | None


def history(before: ParticipantSoFar | None, tz_name: str, now: datetime) -> ClaimHistory:
    """The claim's number, days active so far, and first and previous claim of the participant."""
    if before is None or not before.claims:
        return ClaimHistory(nth=1, active_days=1, first_claim_at=now, prev_claim_at=None)
    previous = before.last_claim_at
    new_day = previous is None or local_date(tz_name, previous) < local_date(tz_name, now)
    days = int(before.active_days or 1) + (1 if new_day else 0)
    return ClaimHistory(
        nth=int(before.claims) + 1,
        active_days=days,
        first_claim_at=before.first_claim_at or now,
        prev_claim_at=previous,
    )


def ip_shard(shopper_id: str, shards: int = LIMITS.ip_shards) -> int:
    """Which of an address's rate counters a shopper's scans count on (stable per shopper)."""
    return int(hashlib.sha256(shopper_id.encode()).hexdigest(), 16) % shards


class Cancel(enum.Enum):
    """Why DynamoDB cancelled a claim's transaction, read from its per-item reasons."""

    CLAIMED = "claimed"  # the code's record exists: voided, or somebody's claim
    CONFLICT = "conflict"  # another transaction touched an item: retry
    PARTICIPANT_MOVED = "participant_moved"  # a concurrent claim of the same participant: read again, retry
    LOCKED = "locked"
    DAILY_CAP = "daily_cap"
    BUDGET = "budget"  # this budget shard is spent: try another
    RATE = "rate"
    PRIZE_GONE = "prize_gone"  # the pool ran out: grant without the prize
    UNKNOWN = "unknown"


_CHECK_ORDER = (
    ("lock", Cancel.LOCKED),
    ("participant", Cancel.PARTICIPANT_MOVED),
    ("member", Cancel.PARTICIPANT_MOVED),  # the member's tier moved under a concurrent claim: read again
    ("daily_cap", Cancel.DAILY_CAP),
    ("budget", Cancel.BUDGET),
    ("rate", Cancel.RATE),
    ("prize", Cancel.PRIZE_GONE),
)


def explain(names: Sequence[str], codes: Sequence[str | None], claim_found: bool) -> Cancel:
    """The reason that matters most among a cancelled claim's per-item reasons.

    `names` labels the transaction's items in request order, `codes` are DynamoDB's
    reasons in the same order, `claim_found` says whether the claim item's condition
    failed with the existing record returned.
    """
    failed = {name: code for name, code in zip(names, codes) if code not in (None, "None")}
    if failed.get("claim") == "ConditionalCheckFailed" and claim_found:
        return Cancel.CLAIMED
    if "TransactionConflict" in failed.values():
        return Cancel.CONFLICT
    for name, outcome in _CHECK_ORDER:
        if failed.get(name) == "ConditionalCheckFailed":
            return outcome
    return Cancel.UNKNOWN


def busy(outcome: Cancel) -> ServiceBusy:
    """The answer when contention or an unknown cancellation outlasted the retries."""
    if outcome is Cancel.CONFLICT:
        return ServiceBusy("Many scans at once; please try again.")
    return ServiceBusy("The claim could not be completed; please try again.")
