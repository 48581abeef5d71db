"""The brand's audit trail, written: what operators changed on started campaigns, and who saw personal data in clear and why."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

from chalicelib.adapters import audit_log, request_store
from chalicelib.adapters.models import AuditEvent
from chalicelib.domain import clock
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.ids import is_id
from chalicelib.logs import log_event

__all__ = ["CLEAR_VIEWS", "WHY_MAX", "reason", "record", "written", "transaction_item", "transaction_event", "changes"]

log = logging.getLogger(__name__)

# The events of an operator seeing personal data in clear. Each is also a `clear_data_viewed` log line,
# which the stage's ClearDataViews alarm counts (infra/*.json): a burst of them is how a leak through a
# stolen owner token shows (docs/operations.md, "A personal data breach").
CLEAR_VIEWS = frozenset({"phones_viewed", "deliveries_viewed", "winners_viewed", "subject_request_access"})

WHY_MAX = 200
"""The longest reason an operator may give for seeing personal data in clear."""


def reason(brand_id: str, why: str | None) -> str | None:
    """The reason given for seeing personal data in clear (the `why` query parameter), as the audit trail keeps
    it: free text, or the id of one of the brand's data-subject requests; None when none was given (then
    nothing is shown in clear). A blank, over-long or control-character reason, or another brand's request,
    is a 400 naming `why`."""
    if why is None:
        return None
    text = unicodedata.normalize("NFC", why.strip())
    if not text or len(text) > WHY_MAX or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput(f"why: Say why, in 1 to {WHY_MAX} characters of plain text.", field="why")
    if text.startswith("dsr_"):
        try:
            if not is_id("dsr", text):
                raise NotFound("No such request.")
            request_store.load(brand_id, text)
        except NotFound:
            raise InvalidInput("why: No data-subject request of this brand has this id.", field="why") from None
    return text


def record(brand_id: str, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    """Append one event to the brand's trail; never overwrites one (its key is new)."""
    audit_log.append(brand_id, actor, action, target, details, clock.now())
    written(brand_id, actor, action, target)


def written(brand_id: str, actor: str, action: str, target: str) -> None:
    """After an event is in the trail: a view of personal data in clear is also a `clear_data_viewed` log
    line (for an event written in a change's transaction, its caller says so once the transaction is in)."""
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
