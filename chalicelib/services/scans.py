"""Scans: an exactly-once claim of one code, in one DynamoDB transaction, whatever the retries."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from chalicelib.adapters import dynamo, limits, members
from chalicelib.adapters.claim_store import (
    Cancelled,
    ClaimTransaction,
    Standing,
    code_record,
    deserialize,
    read_participant,
)
from chalicelib.adapters.models import CodeState, Prize
from chalicelib.adapters.records import LookupCache, ScanTarget, known_target, scan_target
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import get_settings
from chalicelib.domain import claims, clock, codes, loyalty
from chalicelib.domain.claims import Cancel, ClaimHistory, Refusal
from chalicelib.domain.errors import CodeInvalid, DomainError, InvalidInput, LimitReached
from chalicelib.domain.instant_win import roll_odds, winning_prize
from chalicelib.domain.lifecycle import CodeStatus
from chalicelib.domain.places import UNKNOWN
from chalicelib.domain.statistics import rank_shard
from chalicelib.domain.validation import format_instant, string_fields
from chalicelib.services.stats_aggregator import Seen, record_refusal

__all__ = ["claim_code"]

# The first try and six more after conflicts (botocore does not retry TransactionConflict).
_CLAIM_ATTEMPTS = 7
_BUSY = "Many scans at once; please try again."


def _lock_key(shopper_id: str) -> str:
    return f"lock:scan:{shopper_id}"


class _Locks:
    """The scan locks this container has met, until they end: a locked shopper's next invalid
    codes are refused here, with no DynamoDB request at all (guessing costs nothing to serve).

    A lock only ever runs out, never lifts early, so remembering one is always right. At
    most `size` are kept; the oldest is forgotten first (it is then learnt again, once).
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._until: dict[str, float] = {}

    def until(self, shopper_id: str, now: float) -> float | None:
        until = self._until.get(shopper_id)
        if until is not None and until <= now:
            del self._until[shopper_id]
            return None
        return until

    def clear(self) -> None:
        self._until.clear()

    def remember(self, shopper_id: str, until: float) -> None:
        self._until.pop(shopper_id, None)
        self._until[shopper_id] = until
        while len(self._until) > self.size:
            del self._until[next(iter(self._until))]


LOCKS = _Locks()


def _refuse_invalid(shopper_id: str, now: float) -> None:
    """Count an invalid code against the shopper; the eleventh in an hour locks them out.

    No read: the count is one transaction that also checks the lock, and the lock one
    conditional write; each returns the lock already in force, if any. A lock this
    container has met refuses the shopper's next invalid codes with no request at all.
    """
    until = LOCKS.until(shopper_id, now)
    if until is None:
        try:
            until = limits.hit_unless_locked(
                "invalid",
                shopper_id,
                lock_key=_lock_key(shopper_id),
                limit=claims.LIMITS.invalid_per_hour,
                window_seconds=3600,
                message="Too many invalid codes.",
                now=now,
            )
        except LimitReached:
            until = limits.lock(_lock_key(shopper_id), claims.LOCK_SECONDS, now)
        if until is None:
            raise CodeInvalid()
        LOCKS.remember(shopper_id, until)
    raise claims.locked(until - now)


def _refuse_guess(shopper_id: str, now: datetime, target: ScanTarget | None, ip: str, place: str) -> None:
    """Refuse a code that is not one of ours; one aimed at a batch this container knows (its batch
    number read, with no request) is recorded for that campaign's guessing-network signal. Once the
    shopper is locked out nothing more is written."""
    try:
        _refuse_invalid(shopper_id, now.timestamp())
    except CodeInvalid:
        if target is not None:
            seen = Seen(None, place, ip)
            record_refusal(
                target.campaign, target.batch_id, "invalid", now, shopper_id=shopper_id, request_key=None, seen=seen
            )
        raise


@dataclass
class _Plan:
    """Everything one claim writes, fixed before the first attempt so retries send the same request."""

    shopper_id: str
    ip: str
    target: ScanTarget
    serial: int
    code: str
    now: datetime
    token: str
    budget_shard: int | None
    prize: Prize | None = None
    before: Standing | None = None
    request_key: str | None = None  # the request's Idempotency-Key, when it sent one
    points: int = 0  # the scan's points: the SKU's, times the shopper's tier with the brand
    tier: str | None = None
    tier_change: tuple[str | None, str] | None = None
    place: str = UNKNOWN  # the scan's coarse place (domain/places.py), written on the claim record


