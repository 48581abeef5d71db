"""Lucky draws: schedule with a seed commitment, freeze the entries, mix a beacon, draw, reveal, tell the winners.

The state of a draw lives on its item (adapters/models.Draw) and moves by conditional
updates only, so any number of runners (the every-minute schedule, POST /run, retries,
concurrent Lambdas) write one snapshot, one result and one SMS per winner:

    scheduled --lease--> freezing --publish--> frozen --(beacon, if announced)--> drawn

* freeze: the runner that takes the lease (status scheduled, or freezing with a lapsed
  lease) writes the snapshot pages and publishes their SHA-256 and entry total, on
  condition that it still holds the lease. The snapshot is a pure function of the claims
  made up to `entries_until`, so a runner that takes over a lapsed lease writes the very
  same pages.
* draw: from `frozen` (with the beacon, when one was announced) the winners follow from
  the snapshot, the seed and the beacon alone (domain/draws.py); the write that records
  them is conditional on `frozen` and reveals the seed in the same update.
* notify: each winner's SMS is claimed (a lease per rank), sent, then marked sent.

The cut (docs/draws.md, "Which entries count"): a participant whose last claim is at or
before `entries_until` counts with their balance; one who claimed after it counts with
the sum of their claims of this campaign made at or before it, read from the claims'
by-shopper index. A draw is not frozen before `entries_until` + SETTLE, so every claim
stamped at or before the cut has committed and reached that index.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from botocore.exceptions import ClientError
from pydantic import Field

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import CodeState, Draw, DrawPage, Participant, ShopperAccount
from chalicelib.adapters.records import create, load_campaign, load_owned
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.adapters.sms import SmsNotSent, sender_for
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain import draws as algorithm
from chalicelib.domain.errors import Conflict, InvalidInput, ServiceBusy, Undrawable
from chalicelib.domain.ids import CROCKFORD, id_pattern, new_id, split_points
from chalicelib.domain.phones import seal_text, unseal_phone, unseal_text
from chalicelib.domain.schemas import Instant, Label, Schema, validate
from chalicelib.domain.validation import decode_cursor, encode_cursor, format_instant, parse_limit, refuse_fields
from chalicelib.logs import log_event
from chalicelib.services import audit

__all__ = [
    "SETTLE",
    "MAX_WINNERS",
    "PAGE_ROWS",
    "RUNNER",
    "create_draw",
    "list_draws",
    "get_draw",
    "run_draw",
    "post_beacon",
    "entries_csv",
    "run_due",
    "my_draws",
    "participant_pages",
    "claims_until",
    "READ_RANGES",
    "build_snapshot",
    "write_pages",
    "read_pages",
    "Snapshot",
]

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=2)
"""How long after `entries_until` a draw waits before freezing: a claim stamped at the cut has
committed (a request lives at most 29 s behind API Gateway) and reached the claims' index."""
MAX_WINNERS = 1000
MAX_AFTER_CAMPAIGN = timedelta(days=90)
PAGE_ROWS = 4000
"""Snapshot lines per DynamoDB page: about 140 KB of CSV and 125 KB of shopper ids, under the 400 KB item limit."""
LEASE_SECONDS = 300
SMS_LEASE_SECONDS = 120
WAIT_SECONDS = 25.0
"""How long a run waits for another runner that holds the draw's lease before answering 503."""
RUNNER = "draw_runner"
_DUE = "due"
_SEED_PURPOSE = "draw-seed"
_ID = "drw"
_CURSOR = re.compile(r"^[0-9]{1,7}$")
_ID_RE = re.compile(id_pattern(_ID))
_SERVER_OWNED = (
    "draw_id",
    "status",
    "seed",
    "seed_commitment",
    "snapshot_sha256",
    "beacon",
    "algorithm",
    "campaign_id",
    "brand_id",
    "created_at",
    "created_by",
)


class DrawIn(Schema):
    name: Label
    prize: Label
    winners: Annotated[int, Field(ge=1, le=MAX_WINNERS)]
    draw_at: Instant
    entries_until: Instant
    one_win_per_participant: bool = True
    # Said in advance: which public value will be mixed in (a lottery's result of a given day).
    beacon_source: Label | None = None


class BeaconIn(Schema):
    value: Annotated[str, Field(min_length=1, max_length=500)]


# --- reading and showing --------------------------------------------------------------


def _load(brand_id: str, draw_id: str) -> Draw:
    return load_owned(Draw, brand_id, draw_id, _ID, "draw")


