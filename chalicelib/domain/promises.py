"""What a campaign that has started has promised its shoppers, and so may not take back (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import CampaignStatus

__all__ = ["refuse_taking_back"]


def refuse_taking_back(
    status: str,
    *,
    timezone: tuple[str, str],
    starts_at: tuple[datetime, datetime],
    prizes: tuple[Mapping[str, int], Mapping[str, int]],
    now: datetime,
) -> None:
    """Refuse (409 naming the field) a change to a campaign past its draft that shoppers would lose by.

    Each argument is (before, after). Once a campaign has left draft: its time zone is
    fixed (it decides when each day's claim cap starts and ends, and moving it would
    reopen or cut a day shoppers are in); a start that has passed cannot move; and a
    prize can be added or grown, never removed or shrunk (it was on the pack). Every
    change that is allowed is still recorded in the brand's audit trail by the caller.
    """
    if status == CampaignStatus.DRAFT:
        return
    if timezone[1] != timezone[0]:
        raise Conflict(
            "timezone: The time zone is fixed once a campaign has started: it decides when each day's cap "
            "starts and ends.",
            field="timezone",
        )
    if starts_at[1] != starts_at[0] and starts_at[0] <= now:
        raise Conflict("starts_at: The campaign has already started; its start cannot move.", field="starts_at")
    before, after = prizes
    for prize_id, quantity in before.items():
        if prize_id not in after:
            raise Conflict(
                "prizes: A prize of a started campaign cannot be removed; add to it instead.", field="prizes"
            )
        if after[prize_id] < quantity:
            raise Conflict(
                f"prizes: A prize of a started campaign cannot shrink (from {quantity}); it was promised to shoppers.",
                field="prizes",
            )
