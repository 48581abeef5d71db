"""Pack integrity, the read side: scans and participants by place, and a campaign's signals with who and what they name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import date, timedelta

from chalicelib.adapters import counters, integrity_store
from chalicelib.adapters.models import Batch
from chalicelib.adapters.records import campaign_batches, load_campaign
from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain import integrity as rules
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.phones import brand_shopper_id
from chalicelib.domain.places import name_of
from chalicelib.domain.statistics import local_day, zone

__all__ = ["MAX_PLACE_DAYS", "place_stats", "campaign_signals"]

MAX_PLACE_DAYS = 366


def _by_place(counts: dict[str, int]) -> list[dict]:
    """Scans (`s#`) and new participants (`p#`) by place, most scans first."""
    places: dict[str, dict] = {}
    for name, value in counts.items():
        kind, _, place = name.partition("#")
        if kind in ("s", "p") and place:
            row = places.setdefault(place, {"place": place, "name": name_of(place), "scans": 0, "participants": 0})
            row["scans" if kind == "s" else "participants"] += value
    return sorted(places.values(), key=lambda row: (-row["scans"], -row["participants"], row["place"]))


def _day(raw: str | None, name: str, default: date) -> date:
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name}: A date like 2026-11-01.", field=name) from None


def place_stats(brand_id: str, campaign_id: str, *, start: str | None = None, end: str | None = None) -> dict:
    """Granted scans and participants (at the place of their first claim) by province or region, in all
    and by local day from `from` to `to`: a few counter items per day, whatever the number of scans."""
    campaign = load_campaign(brand_id, campaign_id)
    tz = zone(campaign.timezone)
    last_default = local_day(max(campaign.starts_at, min(clock.now(), campaign.ends_at)), tz)
    last = _day(end, "to", last_default)
    first = _day(start, "from", max(local_day(campaign.starts_at, tz), last - timedelta(days=30)))
    if first > last:
        raise InvalidInput("from: must not be after to.", field="from")
    if (last - first).days >= MAX_PLACE_DAYS:
        raise InvalidInput(f"to: at most {MAX_PLACE_DAYS} days from from.", field="to")
    total = counters.summed(counts for _, counts in counters.items(campaign_id, "place#", "place$"))
    shards: dict[str, list[dict[str, int]]] = defaultdict(list)
    for key, counts in counters.items(campaign_id, f"pday#{first.isoformat()}", f"pday#{last.isoformat()}$"):
        shards[key.split("#")[1]].append(counts)
    days = []
    day = first
    while day <= last:
        days.append({"date": day.isoformat(), "places": _by_place(counters.summed(shards.get(day.isoformat(), [])))})
        day += timedelta(days=1)
    return {
        "campaign_id": campaign_id,
        "timezone": campaign.timezone,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "places": _by_place(total),
        "days": days,
    }


def _diverted(campaign_id: str, batches: list[Batch], limits: rules.Thresholds) -> list[dict]:
    """The batches with a market whose scans outside it cross the thresholds (read now, from their counters)."""
    found = []
    for batch in batches:
        if not batch.market_country:
            continue
        by_place = counters.summed(
            c for _, c in counters.items(campaign_id, f"bp#{batch.batch_id}#", f"bp#{batch.batch_id}$")
        )
        outside, placed = rules.diverted(by_place, batch.market_country, batch.market_places or ())
        if rules.diverted_raised(outside, placed, limits):
            market = set(batch.market_places or ())
            elsewhere = sorted(
                p for p, n in by_place.items() if n and rules.outside_market(p, batch.market_country, market)
            )
            found.append(
                {
                    "kind": "diverted_batch",
                    "subject": batch.batch_id,
                    "batches": [{"batch_id": batch.batch_id, "status": batch.status}],
                    "codes": [],
                    "shoppers": [],
                    "places": elsewhere,
                    "count": outside,
                    "share": round(outside / placed, 4) if placed else 0.0,
                    "market": {"country": batch.market_country, "places": sorted(market)},
                }
            )
    return found


def campaign_signals(brand_id: str, campaign_id: str) -> dict:
    """Every signal raised in a campaign, with the codes, batches, places and shoppers it names (shoppers
    as the brand's own pseudonyms, never the platform's ids), and the thresholds in force."""
    load_campaign(brand_id, campaign_id)
    limits = rules.thresholds_from(integrity_store.thresholds(brand_id))
    batches = campaign_batches(campaign_id)
    status = {b.batch_id: b.status for b in batches}
    pepper, keyring = get_phone_hash_pepper(), get_keyring()
    found = _diverted(campaign_id, batches, limits)
    for key, item in integrity_store.signals(integrity_store.partition(campaign_id)):
        _, kind, subject = key.split("#", 2)
        found.append(
            {
                "kind": kind,
                "subject": rules.signal_subject(kind, subject, brand_id, pepper, keyring),
                "batches": [{"batch_id": b, "status": status.get(b)} for b in item.get("batches", [])],
                "codes": [rules.code_text(keyring, c) for c in item.get("codes", [])][: integrity_store.MOST_LISTED],
                "shoppers": [brand_shopper_id(pepper, brand_id, s) for s in item.get("shoppers", [])],
                "places": item.get("places", []),
                "count": int(item.get("tries") or item.get("claims") or item.get("invalid") or 0),
                "reason": item.get("reason"),
                "updated_at": item.get("updated_at"),
            }
        )
    order = {kind: i for i, kind in enumerate(rules.SIGNALS)}
    found.sort(key=lambda s: (order.get(s["kind"], 9), -s["count"], s["subject"]))
    return {"campaign_id": campaign_id, "thresholds": asdict(limits), "signals": found}