def _reload(draw_id: str) -> Draw:
    return Draw.get(draw_id, consistent_read=True)


def due_at(draw_at: datetime, entries_until: datetime) -> datetime:
    """When a draw may run: its draw_at, but never before its cut has settled."""
    return max(draw_at, entries_until + SETTLE)


def _view(draw: Draw) -> dict:
    drawn = draw.status == "drawn"
    sent = draw.sms_sent.as_dict() if draw.sms_sent else {}
    return {
        "draw_id": draw.draw_id,
        "campaign_id": draw.campaign_id,
        "name": draw.name,
        "prize": draw.prize,
        "winners_wanted": int(draw.winners_wanted),
        "draw_at": format_instant(draw.draw_at),
        "entries_until": format_instant(draw.entries_until),
        "due_at": format_instant(due_at(draw.draw_at, draw.entries_until)),
        "one_win_per_participant": bool(draw.one_win_per_participant),
        "beacon_source": draw.beacon_source,
        "algorithm": draw.algorithm,
        "status": draw.status,
        "seed_commitment": draw.seed_commitment,
        "snapshot_sha256": draw.snapshot_sha256 if draw.status in ("frozen", "drawn") else None,
        "entries_total": int(draw.entries_total) if draw.status in ("frozen", "drawn") else None,
        "participants": int(draw.participants) if draw.status in ("frozen", "drawn") else None,
        "frozen_at": format_instant(draw.frozen_at) if draw.frozen_at and draw.status in ("frozen", "drawn") else None,
        "beacon": draw.beacon,
        # The seed exists in clear only once the winners are written, by that same write.
        "seed": draw.seed if drawn else None,
        "drawn_at": format_instant(draw.drawn_at) if drawn and draw.drawn_at else None,
        "winners": [
            {
                "rank": int(w.rank),
                "participant_id": w.participant_id,
                "entries": int(w.entries),
                "phone": w.phone_masked or "",
                "notified": str(int(w.rank)) in sent,
            }
            for w in (draw.winners or [])
        ]
        if drawn
        else [],
        "notified_at": format_instant(draw.notified_at) if draw.notified_at else None,
        # Set when the runner found, at the due time, that the entries cannot give the winners.
        "blocked": {"field": draw.blocked_field, "message": draw.blocked_reason, "at": format_instant(draw.blocked_at)}
        if draw.blocked_at and draw.status == "scheduled"
        else None,
        "created_at": format_instant(draw.created_at),
    }


def get_draw(brand_id: str, draw_id: str) -> dict:
    return _view(_load(brand_id, draw_id))


