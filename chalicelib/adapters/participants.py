"""The participants store, read side: a shopper's campaigns and claims page by page (the wallet), and a
campaign's participants slice by slice (the participants CSV)."""

from __future__ import annotations

from chalicelib.adapters import paging
from chalicelib.adapters.models import CodeState, Participant

__all__ = ["campaigns_of", "claims_page", "participants_after", "top_of_shards"]

# The shopper comes from the token, never from the cursor: a cursor cannot page through
# somebody else's history.
_HISTORY = paging.Cursor.of(code_key=r"[0-9]{1,8}:[0-9]{1,8}", changed_at=r"[0-9T:.+-]{19,40}")


def campaigns_of(shopper_id: str) -> list[Participant]:
    """The shopper's standing in every campaign they claimed in."""
    return list(Participant.by_shopper.query(shopper_id))


def claims_page(shopper_id: str, limit: int, cursor: str | None) -> tuple[list[CodeState], str | None]:
    """One page of the shopper's claims, newest first, and the cursor of the next page."""
    results = CodeState.by_shopper.query(shopper_id, **_HISTORY.newest_first(cursor, limit, shopper_id=shopper_id))
    found = list(results)
    return found, _HISTORY.after(results.last_evaluated_key, len(found), limit)


def participants_after(campaign_id: str, after: str | None, most: int) -> tuple[list[Participant], bool]:
    """Up to `most` of a campaign's participants after shopper `after` (None: from the first), and
    whether DynamoDB has more past them."""
    start = None if after is None else {"campaign_id": {"S": campaign_id}, "shopper_id": {"S": after}}
    results = Participant.query(campaign_id, limit=most, page_size=1000, last_evaluated_key=start)
    found = list(results)
    return found, bool(results.last_evaluated_key)


def top_of_shards(campaign_id: str, shards: int, limit: int) -> list[Participant]:
    """The `limit` participants with most claims in each of the campaign's `shards` rank shards."""
    leaders: list[Participant] = []
    for shard in range(shards):
        leaders.extend(Participant.by_rank.query(f"{campaign_id}#{shard}", scan_index_forward=False, limit=limit))
    return leaders
