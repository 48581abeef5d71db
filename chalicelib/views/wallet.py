"""A shopper's wallet: balances and entries per campaign, and their claims page by page."""

from __future__ import annotations

import re

from chalicelib.adapters.models import CodeState, Participant
from chalicelib.domain.validation import decode_cursor, encode_cursor, format_instant, parse_limit

__all__ = ["wallet"]

_HISTORY_CURSOR = re.compile(r"^[0-9]{1,8}:[0-9]{1,8}\|[0-9T:.+-]{19,40}$")


def wallet(shopper_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """Balances and entries per campaign, and one page of claims (newest first)."""
    page_size = parse_limit(limit, default=20, maximum=100)
    start_key = None
    if cursor:
        code_key, _, changed_at = decode_cursor(cursor, _HISTORY_CURSOR).partition("|")
        # The shopper comes from the token, never from the cursor: a cursor cannot page
        # through somebody else's history.
        start_key = {"code_key": {"S": code_key}, "shopper_id": {"S": shopper_id}, "changed_at": {"S": changed_at}}
    campaigns = [
        {"campaign_id": p.campaign_id, "points": int(p.points), "entries": int(p.entries), "claims": int(p.claims)}
        for p in Participant.by_shopper.query(shopper_id)
    ]
    results = CodeState.by_shopper.query(
        shopper_id, scan_index_forward=False, limit=page_size, page_size=page_size, last_evaluated_key=start_key
    )
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
        for c in results
    ]
    last = results.last_evaluated_key
    next_cursor = None
    if last and len(history) == page_size:
        next_cursor = encode_cursor(f"{last['code_key']['S']}|{last['changed_at']['S']}")
    return {"campaigns": campaigns, "history": history, "next_cursor": next_cursor}