def list_draws(brand_id: str, campaign_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of a campaign's draws, newest first."""
    load_campaign(brand_id, campaign_id)
    page_size = parse_limit(limit)
    start_key = None
    if cursor:
        last = decode_cursor(cursor, _ID_RE)
        start_key = {"draw_id": {"S": last}, "campaign_id": {"S": campaign_id}}
    results = Draw.by_campaign.query(
        campaign_id, scan_index_forward=False, limit=page_size, page_size=page_size, last_evaluated_key=start_key
    )
    items = [_view(d) for d in results if d.brand_id == brand_id]
    last_key = results.last_evaluated_key
    next_cursor = encode_cursor(last_key["draw_id"]["S"]) if last_key and len(items) == page_size else None
    return {"items": items, "next_cursor": next_cursor}


# --- scheduling -----------------------------------------------------------------------


def _grants_entries(campaign) -> bool:
    rules = campaign.rules
    if int(rules.entries_per_scan or 0) > 0:
        return True
    overrides = rules.sku_overrides.as_dict() if rules.sku_overrides else {}
    return any(int((own or {}).get("entries_per_scan") or 0) > 0 for own in overrides.values())


def create_draw(brand_id: str, campaign_id: str, actor: str, body: dict) -> dict:
    """Schedule a draw of a campaign, committing now to a secret seed made here."""
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    values = validate(DrawIn, body)
    campaign = load_campaign(brand_id, campaign_id)
    now = clock.now()
    if values.draw_at <= now:
        raise InvalidInput("draw_at: Must be in the future.", field="draw_at")
    if values.draw_at > campaign.ends_at + MAX_AFTER_CAMPAIGN:
        raise InvalidInput("draw_at: Must be at most 90 days after the campaign's ends_at.", field="draw_at")
    if values.entries_until > values.draw_at:
        raise InvalidInput("entries_until: Must not be after draw_at.", field="entries_until")
    if values.entries_until <= campaign.starts_at:
        raise InvalidInput("entries_until: Must be after the campaign's starts_at.", field="entries_until")
    if not _grants_entries(campaign):
        raise InvalidInput(
            "campaign_id: This campaign's rules grant no lucky-draw entries (rules.entries_per_scan is 0).",
            field="campaign_id",
        )
    draw_id = new_id(_ID)
    seed = secrets.token_bytes(32)
    draw = Draw(
        draw_id,
        brand_id=brand_id,
        campaign_id=campaign_id,
        name=values.name,
        prize=values.prize,
        winners_wanted=values.winners,
        draw_at=values.draw_at,
        entries_until=values.entries_until,
        one_win_per_participant=values.one_win_per_participant,
        beacon_source=values.beacon_source,
        algorithm=algorithm.ALGORITHM,
        seed_commitment=algorithm.commitment(seed),
        seed_sealed=seal_text(seed.hex(), get_phone_hash_pepper(), f"{_SEED_PURPOSE}:{draw_id}"),
        status="scheduled",
        due_shard=_DUE,
        due_at=Draw.draw_at.serialize(due_at(values.draw_at, values.entries_until)),
        created_at=now,
        created_by=actor,
    )
    create(draw, Draw.draw_id, "draw")
    view = _view(draw)
    audit.record(
        brand_id,
        actor,
        "draw_scheduled",
        draw_id,
        {
            k: view[k]
            for k in ("campaign_id", "name", "prize", "winners_wanted", "draw_at", "entries_until", "seed_commitment")
        },
    )
    return view


# --- the snapshot ---------------------------------------------------------------------

RawItem = dict[str, dict[str, Any]]
PageSource = Iterable[list[RawItem]]
LateLookup = Callable[[list[str]], list[int]]

READ_RANGES = 8
"""Key ranges of a campaign's participants (by shopper id) that a freeze reads side by side, and
the most claim lookups of late participants it makes at once: each waits on DynamoDB, so eight
take about the time of one (benchmarks/bench_draws.py)."""


_P_SHOPPER, _P_ENTRIES, _P_LAST = (
    Participant.shopper_id.attr_name,
    Participant.entries.attr_name,
    Participant.last_claim_at.attr_name,
)
_PROJECTED = {"#s": _P_SHOPPER, "#e": _P_ENTRIES, "#l": _P_LAST}


def participant_pages(
    campaign_id: str, stats: dict | None = None, ranges: int = READ_RANGES
) -> Iterator[list[RawItem]]:
    """A campaign's participants as DynamoDB returns them, one Query page (up to 1 MB) at a time.

    The shopper ids are cut into `ranges` key ranges (domain/ids.split_points), read side by
    side: every participant comes exactly once, pages in no particular order (the snapshot
    sorts its rows). Each range but the last ends at its cut inclusive (BETWEEN) and drops a
    participant whose id is the cut itself, which the next range begins with. Only the
    three attributes the cut needs are returned; `stats["items_read"]` and `stats["pages"]`
    count what was read.
    """
    stats = stats if stats is not None else {}
    cuts = split_points("shp", ranges)
    bounds = list(zip([None, *cuts], [*cuts, None], strict=True))
    readers = [functools.partial(_participants_page, campaign_id, low, high) for low, high in bounds]
    for index, page in dynamo.pages_side_by_side(readers):
        stats["pages"] = stats.get("pages", 0) + 1
        stats["items_read"] = stats.get("items_read", 0) + page.get("ScannedCount", len(page["Items"]))
        items = page["Items"]
        high = bounds[index][1]
        if high is not None and items and items[-1][_P_SHOPPER]["S"] == high:
            items = items[:-1]  # the next range's first participant
        yield items


def _participants_page(campaign_id: str, low: str | None, high: str | None, start: dict | None) -> dict[str, Any]:
    """One Query page of the campaign's participants with shopper ids from `low` to `high` (inclusive)."""
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
    claim records; READ_RANGES shoppers are looked up at a time."""
    stats = stats if stats is not None else {}
    counted = threading.Lock()
    cut_text = CodeState.changed_at.serialize(cut)
    names = {
        "#s": CodeState.shopper_id.attr_name,
        "#t": CodeState.changed_at.attr_name,
        "#c": CodeState.campaign_id.attr_name,
        "#st": CodeState.state.attr_name,
        "#e": CodeState.entries.attr_name,
    }

    def lookup(shopper_id: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": CodeState.Meta.table_name,
            "IndexName": CodeState.by_shopper.Meta.index_name,
            "KeyConditionExpression": "#s = :s AND #t <= :cut",
            "FilterExpression": "#c = :c AND #st = :claimed",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":s": {"S": shopper_id},
                ":cut": {"S": cut_text},
                ":c": {"S": campaign_id},
                ":claimed": {"S": "claimed"},
            },
            "ProjectionExpression": "#e",
        }
        total = read = 0
        while True:
            page = dynamo.client().query(**kwargs)
            read += page.get("ScannedCount", len(page["Items"]))
            total += sum(int(item[names["#e"]]["N"]) for item in page["Items"] if names["#e"] in item)
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


@dataclass
class Snapshot:
    """A frozen snapshot: its pages (CSV bytes and the aligned platform shopper ids), hash and totals."""

    pages: list[tuple[bytes, bytes, int]] = field(default_factory=list)
    sha256: str = ""
    entries_total: int = 0
    participants: int = 0
    size: int = 0


def pseudonyms(pepper: str, brand_id: str) -> Callable[[str], str]:
    """phones.brand_shopper_id for one brand, fast: the keyed hash's state is kept after the key,
    and the Crockford form comes from base32 by translation (tests hold the two equal)."""
    keyed = hmac.new(pepper.encode(), digestmod=hashlib.sha256)
    prefix = f"brand-shopper:{brand_id}:".encode()

    def pseudonym(shopper_id: str) -> str:
        mac = keyed.copy()
        mac.update(prefix + shopper_id.encode())
        # The first 130 bits of the digest as 26 Crockford digits, two (10 bits) at a time.
        value = int.from_bytes(mac.digest()[:17], "big") >> 6
        return "mbr_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])

    return pseudonym


_PAIRS = [CROCKFORD[i >> 5] + CROCKFORD[i & 31] for i in range(1024)]
_SHIFTS = tuple(range(120, -1, -10))


def build_snapshot(
    brand_id: str, cut: datetime, pages: PageSource, late: LateLookup, *, pepper: str, page_rows: int = PAGE_ROWS
) -> Snapshot:
    """The snapshot of entries earned up to `cut`, from participant pages as DynamoDB returns them.

    The same code reads DynamoDB in the service and a generated page source in the benchmark.
    Each participant is shown by the brand's pseudonym for them (what the brand's other
    files show); rows are sorted by it.
    """
    cut_text = Participant.last_claim_at.serialize(cut)
    pseudonym = pseudonyms(pepper, brand_id)
    rows: list[tuple[str, int, str]] = []
    append = rows.append
    after_cut: list[str] = []
    for items in pages:
        for item in items:
            entries_value = item.get(_P_ENTRIES)
            last = item.get(_P_LAST)
            if last is None or entries_value is None:
                continue
            shopper_id = item[_P_SHOPPER]["S"]
            if last["S"] > cut_text:  # claimed after the cut: count only the claims up to it
                after_cut.append(shopper_id)
                continue
            entries = int(entries_value["N"])
            if entries > 0:
                append((pseudonym(shopper_id), entries, shopper_id))
    for shopper_id, entries in zip(after_cut, late(after_cut), strict=True):
        if entries > 0:
            append((pseudonym(shopper_id), entries, shopper_id))
    rows.sort()
    if any(a[0] == b[0] for a, b in zip(rows, rows[1:])):
        raise RuntimeError("two participants share a pseudonym")  # 130-bit hashes: never in practice
    snapshot = Snapshot(participants=len(rows))
    digest = hashlib.sha256()
    for start in range(0, max(len(rows), 1), page_rows):
        chunk = rows[start : start + page_rows]
        body = algorithm.snapshot_page([(r[0], r[1]) for r in chunk], header=start == 0)
        shoppers = "\n".join([r[2] for r in chunk]).encode("ascii")
        digest.update(body)
        snapshot.size += len(body)
        snapshot.pages.append((body, shoppers, len(chunk)))
    snapshot.entries_total = sum(r[1] for r in rows)
    snapshot.sha256 = digest.hexdigest()
    return snapshot


def _snapshot_of(draw: Draw, stats: dict | None = None) -> Snapshot:
    return build_snapshot(
        draw.brand_id,
        draw.entries_until,
        participant_pages(draw.campaign_id, stats),
        claims_until(draw.campaign_id, draw.entries_until, stats),
        pepper=get_phone_hash_pepper(),
    )


def _check_snapshot(draw: Draw, snapshot: Snapshot) -> None:
    if snapshot.entries_total == 0:
        raise Undrawable(
            "entries_until: No participant had earned an entry by entries_until; there is nothing to draw.",
            field="entries_until",
        )
    noun = "participants" if draw.one_win_per_participant else "entries"
    allowed = snapshot.participants if draw.one_win_per_participant else snapshot.entries_total
    if int(draw.winners_wanted) > allowed:
        raise Undrawable(
            f"winners: The snapshot has {allowed} {noun}, fewer than the {int(draw.winners_wanted)} winners asked for.",
            field="winners",
        )


def write_pages(draw_id: str, snapshot: Snapshot) -> None:
    """Write a snapshot's pages under its draw (the same pages whoever writes them)."""
    with DrawPage.batch_write() as batch:
        for number, (body, shoppers, rows) in enumerate(snapshot.pages):
            batch.save(DrawPage(draw_id, number, body=body, shoppers=shoppers, rows=rows))


