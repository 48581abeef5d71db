"""A brand's loyalty program: its tiers and expiry, its members' wallets, its figures, and the
scheduled review that expires points and re-decides tiers."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from chalicelib.adapters import counters, dynamo, members
from chalicelib.adapters.counters import brand_partition
from chalicelib.adapters.models import LoyaltyProgram, TierRung
from chalicelib.adapters.records import load_program, program_of, program_record, save_program
from chalicelib.config import WORK_SECONDS
from chalicelib.domain import clock, loyalty
from chalicelib.domain.errors import Conflict, InvalidInput, ServiceBusy
from chalicelib.domain.schemas import Label, Schema, TimeZoneName, validate
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import audit

__all__ = [
    "get_program",
    "put_program",
    "memberships",
    "loyalty_stats",
    "review_due",
]

log = logging.getLogger(__name__)

_MAX_TIERS = 10


class TierIn(Schema):
    name: Label
    min_points: Annotated[int, Field(ge=0, le=10**12)]
    multiplier: Annotated[float, Field(ge=1, le=10)] = 1.0

    @field_validator("multiplier")
    @classmethod
    def _hundredths(cls, value: float) -> float:
        if abs(value * 100 - round(value * 100)) > 1e-6:
            raise ValueError("must have at most two decimals, e.g. 1.25")
        return value


class ProgramIn(Schema):
    tiers: Annotated[list[TierIn], Field(max_length=_MAX_TIERS)] = []
    points_expire_months: Annotated[int, Field(ge=1, le=120)] | None = None
    timezone: TimeZoneName = loyalty.DEFAULT_TIMEZONE


def _check_ladder(tiers: list[TierIn]) -> None:
    """Tiers go up: the first from 0 points, each asking more points than the one before and
    multiplying at least as much; names are unique."""
    names: set[str] = set()
    for index, tier in enumerate(tiers):
        if tier.name.casefold() in names:
            raise InvalidInput(f"tiers[{index}].name: Two tiers cannot share a name.", field=f"tiers[{index}].name")
        names.add(tier.name.casefold())
        if index == 0 and tier.min_points != 0:
            raise InvalidInput(
                "tiers[0].min_points: The first tier starts at 0 points: every member is in a tier.",
                field="tiers[0].min_points",
            )
        if index and tier.min_points <= tiers[index - 1].min_points:
            raise InvalidInput(
                f"tiers[{index}].min_points: Must be more than the tier below ({tiers[index - 1].min_points:,}).",
                field=f"tiers[{index}].min_points",
            )
        if index and tier.multiplier < tiers[index - 1].multiplier:
            raise InvalidInput(
                f"tiers[{index}].multiplier: A higher tier cannot multiply less than the one below.",
                field=f"tiers[{index}].multiplier",
            )


def _program_dict(brand_id: str, record: LoyaltyProgram | None) -> dict:
    program = program_of(record) if record else loyalty.Program()
    return {
        "brand_id": brand_id,
        "tiers": [
            {"name": t.name, "min_points": t.min_points, "multiplier": t.multiplier_pct / 100} for t in program.tiers
        ],
        "points_expire_months": program.expire_months,
        "expire_from": program.expire_from,
        "timezone": program.timezone,
        "updated_at": format_instant(record.updated_at) if record else None,
        "version": record.version if record else 0,
    }


def get_program(brand_id: str) -> dict:
    """The brand's program (plain points, no tiers, no expiry, until it sets one)."""
    return _program_dict(brand_id, program_record(brand_id))


