"""Scans: an exactly-once claim of one code, in one DynamoDB transaction, whatever the retries."""
from __future__ import annotations

import hashlib
import random
import re
import threading
import time
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain import codes
from chalicelib.adapters import limits
from chalicelib.services import stats_aggregator as stats
from chalicelib.domain.instant_win import roll_odds, winning_prize
from chalicelib.domain.errors import (
    AlreadyClaimed,
    CampaignNotRunning,
    CodeInvalid,
    CodeNotActive,
    DomainError,
    InvalidInput,
    LimitReached,
    ServiceBusy,
)
from chalicelib.adapters.models import Batch, Campaign, CodeState, Counter, Participant, RateCounter, transaction_connection
from chalicelib.adapters.storage import get_keyring
from chalicelib.domain.validation import Schema, decode_cursor, encode_cursor, format_instant, parse_limit, validate

__all__ = ["claim_code", "describe_code", "wallet", "clear_cache", "ScanLimits"]

_CACHE_SECONDS = 15.0
_CONFLICT_ATTEMPTS = 6
_LOCK_SECONDS = 3600


@dataclass(frozen=True)
class ScanLimits:
    """Abuse limits; per-IP counting is split over shards so a carrier NAT is not one hot key."""

    per_shopper_per_minute: int = 30
    per_ip_per_minute: int = 240
    ip_shards: int = 4
    invalid_per_hour: int = 10
    budget_shards: int = 16


LIMITS = ScanLimits()


class ScanIn(Schema):
    code: str