def read_pages(draw_id: str) -> tuple[bytes, list[str]]:
    """A frozen snapshot as the draw step reads it back: its bytes, and the shopper ids row by row."""
    bodies, shoppers = [], []
    for page in DrawPage.query(draw_id, consistent_read=True):
        bodies.append(bytes(page.body))
        if int(page.rows):
            shoppers.extend(bytes(page.shoppers).decode("ascii").split("\n"))
    return b"".join(bodies), shoppers


# --- moving a draw along ------------------------------------------------------------


def _update(draw_id: str, update: str, condition: str, names: dict, values: dict | None = None) -> bool:
    """One conditional update of the draw item; False when its condition did not hold."""
    kwargs: dict[str, Any] = {
        "TableName": Draw.Meta.table_name,
        "Key": {"draw_id": {"S": draw_id}},
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
    }
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        dynamo.client().update_item(**kwargs)
    except ClientError as exc:
        if dynamo.condition_failed(exc):
            return False
        raise
    return True


def _instant(value: datetime) -> dict:
    return {"S": Draw.drawn_at.serialize(value)}


def _freeze(draw: Draw, actor: str, runner: str) -> None:
    """Build, check, take the lease, write the pages, publish: or leave the draw as it was."""
    stats: dict = {}
    snapshot = _snapshot_of(draw, stats)
    _check_snapshot(draw, snapshot)  # a draw that cannot be drawn is refused before anything is written
    now_epoch = int(clock.epoch())
    took = _update(
        draw.draw_id,
        "SET #st = :freezing, #lo = :me, #lu = :until",
        "#st = :scheduled OR (#st = :freezing AND #lu < :now)",
        {"#st": "status", "#lo": "lease_owner", "#lu": "lease_until"},
        {
            ":freezing": {"S": "freezing"},
            ":scheduled": {"S": "scheduled"},
            ":me": {"S": runner},
            ":until": {"N": str(now_epoch + LEASE_SECONDS)},
            ":now": {"N": str(now_epoch)},
        },
    )
    if not took:
        return
    write_pages(draw.draw_id, snapshot)
    now = clock.now()
    published = _update(
        draw.draw_id,
        "SET #st = :frozen, #sha = :sha, #pg = :pages, #sz = :size, #et = :entries, #pa = :participants,"
        " #lr = :late, #fa = :now REMOVE #lo, #lu",
        "#st = :freezing AND #lo = :me",
        {
            "#st": "status",
            "#sha": "snapshot_sha256",
            "#pg": "snapshot_pages",
            "#sz": "snapshot_bytes",
            "#et": "entries_total",
            "#pa": "participants",
            "#lr": "late_claims_read",
            "#fa": "frozen_at",
            "#lo": "lease_owner",
            "#lu": "lease_until",
        },
        {
            ":frozen": {"S": "frozen"},
            ":freezing": {"S": "freezing"},
            ":me": {"S": runner},
            ":sha": {"S": snapshot.sha256},
            ":pages": {"N": str(len(snapshot.pages))},
            ":size": {"N": str(snapshot.size)},
            ":entries": {"N": str(snapshot.entries_total)},
            ":participants": {"N": str(snapshot.participants)},
            ":late": {"N": str(stats.get("late_participants", 0))},
            ":now": _instant(now),
        },
    )
    if published:
        log_event(
            log, "draw_frozen", draw_id=draw.draw_id, participants=snapshot.participants, pages=len(snapshot.pages)
        )
        audit.record(
            draw.brand_id,
            actor,
            "draw_frozen",
            draw.draw_id,
            {
                "snapshot_sha256": snapshot.sha256,
                "entries_total": snapshot.entries_total,
                "participants": snapshot.participants,
            },
        )