def put_program(brand_id: str, actor: str, body: dict) -> dict:
    """Set the brand's tiers and points expiry.

    Once set, the time zone is fixed (it decides the months points are earned in). Setting
    or shortening expiry never takes points back early: what was earned before counts as
    earned this month.
    """
    values = validate(ProgramIn, body)
    _check_ladder(values.tiers)
    record = program_record(brand_id)
    before = _program_dict(brand_id, record)
    now = clock.now()
    if record is not None and values.timezone != record.timezone:
        raise Conflict(
            "timezone: The program's time zone is fixed once set: it decides the months points are earned in.",
            field="timezone",
        )
    month = loyalty.month_of(now, values.timezone)
    expire_from = record.expire_from if record else None
    old_months = int(record.expire_months) if record and record.expire_months else None
    if values.points_expire_months and (old_months is None or values.points_expire_months < old_months):
        expire_from = month if record is not None else None
    if not values.points_expire_months:
        expire_from = None
    program = record or LoyaltyProgram(brand_id)
    program.tiers = [
        TierRung(name=t.name, min_points=t.min_points, multiplier_pct=round(t.multiplier * 100)) for t in values.tiers
    ]
    program.expire_months = values.points_expire_months
    program.expire_from = expire_from
    program.timezone = values.timezone
    program.updated_at = now
    program.updated_by = actor
    if not save_program(program):
        raise Conflict("The program was changed meanwhile; read it again and retry.")
    after = _program_dict(brand_id, program)
    audit.record(brand_id, actor, "loyalty_program", brand_id, audit.changes(before, after))
    return after


# --- what a shopper sees --------------------------------------------------------------


def membership(state: members.MemberState, program: loyalty.Program, now: datetime) -> dict:
    """One brand's points as the wallet shows them: balance, tier, what's next, what expires."""
    month = loyalty.month_of(now, program.timezone)
    earned = loyalty.earned_in_window(state.earned, month)
    tier = loyalty.tier_for(program.tiers, earned)
    upcoming = loyalty.next_tier(program.tiers, earned)
    lapse = loyalty.tier_lapses_at(program.tiers, state.earned, month, program.timezone)
    expiring = loyalty.next_expiry(
        {
            m: v
            for m, v in state.lots.items()
            if m not in loyalty.expired(state.lots, month, program.expire_months, program.expire_from)
        },
        program,
    )
    return {
        "brand_id": state.brand_id,
        "timezone": program.timezone,
        "points": state.balance,
        "earned_12_months": earned,
        "tier": (
            {
                "name": tier.name,
                "multiplier": tier.multiplier_pct / 100,
                "lapses_at": format_instant(lapse) if lapse else None,
            }
            if tier
            else None
        ),
        "next_tier": {"name": upcoming[0].name, "points_needed": upcoming[1]} if upcoming else None,
        "expiring": {"points": expiring[0], "at": format_instant(expiring[1])} if expiring else None,
    }


def memberships(shopper_id: str) -> list[dict]:
    """Every brand the shopper has points with, as the wallet shows it."""
    now = clock.now()
    found = members.members_of(shopper_id)
    programs = {state.brand_id: load_program(state.brand_id, consistent=False) for state in found}
    return [membership(state, programs[state.brand_id], now) for state in found]


# --- what a brand sees ----------------------------------------------------------------


def loyalty_stats(brand_id: str) -> dict:
    """The brand's loyalty figures: points earned, spent, refunded and expired, redemptions per
    reward, members per tier. A handful of counter items, whatever the volume."""
    totals = counters.totals(brand_partition(brand_id))
    program = load_program(brand_id, consistent=False)
    return {
        "brand_id": brand_id,
        "as_of": format_instant(clock.now()),
        "points": {
            "earned": totals.get("earned", 0),
            "spent": totals.get("spent", 0),
            "refunded": totals.get("refunded", 0),
            "expired": totals.get("expired", 0),
            "forfeited": totals.get("forfeited", 0),
        },
        "redemptions": {
            "total": totals.get("redemptions", 0),
            "cancelled": totals.get("cancelled", 0),
            "by_reward": sorted(
                ({"reward_id": name[2:], "redemptions": n} for name, n in totals.items() if name.startswith("r#")),
                key=lambda row: -row["redemptions"],
            ),
        },
        "members_by_tier": [{"tier": t.name, "members": max(0, totals.get(f"t#{t.name}", 0))} for t in program.tiers],
    }


