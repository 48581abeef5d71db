"""Campaign statistics: sharded counters folded from claims off the scan's path, and their readers."""
from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import zlib
import zoneinfo
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock, timedelta, timezone
from typing import Iterable, Iterator

from botocore.exceptions import ClientError

from chalicelib.services import campaigns, shoppers
from chalicelib.domain.errors import InvalidInput
from chalicelib.adapters.models import Batch, CodeState, Counter, Participant, ShopperAccount, StatShard, transaction_connection
from chalicelib.domain.validation import decode_cursor, encode_cursor, format_instant

__all__ = [
    "REFUSALS", "rank_shard", "record_refusal", "handle_stream_records", "count_claims",
    "campaign_stats", "timeseries", "batch_stats", "participant_stats", "participants_csv",
    "reconcile", "Reconciliation",
]

log = logging.getLogger(__name__)

# Claim counters are written by the aggregator, a few transactions a second per stream
# shard: a handful of shards keeps those transactions from meeting on one item. Refusals
# are counted by the scan requests themselves, one plain update each, on their own shards
# so they never conflict with the aggregator's transactions.
CLAIM_SHARDS = 4
REFUSAL_SHARDS = 8
RANK_SHARDS = 8
TOP = 20
REFUSALS = ("duplicate", "invalid", "refused_cap", "refused_rate", "refused_inactive")
HISTOGRAM = ((1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5"), (6, "6-10"), (11, "11-20"), (21, "21-50"), (51, "51+"))
_TX_ITEMS = 100  # DynamoDB's limit on items in one transaction
_CONFLICT_ATTEMPTS = 8
MAX_HOUR_RANGE = timedelta(days=366)
MAX_DAY_RANGE = timedelta(days=5 * 365 + 2)
CSV_ROWS = 50_000
CSV_COLUMNS = ("shopper_id", "phone", "claims", "points", "entries", "first_claim_at", "last_claim_at")


def _tz(name: str | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name or "UTC")


def _midnight(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    """The instant a local day starts (aware, UTC)."""
    return datetime.combine(day, clock(0), tzinfo=tz).astimezone(timezone.utc)


def _local_day(instant: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _hour_of_day(instant: datetime, tz: zoneinfo.ZoneInfo) -> tuple[date, int]:
    """The local day of an instant and the hour of that day it falls in, counted from local midnight.

    Counting elapsed hours (not reading the wall clock) keeps a 25-hour day's repeated
    hour apart and works for zones whose offset is not a whole hour.
    """
    day = _local_day(instant, tz)
    return day, int((instant - _midnight(day, tz)).total_seconds() // 3600)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _bin(claims: int) -> str:
    label = HISTOGRAM[0][1]
    for low, name in HISTOGRAM:
        if claims >= low:
            label = name
    return label


def rank_shard(campaign_id: str, shopper_id: str) -> str:
    """The key of the leaderboard index a participant is filed under (one of a few per campaign)."""
    return f"{campaign_id}#{zlib.crc32(shopper_id.encode()) % RANK_SHARDS}"


# --- what one claim adds ---------------------------------------------------------------


def claim_increments(claim: CodeState) -> dict[str, dict[str, int]]:
    """The counters one claim moves, by counter item (`total` or `day#<date>`), unsharded.

    Everything comes from the claim record alone, so a reconciliation can recompute it.
    """
    tz = _tz(claim.timezone)
    at = claim.changed_at
    nth = int(claim.nth or 1)
    previous = claim.prev_claim_at
    points, entries = int(claim.points or 0), int(claim.entries or 0)
    day, hour = _hour_of_day(at, tz)
    day_start = _midnight(day, tz)
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
    now_bin, was_bin = _bin(nth), (_bin(nth - 1) if nth > 1 else None)
    if now_bin != was_bin:
        total[f"hist#{now_bin}"] = 1
        if was_bin:
            total[f"hist#{was_bin}"] = -1
    # Cohort cell: the first claim of the participant in this week, by week of first claim.
    week = _monday(day)
    if previous is None or _monday(_local_day(previous, tz)) < week:
        first = claim.first_claim_at or at
        cohort = _monday(_local_day(first, tz))
        total[f"coh#{cohort.isoformat()}#{(week - cohort).days // 7}"] = 1
    return {"total": {k: v for k, v in total.items() if v}, f"day#{day.isoformat()}": {k: v for k, v in daily.items() if v}}


def _add(into: dict, more: dict) -> None:
    """Add nested counts `more` ({item: {name: n}}) into `into`."""
    for item, counts in more.items():
        target = into.setdefault(item, {})
        for name, value in counts.items():
            target[name] = target.get(name, 0) + value


# --- writing: the aggregator and refusals ------------------------------------------------


def _client():
    return transaction_connection().client


def _number(value: int) -> dict:
    return {"N": str(value)}


def _add_update(campaign_id: str, stat_key: str, counts: dict[str, int]) -> dict:
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(sorted(counts.items())):
        names[f"#a{i}"], values[f":a{i}"] = name, _number(value)
        parts.append(f"#a{i} :a{i}")
    return {
        "TableName": StatShard.Meta.table_name,
        "Key": {"campaign_id": {"S": campaign_id}, "stat_key": {"S": stat_key}},
        "UpdateExpression": "ADD " + ", ".join(parts),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def record_refusal(campaign, kind: str, now: datetime) -> None:
    """Count one refused scan of a campaign's code, by kind, in its totals and its day.

    Called after the answer is decided; a failure here is logged and never changes the
    shopper's answer.
    """
    if kind not in REFUSALS:
        raise ValueError(f"unknown refusal kind {kind}")
    try:
        day, hour = _hour_of_day(now, _tz(campaign.timezone))
        shard = random.randrange(REFUSAL_SHARDS)
        client = _client()
        client.update_item(**_add_update(campaign.campaign_id, f"total#r{shard}", {kind: 1}))
        client.update_item(**_add_update(campaign.campaign_id, f"day#{day.isoformat()}#r{shard}",
                                         {kind: 1, f"{kind}@{hour:02d}": 1}))
    except Exception:  # noqa: BLE001 - statistics never fail a scan
        log.exception("could not count a %s refusal for campaign %s", kind, campaign.campaign_id)


def _claims_from_records(records: Iterable[dict]) -> list[CodeState]:
    """Claims inserted into code_states, from DynamoDB stream records (Lambda's event shape)."""
    claims = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if (image.get("state") or {}).get("S") != "claimed" or "campaign_id" not in image:
            continue
        claims.append(CodeState.from_raw_data(image))
    return claims


def handle_stream_records(records: list[dict]) -> int:
    """The stream handler: count the new claims among `records`; returns how many were counted now."""
    return count_claims(_claims_from_records(records))


def _counters(group: list[CodeState]) -> dict[tuple[str, str], dict[str, int]]:
    """The summed increments of a group of claims, by (campaign, counter item)."""
    counters: dict[tuple[str, str], dict[str, int]] = {}
    for claim in group:
        _add(counters, {(claim.campaign_id, item): counts for item, counts in claim_increments(claim).items()})
    return counters


def _groups(claims: list[CodeState]) -> Iterator[list[CodeState]]:
    """Groups of claims whose markers and counter items fit in one transaction."""
    group: list[CodeState] = []
    keys: set[tuple[str, str]] = set()
    for claim in claims:
        mine = {(claim.campaign_id, item) for item in claim_increments(claim)}
        if group and len(group) + 1 + len(keys | mine) > _TX_ITEMS:
            yield group
            group, keys = [], set()
        group.append(claim)
        keys |= mine
    if group:
        yield group


def count_claims(claims: list[CodeState]) -> int:
    """Fold claims into the counters exactly once, however often they are delivered.

    One transaction per group marks each claim `counted` (on condition it was not) and
    adds the group's sums to one shard of each counter item: a claim delivered again is
    refused by its marker, and the group is recounted without it.
    """
    return sum(_count_group(group) for group in _groups(sorted(claims, key=lambda c: c.code_key)))


def _count_group(group: list[CodeState]) -> int:
    attempt = 0
    while group:
        counters = _counters(group)
        shard = random.randrange(CLAIM_SHARDS)
        items = [{"Update": {
            "TableName": CodeState.Meta.table_name,
            "Key": {"code_key": {"S": claim.code_key}},
            "UpdateExpression": "SET #c = :t",
            "ConditionExpression": "attribute_exists(#k) AND attribute_not_exists(#c)",
            "ExpressionAttributeNames": {"#c": "counted", "#k": "code_key"},
            "ExpressionAttributeValues": {":t": {"BOOL": True}},
        }} for claim in group]
        for (campaign_id, item), counts in counters.items():
            items.append({"Update": _add_update(campaign_id, f"{item}#{shard}", counts)})
        # Same group, same token: botocore's resend of a timed-out request applies once.
        token = hashlib.sha256(f"{shard}:{attempt}:".encode() + "|".join(c.code_key for c in group).encode()).hexdigest()[:36]
        try:
            _client().transact_write_items(TransactItems=items, ClientRequestToken=token, ReturnConsumedCapacity="TOTAL")
            return len(group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            counted_already = {group[i].code_key for i, r in enumerate(reasons[:len(group)])
                               if r.get("Code") == "ConditionalCheckFailed"}
            if counted_already:
                group = [c for c in group if c.code_key not in counted_already]
                continue
            if any(r.get("Code") == "TransactionConflict" for r in reasons) and attempt < _CONFLICT_ATTEMPTS:
                attempt += 1
                time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
                continue
            raise
    return 0


# --- reading -----------------------------------------------------------------------------


def _value(attribute: dict) -> int:
    return int(attribute["N"]) if "N" in attribute else 0


def _stat_items(campaign_id: str, low: str, high: str) -> list[dict]:
    """Every counter item of a campaign whose key lies in [low, high], all pages."""
    items, start = [], None
    while True:
        kwargs = {
            "TableName": StatShard.Meta.table_name,
            "KeyConditionExpression": "campaign_id = :c AND stat_key BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":c": {"S": campaign_id}, ":lo": {"S": low}, ":hi": {"S": high}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = _client().query(**kwargs)
        items.extend(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _sum(items: Iterable[dict]) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for item in items:
        for name, attribute in item.items():
            if name not in ("campaign_id", "stat_key"):
                sums[name] += _value(attribute)
    return sums


def _totals(campaign_id: str) -> dict[str, int]:
    # "total$" sorts after every "total#..." key.
    return _sum(_stat_items(campaign_id, "total#", "total$"))


def _batches(campaign_id: str) -> list[Batch]:
    return list(Batch.by_campaign.query(campaign_id))


def campaign_stats(brand_id: str, campaign_id: str) -> dict:
    """Totals of a campaign: codes, scans by outcome, participants, points, entries, prizes."""
    campaign = campaigns.load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    batches = _batches(campaign_id)
    prizes = list(campaign.prizes or [])
    awarded: dict[str, int] = {}
    if prizes:
        for counter in Counter.batch_get([f"prize:{campaign_id}:{p.prize_id}" for p in prizes]):
            awarded[counter.name.rsplit(":", 1)[1]] = int(counter.value or 0)
    unique, returning = totals.get("participants", 0), totals.get("returning", 0)
    scans = {"granted": totals.get("granted", 0), **{kind: totals.get(kind, 0) for kind in REFUSALS}}
    return {
        "campaign_id": campaign_id,
        "timezone": campaign.timezone,
        "as_of": format_instant(datetime.now(timezone.utc)),
        "codes": {"minted": sum(int(b.quantity) for b in batches),
                  "active": sum(int(b.quantity) for b in batches if b.status == "active"),
                  "batches": len(batches)},
        "scans": {"total": sum(scans.values()), **scans},
        "participants": {"unique": unique, "new": unique - returning, "returning": returning},
        "points_issued": totals.get("points", 0),
        "entries_issued": totals.get("entries", 0),
        "prizes": [{"prize_id": p.prize_id, "name": p.name, "quantity": int(p.quantity),
                    "awarded": awarded.get(p.prize_id, 0),
                    "left": max(0, int(p.quantity) - awarded.get(p.prize_id, 0))} for p in prizes],
    }


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")


def _range_end(name: str, raw: str | None, tz: zoneinfo.ZoneInfo, *, end: bool) -> datetime | None:
    """A `from`/`to` parameter: a local date (a whole day) or an instant with an offset."""
    if raw is None:
        return None
    raw = raw.strip()
    try:
        if _DATE.match(raw):
            day = date.fromisoformat(raw)
            return _midnight(day + timedelta(days=1), tz) - timedelta(microseconds=1) if end else _midnight(day, tz)
        if _INSTANT.match(raw):
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        pass
    raise InvalidInput(f"{name}: use a date (2026-11-01) or an instant with an offset (2026-11-01T08:00:00+07:00).",
                       field=name)


def _bucket_row(start: datetime, tz: zoneinfo.ZoneInfo, counts: dict[str, int], suffix: str) -> dict:
    row = {"start": start.astimezone(tz).isoformat(timespec="seconds"),
           "granted": counts.get("granted" + suffix, 0)}
    row.update({kind: counts.get(kind + suffix, 0) for kind in REFUSALS})
    row["new_participants"] = counts.get("new" + suffix, 0)
    row["returning_participants"] = counts.get("returning" + suffix, 0)
    row["points"] = counts.get("points" + suffix, 0)
    return row


def timeseries(brand_id: str, campaign_id: str, *, granularity: str | None = None,
               start: str | None = None, end: str | None = None, now: datetime | None = None) -> dict:
    """Scans and participants per local hour or day between `from` and `to` (both included).

    Reads one counter item per day and shard in the range, whatever the number of scans.
    """
    granularity = "day" if granularity is None else granularity
    if granularity not in ("hour", "day"):
        raise InvalidInput("granularity: must be hour or day.", field="granularity")
    campaign = campaigns.load_campaign(brand_id, campaign_id)
    tz = _tz(campaign.timezone)
    now = now or datetime.now(timezone.utc)
    to = _range_end("to", end, tz, end=True) or max(campaign.starts_at, min(now, campaign.ends_at))
    default_from = campaign.starts_at if granularity == "day" else max(campaign.starts_at, to - timedelta(hours=47))
    since = _range_end("from", start, tz, end=False) or min(default_from, to)
    if since > to:
        raise InvalidInput("from: must not be after to.", field="from")
    longest = MAX_HOUR_RANGE if granularity == "hour" else MAX_DAY_RANGE
    if to - since > longest:
        limit = "366 days by hour" if granularity == "hour" else "5 years by day"
        raise InvalidInput(f"to: the range may be at most {limit}.", field="to")
    first_day, last_day = _local_day(since, tz), _local_day(to, tz)
    by_day: dict[str, list[dict]] = defaultdict(list)
    for item in _stat_items(campaign_id, f"day#{first_day.isoformat()}", f"day#{last_day.isoformat()}$"):
        by_day[item["stat_key"]["S"].split("#")[1]].append(item)
    buckets = []
    day = first_day
    while day <= last_day:
        counts = _sum(by_day.get(day.isoformat(), []))
        midnight = _midnight(day, tz)
        if granularity == "day":
            buckets.append(_bucket_row(midnight, tz, counts, ""))
        else:
            hours = int((_midnight(day + timedelta(days=1), tz) - midnight).total_seconds() // 3600)
            for hour in range(hours):
                hour_start = midnight + timedelta(hours=hour)
                if hour_start + timedelta(hours=1) > since and hour_start <= to:
                    buckets.append(_bucket_row(hour_start, tz, counts, f"@{hour:02d}"))
        day += timedelta(days=1)
    return {
        "campaign_id": campaign_id,
        "timezone": campaign.timezone,
        "granularity": granularity,
        "from": since.astimezone(tz).isoformat(timespec="seconds"),
        "to": to.astimezone(tz).isoformat(timespec="seconds"),
        "buckets": buckets,
    }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def batch_stats(brand_id: str, campaign_id: str) -> dict:
    """Claims and redemption rate (claims / quantity) per batch and per SKU."""
    campaigns.load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    rows, skus = [], {}
    for batch in _batches(campaign_id):
        claims, quantity = totals.get(f"b#{batch.batch_id}", 0), int(batch.quantity)
        rows.append({"batch_id": batch.batch_id, "batch_number": int(batch.batch_number), "sku": batch.sku,
                     "label": batch.label, "status": batch.status, "quantity": quantity, "claims": claims,
                     "redemption_rate": _rate(claims, quantity)})
        sku = skus.setdefault(batch.sku, {"sku": batch.sku, "batches": 0, "quantity": 0, "claims": 0})
        sku["batches"] += 1
        sku["quantity"] += quantity
        sku["claims"] += claims
    return {"campaign_id": campaign_id, "batches": rows,
            "skus": [{**s, "redemption_rate": _rate(s["claims"], s["quantity"])} for s in skus.values()]}


def _phones(shopper_ids: list[str], reveal: bool) -> dict[str, str]:
    """Shown phone numbers: masked, or in clear for an owner (unsealed, never logged)."""
    phones: dict[str, str] = {}
    for start in range(0, len(shopper_ids), 100):
        for account in ShopperAccount.batch_get(shopper_ids[start:start + 100]):
            shown = account.phone_masked
            if reveal and account.phone_sealed:
                shown = shoppers.unseal_phone(account.phone_sealed)
            phones[account.shopper_id] = shown
    return phones


def participant_stats(brand_id: str, campaign_id: str, *, reveal_phones: bool = False, now: datetime | None = None) -> dict:
    """Claims-per-participant histogram, repeat rate, weekly cohort retention, top participants."""
    campaign = campaigns.load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    unique = totals.get("participants", 0)
    histogram = [{"claims": name, "participants": totals.get(f"hist#{name}", 0)} for _, name in HISTOGRAM]
    repeaters = unique - totals.get("hist#1", 0)
    cells: dict[str, dict[int, int]] = defaultdict(dict)
    for name, value in totals.items():
        if name.startswith("coh#") and value:
            _, week, offset = name.split("#")
            cells[week][int(offset)] = value
    tz = _tz(campaign.timezone)
    this_week = _monday(_local_day(min(now or datetime.now(timezone.utc), campaign.ends_at), tz))
    cohorts = []
    for week in sorted(cells):
        size = cells[week].get(0, 0)
        weeks = max(max(cells[week]), (this_week - date.fromisoformat(week)).days // 7)
        cohorts.append({"week": week, "participants": size, "retention": [
            {"week": k, "participants": cells[week].get(k, 0), "rate": _rate(cells[week].get(k, 0), size)}
            for k in range(weeks + 1)]})
    leaders: list[Participant] = []
    for shard in range(RANK_SHARDS):
        leaders.extend(Participant.by_rank.query(f"{campaign_id}#{shard}", scan_index_forward=False, limit=TOP))
    leaders.sort(key=lambda p: (-int(p.claims), p.first_claim_at or datetime.max.replace(tzinfo=timezone.utc),
                                p.shopper_id))
    leaders = leaders[:TOP]
    phones = _phones([p.shopper_id for p in leaders], reveal_phones)
    top = [{"rank": rank, "shopper_id": p.shopper_id, "phone": phones.get(p.shopper_id, ""),
            "claims": int(p.claims), "points": int(p.points), "entries": int(p.entries),
            "first_claim_at": format_instant(p.first_claim_at) if p.first_claim_at else None,
            "last_claim_at": format_instant(p.last_claim_at) if p.last_claim_at else None}
           for rank, p in enumerate(leaders, start=1)]
    return {"campaign_id": campaign_id, "participants": unique, "repeat_rate": _rate(repeaters, unique),
            "histogram": histogram, "cohorts": cohorts, "top": top}


_SHOPPER_CURSOR = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def participants_csv(brand_id: str, campaign_id: str, *, reveal_phones: bool, cursor: str | None = None) -> tuple[str, str | None, str]:
    """One slice of the participants CSV (up to CSV_ROWS rows); returns body, next cursor, file name."""
    campaigns.load_campaign(brand_id, campaign_id)
    after = decode_cursor(cursor, _SHOPPER_CURSOR) if cursor else None
    start_key = {"campaign_id": {"S": campaign_id}, "shopper_id": {"S": after}} if after else None
    results = Participant.query(campaign_id, limit=CSV_ROWS, page_size=1000, last_evaluated_key=start_key)
    rows = list(results)
    phones = _phones([p.shopper_id for p in rows], reveal_phones)
    lines = [",".join(CSV_COLUMNS)] + [
        ",".join((p.shopper_id, phones.get(p.shopper_id, ""), str(int(p.claims)), str(int(p.points)),
                  str(int(p.entries)), format_instant(p.first_claim_at) if p.first_claim_at else "",
                  format_instant(p.last_claim_at) if p.last_claim_at else ""))
        for p in rows]
    next_cursor = encode_cursor(rows[-1].shopper_id) if len(rows) == CSV_ROWS and results.last_evaluated_key else None
    return "\n".join(lines) + "\n", next_cursor, f"participants-{campaign_id}.csv"


# --- reconciliation ----------------------------------------------------------------------


@dataclass
class Reconciliation:
    """Counters recomputed from claim records, compared with the stored ones."""

    campaign_id: str
    claims: int = 0
    pending: int = 0
    differences: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _campaign_claims(campaign_id: str, segments: int = 4) -> list[CodeState]:
    """Every claim record of a campaign (a parallel scan: this is an audit, its cost is the table)."""
    def segment(n: int) -> list[CodeState]:
        return list(CodeState.scan((CodeState.campaign_id == campaign_id) & (CodeState.state == "claimed"),
                                   segment=n, total_segments=segments))

    with ThreadPoolExecutor(segments) as pool:
        return [claim for part in pool.map(segment, range(segments)) for claim in part]


def _stored(campaign_id: str) -> dict[str, dict[str, int]]:
    """Stored claim counters summed over shards, by counter item (refusal shards left out)."""
    shards: dict[str, list[dict]] = defaultdict(list)
    for item in _stat_items(campaign_id, "a", "zz"):
        item_name, _, shard = item["stat_key"]["S"].rpartition("#")
        if not shard.startswith("r"):
            shards[item_name].append(item)
    return {item_name: _sum(items) for item_name, items in shards.items()}


def reconcile(campaign_id: str, *, count_pending: bool = False, fix: bool = False) -> Reconciliation:
    """Recompute every claim counter of a campaign from its claim records and compare.

    Claims not yet counted (the stream is behind, or a handler died) are reported as
    pending and left out of the comparison; `count_pending` counts them now (exactly once,
    like the aggregator). `fix` adds the differences to shard 0 so the sums match again;
    run it when the stream is caught up.
    """
    report = Reconciliation(campaign_id)
    claims = _campaign_claims(campaign_id)
    pending = [c for c in claims if not c.counted]
    if count_pending and pending:
        count_claims(pending)
        claims = _campaign_claims(campaign_id)
        pending = [c for c in claims if not c.counted]
    report.claims, report.pending = len(claims), len(pending)
    expected: dict[str, dict[str, int]] = {}
    for claim in claims:
        if claim.counted:
            _add(expected, claim_increments(claim))
    stored = _stored(campaign_id)
    for item in sorted(set(expected) | set(stored)):
        want, have = expected.get(item, {}), stored.get(item, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name, 0) != have.get(name, 0):
                report.differences.append((item, name, want.get(name, 0), have.get(name, 0)))
    if fix and report.differences:
        corrections: dict[str, dict[str, int]] = defaultdict(dict)
        for item, name, want, have in report.differences:
            corrections[item][name] = want - have
        client = _client()
        for item, counts in corrections.items():
            client.update_item(**_add_update(campaign_id, f"{item}#0", counts))
    return report
