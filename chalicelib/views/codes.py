"""What a scanned code shows before sign-in: its campaign, product, offer and whether it can be claimed."""

from __future__ import annotations

from chalicelib.adapters.records import LookupCache, scan_target
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import clock, codes
from chalicelib.domain.errors import CodeInvalid
from chalicelib.domain.lifecycle import BatchStatus
from chalicelib.domain.validation import format_instant

__all__ = ["describe_code"]


def describe_code(code_text: str, *, lookups: LookupCache | None = None) -> dict:
    """What the landing page may show before sign-in: campaign, product and whether it can be claimed.

    Forged, unknown and voided-batch codes all answer CodeInvalid, with no read for a
    forged one; whether a single code was claimed or voided is not revealed here. It
    reads through the same per-container lookup as the scan (`lookups`: a test's container).
    """
    parts, code = codes.read_code(code_text, get_keyring())
    target = scan_target(parts.batch_number, lookups)
    if (
        target is None
        or parts.serial >= target.quantity
        or target.batch_status in (BatchStatus.VOID, BatchStatus.QUARANTINED)
    ):
        raise CodeInvalid()
    refusal = target.refusal(clock.now())
    return {
        "code": code,
        "brand_id": target.brand_id,
        "campaign_id": target.campaign_id,
        "campaign_name": target.campaign.name,
        "sku": target.sku,
        "ends_at": format_instant(target.ends_at),
        "timezone": target.timezone,
        "claimable": refusal is None,
        "reason": None if refusal is None else refusal.error().code,
        "points_per_scan": target.points,
        "entries_per_scan": target.entries,
    }
