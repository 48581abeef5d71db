"""The brand's audit trail, written: what operators changed on started campaigns, and who saw phone numbers."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.adapters import audit_log
from chalicelib.adapters.models import AuditEvent
from chalicelib.domain import clock
from chalicelib.logs import log_event

__all__ = ["CLEAR_VIEWS", "record", "transaction_item", "transaction_event", "changes"]

log = logging.getLogger(__name__)

# The events of an operator seeing personal data in clear. Each is also a `clear_data_viewed` log line,
# which the stage's ClearDataViews alarm counts (infra/*.json): a burst of them is how a leak through a
# stolen owner token shows (docs/operations.md, "A personal data breach").
CLEAR_VIEWS = frozenset({"phones_viewed", "deliveries_viewed", "winners_viewed"})


def record(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    """Append one event to the brand's trail; never overwrites one (its key is new)."""
    audit_log.append(brand_id, actor, action, target, details, clock.now())
    if action in CLEAR_VIEWS:
        log_event(log, "clear_data_viewed", brand_id=brand_id, actor=actor, action=action, target=target)


def transaction_item(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any]) -> dict[str, Any]:
    """The same event as an item of a store's transaction, for a change whose record must not be lost
    between the change and its event (a crash between two writes)."""
    return audit_log.transaction_put(brand_id, actor, action, target, details, clock.now())


def transaction_event(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditEvent:
    """The same event for a store that writes it with PynamoDB's TransactWrite, in the change's transaction."""
    return audit_log.event(brand_id, actor, action, target, details, clock.now())


def changes(before: dict, after: dict) -> dict:
    """The fields that differ, as {field: {"before": ..., "after": ...}} (bookkeeping fields left out)."""
    ignored = {"updated_at", "version"}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if name not in ignored and before.get(name) != after.get(name)
    }
