"""Scans: an exactly-once claim of one code, in one DynamoDB transaction, whatever the retries."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, limits
from chalicelib.adapters.models import Batch, Campaign, CodeState, Counter, Participant, Prize, RateCounter
from chalicelib.adapters.records import batch_and_campaign
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import claims, clock, codes
from chalicelib.domain.claims import Cancel, ClaimHistory, Refusal
from chalicelib.domain.errors import CodeInvalid, DomainError, InvalidInput, LimitReached
from chalicelib.domain.instant_win import roll_odds, winning_prize
from chalicelib.domain.statistics import rank_shard
from chalicelib.domain.validation import Schema, format_instant, validate
from chalicelib.services.stats_aggregator import record_refusal

__all__ = ["claim_code"]

_CONFLICT_ATTEMPTS = 6


class ScanIn(Schema):
    code: str


def _lock_key(shopper_id: str) -> str:
    return f"lock:scan:{shopper_id}"


def _refuse_invalid(shopper_id: str, now: float) -> None:
    """Count an invalid code against the shopper; the eleventh in an hour locks them out."""
    lock = _lock_until(shopper_id)
    if lock and lock > now:
        raise claims.locked(lock - now)
    try:
        limits.hit(
            "invalid",
            shopper_id,
            limit=claims.LIMITS.invalid_per_hour,
            window_seconds=3600,
            message="Too many invalid codes.",
            now=now,
        )
    except LimitReached:
        until = datetime.fromtimestamp(now + claims.LOCK_SECONDS, UTC)
        RateCounter(_lock_key(shopper_id), count=1, expires_at=until).save()
        raise claims.locked(claims.LOCK_SECONDS) from None
    raise CodeInvalid()


def _lock_until(shopper_id: str) -> float | None:
    try:
        return RateCounter.get(_lock_key(shopper_id)).expires_at.timestamp()
    except RateCounter.DoesNotExist:
        return None


@dataclass
class _Plan:
    """Everything one claim writes, fixed before the first attempt so retries send the same request."""

    shopper_id: str
    ip: str
    batch: Batch
    campaign: Campaign
    serial: int
    code: str
    now: datetime
    token: str
    budget_shard: int | None
    prize: Prize | None = None
    request_key: str | None = None  # the request's Idempotency-Key, when it sent one
    before: Participant | None = None
    names: list[str] = field(default_factory=list)


def _write(plan: _Plan) -> CodeState:
    """Send the claim's one transaction: exactly what the rules decided, nothing decided here."""
    rules = plan.campaign.rules
    points, entries = claims.reward(rules)
    now_epoch = plan.now.timestamp()
    past: ClaimHistory = claims.history(plan.before, plan.campaign.timezone, plan.now)
    names: list[str] = []
    with TransactWrite(
        connection=dynamo.transaction_connection(), client_request_token=plan.token, return_consumed_capacity="TOTAL"
    ) as tx:
        # Condition checks go first in the request, then puts, then updates; `names`
        # follows that order so cancellation reasons can be read back by position.
        tx.condition_check(
            RateCounter,
            _lock_key(plan.shopper_id),
            condition=RateCounter.expires_at.does_not_exist()
            | (RateCounter.expires_at < datetime.fromtimestamp(now_epoch, UTC)),
        )
        names.append("lock")
        claim = CodeState(
            CodeState.key_for(plan.batch.batch_number, plan.serial),
            state="claimed",
            batch_id=plan.batch.batch_id,
            brand_id=plan.batch.brand_id,
            changed_at=plan.now,
            changed_by=plan.shopper_id,
            shopper_id=plan.shopper_id,
            campaign_id=plan.campaign.campaign_id,
            sku=plan.batch.sku,
            points=points,
            entries=entries,
            request_id=plan.token,
            request_key=plan.request_key,
            prize_id=plan.prize.prize_id if plan.prize else None,
            prize_name=plan.prize.name if plan.prize else None,
            timezone=plan.campaign.timezone,
            nth=past.nth,
            active_days=past.active_days,
            first_claim_at=past.first_claim_at,
            prev_claim_at=past.prev_claim_at,
        )
        tx.save(claim, condition=CodeState.code_key.does_not_exist(), return_values="ALL_OLD")
        names.append("claim")
        # The participant as read before the claim must still be current: claims are
        # numbered one by one per participant, which the statistics rely on, and the
        # cap was checked against that number.
        participant = Participant(plan.campaign.campaign_id, plan.shopper_id)
        seen = int(plan.before.claims) if plan.before else 0
        tx.update(
            participant,
            actions=[
                Participant.points.add(points),
                Participant.entries.add(entries),
                Participant.claims.add(1),
                Participant.first_claim_at.set(past.first_claim_at),
                Participant.last_claim_at.set(plan.now),
                Participant.active_days.set(past.active_days),
                Participant.rank_shard.set(rank_shard(plan.campaign.campaign_id, plan.shopper_id)),
            ],
            condition=Participant.claims.does_not_exist() if seen == 0 else Participant.claims == seen,
        )
        names.append("participant")
        daily = rules.max_claims_per_participant_per_day
        if daily:
            day = claims.local_date(plan.campaign.timezone, plan.now)
            key = f"claims:{plan.campaign.campaign_id}:{plan.shopper_id}:{day}"
            tx.update(
                RateCounter(key),
                actions=[RateCounter.count.add(1), RateCounter.expires_at.set(plan.now + timedelta(days=2))],
                condition=RateCounter.count.does_not_exist() | (RateCounter.count < daily),
            )
            names.append("daily_cap")
        if plan.budget_shard is not None and points:
            allowance = claims.shard_allowance(int(rules.budget_points), plan.budget_shard)
            spent = Counter(f"budget:{plan.campaign.campaign_id}:{plan.budget_shard}")
            tx.update(
                spent,
                actions=[Counter.value.add(points)],
                condition=Counter.value.does_not_exist() | (Counter.value <= allowance - points),
            )
            names.append("budget")
        if plan.prize is not None:
            # The pool only moves while awarded < quantity: a prize is never over-given.
            awarded = Counter(f"prize:{plan.campaign.campaign_id}:{plan.prize.prize_id}")
            tx.update(
                awarded,
                actions=[Counter.value.add(1)],
                condition=Counter.value.does_not_exist() | (Counter.value < int(plan.prize.quantity)),
            )
            names.append("prize")
        for name, subject, limit in (
            ("scan", plan.shopper_id, claims.LIMITS.per_shopper_per_minute),
            (
                "scan-ip",
                f"{plan.ip}#{claims.ip_shard(plan.shopper_id)}",
                claims.LIMITS.per_ip_per_minute // claims.LIMITS.ip_shards,
            ),
        ):
            key, ends = limits.window_key(name, subject, 60, now_epoch)
            tx.update(
                RateCounter(key),
                actions=[
                    RateCounter.count.add(1),
                    RateCounter.expires_at.set(datetime.fromtimestamp(ends + 3600, UTC)),
                ],
                condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit),
            )
            names.append("rate")
        plan.names = names
    return claim


