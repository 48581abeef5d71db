"""The brand's audit trail, read: newest first, page by page, for owners."""

from __future__ import annotations

import json
import re

from chalicelib.adapters.models import AuditEvent
from chalicelib.adapters.records import page_of
from chalicelib.domain.validation import decode_cursor, format_instant, parse_limit

__all__ = ["events"]

_CURSOR = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.+-]{8,40}#[0-9a-f]{8}$")


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
    page_size = parse_limit(limit, default=50, maximum=200)
    start_key = None
    if cursor:
        start_key = {"brand_id": {"S": brand_id}, "event_key": {"S": decode_cursor(cursor, _CURSOR)}}
    results = AuditEvent.query(
        brand_id, scan_index_forward=False, limit=page_size, page_size=page_size, last_evaluated_key=start_key
    )
    return page_of(results, page_size, _to_dict, "event_key")
