"""The lucky draw's store: draws, their snapshot pages, the participant reads of a freeze, and every conditional move."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo
from chalicelib.adapters import sms_ledger as sms_ledger_store
from chalicelib.adapters.models import (
    AuditEvent,
    Campaign,
    CodeState,
    Counter,
    Draw,
    DrawPage,
    DrawWinner,
    Participant,
    ShopperAccount,
)
from chalicelib.adapters.paging import Cursor
from chalicelib.adapters.records import load_owned
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.ids import id_pattern, is_id, split_points
from chalicelib.domain.lifecycle import CodeStatus, DrawStatus
from chalicelib.domain.validation import NOT_A_CURSOR

__all__ = [
    "READ_RANGES",
    "ParticipantPage",
    "Participation",
    "Published",
    "Winner",
    "DrawnLine",
    "LateLookup",
    "load",
    "reload",
    "add",
    "campaign_page",
    "of_campaign",
    "published",
    "of_campaigns",
    "list_every_draw",
    "due_draws",
    "participations",
    "entries_by_cut",
    "participants_at",
    "claims_until",
    "write_pages",
    "read_pages",
    "snapshot_page",
    "masked_phones",
    "sealed_phone",
    "take_lease",
    "give_back_lease",
    "publish",
    "record_winners",
    "set_beacon",
    "set_aside",
    "sms_ledger",
    "claim_sms",
    "defer_sms",
    "mark_sms",
    "retry_sms_at",
    "mark_notified",
]

READ_RANGES = 8
"""Key ranges of a campaign's participants (by shopper id) that a freeze reads side by side, and
the most claim lookups of late participants it makes at once: each waits on DynamoDB, so eight
take about the time of one (benchmarks/bench_draws.py)."""
_DRAWS = "draws:"  # + a campaign id: the counter that bounds its draws and lists their ids
_ATTEMPTS = 6
_BUSY = "Many changes to this draw at once; please try again."
_DUE = "due"  # the one shard of the by_due index: every draw not yet drawn (or set aside) is on it

_ID = "drw"
_CLAIMED = CodeStatus.CLAIMED.value  # a CodeState that is somebody's claim (not a void)
_LIST_CURSOR = Cursor.of(draw_id=id_pattern(_ID))
_PAGE_CURSOR = Cursor.of(page=r"^[0-9]{1,7}$")
_P_SHOPPER, _P_ENTRIES, _P_LAST = (
    Participant.shopper_id.attr_name,
    Participant.entries.attr_name,
    Participant.last_claim_at.attr_name,
)
_PROJECTED = {"#s": _P_SHOPPER, "#e": _P_ENTRIES, "#l": _P_LAST}
_C_ENTRIES = CodeState.entries.attr_name
_CLAIM_NAMES = {
    "#s": CodeState.shopper_id.attr_name,
    "#t": CodeState.changed_at.attr_name,
    "#c": CodeState.campaign_id.attr_name,
    "#st": CodeState.state.attr_name,
    "#e": _C_ENTRIES,
}

LateLookup = Callable[[list[str]], list[int]]


@dataclass
class ParticipantPage:
    """One page of a campaign's participants, split at a cut: (shopper id, entries) of those whose last
    claim is at or before it, and the shopper ids of those who claimed after it."""

    counted: list[tuple[str, int]]
    late: list[str]


@dataclass(frozen=True)
class Participation:
    """A shopper's standing in one campaign: entries now, and when they last claimed."""

    campaign_id: str
    entries: int
    last_claim_at: datetime | None


@dataclass(frozen=True)
class Published:
    """What a freeze publishes on its draw."""

    sha256: str
    pages: int
    size: int
    entries_total: int
    participants: int
    late_participants: int
    at: datetime


@dataclass(frozen=True)
class Winner:
    """One winner (or alternate) as the draw records them."""

    rank: int
    participant_id: str
    shopper_id: str
    entries: int
    phone_masked: str


# --- draws ------------------------------------------------------------------------------


def load(brand_id: str, draw_id: str) -> Draw:
    """The brand's draw, or NotFound."""
    return load_owned(Draw, brand_id, draw_id, _ID, "draw")


def reload(draw_id: str) -> Draw:
    """A draw as it is now (a consistent read)."""
    return Draw.get(draw_id, consistent_read=True)


