"""Single records by brand and id, the scan path's per-container lookup, and conditional status writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, paging
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import AuditEvent, Batch, Campaign, Counter, LoyaltyProgram, Prize
from chalicelib.domain import claims, clock, loyalty
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import id_pattern, is_id
from chalicelib.domain.lifecycle import BatchStatus, CampaignStatus

__all__ = [
    "load_campaign",
    "load_owned",
    "load_batch",
    "load_program",
    "program_record",
    "save_program",
    "save_campaign",
    "brand_of_campaign",
    "campaign_batches",
    "prizes_awarded",
    "drawn_by_line",
    "batch_by_number",
    "batch_status",
    "read_for_scan",
    "ScanTarget",
    "LOOKUP_SECONDS",
    "LookupCache",
    "LOOKUPS",
    "scan_target",
    "clear_cache",
    "save_status",
    "save_status_with_event",
    "create",
    "campaigns_page",
    "batches_page",
]

_M = TypeVar("_M", bound=Model)


def load_campaign(brand_id: str, campaign_id: str) -> Campaign:
    """The brand's campaign; another brand's id, or an id of the wrong shape, is simply not found."""
    # An id of the wrong shape can't exist: answer 404 without a read, as for another brand's id.
    if not is_id("cmp", campaign_id):
        raise NotFound("No such campaign.")
    try:
        return Campaign.get(brand_id, campaign_id, consistent_read=True)
    except Campaign.DoesNotExist:
        raise NotFound("No such campaign.") from None


def load_owned(
    model: type[_M], brand_id: str, record_id: str, prefix: str, noun: str, *, consistent: bool = True
) -> _M:
    """A record keyed by its own id that belongs to a brand (its `brand_id`), or NotFound.

    Another brand's id, and an id of the wrong shape (answered without a read), are not
    found either: a caller cannot tell them from ids that do not exist.
    """
    if not is_id(prefix, record_id):
        raise NotFound(f"No such {noun}.")
    try:
        record = model.get(record_id, consistent_read=consistent)
    except model.DoesNotExist:
        raise NotFound(f"No such {noun}.") from None
    if getattr(record, "brand_id", None) != brand_id:
        raise NotFound(f"No such {noun}.")
    return record


def load_batch(brand_id: str, batch_id: str, *, consistent: bool = True) -> Batch:
    """The brand's batch; another brand's id, or an id of the wrong shape, is simply not found."""
    return load_owned(Batch, brand_id, batch_id, "bat", "batch", consistent=consistent)


def create(record: Model, key: Attribute[Any], noun: str) -> None:
    """Save a new record on condition that its key is new: an id drawn twice answers 409, never overwrites."""
    try:
        record.save(condition=key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"The new {noun} drew an id that is taken; retry.") from None
        raise


_CAMPAIGNS = paging.Cursor.of(campaign_id=id_pattern("cmp"))
_BATCHES = paging.Cursor.of(batch_id=id_pattern("bat"))


def campaigns_page(brand_id: str, limit: int, cursor: str | None, render: Callable[[Campaign], dict]) -> dict:
    """One page of the brand's campaigns, newest first, as `{items, next_cursor}`."""
    results = Campaign.query(brand_id, **_CAMPAIGNS.newest_first(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, _CAMPAIGNS, lambda: results.last_evaluated_key)


def batches_page(campaign_id: str, limit: int, cursor: str | None, render: Callable[[Batch], dict]) -> dict:
    """One page of a campaign's batches, oldest first, as `{items, next_cursor}`."""
    results = Batch.by_campaign.query(
        campaign_id,
        limit=limit,
        page_size=limit,
        last_evaluated_key=_BATCHES.start_key(cursor, campaign_id=campaign_id),
    )
    return paging.page(results, limit, render, _BATCHES, lambda: results.last_evaluated_key)


def load_program(brand_id: str, *, consistent: bool = True) -> loyalty.Program:
    """The brand's loyalty program (plain points, no tiers, no expiry, when it has set none)."""
    record = program_record(brand_id, consistent=consistent)
    return program_of(record) if record is not None else loyalty.Program()


def program_record(brand_id: str, *, consistent: bool = True) -> LoyaltyProgram | None:
    """The brand's loyalty program record (a consistent read unless asked otherwise), or None while it has set none."""
    try:
        return LoyaltyProgram.get(brand_id, consistent_read=consistent)
    except LoyaltyProgram.DoesNotExist:
        return None


def save_program(program: LoyaltyProgram) -> bool:
    """Write the program; False if it was changed meanwhile (its version attribute makes the save conditional)."""
    try:
        program.save()
    except Exception as exc:
        if dynamo.condition_failed(exc):
            return False
        raise
    return True


def save_campaign(campaign: Campaign) -> bool:
    """Write the campaign; False if someone else changed it meanwhile (its version makes the save conditional)."""
    try:
        campaign.save()
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def brand_of_campaign(campaign_id: str) -> str | None:
    """The brand of a campaign that has a batch, from one item of the batches' by_campaign index; None if none."""
    if not is_id("cmp", campaign_id):
        return None
    return next((b.brand_id for b in Batch.by_campaign.query(campaign_id, limit=1)), None)


def campaign_batches(campaign_id: str) -> list[Batch]:
    """Every batch of a campaign."""
    return list(Batch.by_campaign.query(campaign_id))


def drawn_by_line(campaign: Campaign) -> dict[str, int]:
    """How many prizes the campaign's draws award from each draw line, by prize id (draw_store.add counts them)."""
    return {prize_id: int(n) for prize_id, n in (campaign.drawn.as_dict() if campaign.drawn else {}).items()}


def prizes_awarded(campaign_id: str, prize_ids: list[str]) -> dict[str, int]:
    """How many of each prize the campaign's scans have awarded, by prize id (a prize none won is left out)."""
    awarded: dict[str, int] = {}
    if prize_ids:
        for counter in Counter.batch_get([f"prize:{campaign_id}:{prize_id}" for prize_id in prize_ids]):
            awarded[counter.name.rsplit(":", 1)[1]] = int(counter.value or 0)
    return awarded


def program_of(record: LoyaltyProgram) -> loyalty.Program:
    return loyalty.Program(
        tiers=tuple(loyalty.Tier(t.name, int(t.min_points), int(t.multiplier_pct or 100)) for t in record.tiers or []),
        expire_months=int(record.expire_months) if record.expire_months else None,
        expire_from=record.expire_from,
        timezone=record.timezone,
    )


def batch_by_number(batch_number: int) -> Batch | None:
    """The batch a code belongs to (codes carry the batch number, not the id), or None."""
    return next(iter(Batch.by_number.query(batch_number, limit=1)), None)


def batch_status(batch_id: str) -> str:
    """A batch's status as last read; a batch that is gone counts as void."""
    try:
        return Batch.get(batch_id).status
    except Batch.DoesNotExist:
        return BatchStatus.VOID


_READ_ATTEMPTS = 5


def read_for_scan(
    batch_id: str, brand_id: str, campaign_id: str, *, campaign: bool, program: bool
) -> tuple[Batch | None, Campaign | None, LoyaltyProgram | None]:
    """The batch, and its campaign and the brand's loyalty program when asked for: consistent
    reads in one BatchGetItem, so a lookup waits for one round trip instead of three.

    None for a record that does not exist (or was not asked for). Keys DynamoDB leaves
    unprocessed (throttling) are asked for again after a backoff; ServiceBusy (503) when
    they still are after five tries.
    """
    consistent = {"ConsistentRead": True}
    keys: dict[str, dict] = {Batch.Meta.table_name: {"Keys": [{"batch_id": {"S": batch_id}}], **consistent}}
    if campaign:
        key = {"brand_id": {"S": brand_id}, "campaign_id": {"S": campaign_id}}
        keys[Campaign.Meta.table_name] = {"Keys": [key], **consistent}
    if program:
        keys[LoyaltyProgram.Meta.table_name] = {"Keys": [{"brand_id": {"S": brand_id}}], **consistent}
    found: dict[str, dict] = {}
    for _ in dynamo.attempts(_READ_ATTEMPTS, "Many scans at once; please try again."):
        # Raw for CPU: this read is on every scan whose lookup is due, and PynamoDB's
        # BatchGet reads one model's table per request where this reads three at once.
        answer = dynamo.client().batch_get_item(RequestItems=keys)
        for table, items in answer.get("Responses", {}).items():
            if items:
                found[table] = items[0]
        keys = answer.get("UnprocessedKeys") or {}
        if not keys:
            break
    return _record(Batch, found), _record(Campaign, found), _record(LoyaltyProgram, found)


def _record(model: type[_M], found: dict[str, dict]) -> _M | None:
    item = found.get(model.Meta.table_name)
    return model.from_raw_data(item) if item else None


@dataclass(frozen=True)
class ScanTarget:
    """A code's batch and campaign as every scan of it reads them: plain values, derived once per lookup.

    A scan reads some thirty of these; from PynamoDB's models each read is a descriptor
    call, and the budget's shard split and the prize lists would be worked out again.
    """

    batch: Batch
    campaign: Campaign
    batch_id: str
    batch_number: int
    brand_id: str
    sku: str
    quantity: int
    key_version: int
    allocations: tuple[tuple[str, int], ...]
    batch_status: str
    campaign_id: str
    campaign_status: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    points: int
    entries: int
    daily_cap: int | None
    participant_cap: int | None
    budget_points: int | None
    budget_shards: tuple[int, ...]
    prizes: Mapping[str, Prize]
    odds_prizes: tuple[Prize, ...]
    program: loyalty.Program

    @classmethod
    def of(cls, batch: Batch, campaign: Campaign, program: loyalty.Program | None = None) -> ScanTarget:
        rules = campaign.rules
        points, entries = claims.reward(rules, batch.sku)
        budget = int(rules.budget_points) if rules.budget_points else None
        prizes = list(campaign.prizes or [])
        return cls(
            batch=batch,
            campaign=campaign,
            batch_id=batch.batch_id,
            batch_number=int(batch.batch_number),
            brand_id=batch.brand_id,
            sku=batch.sku,
            quantity=int(batch.quantity),
            key_version=int(batch.key_version),
            allocations=tuple((a.prize_id, int(a.count)) for a in batch.allocations or []),
            batch_status=batch.status,
            campaign_id=campaign.campaign_id,
            campaign_status=campaign.status,
            starts_at=campaign.starts_at,
            ends_at=campaign.ends_at,
            timezone=campaign.timezone,
            points=points,
            entries=entries,
            daily_cap=int(rules.max_claims_per_participant_per_day or 0) or None,
            participant_cap=int(rules.max_claims_per_participant or 0) or None,
            budget_points=budget,
            budget_shards=tuple(claims.budget_shard_choices(budget, points)) if budget and points else (),
            prizes={prize.prize_id: prize for prize in prizes},
            odds_prizes=tuple(prize for prize in prizes if prize.odds_per_million),
            program=program or loyalty.Program(),
        )

    def refusal(self, now: datetime) -> claims.Refusal | None:
        """What refuses a genuine code of this batch at `now` before anything is written, if anything."""
        return claims.refusal_before_claim(self.batch_status, self.campaign_status, self.starts_at, self.ends_at, now)


LOOKUP_SECONDS = 5.0
"""How long a container keeps using a batch and campaign it found claimable before reading them again.

The bound on how long a voided batch, or a paused or ended campaign, can still be claimed
on a warm container (docs/operations.md). A refusal is never kept: an activation is seen
by the very next scan on every container.
"""


class LookupCache:
    """The scan lookup of one container: a code's batch and campaign, by batch number.

    Only a claimable answer is kept, for at most `seconds` from the moment it was asked
    for, and it is read with consistent reads so it is never older than that moment. No
    such batch, a batch not active or void, a campaign not running: read again next time.
    Which batch a number names, and its brand and campaign, never change, so that much is
    kept for the container's life. The batch, and the campaign and program when they are
    due, are read together (`read_for_scan`).
    """

    def __init__(self, seconds: float = LOOKUP_SECONDS, most: int = 4096) -> None:
        self.seconds = seconds
        self._most = most
        self._found: dict[int, tuple[float, ScanTarget]] = {}
        self._where: dict[int, tuple[str, str, str]] = {}  # batch id, brand id, campaign id
        # A campaign's many batches share its record: kept on its own, under the same
        # bound, so refreshing one batch does not read the campaign again. Without it
        # every container re-read the one campaign item on nearly every scan of a
        # national launch (benchmarks/sim_national.py: about 4,900 reads a second on it).
        self._campaigns: dict[tuple[str, str], tuple[float, Campaign]] = {}
        # A brand's loyalty program (tiers multiply a scan's points), under the same bound.
        self._programs: dict[str, tuple[float, loyalty.Program]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget everything (tests, and the local seed script after it changes records)."""
        with self._lock:
            self._found.clear()
            self._where.clear()
            self._campaigns.clear()
            self._programs.clear()

    def target(self, batch_number: int) -> ScanTarget | None:
        """The batch and campaign of a code's batch number, or None when either does not exist."""
        asked = clock.monotonic()
        hit = self._found.get(batch_number)
        if hit is not None and hit[0] > asked:
            return hit[1]
        found = self._read(batch_number)
        with self._lock:
            if found is not None and found.refusal(clock.now()) is None:
                self._keep(self._found, batch_number, (asked + self.seconds, found))
            else:
                self._found.pop(batch_number, None)
        return found

    def known(self, batch_number: int) -> ScanTarget | None:
        """The batch and campaign of a batch number this container has looked up, with no read (however
        old: only for naming the campaign a guess was aimed at, whose identity never changes)."""
        hit = self._found.get(batch_number)
        return hit[1] if hit is not None else None

    def _read(self, batch_number: int) -> ScanTarget | None:
        where = self._where.get(batch_number)
        if where is None:
            # The index is eventually consistent: it only tells which batch to read, and the
            # brand and campaign it belongs to, which never change.
            indexed = batch_by_number(batch_number)
            if indexed is None:
                return None
            where = (indexed.batch_id, indexed.brand_id, indexed.campaign_id)
            with self._lock:
                self._keep(self._where, batch_number, where)
        batch_id, brand_id, campaign_id = where
        asked = clock.monotonic()
        campaign = self._fresh(self._campaigns, (brand_id, campaign_id), asked)
        program = self._fresh(self._programs, brand_id, asked)
        batch, read_campaign, read_program = read_for_scan(
            batch_id, brand_id, campaign_id, campaign=campaign is None, program=program is None
        )
        if campaign is None:
            with self._lock:
                if read_campaign is not None and read_campaign.status == CampaignStatus.ACTIVE:
                    # As for targets: only what lets scans through is kept.
                    self._keep(self._campaigns, (brand_id, campaign_id), (asked + self.seconds, read_campaign))
                else:
                    self._campaigns.pop((brand_id, campaign_id), None)
            campaign = read_campaign
        if program is None:
            program = program_of(read_program) if read_program is not None else loyalty.Program()
            with self._lock:
                self._keep(self._programs, brand_id, (asked + self.seconds, program))
        if batch is None or campaign is None:
            return None
        return ScanTarget.of(batch, campaign, program)

    @staticmethod
    def _fresh(entries: dict, key: object, asked: float) -> Any:
        """The value kept under `key` when it was read within the bound of `asked`, else None."""
        hit = entries.get(key)
        return hit[1] if hit is not None and hit[0] > asked else None

    def _keep(self, entries: dict, key: object, value: object) -> None:
        entries.pop(key, None)
        entries[key] = value
        while len(entries) > self._most:  # the oldest entry goes first
            entries.pop(next(iter(entries)))


LOOKUPS = LookupCache()
"""This container's scan lookup (the landing page's too)."""


def scan_target(batch_number: int, lookups: LookupCache | None = None) -> ScanTarget | None:
    """A code's batch and campaign through this container's lookup (or `lookups`, a test's container)."""
    return (lookups or LOOKUPS).target(batch_number)


def known_target(batch_number: int, lookups: LookupCache | None = None) -> ScanTarget | None:
    """A batch number's batch and campaign if this container has them, with no read (LookupCache.known)."""
    return (lookups or LOOKUPS).known(batch_number)


def clear_cache() -> None:
    """Forget this container's cached lookups (tests, and after an operator change locally)."""
    LOOKUPS.clear()


def save_status_with_event(item: Campaign | Batch, target: str, noun: str, event: AuditEvent) -> None:
    """`save_status` with the change's audit `event` in the same transaction: the event (and the webhook
    events derived from it) exists if and only if the status moved."""
    model = type(item)
    now = clock.now()

    def items(tx: TransactWrite) -> None:
        tx.update(
            item,
            actions=[model.status.set(target), model.updated_at.set(now)],
            condition=model.status == item.status,
        )
        tx.save(event, condition=AuditEvent.event_key.does_not_exist())

    if not dynamo.write_together(items, f"Many changes to this {noun} at once; please try again."):
        raise Conflict(f"The {noun} was changed by someone else; read it again and retry.")
    item.status, item.updated_at = target, now


def save_status(item: Campaign | Batch, target: str, noun: str) -> None:
    """Write `target` as the status of `item`, on condition it is still the status read.

    Of two racing changes one wins and the other gets 409 instead of silently undoing it.
    """
    model = type(item)
    try:
        item.update(
            actions=[model.status.set(target), model.updated_at.set(clock.now())],
            condition=model.status == item.status,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict(f"The {noun} was changed by someone else; read it again and retry.") from None
        raise
