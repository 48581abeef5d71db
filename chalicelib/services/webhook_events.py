"""Webhook events derived from the changes' stream records (claims, the audit trail), each written once to the outbox and fanned out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.adapters import audit_log, counters, webhook_store
from chalicelib.adapters.models import AuditEvent, CodeState, WebhookEndpoint, WebhookEvent
from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
from chalicelib.domain import clock, integrity
from chalicelib.domain.lifecycle import BatchStatus, CodeStatus, WebhookStatus
from chalicelib.domain.phones import brand_shopper_id
from chalicelib.domain.webhooks import event_id, object_version
from chalicelib.services import webhook_delivery

__all__ = ["Change", "from_claims", "from_audit", "claim_events", "audit_events", "signal_event", "publish"]

_WRITERS = 8  # conditional puts in flight at once (the shared client's pool holds more)


@dataclass(frozen=True)
class Change:
    """One event to publish: the brand, what it is, when the change happened, what identifies it, its data."""

    brand_id: str
    type: str
    at: datetime
    source: str  # what makes the id: the same change always gives the same
    data: dict[str, Any]


def _prize(claim: CodeState) -> dict[str, Any] | None:
    return {"id": claim.prize_id, "name": claim.prize_name} if claim.prize_id else None


def claim_events(claim: CodeState, member_id: str) -> list[Change]:
    """A claim's events: granted; a prize won with it; the member's tier moved by it."""
    common = {"claim_id": claim.code_key, "campaign_id": claim.campaign_id, "member_id": member_id}
    at, source = claim.changed_at, f"claim:{claim.code_key}"
    found = [
        Change(
            claim.brand_id,
            "claim.granted",
            at,
            f"{source}:granted",
            {
                **common,
                "batch_id": claim.batch_id,
                "sku": claim.sku,
                "points": int(claim.points or 0),
                "entries": int(claim.entries or 0),
                "prize": _prize(claim),
                "tier": claim.tier,
                "claimed_at": at.isoformat(),
            },
        )
    ]
    if claim.prize_id:
        found.append(Change(claim.brand_id, "prize.won", at, f"{source}:prize", {**common, "prize": _prize(claim)}))
    if claim.tier_to:
        tier = {
            "member_id": member_id,
            "from": claim.tier_from,
            "to": claim.tier_to,
            "cause": "claim",
            "claim_id": claim.code_key,
        }
        found.append(Change(claim.brand_id, "member.tier_changed", at, f"{source}:tier", tier))
    return found


def _batch(event: AuditEvent, details: dict) -> list[tuple[str, dict]]:
    after = (details.get("status") or {}).get("after")
    kinds = {BatchStatus.ACTIVE: "batch.activated", BatchStatus.VOID: "batch.voided"}
    return [(kinds[after], {"batch_id": event.target})] if after in kinds else []


def _draw(kind: str, fields: tuple[str, ...]) -> Callable[[AuditEvent, dict], list[tuple[str, dict]]]:
    return lambda event, details: [(kind, {"draw_id": event.target, **{f: details.get(f) for f in fields}})]


def _redemption(kind: str, fields: tuple[str, ...]) -> Callable[[AuditEvent, dict], list[tuple[str, dict]]]:
    return lambda event, details: [(kind, {"redemption_id": event.target, **{f: details.get(f) for f in fields}})]


_AUDITED: dict[str, Callable[[AuditEvent, dict], list[tuple[str, dict]]]] = {
    "batch_status": _batch,
    "redemption_shipped": _redemption("redemption.shipped", ("note",)),
    "redemption_cancelled": _redemption("redemption.cancelled", ("points_refunded",)),
    "draw_frozen": _draw("draw.frozen", ("snapshot_sha256", "entries_total", "participants")),
    # The picks are the brand's pseudonyms (draw_snapshot), never a phone number.
    "draw_drawn": _draw("draw.drawn", ("winners", "alternates")),
}


def _win(event: AuditEvent, details: dict) -> list[tuple[str, dict]]:
    draw_id, _, pick = event.target.partition("#")
    status = event.action.removeprefix("win_")
    found = [(f"win.{status}", {"draw_id": draw_id, "pick": int(pick) if pick.isdigit() else pick})]
    passed = str(details.get("passed_to") or "")
    if passed.startswith("pick:"):
        promoted = passed.removeprefix("pick:")
        found.append(
            ("win.alternate_promoted", {"draw_id": draw_id, "pick": int(promoted), "replaces": found[0][1]["pick"]})
        )
    return found


def audit_events(event: AuditEvent) -> list[Change]:
    """The events an operator's change (as its audit event records it) makes; none for most actions."""
    make = _win if event.action.startswith("win_") else _AUDITED.get(event.action)
    if make is None:
        return []
    details = json.loads(event.details or "{}")
    source = f"audit:{event.brand_id}:{event.event_key}"
    return [
        Change(event.brand_id, kind, event.at, f"{source}:{kind}", {**data, "by": event.actor})
        for kind, data in make(event, details)
    ]


