"""The brand's audit trail, written: what operators changed on started campaigns, and who saw phone numbers."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from chalicelib.adapters.models import AuditEvent
from chalicelib.adapters.records import create
from chalicelib.domain import clock

__all__ = ["KEEP", "record", "transaction_item", "changes"]

KEEP = timedelta(days=2 * 366)
"""How long an event is kept: two years, the span of the longest campaigns and their disputes."""


def _event(brand_id: str, actor: str, action: str, target: str, details: dict) -> AuditEvent:
    now = clock.now()
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


def record(brand_id: str, actor: str, action: str, target: str, details: dict) -> None:
    """Append one event to the brand's trail; never overwrites one (its key is new)."""
    create(_event(brand_id, actor, action, target, details), AuditEvent.event_key, "audit event")


def transaction_item(brand_id: str, actor: str, action: str, target: str, details: dict) -> dict:
    """The same event as a transaction's Put, for a change whose record must not be lost
    between the change and its event (a crash between two writes)."""
    return {
        "Put": {
            "TableName": AuditEvent.Meta.table_name,
            "Item": _event(brand_id, actor, action, target, details).serialize(),
            "ConditionExpression": "attribute_not_exists(event_key)",
        }
    }


def changes(before: dict, after: dict) -> dict:
    """The fields that differ, as {field: {"before": ..., "after": ...}} (bookkeeping fields left out)."""
    ignored = {"updated_at", "version"}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if name not in ignored and before.get(name) != after.get(name)
    }