def _seed_of(draw: Draw) -> bytes:
    return bytes.fromhex(unseal_text(draw.seed_sealed, get_phone_hash_pepper(), f"{_SEED_PURPOSE}:{draw.draw_id}"))


def _draw(draw: Draw, actor: str) -> None:
    """Draw the winners of a frozen draw and reveal its seed, in one conditional write."""
    data, shoppers = read_pages(draw.draw_id)
    if hashlib.sha256(data).hexdigest() != draw.snapshot_sha256:
        raise RuntimeError(f"draw {draw.draw_id}: the stored snapshot does not match its published hash")
    ids, weights = algorithm.parse_snapshot(data)
    seed = _seed_of(draw)
    picked = algorithm.draw_winners(
        ids,
        weights,
        seed=seed,
        snapshot_sha256=draw.snapshot_sha256,
        beacon=draw.beacon,
        winners=int(draw.winners_wanted),
        one_win_per_participant=bool(draw.one_win_per_participant),
    )
    index = {participant_id: i for i, participant_id in enumerate(ids)} if picked else {}
    winner_shoppers = [shoppers[index[w.participant_id]] for w in picked]
    masked = {a.shopper_id: a.phone_masked for a in ShopperAccount.batch_get(set(winner_shoppers))}
    winners = [
        {
            "M": {
                "rank": {"N": str(w.rank)},
                "participant_id": {"S": w.participant_id},
                "shopper_id": {"S": shopper},
                "entries": {"N": str(w.entries)},
                "phone_masked": {"S": masked.get(shopper) or ""},
            }
        }
        for w, shopper in zip(picked, winner_shoppers)
    ]
    now = clock.now()
    wrote = _update(
        draw.draw_id,
        "SET #st = :drawn, #w = :winners, #seed = :seed, #da = :now, #sc = :empty, #ss = :empty REMOVE #ds, #du",
        "#st = :frozen" + (" AND #b = :beacon" if draw.beacon is not None else ""),
        {
            "#st": "status",
            "#w": "winners",
            "#seed": "seed",
            "#da": "drawn_at",
            "#sc": "sms_claims",
            "#ss": "sms_sent",
            "#ds": "due_shard",
            "#du": "due_at",
            **({"#b": "beacon"} if draw.beacon is not None else {}),
        },
        {
            ":drawn": {"S": "drawn"},
            ":frozen": {"S": "frozen"},
            ":winners": {"L": winners},
            ":seed": {"S": seed.hex()},
            ":now": _instant(now),
            ":empty": {"M": {}},
            **({":beacon": {"S": draw.beacon}} if draw.beacon is not None else {}),
        },
    )
    if wrote:
        log_event(log, "draw_drawn", draw_id=draw.draw_id, winners=len(picked))
        audit.record(
            draw.brand_id,
            actor,
            "draw_drawn",
            draw.draw_id,
            {"seed": seed.hex(), "winners": [w.participant_id for w in picked], "beacon": draw.beacon},
        )


