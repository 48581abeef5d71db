"""Campaign statistics, the reading part: totals, time series, batches and participants, at a cost fixed by the range."""

from __future__ import annotations

import re
import zoneinfo
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from chalicelib.adapters import counters, paging, participants, shopper_store
from chalicelib.adapters.models import Batch
from chalicelib.adapters.records import campaign_batches, drawn_by_line, load_campaign, prizes_awarded
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain.csvfile import csv_text
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.lifecycle import BatchStatus
from chalicelib.domain.phones import brand_shopper_id, seal_text, unseal_phone, unseal_text
from chalicelib.domain.statistics import (
    HISTOGRAM,
    MAX_DAY_RANGE,
    MAX_HOUR_RANGE,
    RANK_SHARDS,
    REFUSALS,
    SERIES_MARGIN,
    TOP,
    local_day,
    midnight,
    monday,
    zone,
)
from chalicelib.domain.validation import NOT_A_CURSOR, format_instant

__all__ = [
    "CSV_ROWS",
    "CSV_COLUMNS",
    "campaign_stats",
    "timeseries",
    "batch_stats",
    "participant_stats",
    "participants_csv",
    "CsvSlice",
]

CSV_ROWS = 50_000
# `marketing`: "yes" when the shopper lets this brand market to them now (GET/PUT /v1/me/consents), else "no".
CSV_COLUMNS = ("shopper_id", "phone", "claims", "points", "entries", "first_claim_at", "last_claim_at", "marketing")


def _totals(campaign_id: str) -> dict[str, int]:
    return counters.totals(campaign_id)


def _batches(campaign_id: str) -> list[Batch]:
    return campaign_batches(campaign_id)