def _participant_before(campaign_id: str, shopper_id: str) -> Participant | None:
    try:
        return Participant.get(campaign_id, shopper_id, consistent_read=True)
    except Participant.DoesNotExist:
        return None


def _prize_for(batch: Batch, campaign: Campaign, serial: int) -> Prize | None:
    """The prize this scan wins, if any: the batch's secret allocation first, then per-scan odds.

    Decided once per request, before the first attempt, so retries cannot re-roll.
    """
    prizes = {p.prize_id: p for p in campaign.prizes or []}
    if batch.allocations:
        key = get_keyring().keys[int(batch.key_version)]
        won = winning_prize(
            key,
            int(batch.batch_number),
            int(batch.quantity),
            serial,
            [(a.prize_id, int(a.count)) for a in batch.allocations],
        )
        if won in prizes:
            return prizes[won]
    for prize in campaign.prizes or []:
        if prize.odds_per_million and roll_odds(int(prize.odds_per_million)):
            return prize
    return None


def _grant(claim: CodeState, balance: dict, replay: bool, code: str) -> dict:
    return {
        "result": "granted",
        "replay": replay,
        "campaign_id": claim.campaign_id,
        "code": code,
        "points": int(claim.points or 0),
        "entries": int(claim.entries or 0),
        "prize": {"prize_id": claim.prize_id, "name": claim.prize_name} if claim.prize_id else None,
        "balance": balance,
        "claimed_at": format_instant(claim.changed_at),
    }


def _explain(plan: _Plan, error: TransactWriteError) -> tuple[Cancel, CodeState | None]:
    """Why the transaction was cancelled, and the existing record when the code was taken."""
    reasons = error.cancellation_reasons or []
    codes_ = [reason.code if reason is not None else None for reason in reasons]
    claim_reason = reasons[plan.names.index("claim")] if len(reasons) > plan.names.index("claim") else None
    found = claim_reason is not None and bool(claim_reason.raw_item)
    outcome = claims.explain(plan.names, codes_, claim_found=found)
    raw = claim_reason.raw_item if claim_reason is not None else None
    existing = CodeState.from_raw_data(raw) if outcome is Cancel.CLAIMED and raw else None
    return outcome, existing


def claim_code(shopper_id: str, ip: str, body: dict, request_key: str | None = None) -> dict:
    """Claim what a code grants for a shopper, exactly once; a replay returns the original grant.

    Every refusal of a code whose campaign is known is counted in the campaign's
    statistics after the answer is decided (never inside the claim transaction).
    """
    code_text = validate(ScanIn, body).code
    if not code_text.strip():
        raise InvalidInput("code: Must not be empty.", field="code")
    now = clock.now()
    try:
        parts = codes.parse_code(code_text, get_keyring())
    except CodeInvalid:
        _refuse_invalid(shopper_id, now.timestamp())
    found = batch_and_campaign(parts.batch_number)
    if found is None or parts.serial >= found[0].quantity:
        _refuse_invalid(shopper_id, now.timestamp())
    batch, campaign = found  # type: ignore[misc]
    try:
        return _claim(shopper_id, ip, batch, campaign, parts, now, request_key)
    except DomainError as refusal:
        kind = claims.stat_of(refusal)
        if kind:
            record_refusal(campaign, batch.batch_id, kind, now, shopper_id=shopper_id, request_key=request_key)
        raise