def signal_event(
    brand_id: str, campaign_id: str, key: str, facts: Mapping[str, str | int], sets: Mapping[str, set[str]]
) -> Change:
    """`integrity.signal_raised`, once per signal (its key names it): what it is, and the codes, batches, places
    and the brand's pseudonyms of the shoppers involved (never the platform's ids, never a number)."""
    _, kind, subject = key.split("#", 2)
    pepper, keyring = get_phone_hash_pepper(), get_keyring()
    # Named as the signals route names them: codes as printed, shoppers as the brand's pseudonyms.
    data: dict[str, Any] = {
        "campaign_id": campaign_id,
        "kind": kind,
        "subject": integrity.signal_subject(kind, subject, brand_id, pepper, keyring),
        "facts": {name: value for name, value in facts.items() if name != "updated_at"},
        "codes": [integrity.code_text(keyring, code)["code"] for code in sorted(sets.get("codes", ()))],
        "batches": sorted(sets.get("batches", ())),
        "places": sorted(sets.get("places", ())),
        "member_ids": sorted(brand_shopper_id(pepper, brand_id, s) for s in sets.get("shoppers", ())),
    }
    return Change(brand_id, "integrity.signal_raised", clock.now(), f"signal:{campaign_id}:{key}", data)


def from_claims(records: list[dict]) -> int:
    """code_states' stream records (the stats aggregator's batch): each new claim's events published."""
    pepper = get_phone_hash_pepper()
    changes = [
        change
        for claim in counters.inserted_codes(records)
        if claim.state == CodeStatus.CLAIMED and claim.shopper_id
        for change in claim_events(claim, brand_shopper_id(pepper, claim.brand_id, str(claim.shopper_id)))
    ]
    return publish(changes)


def from_audit(records: list[dict]) -> int:
    """The audit table's stream records: each operator change's events published."""
    return publish([change for event in audit_log.inserted_events(records) for change in audit_events(event)])


def _outbox(change: Change, now: datetime) -> WebhookEvent:
    identity = event_id(change.source)
    body = {
        "id": identity,
        "type": change.type,
        "timestamp": change.at.isoformat(),
        "data": {**change.data, "version": object_version(change.at)},
    }
    return WebhookEvent(
        change.brand_id,
        f"{change.at.isoformat(timespec='microseconds')}#{identity}",
        event_id=identity,
        type=change.type,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
        expires_at=now + webhook_store.KEEP,
    )


def publish(changes: Iterable[Change]) -> int:
    """Write each change's event once (when an endpoint of the brand, enabled or not, subscribes to its
    type) and a delivery to each enabled one, then queue those deliveries. Safe to run again on the same changes: the event and its deliveries
    are written on condition they are new, and a delivery queued twice is posted once (its lease).

    The changes are written side by side (each its event, then its deliveries): one after another,
    a stream batch of a hundred took longer than the hundred changes took to happen."""
    now = clock.now()
    changes = list(changes)
    endpoints = {brand: _subscribers(brand) for brand in {change.brand_id for change in changes}}

    def write(change: Change) -> tuple[bool, list[tuple[str, str]]]:
        wanted = [endpoint for endpoint in endpoints[change.brand_id] if change.type in endpoint.event_types]
        if not wanted:  # nobody asked for it: no write on every claim of a brand without webhooks
            return False, []
        event = _outbox(change, now)
        new = webhook_store.put_event(event)
        queued = []
        for endpoint in wanted:
            if endpoint.status == WebhookStatus.ENABLED:
                webhook_store.put_delivery(webhook_delivery.new_delivery(endpoint, event, now))
                queued.append((endpoint.webhook_id, event.event_key))
        return new, queued

    if len(changes) > 1:
        with ThreadPoolExecutor(_WRITERS) as pool:
            written = list(pool.map(write, changes))
    else:
        written = [write(change) for change in changes]
    webhook_delivery.enqueue([key for _, queued in written for key in queued])
    return sum(new for new, _ in written)


def _subscribers(brand_id: str) -> list[WebhookEndpoint]:
    """The brand's endpoints, a disabled one too: its events are kept for a replay once it is enabled again."""
    return webhook_store.endpoints(brand_id)
