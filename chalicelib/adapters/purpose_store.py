"""A brand's own consent purposes: read for the sign-in notice, written with the owner's audit event."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import AuditEvent, ConsentPurposes, PurposeText
from chalicelib.domain.consent import BrandPurpose
from chalicelib.domain.errors import Conflict

__all__ = ["read", "replace"]

_ATTEMPTS = 6


def _purpose(text: PurposeText) -> BrandPurpose:
    words = {"vi": text.vi, "en": text.en, "fil": text.fil}
    return BrandPurpose(text.purpose_id, bool(text.required), words, int(text.revision))


def read(brand_id: str, *, consistent: bool = True) -> tuple[int, list[BrandPurpose]]:
    """The brand's purposes and the version of their record (0 while the brand has added none)."""
    try:
        record = ConsentPurposes.get(brand_id, consistent_read=consistent)
    except ConsentPurposes.DoesNotExist:
        return 0, []
    return int(record.version or 0), [_purpose(p) for p in record.purposes or []]


def replace(
    brand_id: str, version: int, purposes: list[BrandPurpose], actor: str, at: datetime, event: AuditEvent
) -> int:
    """Replace the brand's purposes as read at `version` (0: none yet), with the audit event in the same
    transaction; Conflict if they changed meanwhile. Returns the new version."""
    record = ConsentPurposes(
        brand_id,
        purposes=[
            PurposeText(
                purpose_id=p.purpose_id,
                required=p.required,
                revision=p.revision,
                vi=p.text["vi"],
                en=p.text["en"],
                fil=p.text["fil"],
            )
            for p in purposes
        ],
        updated_at=at,
        updated_by=actor,
    )
    # The version read makes the save conditional: none yet (no item), or the one the owner edited.
    if version:
        record.version = version
    for _ in dynamo.attempts(_ATTEMPTS, "Many edits of the purposes at once; please try again."):
        try:
            with TransactWrite(
                connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
            ) as tx:
                tx.save(record)
                tx.save(event)
        except TransactWriteError as error:
            if any(r is not None and r.code == "ConditionalCheckFailed" for r in error.cancellation_reasons):
                raise Conflict("The purposes were changed meanwhile; read them again and retry.") from None
            if dynamo.transient(error) or any(r is not None for r in error.cancellation_reasons):
                continue
            raise
        return int(record.version or 0)
    raise AssertionError("unreachable: attempts() raises after the last try")