_cache: dict[int, tuple[float, Batch, Campaign]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached batches and campaigns (tests, and after an operator change locally)."""
    with _cache_lock:
        _cache.clear()


def _batch_and_campaign(batch_number: int) -> tuple[Batch, Campaign] | None:
    # Cached per container for a few seconds: a warm scan costs no read for these.
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(batch_number)
    if hit and hit[0] > now:
        return hit[1], hit[2]
    batch = next(iter(Batch.by_number.query(batch_number, limit=1)), None)
    if batch is None:
        return None
    try:
        campaign = Campaign.get(batch.brand_id, batch.campaign_id)
    except Campaign.DoesNotExist:
        return None
    with _cache_lock:
        _cache[batch_number] = (now + _CACHE_SECONDS, batch, campaign)
    return batch, campaign


def _lock_key(shopper_id: str) -> str:
    return f"lock:scan:{shopper_id}"


def _refuse_invalid(shopper_id: str, now: float) -> None:
    """Count an invalid code against the shopper; the eleventh in an hour locks them out."""
    lock = _lock_until(shopper_id)
    if lock and lock > now:
        raise _locked(lock - now)
    try:
        limits.hit("invalid", shopper_id, limit=LIMITS.invalid_per_hour, window_seconds=3600,
                   message="Too many invalid codes.", now=now)
    except LimitReached:
        until = datetime.fromtimestamp(now + _LOCK_SECONDS, timezone.utc)
        RateCounter(_lock_key(shopper_id), count=1, expires_at=until).save()
        raise _locked(_LOCK_SECONDS) from None
    raise CodeInvalid()


def _lock_until(shopper_id: str) -> float | None:
    try:
        return RateCounter.get(_lock_key(shopper_id)).expires_at.timestamp()
    except RateCounter.DoesNotExist:
        return None


def _locked(seconds: float) -> LimitReached:
    minutes = max(1, round(seconds / 60))
    return LimitReached(f"Too many invalid codes: scanning is locked for about {minutes} minutes.",
                        retry_after=int(seconds))


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
    names: list[str]
    prize: object | None = None
    before: Participant | None = None


def _day(campaign: Campaign, now: datetime) -> str:
    return now.astimezone(zoneinfo.ZoneInfo(campaign.timezone)).date().isoformat()


def _budget_shards(budget: int) -> int:
    # Enough shards to spread a big campaign's writes, few enough that a small budget is
    # not stranded in slivers too small for one scan. Depends on the budget alone, which
    # is frozen once the campaign leaves draft, so the split never changes under spend.
    return max(1, min(LIMITS.budget_shards, budget // 10_000))


def _shard_allowance(budget: int, shard: int) -> int:
    base, extra = divmod(budget, _budget_shards(budget))
    return base + (1 if shard < extra else 0)


def _write(plan: _Plan) -> CodeState:
    rules = plan.campaign.rules
    points, entries = int(rules.points_per_scan or 0), int(rules.entries_per_scan or 0)
    now_epoch = plan.now.timestamp()
    names: list[str] = []
    with TransactWrite(connection=transaction_connection(), client_request_token=plan.token,
                      return_consumed_capacity="TOTAL") as tx:
        # Condition checks go first in the request, then puts, then updates; `names`
        # follows that order so cancellation reasons can be read back by position.
        tx.condition_check(RateCounter, _lock_key(plan.shopper_id),
                           condition=RateCounter.expires_at.does_not_exist()
                           | (RateCounter.expires_at < datetime.fromtimestamp(now_epoch, timezone.utc)))
        names.append("lock")
        claim = CodeState(
            CodeState.key_for(plan.batch.batch_number, plan.serial),
            state="claimed", batch_id=plan.batch.batch_id, brand_id=plan.batch.brand_id,
            changed_at=plan.now, changed_by=plan.shopper_id, shopper_id=plan.shopper_id,
            campaign_id=plan.campaign.campaign_id, sku=plan.batch.sku, points=points, entries=entries,
            request_id=plan.token,
            prize_id=plan.prize.prize_id if plan.prize else None,
            prize_name=plan.prize.name if plan.prize else None,
            **_participant_fields(plan),
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
            actions=[Participant.points.add(points), Participant.entries.add(entries), Participant.claims.add(1),
                     Participant.first_claim_at.set(claim.first_claim_at),
                     Participant.last_claim_at.set(plan.now),
                     Participant.active_days.set(claim.active_days),
                     Participant.rank_shard.set(stats.rank_shard(plan.campaign.campaign_id, plan.shopper_id))],
            condition=Participant.claims.does_not_exist() if seen == 0 else Participant.claims == seen,
        )
        names.append("participant")
        daily = rules.max_claims_per_participant_per_day
        if daily:
            key = f"claims:{plan.campaign.campaign_id}:{plan.shopper_id}:{_day(plan.campaign, plan.now)}"
            tx.update(RateCounter(key), actions=[RateCounter.count.add(1),
                                                 RateCounter.expires_at.set(plan.now + timedelta(days=2))],
                      condition=RateCounter.count.does_not_exist() | (RateCounter.count < daily))
            names.append("daily_cap")
        if plan.budget_shard is not None and points:
            allowance = _shard_allowance(int(rules.budget_points), plan.budget_shard)
            spent = Counter(f"budget:{plan.campaign.campaign_id}:{plan.budget_shard}")
            tx.update(spent, actions=[Counter.value.add(points)],
                      condition=Counter.value.does_not_exist() | (Counter.value <= allowance - points))
            names.append("budget")
        if plan.prize is not None:
            # The pool only moves while awarded < quantity: a prize is never over-given.
            awarded = Counter(f"prize:{plan.campaign.campaign_id}:{plan.prize.prize_id}")
            tx.update(awarded, actions=[Counter.value.add(1)],
                      condition=Counter.value.does_not_exist() | (Counter.value < int(plan.prize.quantity)))
            names.append("prize")
        for name, subject, limit in (
            ("scan", plan.shopper_id, LIMITS.per_shopper_per_minute),
            ("scan-ip", f"{plan.ip}#{int(hashlib.sha256(plan.shopper_id.encode()).hexdigest(), 16) % LIMITS.ip_shards}",
             LIMITS.per_ip_per_minute // LIMITS.ip_shards),
        ):
            key, ends = limits.window_key(name, subject, 60, now_epoch)
            tx.update(RateCounter(key), actions=[RateCounter.count.add(1),
                                                 RateCounter.expires_at.set(datetime.fromtimestamp(ends + 3600, timezone.utc))],
                      condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit))
            names.append("rate")
        plan.names = names
    return claim


def _participant_before(campaign_id: str, shopper_id: str) -> Participant | None:
    try:
        return Participant.get(campaign_id, shopper_id, consistent_read=True)
    except Participant.DoesNotExist:
        return None


def _participant_fields(plan: _Plan) -> dict:
    """The claim's place in the participant's history: number, days active, first and previous claim."""
    before = plan.before
    if before is None or not before.claims:
        return {"timezone": plan.campaign.timezone, "nth": 1, "active_days": 1,
                "first_claim_at": plan.now, "prev_claim_at": None}
    previous = before.last_claim_at
    new_day = previous is None or _day(plan.campaign, previous) < _day(plan.campaign, plan.now)
    days = int(before.active_days or 1) + (1 if new_day else 0)
    return {"timezone": plan.campaign.timezone, "nth": int(before.claims) + 1, "active_days": days,
            "first_claim_at": before.first_claim_at or plan.now, "prev_claim_at": previous}


def _prize_for(batch: Batch, campaign: Campaign, serial: int):
    """The prize this scan wins, if any: the batch's secret allocation first, then per-scan odds.

    Decided once per request, before the first attempt, so retries cannot re-roll.
    """
    prizes = {p.prize_id: p for p in campaign.prizes or []}
    if batch.allocations:
        key = get_keyring().keys[int(batch.key_version)]
        won = winning_prize(key, int(batch.batch_number), int(batch.quantity), serial,
                            [(a.prize_id, int(a.count)) for a in batch.allocations])
        if won in prizes:
            return prizes[won]
    for prize in campaign.prizes or []:
        if prize.odds_per_million and roll_odds(int(prize.odds_per_million)):
            return prize
    return None


def _grant(claim: CodeState, balance: dict, replay: bool) -> dict:
    return {
        "result": "granted",
        "replay": replay,
        "campaign_id": claim.campaign_id,
        "code": None,
        "points": int(claim.points or 0),
        "entries": int(claim.entries or 0),
        "prize": {"prize_id": claim.prize_id, "name": claim.prize_name} if claim.prize_id else None,
        "balance": balance,
        "claimed_at": format_instant(claim.changed_at),
    }


def _explain(plan: _Plan, error: TransactWriteError) -> tuple[str, CodeState | None]:
    """The reason that matters most, and the existing claim when the code was taken."""
    reasons = error.cancellation_reasons or []
    failed = {plan.names[i]: r for i, r in enumerate(reasons) if r is not None and r.code != "None"}
    claim_reason = failed.get("claim")
    if claim_reason is not None and claim_reason.code == "ConditionalCheckFailed" and claim_reason.raw_item:
        existing = CodeState.from_raw_data(claim_reason.raw_item)
        return "claim", existing
    if any(r.code == "TransactionConflict" for r in failed.values()):
        return "conflict", None
    for name in ("lock", "participant", "daily_cap", "budget", "rate", "prize"):
        if name in failed and failed[name].code == "ConditionalCheckFailed":
            return name, None
    return "unknown", None


def claim_code(shopper_id: str, ip: str, body: dict) -> dict:
    """Claim what a code grants for a shopper, exactly once; a replay returns the original grant.

    Every refusal of a code whose campaign is known is counted in the campaign's
    statistics after the answer is decided (never inside the claim transaction).
    """
    code_text = validate(ScanIn, body).code
    if not code_text.strip():
        raise InvalidInput("code: Must not be empty.", field="code")
    now = datetime.now(timezone.utc)
    try:
        parts = codes.parse_code(code_text, get_keyring())
    except CodeInvalid:
        _refuse_invalid(shopper_id, now.timestamp())
    found = _batch_and_campaign(parts.batch_number)
    if found is None or parts.serial >= found[0].quantity:
        _refuse_invalid(shopper_id, now.timestamp())
    batch, campaign = found
    try:
        return _claim(shopper_id, ip, batch, campaign, parts, now)
    except DomainError as refusal:
        kind = f"refused_{refusal.kind}" if isinstance(refusal, LimitReached) else _STAT_OF.get(type(refusal))
        if kind:
            stats.record_refusal(campaign, kind, now)
        raise


# Which statistics counter a refusal moves (a LimitReached says whether it was a cap or a rate).
_STAT_OF: dict[type, str] = {
    CodeInvalid: "invalid", AlreadyClaimed: "duplicate", CodeNotActive: "refused_inactive",
    CampaignNotRunning: "refused_inactive",
}


def _claim(shopper_id: str, ip: str, batch: Batch, campaign: Campaign, parts, now: datetime) -> dict:
    if batch.status == "void":
        _refuse_invalid(shopper_id, now.timestamp())
    if batch.status != "active":
        raise CodeNotActive()
    if campaign.status != "active" or not campaign.starts_at <= now < campaign.ends_at:
        raise CampaignNotRunning("This campaign is not running at the moment.")
    # The claim item is the idempotency record: any retry of this scan by this shopper
    # (same Idempotency-Key or none) finds it and gets the original grant back. The
    # request token only makes botocore's own resend of a timed-out call apply once;
    # after a definitive cancellation nothing was written, so the next try gets a new one.
    points = int(campaign.rules.points_per_scan or 0)
    budget = campaign.rules.budget_points
    shards: list[int | None] = [None]
    if budget and points:
        shards = [n for n in range(_budget_shards(int(budget))) if _shard_allowance(int(budget), n) >= points]
        random.shuffle(shards)
        if not shards:
            raise _refusal("budget")
    plan = _Plan(shopper_id, ip, batch, campaign, parts.serial, codes.format_code(parts, get_keyring()), now,
                 uuid.uuid4().hex, shards.pop(), [], _prize_for(batch, campaign, parts.serial))
    attempt = 0
    while True:
        plan.before = _participant_before(campaign.campaign_id, shopper_id)
        cap = campaign.rules.max_claims_per_participant
        if cap and plan.before and int(plan.before.claims) >= int(cap):
            # Asking twice is a replay, not a refusal: the claim says which.
            existing = _existing_claim(plan)
            if existing is None:
                raise _refusal("participant_cap")
            return _answer_existing(existing, plan)
        try:
            claim = _write(plan)
        except TransactWriteError as error:
            reason, existing = _explain(plan, error)
            if reason == "claim":
                return _answer_existing(existing, plan)
            if reason in ("conflict", "participant") and attempt < _CONFLICT_ATTEMPTS:
                # botocore does not retry TransactionConflict, and another claim of the same
                # participant moved their count: back off with full jitter, read again.
                attempt += 1
                time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
                plan.token = uuid.uuid4().hex
                continue
            if reason == "prize":
                # The pool ran out under us: the scan still grants its points, without the prize.
                plan.prize, plan.token = None, uuid.uuid4().hex
                continue
            if reason == "budget" and shards:
                plan.budget_shard, plan.token = shards.pop(), uuid.uuid4().hex
                continue
            if reason == "lock":
                until = _lock_until(shopper_id) or now.timestamp()
                raise _locked(until - now.timestamp()) from None
            raise _refusal(reason) from None
        before = plan.before
        balance = {"points": int(before.points if before else 0) + int(claim.points or 0),
                   "entries": int(before.entries if before else 0) + int(claim.entries or 0)}
        return {**_grant(claim, balance, replay=False), "code": plan.code}


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
        raise AlreadyClaimed()
    participant = Participant.get(existing.campaign_id, existing.shopper_id, consistent_read=True)
    balance = {"points": int(participant.points), "entries": int(participant.entries)}
    # A replay is counted as a duplicate scan: the code was scanned again.
    stats.record_refusal(plan.campaign, "duplicate", plan.now)
    return {**_grant(existing, balance, replay=True), "code": plan.code}


def _refusal(reason: str):
    messages = {
        "participant_cap": "You have reached the most claims allowed in this campaign.",
        "daily_cap": "You have reached today's claim limit for this campaign; try again tomorrow.",
        "budget": "This campaign has given out all its points.",
        "rate": "Too many scans in a short time; wait a minute and try again.",
    }
    if reason in messages:
        rate = reason == "rate"
        return LimitReached(messages[reason], retry_after=60 if rate else None, kind="rate" if rate else "cap")
    if reason == "conflict":
        return ServiceBusy("Many scans at once; please try again.")
    return ServiceBusy("The claim could not be completed; please try again.")


def describe_code(code_text: str) -> dict:
    """What the landing page may show before sign-in: campaign, product and whether it can be claimed.

    Forged, unknown and voided-batch codes all answer CodeInvalid, with no read for a
    forged one; whether a single code was claimed or voided is not revealed here.
    """
    parts = codes.parse_code(code_text, get_keyring())
    found = _batch_and_campaign(parts.batch_number)
    if found is None or parts.serial >= found[0].quantity or found[0].status == "void":
        raise CodeInvalid()
    batch, campaign = found
    now = datetime.now(timezone.utc)
    running = campaign.status == "active" and campaign.starts_at <= now < campaign.ends_at
    return {
        "code": codes.format_code(parts, get_keyring()),
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.name,
        "sku": batch.sku,
        "ends_at": format_instant(campaign.ends_at),
        "timezone": campaign.timezone,
        "claimable": running and batch.status == "active",
        "reason": None if running and batch.status == "active"
        else ("code_not_active" if batch.status != "active" else "campaign_not_running"),
        "points_per_scan": int(campaign.rules.points_per_scan or 0),
        "entries_per_scan": int(campaign.rules.entries_per_scan or 0),
    }


_HISTORY_CURSOR = re.compile(r"^[0-9]{1,8}:[0-9]{1,8}\|[0-9T:.+-]{19,40}$")


def wallet(shopper_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """Balances and entries per campaign, and one page of claims (newest first)."""
    page_size = parse_limit(limit, default=20, maximum=100)
    start_key = None
    if cursor:
        code_key, _, changed_at = decode_cursor(cursor, _HISTORY_CURSOR).partition("|")
        # The shopper comes from the token, never from the cursor: a cursor cannot page
        # through somebody else's history.
        start_key = {"code_key": {"S": code_key}, "shopper_id": {"S": shopper_id}, "changed_at": {"S": changed_at}}
    campaigns = [
        {"campaign_id": p.campaign_id, "points": int(p.points), "entries": int(p.entries), "claims": int(p.claims)}
        for p in Participant.by_shopper.query(shopper_id)
    ]
    results = CodeState.by_shopper.query(shopper_id, scan_index_forward=False, limit=page_size,
                                         page_size=page_size, last_evaluated_key=start_key)
    history = [
        {"batch_id": c.batch_id, "campaign_id": c.campaign_id, "sku": c.sku, "points": int(c.points or 0),
         "entries": int(c.entries or 0), "prize": c.prize_name, "claimed_at": format_instant(c.changed_at)}
        for c in results
    ]
    last = results.last_evaluated_key
    next_cursor = None
    if last and len(history) == page_size:
        next_cursor = encode_cursor(f"{last['code_key']['S']}|{last['changed_at']['S']}")
    return {"campaigns": campaigns, "history": history, "next_cursor": next_cursor}
