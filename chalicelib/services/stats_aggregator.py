"""Campaign statistics, the writing part: claims from the stream folded into sharded counters, and refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

from chalicelib.adapters import claim_store, counters
from chalicelib.adapters.counters import brand_partition
from chalicelib.adapters.models import Campaign, CodeState
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain.lifecycle import CodeStatus
from chalicelib.domain.places import network_pseudonym
from chalicelib.domain.statistics import (
    REFUSALS,
    add_counts,
    claim_increments,
    refusal_increments,
    zone,
)
from chalicelib.services import signals

__all__ = [
    "TX_ITEMS",
    "Seen",
    "refusal_key",
    "brand_partition",
    "record_refusal",
    "handle_stream_records",
    "counters_of",
    "transaction_groups",
    "count_claims",
]

TX_ITEMS = 100  # DynamoDB's limit on items in one transaction


REFUSAL_KEEP = timedelta(days=7)  # a refusal event outlives the stream's 24 hours and any resend


def refusal_key(shopper_id: str, request_key: str) -> str:
    """The code_states key of a refusal: one per shopper and request, so a resend is the same refusal."""
    return f"r#{shopper_id}#{request_key}"


class Seen(NamedTuple):
    """Where a refused scan was seen, for the integrity signals: its code's key, its coarse place, and
    the request's source address (only an invalid code's refusal keeps anything of it: its network's pseudonym)."""

    code: str | None
    place: str
    ip: str | None


def record_refusal(
    campaign: Campaign,
    batch_id: str,
    kind: str,
    now: datetime,
    *,
    shopper_id: str,
    request_key: str | None,
    seen: Seen | None = None,
) -> None:
    """Record one refused scan of a campaign's code; the aggregator counts it from the stream.

    Keyed by the shopper and the request's Idempotency-Key, so a phone that sends the same
    request again after a dropped answer records one refusal (without a key, every request
    is its own). A failure propagates: the shopper is told to try again rather than the
    refusal going uncounted, and the resend records it once.
    """
    if kind not in REFUSALS:
        raise ValueError(f"unknown refusal kind {kind}")
    refusal = CodeState(
        refusal_key(shopper_id, request_key or uuid.uuid4().hex),
        state=CodeStatus.REFUSED,
        kind=kind,
        campaign_id=campaign.campaign_id,
        brand_id=campaign.brand_id,
        batch_id=batch_id,
        timezone=campaign.timezone,
        changed_at=now,
        changed_by=shopper_id,
        expires_at=now + REFUSAL_KEEP,
    )
    if seen is not None:
        refusal.code, refusal.place = seen.code or None, seen.place
        if kind == "invalid" and seen.ip:
            refusal.network = network_pseudonym(seen.ip, get_phone_hash_pepper())
    # False when an earlier copy of this request recorded it: counted once either way.
    claim_store.record_refusal(refusal)


def handle_stream_records(records: list[dict]) -> int:
    """The stream handler: count the new claims and refusals among `records`, then fold them into the
    integrity signals (services/signals.py); returns how many were counted now."""
    inserted = counters.inserted_codes(records)
    counted = count_claims(inserted)
    signals.observe(inserted)
    return counted


def _increments(item: CodeState) -> dict[tuple[str, str, str], dict[str, int]]:
    """What one claim or refusal adds, by (partition, counter item, shard prefix): a campaign's
    claims on `#<n>`, its refusals on `#r<n>`; and a claim's brand loyalty figures (points
    earned, members per tier) under the brand's partition."""
    if item.state == CodeStatus.REFUSED:
        moved = refusal_increments(str(item.kind), item.changed_at, zone(item.timezone))
        return {(item.campaign_id, name, "r"): counts for name, counts in moved.items()}
    found = {(item.campaign_id, name, ""): counts for name, counts in claim_increments(item).items()}
    brand: dict[str, int] = {"earned": int(item.points or 0)}
    if item.tier_to:
        brand[f"t#{item.tier_to}"] = brand.get(f"t#{item.tier_to}", 0) + 1
        if item.tier_from:
            brand[f"t#{item.tier_from}"] = brand.get(f"t#{item.tier_from}", 0) - 1
    brand = {name: value for name, value in brand.items() if value}
    if brand:
        found[(brand_partition(item.brand_id), "total", "")] = brand
    return found


def counters_of(group: list[CodeState]) -> dict[tuple[str, str, str], dict[str, int]]:
    """The summed increments of a group of claims and refusals, by (partition, counter item, shard prefix)."""
    counters: dict[tuple[str, str, str], dict[str, int]] = {}
    for item in group:
        add_counts(counters, _increments(item))
    return counters


def transaction_groups(items: list[CodeState]) -> Iterator[list[CodeState]]:
    """Groups of claims and refusals whose markers and counter items fit in one transaction."""
    group: list[CodeState] = []
    keys: set[tuple[str, str, str]] = set()
    for item in items:
        mine = set(_increments(item))
        if group and len(group) + 1 + len(keys | mine) > TX_ITEMS:
            yield group
            group, keys = [], set()
        group.append(item)
        keys |= mine
    if group:
        yield group


def count_claims(claims: list[CodeState]) -> int:
    """Fold claims (and refusals) into the counters exactly once, however often they are delivered."""
    return sum(_count_group(group) for group in transaction_groups(sorted(claims, key=lambda c: c.code_key)))


def _count_group(group: list[CodeState]) -> int:
    return counters.count_once(group, counters_of)