def _sms_text(draw: Draw) -> str:
    return (
        f"Congratulations! You won {draw.prize} in the lucky draw '{draw.name}' (draw {draw.draw_id}). "
        "The brand will contact you about your prize; we never ask for a payment or a code."
    )


def _notify(draw: Draw) -> None:
    """Send each winner's SMS once: claim the rank, send, mark it sent (a failed send frees the claim)."""
    if draw.status != "drawn" or draw.notified_at is not None:
        return
    sent = draw.sms_sent.as_dict() if draw.sms_sent else {}
    settings = get_settings()
    sender = sender_for(settings)
    names = {"#sc": "sms_claims", "#ss": "sms_sent"}
    pending = 0
    for winner in draw.winners or []:
        rank = str(int(winner.rank))
        if rank in sent:
            continue
        now_epoch = int(clock.epoch())
        claimed = _update(
            draw.draw_id,
            "SET #sc.#r = :until",
            "attribute_not_exists(#ss.#r) AND (attribute_not_exists(#sc.#r) OR #sc.#r < :now)",
            {**names, "#r": rank},
            {":until": {"N": str(now_epoch + SMS_LEASE_SECONDS)}, ":now": {"N": str(now_epoch)}},
        )
        if not claimed:
            pending += 1
            continue
        shopper_id = getattr(winner, "shopper_id", None) or ""
        try:
            account = ShopperAccount.get(shopper_id) if shopper_id else None
        except ShopperAccount.DoesNotExist:
            account = None
        outcome = "no_phone"
        if account is not None and account.phone_sealed:
            try:
                sender.send(unseal_phone(account.phone_sealed, get_phone_hash_pepper()), _sms_text(draw))
                outcome = "sent"
            except SmsNotSent as exc:
                log_event(
                    log, "draw_sms_failed", level=logging.WARNING, draw_id=draw.draw_id, rank=rank, reason=str(exc)
                )
                _update(draw.draw_id, "REMOVE #sc.#r", "attribute_exists(#sc.#r)", {"#sc": "sms_claims", "#r": rank})
                pending += 1
                continue
        _update(
            draw.draw_id,
            "SET #ss.#r = :at",
            "attribute_not_exists(#ss.#r)",
            {"#ss": "sms_sent", "#r": rank},
            {":at": {"S": f"{outcome}@{format_instant(clock.now())}"}},
        )
    if pending:  # another runner may have finished the rest meanwhile: the last one to finish says so
        after = _reload(draw.draw_id)
        done = after.sms_sent.as_dict() if after.sms_sent else {}
        pending = sum(1 for w in after.winners or [] if str(int(w.rank)) not in done)
    if not pending:
        _update(
            draw.draw_id,
            "SET #n = :now",
            "attribute_not_exists(#n)",
            {"#n": "notified_at"},
            {":now": _instant(clock.now())},
        )


