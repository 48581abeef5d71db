"""A brand's own consent purposes: read for the sign-in notice, written with the owner's audit event."""

from __future__ import annotations

from datetime import datetime

from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import AuditEvent, ConsentPurposes, PurposeText
from chalicelib.domain.consent import BrandPurpose
from chalicelib.domain.errors import Conflict

__all__ = ["read", "replace"]


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

    def items(tx: TransactWrite) -> None:
        tx.save(record)
        tx.save(event)

    if not dynamo.write_together(items, "Many edits of the purposes at once; please try again."):
        raise Conflict("The purposes were changed meanwhile; read them again and retry.")
    return int(record.version or 0)
