"""A campaign's public results: every draw it scheduled, its proofs, its masked winners and alternates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.adapters import draw_store, records, win_store
from chalicelib.adapters.models import Campaign, Draw, DrawWinner
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_id
from chalicelib.domain.lifecycle import CampaignStatus, DrawStatus
from chalicelib.domain.validation import format_instant
from chalicelib.views.draws import snapshot_csv

__all__ = [
    "WINNER",
    "ALTERNATE",
    "PickStatus",
    "ClaimState",
    "claim_states",
    "campaign_results",
    "draw_result",
    "entries_csv",
    "VERIFY_COMMAND",
]

WINNER, ALTERNATE = "winner", "alternate"
"""The two kinds of pick: each kind is ranked from 1 (alternate 1 steps in first)."""

VERIFY_COMMAND = "python3 verify_draw.py --draw draw.json --csv entries.csv --commitment {commitment}"
"""docs/draws.md, "Checking a draw": the commitment is the one published at scheduling, shown here."""

_PUBLISHED = (DrawStatus.FROZEN, DrawStatus.DRAWN)


class PickStatus(StrEnum):
    """What a pick's state is from the draw's own facts, before anyone claims: a winner is drawn, an
    alternate waits to be promoted. Claims (offered, accepted, ..., forfeited) replace these per pick."""

    DRAWN = "drawn"
    WAITING = "waiting"


@dataclass(frozen=True)
class ClaimState:
    """A pick's public state: its status, and the winner's initials once a claim gave a name (else None)."""

    status: str
    initials: str | None = None


def claim_states(draw: Draw) -> dict[tuple[str, int], ClaimState]:
    """Each pick's public state, by (WINNER or ALTERNATE, rank): the ONE place the results page learns
    how a win went. A pick with a win shows its status (offered, accepted, ..., forfeited) and, once the
    winner gave a name, its initials; a winner with no win yet is drawn, an alternate not promoted waits.
    One Query of the draw's wins."""
    states = {(WINNER, int(w.rank)): ClaimState(PickStatus.DRAWN) for w in draw.winners or []}
    states.update({(ALTERNATE, int(a.rank)): ClaimState(PickStatus.WAITING) for a in draw.alternates or []})
    for win in win_store.of_draw(draw.draw_id):
        delivery, _ = win_store.given_details(win)
        kind = ALTERNATE if win.alternate else WINNER
        states[(kind, int(win.rank))] = ClaimState(win.status, _initials(delivery.get("name") if delivery else None))
    return states


def _initials(name: str | None) -> str | None:
    """ "Lan Nguyen" -> "L. N.": what the public sees of a winner's name (at most three)."""
    if not name:
        return None
    letters = [part[0].upper() for part in name.split() if part[:1].isalpha()][:3]
    return " ".join(f"{letter}." for letter in letters) or None


def campaign_results(campaign_id: str) -> dict:
    """GET /results/{campaign_id}: the campaign and every draw it scheduled, for anyone.

    A bounded number of reads whatever the participants: one Query of the draws' by_campaign index
    (at most 10 draws, one more call per MB of them), one of the batches' index only when there is no
    draw (to find the brand), and the campaign item. Never the snapshot pages nor the participants.
    A campaign is found through its draws or its batches: one with neither has been shown to no
    shopper. A draft is not public until it schedules a draw (a draw is public once scheduled).
    """
    if not is_id("cmp", campaign_id):
        raise NotFound("No such campaign.")
    draws = draw_store.of_campaign(campaign_id)
    brand_id = draws[0].brand_id if draws else records.brand_of_campaign(campaign_id)
    if brand_id is None:
        raise NotFound("No such campaign.")
    campaign = records.load_campaign(brand_id, campaign_id)
    draws = sorted((d for d in draws if d.brand_id == brand_id), key=lambda d: d.draw_id)
    if not draws and campaign.status == CampaignStatus.DRAFT:
        raise NotFound("No such campaign.")
    return {"campaign": _campaign(campaign), "draws": [_draw(d) for d in draws]}


def draw_result(draw_id: str) -> dict:
    """GET /results/draws/{draw_id}: one draw as the results show it, also the `--draw` file of verify_draw.py."""
    return _draw(draw_store.published(draw_id))


def entries_csv(draw_id: str, cursor: str | None) -> tuple[str, str, str | None]:
    """GET /results/draws/{draw_id}/entries.csv: a page of the frozen snapshot, as the brand's route serves it."""
    return snapshot_csv(draw_store.published(draw_id), cursor)


def _campaign(campaign: Campaign) -> dict:
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "starts_at": format_instant(campaign.starts_at),
        "ends_at": format_instant(campaign.ends_at),
        "timezone": campaign.timezone,
    }


def _draw(draw: Draw) -> dict:
    """A draw for the public: what docs/draws.md publishes at each moment, picks masked, no shopper id."""
    published = draw.status in _PUBLISHED
    drawn = draw.status == DrawStatus.DRAWN
    states = claim_states(draw) if drawn else {}
    return {
        "draw_id": draw.draw_id,
        "name": draw.name,
        "prize": draw.prize,
        "prize_id": draw.prize_id,
        "winners_wanted": int(draw.winners_wanted),
        "alternates_wanted": int(draw.alternates_wanted or 0),
        "one_win_per_participant": bool(draw.one_win_per_participant),
        "algorithm": draw.algorithm,
        "seed_commitment": draw.seed_commitment,
        "entries_until": format_instant(draw.entries_until),
        "draw_at": format_instant(draw.draw_at),
        "beacon_source": draw.beacon_source,
        "status": draw.status,
        # The runner found at the due time that the entries cannot give the winners: it will not run.
        "set_aside": bool(draw.blocked_at) and draw.status == DrawStatus.SCHEDULED,
        "snapshot_sha256": draw.snapshot_sha256 if published else None,
        "entries_total": int(draw.entries_total) if published else None,
        "participants": int(draw.participants) if published else None,
        "snapshot_pages": int(draw.snapshot_pages) if published else None,
        "beacon": draw.beacon if published else None,
        "seed": draw.seed if drawn else None,
        "drawn_at": format_instant(draw.drawn_at) if drawn and draw.drawn_at else None,
        "winners": _picks(draw.winners, WINNER, states) if drawn else [],
        "alternates": _picks(draw.alternates, ALTERNATE, states) if drawn else [],
        "entries_csv": f"/results/draws/{draw.draw_id}/entries.csv" if published else None,
        "verify": VERIFY_COMMAND.format(commitment=draw.seed_commitment) if drawn else None,
    }


def _picks(rows: list[DrawWinner] | None, kind: str, states: dict[tuple[str, int], ClaimState]) -> list[dict]:
    """Winners or alternates in public: the brand's pseudonym (the snapshot's id, which the entries CSV
    publishes and verify_draw.py compares), entries, the masked phone; never the platform's shopper id."""
    unclaimed = ClaimState(PickStatus.DRAWN if kind == WINNER else PickStatus.WAITING)
    shown = []
    for pick in rows or []:
        state = states.get((kind, int(pick.rank)), unclaimed)
        shown.append(
            {
                "rank": int(pick.rank),
                "participant_id": pick.participant_id,
                "entries": int(pick.entries),
                "phone": pick.phone_masked or "",
                "initials": state.initials,
                "status": str(state.status),
            }
        )
    return shown