def _refused(exc: TransactWriteError) -> list[bool]:
    """Which items of a cancelled transaction failed their condition, in the order TransactWrite sends
    them: its condition checks, deletes, saves, then updates, each in the order they were added."""
    return [reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons or []]


@dataclass(frozen=True)
class DrawnLine:
    """The prize line a new draw awards from, as its campaign was read: where it is in the campaign's
    prizes, how many it holds, the draw's winners, and whether the campaign counts drawn prizes yet."""

    index: int
    prize_id: str
    quantity: int
    winners: int
    counted: bool


def _drawn_from(line: DrawnLine) -> tuple[list[Action], Condition]:
    """The campaign's part of a new draw: its line still where and as large as it was read, and its drawn
    count moved on by the winners only while it stays within the line (a constant bound: no read-then-write)."""
    at: Any = Campaign.prizes[line.index]  # a Path whose map's attributes PynamoDB resolves when asked
    condition = (at.prize_id == line.prize_id) & (at.quantity == line.quantity)
    count = Campaign.drawn[line.prize_id]
    if line.counted:
        condition &= count.does_not_exist() | (count <= line.quantity - line.winners)
        return [count.add(line.winners)], condition
    return [Campaign.drawn.set({line.prize_id: line.winners})], condition & Campaign.drawn.does_not_exist()


def add(draw: Draw, due: datetime, most: int, event: AuditEvent, campaign: Campaign, line: DrawnLine) -> bool:
    """Save a new draw, on the runner's list from `due` on, with its audit event and its prize line's count
    of prizes drawn (on the campaign item), in one transaction. False, writing nothing, when the line was
    changed or filled since the campaign was read: the caller reads it again and checks anew. The
    campaign's version moves on, so a change of it read before this draw is refused. 409 naming
    `campaign_id` when its campaign has `most` draws already (none is ever deleted)."""
    draw.due_shard = _DUE
    draw.due_at = Draw.draw_at.serialize(due)  # the index's sort key: the instant as stored, compared as text
    listed = Counter(_DRAWS + draw.campaign_id)
    for _ in dynamo.attempts(_ATTEMPTS, _BUSY):
        try:
            with TransactWrite(
                connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
            ) as tx:
                tx.save(draw, condition=Draw.draw_id.does_not_exist())
                tx.update(
                    listed,
                    actions=[Counter.value.add(1), Counter.members.add({draw.draw_id})],
                    condition=Counter.value.does_not_exist() | (Counter.value < most),
                )
                tx.save(event, condition=AuditEvent.event_key.does_not_exist())
                actions, condition = _drawn_from(line)
                # No condition on the version (draws of other lines need not wait), but it moves on.
                tx.update(campaign, actions=actions, condition=condition, add_version_condition=False)
        except TransactWriteError as exc:
            if dynamo.transient(exc):
                continue
            refused = _refused(exc)  # the draw, the event, the counter, the campaign
            if refused[3:4] == [True]:
                return False
            if refused[2:3] == [True]:
                raise Conflict(
                    f"campaign_id: This campaign has its {most} draws already; draws are never deleted, "
                    "so no more can be scheduled.",
                    field="campaign_id",
                ) from None
            if refused[:1] == [True]:
                raise Conflict("The new draw drew an id that is taken; retry.") from None
            raise
        return True
    return False  # never reached: attempts raises ServiceBusy after the last try


def campaign_page(brand_id: str, campaign_id: str, limit: int, cursor: str | None) -> tuple[list[Draw], str | None]:
    """One page of a campaign's draws, newest first, and the cursor of the next."""
    results = Draw.by_campaign.query(campaign_id, **_LIST_CURSOR.newest_first(cursor, limit, campaign_id=campaign_id))
    draws = [d for d in results if d.brand_id == brand_id]
    return draws, _LIST_CURSOR.after(results.last_evaluated_key, len(draws), limit)


def of_campaign(campaign_id: str) -> list[Draw]:
    """Every draw of a campaign, in scheduling order, whatever its brand (the caller checks it): one Query
    of the by_campaign index, one more per MB of draws (at most 10 draws of at most 400 KB each)."""
    return list(Draw.by_campaign.query(campaign_id))


def published(draw_id: str) -> Draw:
    """A draw by its id alone, for the public results (every scheduled draw is public), or NotFound."""
    if not is_id(_ID, draw_id):
        raise NotFound("No such draw.")
    try:
        return Draw.get(draw_id)
    except Draw.DoesNotExist:
        raise NotFound("No such draw.") from None