@dataclass(slots=True)
class _Claimed:
    """What a claim record holds that the shopper's answer shows."""

    campaign_id: str
    points: int
    entries: int
    prize_id: str | None
    prize_name: str | None
    claimed_at: datetime
    tier: str | None = None

    @classmethod
    def of(cls, record: dict) -> _Claimed:
        """From a claim record read back (attribute name -> value), for a replay."""
        return cls(
            campaign_id=record["campaign_id"],
            points=int(record.get("points") or 0),
            entries=int(record.get("entries") or 0),
            prize_id=record.get("prize_id"),
            prize_name=record.get("prize_name"),
            claimed_at=record["changed_at"],
            tier=record.get("tier"),
        )


def _transaction(plan: _Plan) -> tuple[ClaimTransaction, _Claimed]:
    """The claim's one transaction: exactly what the rules decided, nothing decided here."""
    target, shopper_id, now, prize = plan.target, plan.shopper_id, plan.now, plan.prize
    campaign_id, points, entries = target.campaign_id, plan.points, target.entries
    past: ClaimHistory = claims.history(plan.before, target.timezone, now)
    prize_id, prize_name = (prize.prize_id, prize.name) if prize else (None, None)
    tx = ClaimTransaction(now)
    tx.unlocked(_lock_key(shopper_id))
    tx.claim(
        CodeState.key_for(target.batch_number, plan.serial),
        batch_id=target.batch_id,
        brand_id=target.brand_id,
        shopper_id=shopper_id,
        campaign_id=campaign_id,
        sku=target.sku,
        points=points,
        entries=entries,
        request_id=plan.token,
        request_key=plan.request_key,
        prize_id=prize_id,
        prize_name=prize_name,
        timezone=target.timezone,
        nth=past.nth,
        active_days=past.active_days,
        first_claim_at=past.first_claim_at,
        prev_claim_at=past.prev_claim_at,
        tier=plan.tier,
        tier_change=plan.tier_change,
        place=plan.place,
        prev_place=plan.before.last_place if plan.before else None,
    )
    # The participant as read before the claim must still be current: claims are
    # numbered one by one per participant, which the statistics rely on, and the
    # cap was checked against that number.
    tx.participant(
        campaign_id,
        shopper_id,
        seen=plan.before.claims if plan.before else 0,
        points=points,
        entries=entries,
        first_claim_at=past.first_claim_at,
        active_days=past.active_days,
        rank_shard=rank_shard(campaign_id, shopper_id),
        place=plan.place,
    )
    month = loyalty.month_of(now, target.program.timezone)
    tx.member(
        members.claim_update(
            target.brand_id,
            shopper_id,
            points=points,
            month=month,
            review_at=loyalty.add_months(month, 1),
            tier_change=plan.tier_change,
        )
    )
    if target.daily_cap:
        day = claims.local_date(target.timezone, now)
        tx.window("daily_cap", f"claims:{campaign_id}:{shopper_id}:{day}", target.daily_cap, tx.now_epoch + _TWO_DAYS)
    if plan.budget_shard is not None and target.budget_points and points:
        allowance = claims.shard_allowance(target.budget_points, plan.budget_shard)
        tx.spend("budget", f"budget:{campaign_id}:{plan.budget_shard}", points, allowance)
    if prize is not None:
        # The pool only moves while awarded < quantity: a prize is never over-given.
        tx.spend("prize", f"prize:{campaign_id}:{prize_id}", 1, int(prize.quantity))
    # Per-minute rate windows of the shopper and of their address (one of its shards).
    now_epoch, settings = now.timestamp(), get_settings()
    key, ends = limits.window_key("scan", shopper_id, 60, now_epoch)
    tx.window("rate", key, settings.scan_per_shopper_per_minute, ends + 3600)
    ip = f"{plan.ip}#{claims.ip_shard(shopper_id)}"
    key, ends = limits.window_key("scan-ip", ip, 60, now_epoch)
    tx.window("rate", key, max(1, settings.scan_per_ip_per_minute // claims.LIMITS.ip_shards), ends + 3600)
    return tx, _Claimed(campaign_id, points, entries, prize_id, prize_name, now, plan.tier)


_TWO_DAYS = 2 * 24 * 3600


def _prize_for(target: ScanTarget, serial: int) -> Prize | None:
    """The prize this scan wins, if any: the batch's secret allocation first, then per-scan odds.

    Decided once per request, before the first attempt, so retries cannot re-roll.
    """
    if target.allocations:
        key = get_keyring().keys[target.key_version]
        won = winning_prize(key, target.batch_number, target.quantity, serial, target.allocations)
        if won is not None and won in target.prizes:
            return target.prizes[won]
    for prize in target.odds_prizes:
        if roll_odds(int(prize.odds_per_million)):
            return prize
    return None


def _grant(claimed: _Claimed, balance: dict, replay: bool, code: str) -> dict:
    return {
        "result": "granted",
        "replay": replay,
        "campaign_id": claimed.campaign_id,
        "code": code,
        "points": claimed.points,
        "entries": claimed.entries,
        "tier": claimed.tier,
        "prize": {"prize_id": claimed.prize_id, "name": claimed.prize_name} if claimed.prize_id else None,
        "balance": balance,
        "claimed_at": format_instant(claimed.claimed_at),
    }


def _explain(tx: ClaimTransaction, error: Cancelled) -> tuple[Cancel, dict | None]:
    """Why the transaction was cancelled, and the existing record when the code was taken."""
    raw = error.item(tx.names.index("claim"))
    outcome = claims.explain(tx.names, error.codes, claim_found=bool(raw))
    existing = deserialize(CodeState, raw) if outcome is Cancel.CLAIMED and raw else None
    return outcome, existing


def claim_code(
    shopper_id: str,
    ip: str,
    body: dict,
    request_key: str | None = None,
    *,
    lookups: LookupCache | None = None,
    place: str = UNKNOWN,
) -> dict:
    """Claim what a code grants for a shopper, exactly once; a replay returns the original grant.

    Every refusal of a code whose campaign is known is recorded for the campaign's
    statistics after the answer is decided (never inside the claim transaction), once
    per request (`request_key`, its Idempotency-Key). `lookups` is the container's batch
    and campaign lookup (tests pass one per container). `place` is the scan's coarse place
    (domain/places.place_of), stored on the claim record and on a refusal's.
    """
    (code_text,) = string_fields(body, "code")
    if not code_text.strip():
        raise InvalidInput("code: Must not be empty.", field="code")
    now = clock.now()
    try:
        parts, code = codes.read_code(code_text, get_keyring())
    except CodeInvalid:
        _refuse_guess(shopper_id, now, known_target(codes.claimed_batch_number(code_text) or 0, lookups), ip, place)
    target = scan_target(parts.batch_number, lookups)
    if target is None or parts.serial >= target.quantity:
        _refuse_guess(shopper_id, now, target, ip, place)
    assert target is not None  # _refuse_invalid always raises
    try:
        return _claim(shopper_id, ip, target, parts, code, now, request_key, place)
    except DomainError as refusal:
        kind = claims.stat_of(refusal)
        if kind:
            record_refusal(
                target.campaign,
                target.batch_id,
                kind,
                now,
                shopper_id=shopper_id,
                request_key=request_key,
                seen=Seen(CodeState.key_for(parts.batch_number, parts.serial), place, ip),
            )
        raise


def _claim(
    shopper_id: str,
    ip: str,
    target: ScanTarget,
    parts: codes.CodeParts,
    code: str,
    now: datetime,
    request_key: str | None,
    place: str,
) -> dict:
    refusal = target.refusal(now)
    if refusal is Refusal.INVALID:
        _refuse_invalid(shopper_id, now.timestamp())
    if refusal is not None:
        raise refusal.error()
    # The claim item is the idempotency record: any retry of this scan by this shopper
    # (same Idempotency-Key or none) finds it and gets the original grant back. The
    # request token only makes botocore's own resend of a timed-out call apply once;
    # after a definitive cancellation nothing was written, so the next try gets a new one.
    points, tier, tier_change = _tiered_points(target, shopper_id, now)
    shards: list[int] = []
    if target.budget_points and points:
        shards = (
            list(target.budget_shards)
            if points == target.points
            else claims.budget_shard_choices(target.budget_points, points)
        )
        if not shards:
            raise Refusal.BUDGET.error()
    plan = _Plan(
        shopper_id,
        ip,
        target,
        parts.serial,
        code,
        now,
        dynamo.request_token(),
        _any_of(shards),
        _prize_for(target, parts.serial),
        request_key=request_key,
        points=points,
        tier=tier,
        tier_change=tier_change,
        place=place,
    )
    for _ in dynamo.attempts(_CLAIM_ATTEMPTS, _BUSY):
        answer = _try_claim(plan, shards)
        if answer is not None:
            return answer
        # botocore does not retry TransactionConflict, and another claim of the same
        # participant moved their count: after the pause, read again with a new token.
        plan.token = dynamo.request_token()
        if target.program.tiered:  # the member may have moved tier: decide again
            plan.points, plan.tier, plan.tier_change = _tiered_points(target, shopper_id, now)
    raise claims.busy(Cancel.CONFLICT)  # never reached: attempts raises past its last try


def _try_claim(plan: _Plan, shards: list[int]) -> dict | None:
    """One try of the claim: its answer, or None when a conflict (or the participant's count moving)
    calls for another try. A prize pool or a budget shard that ran out under us is tried again at
    once, without the prize or on another shard."""
    while True:
        plan.before = read_participant(plan.target.campaign_id, plan.shopper_id)
        if claims.participant_cap_reached(plan.target.participant_cap, plan.before.claims if plan.before else 0):
            # Asking twice is a replay, not a refusal: the claim says which.
            existing = _existing_claim(plan)
            if existing is None:
                raise Refusal.PARTICIPANT_CAP.error()
            return _answer_existing(existing, plan)
        tx, claimed = _transaction(plan)
        try:
            tx.send(plan.token)
        except Cancelled as error:
            outcome, existing = _explain(tx, error)
            if outcome is Cancel.CLAIMED and existing is not None:
                return _answer_existing(existing, plan)
            if outcome in (Cancel.CONFLICT, Cancel.PARTICIPANT_MOVED):
                return None
            if not _without_what_ran_out(plan, outcome, shards):
                raise _refusal(plan, tx, error, outcome) from None
            continue
        before = plan.before
        balance = {
            "points": (before.points if before else 0) + claimed.points,
            "entries": (before.entries if before else 0) + claimed.entries,
        }
        return _grant(claimed, balance, replay=False, code=plan.code)


def _without_what_ran_out(plan: _Plan, outcome: Cancel, shards: list[int]) -> bool:
    """Change the plan past a prize pool or budget shard that ran out; False when nothing can change."""
    if outcome is Cancel.PRIZE_GONE:
        plan.prize = None  # the scan still grants its points, without the prize
    elif outcome is Cancel.BUDGET and shards:
        plan.budget_shard = _any_of(shards)
    else:
        return False
    plan.token = dynamo.request_token()
    return True


def _refusal(plan: _Plan, tx: ClaimTransaction, error: Cancelled, outcome: Cancel) -> DomainError:
    """The answer to a cancellation no other try can change."""
    if outcome is Cancel.LOCKED:
        until = limits.lock_end(error.item(tx.names.index("lock")), default=plan.now.timestamp())
        LOCKS.remember(plan.shopper_id, until)
        return claims.locked(until - plan.now.timestamp())
    if outcome in _REFUSED:
        return _REFUSED[outcome].error()
    return claims.busy(outcome)


def _tiered_points(target: ScanTarget, shopper_id: str, now: datetime) -> tuple[int, str | None, tuple | None]:
    """The scan's points under the shopper's tier with the brand, the tier, and the move it makes.

    Only a brand with tiers costs the claim a read of the member: the tier is decided by
    the points earned this month and the eleven before, and the tier this scan's points
    reach is written with the claim, on condition the member's tier is still the one read.
    """
    program = target.program
    if not program.tiered:
        return target.points, None, None
    member = members.read_member(target.brand_id, shopper_id)
    month = loyalty.month_of(now, program.timezone)
    earned = loyalty.earned_in_window(member.earned if member else {}, month)
    tier = loyalty.tier_for(program.tiers, earned)
    points = loyalty.multiplied(target.points, tier)
    reached = loyalty.tier_for(program.tiers, earned + points)
    stored = member.tier if member else None
    change = (stored, reached.name) if reached is not None and reached.name != stored else None
    return points, tier.name if tier else None, change


_HELD = (CodeStatus.VOID, CodeStatus.QUARANTINED)
_REFUSED = {Cancel.DAILY_CAP: Refusal.DAILY_CAP, Cancel.BUDGET: Refusal.BUDGET, Cancel.RATE: Refusal.RATE}


def _any_of(shards: list[int]) -> int | None:
    """Take one budget shard at random out of those left (None: the campaign has no budget)."""
    return shards.pop(random.randrange(len(shards))) if shards else None


def _existing_claim(plan: _Plan) -> dict | None:
    return code_record(plan.target.batch_number, plan.serial)


def _answer_existing(existing: dict, plan: _Plan) -> dict:
    """A code already written: voided, this shopper's own claim (a replay), or somebody else's."""
    if existing.get("state") in _HELD:
        raise CodeInvalid()
    if existing.get("shopper_id") != plan.shopper_id:
        # A quarantined code (copied onto counterfeit packs) answers as a voided one to anybody else.
        raise CodeInvalid() if existing.get("quarantined") else Refusal.ALREADY_CLAIMED.error()
    claimed = _Claimed.of(existing)
    participant = read_participant(claimed.campaign_id, plan.shopper_id)
    balance = {"points": participant.points if participant else 0, "entries": participant.entries if participant else 0}
    # Scanning one's own code again is a duplicate scan; the request that claimed it, sent
    # again after its answer was lost, is not (it is the same scan).
    if plan.request_key is None or existing.get("request_key") != plan.request_key:
        record_refusal(
            plan.target.campaign,
            plan.target.batch_id,
            "duplicate",
            plan.now,
            shopper_id=plan.shopper_id,
            request_key=plan.request_key,
        )
    return _grant(claimed, balance, replay=True, code=plan.code)
