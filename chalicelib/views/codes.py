"""What a scanned code shows before sign-in: its campaign, product, offer and whether it can be claimed."""

from __future__ import annotations

from chalicelib.adapters.records import batch_and_campaign
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import claims, clock, codes
from chalicelib.domain.errors import CodeInvalid
from chalicelib.domain.validation import format_instant

__all__ = ["describe_code"]


def describe_code(code_text: str) -> dict:
    """What the landing page may show before sign-in: campaign, product and whether it can be claimed.

    Forged, unknown and voided-batch codes all answer CodeInvalid, with no read for a
    forged one; whether a single code was claimed or voided is not revealed here.
    """
    parts = codes.parse_code(code_text, get_keyring())
    found = batch_and_campaign(parts.batch_number)
    if found is None or parts.serial >= found[0].quantity or found[0].status == "void":
        raise CodeInvalid()
    batch, campaign = found
    refusal = claims.refusal_before_claim(
        batch.status, campaign.status, campaign.starts_at, campaign.ends_at, clock.now()
    )
    points, entries = claims.reward(campaign.rules)
    return {
        "code": codes.format_code(parts, get_keyring()),
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.name,
        "sku": batch.sku,
        "ends_at": format_instant(campaign.ends_at),
        "timezone": campaign.timezone,
        "claimable": refusal is None,
        "reason": None if refusal is None else refusal.error().code,
        "points_per_scan": points,
        "entries_per_scan": entries,
    }