def _claim(
    shopper_id: str,
    ip: str,
    batch: Batch,
    campaign: Campaign,
    parts: codes.CodeParts,
    now: datetime,
    request_key: str | None,
) -> dict:
    refusal = claims.refusal_before_claim(batch.status, campaign.status, campaign.starts_at, campaign.ends_at, now)
    if refusal is Refusal.INVALID:
        _refuse_invalid(shopper_id, now.timestamp())
    if refusal is not None:
        raise refusal.error()
    # The claim item is the idempotency record: any retry of this scan by this shopper
    # (same Idempotency-Key or none) finds it and gets the original grant back. The
    # request token only makes botocore's own resend of a timed-out call apply once;
    # after a definitive cancellation nothing was written, so the next try gets a new one.
    points, _ = claims.reward(campaign.rules)
    budget = campaign.rules.budget_points
    shards: list[int | None] = [None]
    if budget and points:
        shards = list(claims.budget_shard_choices(int(budget), points))
        random.shuffle(shards)
        if not shards:
            raise Refusal.BUDGET.error()
    plan = _Plan(
        shopper_id,
        ip,
        batch,
        campaign,
        parts.serial,
        codes.format_code(parts, get_keyring()),
        now,
        uuid.uuid4().hex,
        shards.pop(),
        _prize_for(batch, campaign, parts.serial),
        request_key=request_key,
    )
    attempt = 0
    while True:
        plan.before = _participant_before(campaign.campaign_id, shopper_id)
        if claims.participant_cap_reached(
            campaign.rules.max_claims_per_participant, int(plan.before.claims) if plan.before else 0
        ):
            # Asking twice is a replay, not a refusal: the claim says which.
            existing = _existing_claim(plan)
            if existing is None:
                raise Refusal.PARTICIPANT_CAP.error()
            return _answer_existing(existing, plan)
        try:
            claim = _write(plan)
        except TransactWriteError as error:
            outcome, existing = _explain(plan, error)
            if outcome is Cancel.CLAIMED and existing is not None:
                return _answer_existing(existing, plan)
            if outcome in (Cancel.CONFLICT, Cancel.PARTICIPANT_MOVED) and attempt < _CONFLICT_ATTEMPTS:
                # botocore does not retry TransactionConflict, and another claim of the same
                # participant moved their count: back off with full jitter, read again.
                attempt += 1
                dynamo.backoff(attempt)
                plan.token = uuid.uuid4().hex
                continue
            if outcome is Cancel.PRIZE_GONE:
                # The pool ran out under us: the scan still grants its points, without the prize.
                plan.prize, plan.token = None, uuid.uuid4().hex
                continue
            if outcome is Cancel.BUDGET and shards:
                plan.budget_shard, plan.token = shards.pop(), uuid.uuid4().hex
                continue
            if outcome is Cancel.LOCKED:
                until = _lock_until(shopper_id) or now.timestamp()
                raise claims.locked(until - now.timestamp()) from None
            if outcome in _REFUSED:
                raise _REFUSED[outcome].error() from None
            raise claims.busy(outcome) from None
        before = plan.before
        balance = {
            "points": int(before.points if before else 0) + int(claim.points or 0),
            "entries": int(before.entries if before else 0) + int(claim.entries or 0),
        }
        return _grant(claim, balance, replay=False, code=plan.code)


_REFUSED = {Cancel.DAILY_CAP: Refusal.DAILY_CAP, Cancel.BUDGET: Refusal.BUDGET, Cancel.RATE: Refusal.RATE}


def _existing_claim(plan: _Plan) -> CodeState | None:
    try:
        return CodeState.get(CodeState.key_for(plan.batch.batch_number, plan.serial), consistent_read=True)
    except CodeState.DoesNotExist:
        return None


def _answer_existing(existing: CodeState, plan: _Plan) -> dict:
    """A code already written: voided, this shopper's own claim (a replay), or somebody else's."""
    if existing.state == "void":
        raise CodeInvalid()
    if existing.shopper_id != plan.shopper_id:
        raise Refusal.ALREADY_CLAIMED.error()
    participant = Participant.get(existing.campaign_id, existing.shopper_id, consistent_read=True)
    balance = {"points": int(participant.points), "entries": int(participant.entries)}
    # Scanning one's own code again is a duplicate scan; the request that claimed it, sent
    # again after its answer was lost, is not (it is the same scan).
    if plan.request_key is None or existing.request_key != plan.request_key:
        record_refusal(
            plan.campaign,
            plan.batch.batch_id,
            "duplicate",
            plan.now,
            shopper_id=plan.shopper_id,
            request_key=plan.request_key,
        )
    return _grant(existing, balance, replay=True, code=plan.code)
