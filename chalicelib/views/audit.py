"""The brand's audit trail, read: newest first, page by page, for owners."""

from __future__ import annotations

import json

from chalicelib.adapters import audit_log
from chalicelib.adapters.models import AuditEvent
from chalicelib.domain.validation import format_instant, parse_limit

__all__ = ["events"]


def _to_dict(event: AuditEvent) -> dict:
    return {
        "at": format_instant(event.at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "details": json.loads(event.details),
    }


def events(brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of the brand's events, newest first, with a cursor for the next page."""
    return audit_log.events_page(brand_id, parse_limit(limit, default=50, maximum=200), cursor, _to_dict)