def campaign_stats(brand_id: str, campaign_id: str) -> dict:
    """Totals of a campaign: codes, scans by outcome, participants, points, entries, prizes."""
    campaign = load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    batches = _batches(campaign_id)
    prizes = list(campaign.prizes or [])
    # Instant lines are awarded by scans (their counters), draw lines by draws (the campaign's count).
    awarded = {**prizes_awarded(campaign_id, [p.prize_id for p in prizes]), **drawn_by_line(campaign)}
    unique, returning = totals.get("participants", 0), totals.get("returning", 0)
    scans = {"granted": totals.get("granted", 0), **{kind: totals.get(kind, 0) for kind in REFUSALS}}
    return {
        "campaign_id": campaign_id,
        "timezone": campaign.timezone,
        "as_of": format_instant(clock.now()),
        "codes": {
            "minted": sum(int(b.quantity) for b in batches),
            "active": sum(int(b.quantity) for b in batches if b.status == BatchStatus.ACTIVE),
            "batches": len(batches),
        },
        "scans": {"total": sum(scans.values()), **scans},
        "participants": {"unique": unique, "new": unique - returning, "returning": returning},
        "points_issued": totals.get("points", 0),
        "entries_issued": totals.get("entries", 0),
        "prizes": [
            {
                "prize_id": p.prize_id,
                "name": p.name,
                "quantity": int(p.quantity),
                "awarded": awarded.get(p.prize_id, 0),
                "left": max(0, int(p.quantity) - awarded.get(p.prize_id, 0)),
            }
            for p in prizes
        ],
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
            return midnight(day + timedelta(days=1), tz) - timedelta(microseconds=1) if end else midnight(day, tz)
        if _INSTANT.match(raw):
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        pass
    raise InvalidInput(
        f"{name}: use a date (2026-11-01) or an instant with an offset (2026-11-01T08:00:00+07:00).", field=name
    )


def _bucket_row(start: datetime, tz: zoneinfo.ZoneInfo, counts: dict[str, int], suffix: str) -> dict:
    row = {"start": start.astimezone(tz).isoformat(timespec="seconds"), "granted": counts.get("granted" + suffix, 0)}
    row.update({kind: counts.get(kind + suffix, 0) for kind in REFUSALS})
    row["new_participants"] = counts.get("new" + suffix, 0)
    row["returning_participants"] = counts.get("returning" + suffix, 0)
    row["points"] = counts.get("points" + suffix, 0)
    return row


def timeseries(
    brand_id: str,
    campaign_id: str,
    *,
    granularity: str | None = None,
    start: str | None = None,
    end: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Scans and participants per local hour or day between `from` and `to` (both included).

    Reads one counter item per day and shard in the range, whatever the number of scans.
    """
    granularity = "day" if granularity is None else granularity
    if granularity not in ("hour", "day"):
        raise InvalidInput("granularity: must be hour or day.", field="granularity")
    campaign = load_campaign(brand_id, campaign_id)
    tz = zone(campaign.timezone)
    now = now or clock.now()
    to = _range_end("to", end, tz, end=True) or max(campaign.starts_at, min(now, campaign.ends_at))
    default_from = campaign.starts_at if granularity == "day" else max(campaign.starts_at, to - timedelta(hours=47))
    since = _range_end("from", start, tz, end=False) or min(default_from, to)
    if since > to:
        raise InvalidInput("from: must not be after to.", field="from")
    longest = MAX_HOUR_RANGE if granularity == "hour" else MAX_DAY_RANGE
    if to - since > longest:
        limit = "366 days by hour" if granularity == "hour" else "5 years by day"
        raise InvalidInput(f"to: the range may be at most {limit}.", field="to")
    earliest, latest = campaign.starts_at - SERIES_MARGIN, campaign.ends_at + SERIES_MARGIN
    if since < earliest:
        raise InvalidInput(
            f"from: must be on or after {local_day(earliest, tz)}, five years before the campaign starts.", field="from"
        )
    if to > latest:
        raise InvalidInput(
            f"to: must be on or before {local_day(latest, tz)}, five years after the campaign ends.", field="to"
        )
    first_day, last_day = local_day(since, tz), local_day(to, tz)
    by_day = counters.days(campaign_id, first_day, last_day)
    buckets = []
    day = first_day
    while day <= last_day:
        counts = by_day.get(day, {})
        day_start = midnight(day, tz)
        if granularity == "day":
            buckets.append(_bucket_row(day_start, tz, counts, ""))
        else:
            hours = int((midnight(day + timedelta(days=1), tz) - day_start).total_seconds() // 3600)
            for hour in range(hours):
                hour_start = day_start + timedelta(hours=hour)
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
    load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    rows: list[dict] = []
    skus: dict[str, dict] = {}
    for batch in _batches(campaign_id):
        claims, quantity = totals.get(f"b#{batch.batch_id}", 0), int(batch.quantity)
        rows.append(
            {
                "batch_id": batch.batch_id,
                "batch_number": int(batch.batch_number),
                "sku": batch.sku,
                "label": batch.label,
                "status": batch.status,
                "quantity": quantity,
                "claims": claims,
                "redemption_rate": _rate(claims, quantity),
            }
        )
        sku = skus.setdefault(batch.sku, {"sku": batch.sku, "batches": 0, "quantity": 0, "claims": 0})
        sku["batches"] += 1
        sku["quantity"] += quantity
        sku["claims"] += claims
    return {
        "campaign_id": campaign_id,
        "batches": rows,
        "skus": [{**s, "redemption_rate": _rate(s["claims"], s["quantity"])} for s in skus.values()],
    }


def _phones(shopper_ids: list[str], reveal: bool) -> dict[str, str]:
    """Shown phone numbers: masked, or in clear for an owner (unsealed, never logged)."""
    return {shopper_id: phone for shopper_id, (phone, _) in _shown(shopper_ids, reveal, "").items()}


def _shown(shopper_ids: list[str], reveal: bool, brand_id: str) -> dict[str, tuple[str, bool]]:
    """Each shopper's shown phone number and whether they let `brand_id` market to them, from one read."""
    shown: dict[str, tuple[str, bool]] = {}
    for account in shopper_store.accounts(shopper_ids):
        phone = account.phone_masked
        if reveal and account.phone_sealed:
            phone = unseal_phone(account.phone_sealed, get_phone_hash_pepper())
        shown[account.shopper_id] = (phone, brand_id in (account.marketing_brands or ()))
    return shown


def _brand_id(brand_id: str, shopper_id: str) -> str:
    # What a brand sees: its own pseudonym for the shopper, never the platform's id.
    return brand_shopper_id(get_phone_hash_pepper(), brand_id, shopper_id)


def participant_stats(
    brand_id: str, campaign_id: str, *, reveal_phones: bool = False, now: datetime | None = None
) -> dict:
    """Claims-per-participant histogram, repeat rate, weekly cohort retention, top participants."""
    campaign = load_campaign(brand_id, campaign_id)
    totals = _totals(campaign_id)
    unique = totals.get("participants", 0)
    histogram = [{"claims": name, "participants": totals.get(f"hist#{name}", 0)} for _, name in HISTOGRAM]
    repeaters = unique - totals.get("hist#1", 0)
    cells: dict[str, dict[int, int]] = defaultdict(dict)
    for name, value in totals.items():
        if name.startswith("coh#") and value:
            _, week, offset = name.split("#")
            cells[week][int(offset)] = value
    tz = zone(campaign.timezone)
    this_week = monday(local_day(min(now or clock.now(), campaign.ends_at), tz))
    cohorts = []
    for week in sorted(cells):
        size = cells[week].get(0, 0)
        weeks = max(max(cells[week]), (this_week - date.fromisoformat(week)).days // 7)
        cohorts.append(
            {
                "week": week,
                "participants": size,
                "retention": [
                    {"week": k, "participants": cells[week].get(k, 0), "rate": _rate(cells[week].get(k, 0), size)}
                    for k in range(weeks + 1)
                ],
            }
        )
    leaders = participants.top_of_shards(campaign_id, RANK_SHARDS, TOP)
    leaders.sort(key=lambda p: (-int(p.claims), p.first_claim_at or datetime.max.replace(tzinfo=UTC), p.shopper_id))
    leaders = leaders[:TOP]
    phones = _phones([p.shopper_id for p in leaders], reveal_phones)
    top = [
        {
            "rank": rank,
            "shopper_id": _brand_id(brand_id, p.shopper_id),
            "phone": phones.get(p.shopper_id, ""),
            "claims": int(p.claims),
            "points": int(p.points),
            "entries": int(p.entries),
            "first_claim_at": format_instant(p.first_claim_at) if p.first_claim_at else None,
            "last_claim_at": format_instant(p.last_claim_at) if p.last_claim_at else None,
        }
        for rank, p in enumerate(leaders, start=1)
    ]
    return {
        "campaign_id": campaign_id,
        "participants": unique,
        "repeat_rate": _rate(repeaters, unique),
        "histogram": histogram,
        "cohorts": cohorts,
        "top": top,
    }


_CURSOR_PURPOSE = "participants-cursor"
# The cursor carries the last row's shopper id sealed, never in clear.
_SEALED = paging.Cursor.of(shopper_id=r"^v1:[A-Za-z0-9_=-]{28,200}$")


class CsvSlice(NamedTuple):
    """One slice of a CSV download: its text, the cursor of the next slice, its file name, its rows."""

    body: str
    next_cursor: str | None
    file_name: str
    rows: int


def participants_csv(brand_id: str, campaign_id: str, *, reveal_phones: bool, cursor: str | None = None) -> CsvSlice:
    """One slice of the participants CSV (up to CSV_ROWS rows).

    The cursor carries the last row's key sealed: the platform's shopper ids never reach
    a brand, not even inside a cursor.
    """
    load_campaign(brand_id, campaign_id)
    after = None
    if cursor:
        (sealed,) = _SEALED.values(cursor)
        try:
            after = unseal_text(sealed, get_phone_hash_pepper(), f"{_CURSOR_PURPOSE}:{campaign_id}")
        except ValueError:
            raise InvalidInput(NOT_A_CURSOR, field="cursor") from None
    rows, more = participants.participants_after(campaign_id, after, CSV_ROWS)
    accounts = _shown([p.shopper_id for p in rows], reveal_phones, brand_id)
    body = csv_text(
        CSV_COLUMNS,
        (
            (
                _brand_id(brand_id, p.shopper_id),
                accounts.get(p.shopper_id, ("", False))[0],
                int(p.claims),
                int(p.points),
                int(p.entries),
                format_instant(p.first_claim_at) if p.first_claim_at else "",
                format_instant(p.last_claim_at) if p.last_claim_at else "",
                "yes" if accounts.get(p.shopper_id, ("", False))[1] else "no",
            )
            for p in rows
        ),
    )
    next_cursor = None
    if len(rows) == CSV_ROWS and more:
        sealed = seal_text(rows[-1].shopper_id, get_phone_hash_pepper(), f"{_CURSOR_PURPOSE}:{campaign_id}")
        next_cursor = _SEALED.after({"shopper_id": sealed}, len(rows), CSV_ROWS)
    return CsvSlice(body, next_cursor, f"participants-{campaign_id}.csv", len(rows))