def of_campaigns(campaign_ids: Sequence[str]) -> list[Draw]:
    """Every draw of these campaigns: one BatchGet of their draw lists, one of the draws (per 100 of each)."""
    draw_ids: set[str] = set()
    for listed in Counter.batch_get([_DRAWS + c for c in dict.fromkeys(campaign_ids)]):
        draw_ids.update(listed.members or ())
    return list(Draw.batch_get(sorted(draw_ids))) if draw_ids else []


def due_draws(now: datetime) -> Iterator[str]:
    """The ids of the draws due at `now`: not yet drawn or set aside, or drawn with a winner's SMS to try."""
    for key in Draw.by_due.query(_DUE, Draw.due_at <= Draw.draw_at.serialize(now)):
        yield key.draw_id


def participations(shopper_id: str) -> Iterator[Participation]:
    """Every campaign a shopper takes part in."""
    for participant in Participant.by_shopper.query(shopper_id):
        yield Participation(participant.campaign_id, int(participant.entries), participant.last_claim_at)


def list_every_draw() -> int:
    """Put every draw on its campaign's draw list (draws scheduled before the lists existed), once
    each: a draw already listed is left as it is. Returns how many were added. A Scan: run it once."""
    added = 0
    for draw in Draw.scan(attributes_to_get=[Draw.draw_id.attr_name, Draw.campaign_id.attr_name]):
        listed = Counter(_DRAWS + draw.campaign_id)
        try:
            listed.update(
                actions=[Counter.value.add(1), Counter.members.add({draw.draw_id})],
                condition=~Counter.members.contains(draw.draw_id),
            )
        except UpdateError as exc:
            if not dynamo.condition_failed(exc):
                raise
            continue
        added += 1
    return added


def entries_by_cut(shopper_id: str, cuts: Sequence[tuple[str, datetime]]) -> dict[tuple[str, datetime], int]:
    """The entries a shopper earned in each (campaign, cut) at or before that cut: one Query of their
    claims up to the latest cut (the claims' by-shopper index), however many draws ask."""
    if not cuts:
        return {}
    earned = dict.fromkeys(cuts, 0)
    campaigns = {campaign_id for campaign_id, _ in cuts}
    claims = CodeState.by_shopper.query(
        shopper_id,
        CodeState.changed_at <= max(cut for _, cut in cuts),
        filter_condition=(CodeState.state == _CLAIMED) & CodeState.campaign_id.is_in(*campaigns),
        attributes_to_get=[CodeState.campaign_id.attr_name, CodeState.changed_at.attr_name, _C_ENTRIES],
    )
    for claim in claims:
        for campaign_id, cut in cuts:
            if claim.campaign_id == campaign_id and claim.changed_at <= cut:
                earned[campaign_id, cut] += int(claim.entries or 0)
    return earned


# --- the participants a freeze reads --------------------------------------------------


def participants_at(
    campaign_id: str, cut: datetime, stats: dict | None = None, ranges: int = READ_RANGES
) -> Iterator[ParticipantPage]:
    """A campaign's participants split at `cut`, one Query page (up to 1 MB) at a time.

    The shopper ids are cut into `ranges` key ranges (domain/ids.split_points), read side by
    side: every participant comes exactly once, pages in no particular order. Each range but
    the last ends at its cut inclusive (BETWEEN) and drops a participant whose id is the cut
    itself, which the next range begins with. Only the three attributes the cut needs are
    returned; `stats["items_read"]` and `stats["pages"]` count what was read.
    """
    stats = stats if stats is not None else {}
    cut_text = Participant.last_claim_at.serialize(cut)
    points = split_points("shp", ranges)
    bounds = list(zip([None, *points], [*points, None], strict=True))
    readers = [functools.partial(_participants_page, campaign_id, low, high) for low, high in bounds]
    for index, page in dynamo.pages_side_by_side(readers):
        stats["pages"] = stats.get("pages", 0) + 1
        stats["items_read"] = stats.get("items_read", 0) + page.get("ScannedCount", len(page["Items"]))
        items = page["Items"]
        high = bounds[index][1]
        if high is not None and items and items[-1][_P_SHOPPER]["S"] == high:
            items = items[:-1]  # the next range's first participant
        yield _split(items, cut_text)