def _advance(draw: Draw, actor: str, *, wait: bool) -> Draw:
    """Move a due draw as far as it can go now; any number of callers at once write one result."""
    runner = f"{actor}#{secrets.token_hex(6)}"
    deadline = clock.monotonic() + WAIT_SECONDS
    while True:
        now_epoch = int(clock.epoch())
        if draw.status == "scheduled" or (draw.status == "freezing" and int(draw.lease_until or 0) < now_epoch):
            _freeze(draw, actor, runner)
        elif draw.status == "freezing":
            if not wait:
                return draw
            if clock.monotonic() > deadline:
                raise ServiceBusy("Another runner is freezing this draw; ask again in a moment.", retry_after=5)
            time.sleep(0.2)
        elif draw.status == "frozen":
            if draw.beacon_source is not None and draw.beacon is None:
                return draw  # waits for POST /v1/draws/{draw_id}/beacon
            _draw(draw, actor)
        elif draw.status == "drawn":
            _notify(draw)
            return _reload(draw.draw_id)
        else:
            raise RuntimeError(f"draw {draw.draw_id} has an unknown status {draw.status!r}")
        draw = _reload(draw.draw_id)


def run_draw(brand_id: str, draw_id: str, actor: str) -> dict:
    """POST /run: run a due draw now; a draw already run answers its result."""
    draw = _load(brand_id, draw_id)
    if draw.status != "drawn" and clock.now() < due_at(draw.draw_at, draw.entries_until):
        raise Conflict(
            f"draw_at: This draw is not due until {format_instant(due_at(draw.draw_at, draw.entries_until))}.",
            field="draw_at",
        )
    return _view(_advance(draw, actor, wait=True))


def post_beacon(brand_id: str, draw_id: str, actor: str, body: dict) -> dict:
    """Record the public beacon value of a frozen draw that announced one, then draw it."""
    value = validate(BeaconIn, body).value.strip()
    if not value or any(ord(ch) < 32 for ch in value):
        raise InvalidInput("value: Must be visible text on one line.", field="value")
    draw = _load(brand_id, draw_id)
    if draw.status in ("scheduled", "freezing"):
        raise Conflict("value: The beacon is given after the snapshot is published; it is not yet.", field="value")
    if draw.status == "drawn":
        raise Conflict("value: This draw has already been run; its beacon can no longer change.", field="value")
    if draw.beacon_source is None:
        raise Conflict("value: This draw announced no beacon when it was scheduled.", field="value")
    if draw.beacon is not None and draw.beacon != value:
        raise Conflict("value: This draw's beacon is already set to another value.", field="value")
    if draw.beacon is None:
        wrote = _update(
            draw_id,
            "SET #b = :b, #ba = :now",
            "#st = :frozen AND attribute_not_exists(#b)",
            {"#b": "beacon", "#ba": "beacon_at", "#st": "status"},
            {":b": {"S": value}, ":now": _instant(clock.now()), ":frozen": {"S": "frozen"}},
        )
        draw = _reload(draw_id)
        if not wrote and draw.beacon != value:
            raise Conflict("value: This draw's beacon is already set to another value.", field="value")
        if wrote:
            audit.record(brand_id, actor, "draw_beacon", draw_id, {"beacon": value})
    return _view(_advance(draw, actor, wait=True))