def add_brand_counts(brand_id: str, counts: dict[str, int]) -> dict:
    """The transaction item that adds `counts` to one shard of the brand's loyalty figures."""
    return counters.brand_item(brand_id, counts)


# --- the scheduled review -------------------------------------------------------------


_REVIEW_ATTEMPTS = 5


def review_member(brand_id: str, shopper_id: str, program: loyalty.Program, now: datetime) -> dict[str, int]:
    """Expire a member's due lots, drop earnings older than the tier window and re-decide the
    tier, exactly once: the write is conditional on what was read, and a concurrent change
    makes it read again. Returns what it changed ({"expired": n, "tier_changed": 0|1})."""
    month = loyalty.month_of(now, program.timezone)
    try:
        for _ in dynamo.attempts(_REVIEW_ATTEMPTS, "The member keeps changing."):
            state = members.read_member(brand_id, shopper_id)
            if state is None:
                return {}
            changed = _review(state, program, month)
            if changed is not None:
                return changed
            # a claim or a redemption changed the member meanwhile: read again
    except ServiceBusy:
        pass
    log_event(log, "loyalty_review_deferred", brand_id=brand_id)
    return {}


def _review(state: members.MemberState, program: loyalty.Program, month: str) -> dict[str, int] | None:
    """Review the member as read; None when they changed before the write (nothing written)."""
    gone = loyalty.expired(state.lots, month, program.expire_months, program.expire_from)
    window = set(loyalty.window(month))
    old_months = sorted(m for m in state.earned if m < min(window))
    tier = loyalty.tier_for(program.tiers, loyalty.earned_in_window(state.earned, month))
    tier_name = tier.name if tier else None
    live_lots = any(v > 0 for m, v in state.lots.items() if m not in gone)
    keeps_earnings = any(m in window for m in state.earned)
    next_review = loyalty.add_months(month, 1) if live_lots or keeps_earnings else None
    counts: dict[str, int] = {}
    if gone:
        counts["expired"] = sum(gone.values())
    if tier_name != state.tier:
        if tier_name:
            counts[f"t#{tier_name}"] = 1
        if state.tier:
            counts[f"t#{state.tier}"] = counts.get(f"t#{state.tier}", 0) - 1
    saved = members.save_review(
        state, expired_lots=gone, old_months=old_months, tier=tier_name, next_review=next_review, brand_counts=counts
    )
    if not saved:
        return None
    return {"expired": counts.get("expired", 0), "tier_changed": int(tier_name != state.tier)}


def review_due(
    now: datetime | None = None, *, budget_seconds: float = WORK_SECONDS["loyalty_review"]
) -> dict[str, int]:
    """The scheduled job: review every member whose month has come, until done or `budget_seconds` have passed.

    Idempotent: a member reviewed is due again only next month, and running twice in one
    month finds nothing left to do. What is left when time runs out waits for the next run.
    """
    now = now or clock.now()
    started = time.monotonic()
    programs: dict[str, loyalty.Program] = {}
    reviewed = expired = tier_changes = 0
    months: dict[str, str] = {}
    # Programs differ in time zone, so their months turn at different instants: query with the
    # latest month any zone has reached, and let each member's own program decide.
    query_month = loyalty.month_of(now, "Pacific/Kiritimati")
    for brand_id, shopper_id, review_at in members.due_for_review(query_month):
        if time.monotonic() - started > budget_seconds:
            break
        program = programs.get(brand_id)
        if program is None:
            program = programs[brand_id] = load_program(brand_id)
            months[brand_id] = loyalty.month_of(now, program.timezone)
        if review_at > months[brand_id]:
            continue  # its month has not turned yet where the brand is
        changed = review_member(brand_id, shopper_id, program, now)
        reviewed += 1
        expired += changed.get("expired", 0)
        tier_changes += changed.get("tier_changed", 0)
    summary = {"reviewed": reviewed, "points_expired": expired, "tier_changes": tier_changes}
    log_event(log, "loyalty_review", reviewed=reviewed, points_expired=expired, tier_changes=tier_changes)
    return summary