def _split(items: list[dict[str, Any]], cut_text: str) -> ParticipantPage:
    # The stored instants compare as text (one fixed format), so none is parsed.
    counted: list[tuple[str, int]] = []
    late: list[str] = []
    for item in items:
        entries, last = item.get(_P_ENTRIES), item.get(_P_LAST)
        if last is None or entries is None:
            continue
        if last["S"] > cut_text:
            late.append(item[_P_SHOPPER]["S"])
        else:
            counted.append((item[_P_SHOPPER]["S"], int(entries["N"])))
    return ParticipantPage(counted, late)


def _participants_page(campaign_id: str, low: str | None, high: str | None, start: dict | None) -> dict[str, Any]:
    """One Query page of the campaign's participants with shopper ids from `low` to `high` (inclusive)."""
    # The raw client: a million participants parsed into models would cost seconds of CPU, and
    # pages_side_by_side pages through botocore's answers itself.
    values: dict[str, dict[str, str]] = {":c": {"S": campaign_id}}
    condition = "#c = :c"
    if low is not None:
        values[":lo"] = {"S": low}
    if high is not None:
        values[":hi"] = {"S": high}
    if low is not None and high is not None:
        condition += " AND #s BETWEEN :lo AND :hi"
    elif high is not None:
        condition += " AND #s <= :hi"
    elif low is not None:
        condition += " AND #s >= :lo"
    kwargs: dict[str, Any] = {
        "TableName": Participant.Meta.table_name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#c": Participant.campaign_id.attr_name, **_PROJECTED},
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "#s, #e, #l",
        "ConsistentRead": True,
    }
    if start is not None:
        kwargs["ExclusiveStartKey"] = start
    return dynamo.client().query(**kwargs)


def claims_until(campaign_id: str, cut: datetime, stats: dict | None = None) -> LateLookup:
    """Entries each of some shoppers earned in the campaign at or before `cut`, summed from their
    claim records (the claims' by-shopper index); READ_RANGES shoppers are looked up at a time."""
    stats = stats if stats is not None else {}
    counted = threading.Lock()
    values = {
        ":cut": {"S": CodeState.changed_at.serialize(cut)},
        ":c": {"S": campaign_id},
        ":claimed": {"S": _CLAIMED},
    }

    def lookup(shopper_id: str) -> int:
        # The raw client: PynamoDB's query and models cost a third more CPU a lookup (0.65 ms of
        # 2.2 ms measured), and a freeze of 10^6 participants makes some 10^4 of them.
        kwargs: dict[str, Any] = {
            "TableName": CodeState.Meta.table_name,
            "IndexName": CodeState.by_shopper.Meta.index_name,
            "KeyConditionExpression": "#s = :s AND #t <= :cut",
            "FilterExpression": "#c = :c AND #st = :claimed",
            "ExpressionAttributeNames": _CLAIM_NAMES,
            "ExpressionAttributeValues": {":s": {"S": shopper_id}, **values},
            "ProjectionExpression": "#e",
        }
        total = read = 0
        while True:
            page = dynamo.client().query(**kwargs)
            read += page.get("ScannedCount", len(page["Items"]))
            total += sum(int(item[_C_ENTRIES]["N"]) for item in page["Items"] if _C_ENTRIES in item)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        with counted:
            stats["late_participants"] = stats.get("late_participants", 0) + 1
            stats["items_read"] = stats.get("items_read", 0) + read
        return total

    def lookup_all(shopper_ids: list[str]) -> list[int]:
        if len(shopper_ids) <= 1:
            return [lookup(shopper_id) for shopper_id in shopper_ids]
        with ThreadPoolExecutor(min(READ_RANGES, len(shopper_ids))) as pool:
            return list(pool.map(lookup, shopper_ids))

    return lookup_all


# --- snapshot pages ---------------------------------------------------------------------


def write_pages(draw_id: str, pages: Sequence[tuple[bytes, bytes, int]]) -> None:
    """Write a snapshot's pages (CSV bytes, the shopper ids by line, the line count) under its draw."""
    with DrawPage.batch_write() as batch:
        for number, (body, shoppers, rows) in enumerate(pages):
            batch.save(DrawPage(draw_id, number, body=body, shoppers=shoppers, rows=rows))