def _set_aside(draw_id: str, exc: Undrawable, now: datetime) -> None:
    _update(
        draw_id,
        "SET #bf = :field, #br = :reason, #ba = :now REMOVE #ds, #du",
        "#st = :scheduled",
        {
            "#bf": "blocked_field",
            "#br": "blocked_reason",
            "#ba": "blocked_at",
            "#ds": "due_shard",
            "#du": "due_at",
            "#st": "status",
        },
        {
            ":field": {"S": exc.field or ""},
            ":reason": {"S": exc.message},
            ":now": _instant(now),
            ":scheduled": {"S": "scheduled"},
        },
    )


def run_due(now: datetime | None = None) -> dict:
    """The every-minute runner: advance every draw that is due (and finish SMS of drawn ones)."""
    now = now or clock.now()
    done = blocked = 0
    keys = Draw.by_due.query(_DUE, Draw.due_at <= Draw.draw_at.serialize(now))
    for key in keys:
        try:
            draw = _reload(key.draw_id)
            if draw.status == "drawn":
                continue
            _advance(draw, RUNNER, wait=False)
            done += 1
        except Undrawable as exc:
            # Its cut has passed, so no later minute can change the snapshot: say why on the
            # draw, for its managers, and take it off the list instead of reading it again.
            blocked += 1
            _set_aside(key.draw_id, exc, now)
            log_event(
                log, "draw_blocked", level=logging.WARNING, draw_id=key.draw_id, field=exc.field, reason=exc.message
            )
        except Conflict as exc:
            blocked += 1
            log_event(
                log, "draw_blocked", level=logging.WARNING, draw_id=key.draw_id, field=exc.field, reason=exc.message
            )
        except Exception:  # noqa: BLE001 - one bad draw must not stop the others; the next minute retries
            log_event(log, "draw_run_failed", level=logging.ERROR, exc_info=True, draw_id=key.draw_id)
    # Winners whose SMS failed are retried every minute until each is sent.
    return {"advanced": done, "blocked": blocked}


def entries_csv(brand_id: str, draw_id: str, cursor: str | None) -> tuple[str, str, str | None]:
    """One page of the frozen snapshot, as stored (its pages joined are the hashed file)."""
    draw = _load(brand_id, draw_id)
    if draw.status not in ("frozen", "drawn"):
        raise Conflict("status: The snapshot is published when the draw runs; it has not yet.", field="status")
    number = int(decode_cursor(cursor, _CURSOR)) if cursor else 0
    if number >= int(draw.snapshot_pages):
        raise InvalidInput("cursor: Not a cursor this API returned.", field="cursor")
    page = DrawPage.get(draw_id, number, consistent_read=True)
    next_cursor = encode_cursor(str(number + 1)) if number + 1 < int(draw.snapshot_pages) else None
    return bytes(page.body).decode("ascii"), f"draw-{draw_id}-entries.csv", next_cursor


# --- the shopper's side -----------------------------------------------------------------


def my_draws(shopper_id: str) -> dict:
    """Every draw of the campaigns a shopper takes part in: their entries in it, and whether they won."""
    now = clock.now()
    items = []
    for participant in Participant.by_shopper.query(shopper_id):
        for draw in Draw.by_campaign.query(participant.campaign_id, scan_index_forward=False, limit=20):
            if draw.blocked_at and draw.status == "scheduled":
                continue  # set aside by the runner: it will not take place
            if draw.status == "drawn":
                winners = draw.winners or []
                won = any(getattr(w, "shopper_id", None) == shopper_id for w in winners)
            else:
                won = False
            cut = draw.entries_until
            entries = int(participant.entries)
            if now > cut and participant.last_claim_at is not None and participant.last_claim_at > cut:
                (entries,) = claims_until(draw.campaign_id, cut)([shopper_id])
            items.append(
                {
                    "draw_id": draw.draw_id,
                    "campaign_id": draw.campaign_id,
                    "name": draw.name,
                    "prize": draw.prize,
                    "draw_at": format_instant(draw.draw_at),
                    "entries_until": format_instant(draw.entries_until),
                    "status": draw.status,
                    "upcoming": draw.status != "drawn",
                    "entries": entries,
                    "entries_final": now > cut,
                    "won": won,
                    "seed_commitment": draw.seed_commitment,
                }
            )
    items.sort(key=lambda d: (not d["upcoming"], d["draw_at"]))
    return {"draws": items}
