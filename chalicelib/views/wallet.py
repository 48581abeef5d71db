"""A shopper's wallet: balances and entries per campaign, and their claims page by page."""

from __future__ import annotations

from chalicelib.adapters import participants
from chalicelib.domain.validation import format_instant, parse_limit

__all__ = ["wallet"]


def wallet(shopper_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """Balances and entries per campaign, and one page of claims (newest first)."""
    page_size = parse_limit(limit, default=20, maximum=100)
    found, next_cursor = participants.claims_page(shopper_id, page_size, cursor)
    campaigns = [
        {"campaign_id": p.campaign_id, "points": int(p.points), "entries": int(p.entries), "claims": int(p.claims)}
        for p in participants.campaigns_of(shopper_id)
    ]
    history = [
        {
            "batch_id": c.batch_id,
            "campaign_id": c.campaign_id,
            "sku": c.sku,
            "points": int(c.points or 0),
            "entries": int(c.entries or 0),
            "prize": c.prize_name,
            "claimed_at": format_instant(c.changed_at),
        }
        for c in found
    ]
    return {"campaigns": campaigns, "history": history, "next_cursor": next_cursor}
