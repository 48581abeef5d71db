"""The brand's audit trail as stored: one event an item, appended and never overwritten, read newest first."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters import paging
from chalicelib.adapters.models import AuditEvent
from chalicelib.adapters.records import create

__all__ = ["KEEP", "append", "event", "transaction_put", "events_page", "inserted_events"]

KEEP = timedelta(days=2 * 366)
"""How long an event is kept: two years, the span of the longest campaigns and their disputes."""


def event(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any], now: datetime) -> AuditEvent:
    """One event, not yet written: for a store's TransactWrite that saves it with the change it records."""
    return AuditEvent(
        brand_id,
        f"{now.isoformat(timespec='microseconds')}#{secrets.token_hex(4)}",
        at=now,
        actor=actor,
        action=action,
        target=target,
        details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
        expires_at=now + KEEP,
    )


def append(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any], now: datetime) -> None:
    """Append one event to the brand's trail; never overwrites one (its key is new)."""
    create(event(brand_id, actor, action, target, details, now), AuditEvent.event_key, "audit event")


def transaction_put(
    brand_id: str, actor: str, action: str, target: str, details: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The same event as a TransactWriteItems Put, for a change whose record must not be lost between
    the change and its event (a crash between two writes). Raw, as the low-level transactions it
    joins are (PynamoDB's TransactWrite takes models, not items)."""
    return {
        "Put": {
            "TableName": AuditEvent.Meta.table_name,
            "Item": event(brand_id, actor, action, target, details, now).serialize(),
            "ConditionExpression": "attribute_not_exists(event_key)",
        }
    }


# An event's key is its instant and four random bytes (`event`).
_CURSOR = paging.Cursor.of(event_key=r"^\d{4}-\d{2}-\d{2}T[0-9:.+-]{8,40}#[0-9a-f]{8}$")


def events_page(brand_id: str, limit: int, cursor: str | None, render: Callable[[AuditEvent], dict]) -> dict:
    """One page of the brand's events, newest first, as `{items, next_cursor}`."""
    results = AuditEvent.query(brand_id, **_CURSOR.newest_first(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, _CURSOR, lambda: results.last_evaluated_key)


def inserted_events(records: Iterable[dict]) -> list[AuditEvent]:
    """The events a DynamoDB stream batch of the audit table inserted (Lambda's event shape)."""
    found = []
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage")
        if record.get("eventName") == "INSERT" and image:
            found.append(AuditEvent.from_raw_data(image))
    return found