def read_pages(draw_id: str) -> tuple[bytes, list[str]]:
    """A frozen snapshot read back: its bytes, and the shopper ids row by row."""
    bodies, shoppers = [], []
    for page in DrawPage.query(draw_id, consistent_read=True):
        bodies.append(bytes(page.body))
        if int(page.rows):
            shoppers.extend(bytes(page.shoppers).decode("ascii").split("\n"))
    return b"".join(bodies), shoppers


def snapshot_page(draw_id: str, pages: int, cursor: str | None) -> tuple[bytes, str | None]:
    """The snapshot page a cursor names (None: the first) of a draw's `pages`, and the next page's cursor."""
    number = int(_PAGE_CURSOR.values(cursor)[0]) if cursor else 0
    if number >= pages:
        raise InvalidInput(NOT_A_CURSOR, field="cursor")
    page = DrawPage.get(draw_id, number, consistent_read=True)
    more = number + 1 < pages
    return bytes(page.body), _PAGE_CURSOR.after({"page": str(number + 1)}, int(more), 1)


# --- the winners' accounts ----------------------------------------------------------------


def masked_phones(shopper_ids: set[str]) -> dict[str, str]:
    """The masked phone of each of these shoppers that has one."""
    return {a.shopper_id: a.phone_masked for a in ShopperAccount.batch_get(shopper_ids) if a.phone_masked}


def sealed_phone(shopper_id: str) -> str | None:
    """A shopper's sealed phone number, if they have an account with one."""
    if not shopper_id:
        return None
    try:
        return ShopperAccount.get(shopper_id).phone_sealed or None
    except ShopperAccount.DoesNotExist:
        return None


# --- moving a draw along --------------------------------------------------------------


def _update(draw_id: str, actions: list[Action], condition: Condition) -> bool:
    """One conditional update of the draw item; False when its condition did not hold."""
    return sms_ledger_store.update_if(Draw(draw_id), actions, condition)


def _moved(draw_id: str, actions: list[Action], condition: Condition, event: AuditEvent) -> bool:
    """One conditional update of the draw and its audit event, in one transaction: both are written or
    neither (a crash between two writes can leave no move unrecorded); False when the condition did not hold."""
    for _ in dynamo.attempts(_ATTEMPTS, _BUSY):
        try:
            with TransactWrite(
                connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
            ) as tx:
                tx.update(Draw(draw_id), actions=actions, condition=condition)
                tx.save(event, condition=AuditEvent.event_key.does_not_exist())
        except TransactWriteError as exc:
            if dynamo.transient(exc):
                continue
            if _refused(exc)[1:2] == [True]:  # the event, then the draw
                return False
            raise
        return True
    return False  # never reached: attempts raises ServiceBusy after the last try


def take_lease(draw_id: str, runner: str, until: int, now: int) -> bool:
    """Move a scheduled draw (or one whose freezing lease lapsed before `now`) to freezing, held by `runner`."""
    return _update(
        draw_id,
        [Draw.status.set(DrawStatus.FREEZING), Draw.lease_owner.set(runner), Draw.lease_until.set(until)],
        (Draw.status == DrawStatus.SCHEDULED) | ((Draw.status == DrawStatus.FREEZING) & (Draw.lease_until < now)),
    )


def give_back_lease(draw_id: str, runner: str) -> None:
    """Put a draw `runner` was freezing back to scheduled (it could not be frozen): as if never leased."""
    _update(
        draw_id,
        [Draw.status.set(DrawStatus.SCHEDULED), Draw.lease_owner.remove(), Draw.lease_until.remove()],
        (Draw.status == DrawStatus.FREEZING) & (Draw.lease_owner == runner),
    )


def publish(draw_id: str, runner: str, snapshot: Published, event: AuditEvent) -> bool:
    """Publish the snapshot and move the draw to frozen, with `event`, if `runner` still holds its lease."""
    return _moved(
        draw_id,
        [
            Draw.status.set(DrawStatus.FROZEN),
            Draw.snapshot_sha256.set(snapshot.sha256),
            Draw.snapshot_pages.set(snapshot.pages),
            Draw.snapshot_bytes.set(snapshot.size),
            Draw.entries_total.set(snapshot.entries_total),
            Draw.participants.set(snapshot.participants),
            Draw.late_claims_read.set(snapshot.late_participants),
            Draw.frozen_at.set(snapshot.at),
            Draw.lease_owner.remove(),
            Draw.lease_until.remove(),
        ],
        (Draw.status == DrawStatus.FREEZING) & (Draw.lease_owner == runner),
        event,
    )


def _rows(winners: Sequence[Winner]) -> list[DrawWinner]:
    return [
        DrawWinner(
            rank=w.rank,
            participant_id=w.participant_id,
            shopper_id=w.shopper_id,
            entries=w.entries,
            phone_masked=w.phone_masked,
        )
        for w in winners
    ]


def record_winners(
    draw_id: str,
    winners: Sequence[Winner],
    alternates: Sequence[Winner],
    seed: str,
    at: datetime,
    beacon: str | None,
    event: AuditEvent,
) -> bool:
    """Record the winners and alternates of a frozen draw (with `beacon`, if it has one) and reveal its seed,
    with `event`, in one transaction."""
    condition = Draw.status == DrawStatus.FROZEN
    if beacon is not None:
        condition &= Draw.beacon == beacon
    return _moved(
        draw_id,
        [
            Draw.status.set(DrawStatus.DRAWN),
            Draw.winners.set(_rows(winners)),
            Draw.alternates.set(_rows(alternates)),
            Draw.seed.set(seed),
            Draw.drawn_at.set(at),
            Draw.sms_claims.set({}),
            Draw.sms_sent.set({}),
            Draw.sms_tries.set({}),
            # Left on the runner's list until the winners' SMS are done (mark_notified), so a
            # run that stops right after this write leaves them to the next minute's run.
            Draw.due_at.set(_due_text(at)),
        ],
        condition,
        event,
    )


def set_beacon(draw_id: str, value: str, at: datetime, event: AuditEvent) -> bool:
    """Set the beacon of a frozen draw that has none yet, with `event`, in one transaction."""
    return _moved(
        draw_id,
        [Draw.beacon.set(value), Draw.beacon_at.set(at)],
        (Draw.status == DrawStatus.FROZEN) & Draw.beacon.does_not_exist(),
        event,
    )


def set_aside(draw_id: str, field: str | None, reason: str, at: datetime) -> bool:
    """Say on a scheduled draw why it cannot be drawn, and take it off the due list."""
    return _update(
        draw_id,
        [
            Draw.blocked_field.set(field or ""),
            Draw.blocked_reason.set(reason),
            Draw.blocked_at.set(at),
            Draw.due_shard.remove(),
            Draw.due_at.remove(),
        ],
        Draw.status == DrawStatus.SCHEDULED,
    )


def _due_text(at: datetime) -> str:
    return Draw.draw_at.serialize(at)  # by_due's sort key, as add() writes it


def sms_ledger(draw_id: str, rank: str) -> sms_ledger_store.Ledger:
    """Where a winner's SMS is kept: `sms_claims`, `sms_tries` and `sms_sent` of the draw, by rank."""
    return sms_ledger_store.Ledger(
        functools.partial(Draw, draw_id), Draw.sms_claims, Draw.sms_tries, Draw.sms_sent, rank
    )


def claim_sms(draw_id: str, rank: str, until: int, now: int) -> int:
    """Hold a winner's SMS until `until` and count a try (sms_ledger.claim): the tries, 0 when not claimed."""
    return sms_ledger_store.claim(sms_ledger(draw_id, rank), until, now)


def defer_sms(draw_id: str, rank: str, held: int, next_try: int, *, refund: bool = False) -> None:
    """Let go of a winner's SMS this sender holds (till `held`) until `next_try` (sms_ledger.defer)."""
    sms_ledger_store.defer(sms_ledger(draw_id, rank), held, next_try, refund=refund)


def mark_sms(draw_id: str, rank: str, outcome: str) -> None:
    """Record how a winner's SMS ended, once (sms_ledger.mark)."""
    sms_ledger_store.mark(sms_ledger(draw_id, rank), outcome)


def retry_sms_at(draw_id: str, at: datetime) -> None:
    """Put a drawn draw whose winners' SMS are not all done on the runner's list at `at`."""
    _update(draw_id, [Draw.due_shard.set(_DUE), Draw.due_at.set(_due_text(at))], Draw.notified_at.does_not_exist())


def mark_notified(draw_id: str, at: datetime) -> None:
    """Record that every winner's SMS is done, once, and take the draw off the runner's list."""
    _update(
        draw_id,
        [Draw.notified_at.set(at), Draw.due_shard.remove(), Draw.due_at.remove()],
        Draw.notified_at.does_not_exist(),
    )
