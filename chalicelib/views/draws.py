"""Lucky draws as they read: a draw for its brand, a page of its published snapshot, a shopper's draws."""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters import draw_store
from chalicelib.adapters.models import Draw, DrawWinner
from chalicelib.domain import clock
from chalicelib.domain.draws import due_at
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.validation import format_instant

__all__ = ["render", "entries_csv", "snapshot_csv", "my_draws"]

_PUBLISHED = (DrawStatus.FROZEN, DrawStatus.DRAWN)


def render(draw: Draw) -> dict:
    """A draw as the API shows it to its brand: the seed and winners only once drawn."""
    drawn = draw.status == DrawStatus.DRAWN
    published = draw.status in _PUBLISHED
    return {
        "draw_id": draw.draw_id,
        "campaign_id": draw.campaign_id,
        "name": draw.name,
        "prize": draw.prize,
        "prize_id": draw.prize_id,
        "winners_wanted": int(draw.winners_wanted),
        "alternates_wanted": int(draw.alternates_wanted or 0),
        "draw_at": format_instant(draw.draw_at),
        "entries_until": format_instant(draw.entries_until),
        "due_at": format_instant(due_at(draw.draw_at, draw.entries_until)),
        "one_win_per_participant": bool(draw.one_win_per_participant),
        "beacon_source": draw.beacon_source,
        "algorithm": draw.algorithm,
        "status": draw.status,
        "seed_commitment": draw.seed_commitment,
        "snapshot_sha256": draw.snapshot_sha256 if published else None,
        "entries_total": int(draw.entries_total) if published else None,
        "participants": int(draw.participants) if published else None,
        "frozen_at": format_instant(draw.frozen_at) if draw.frozen_at and published else None,
        "beacon": draw.beacon,
        # The seed exists in clear only once the winners are written, by that same write.
        "seed": draw.seed if drawn else None,
        "drawn_at": format_instant(draw.drawn_at) if drawn and draw.drawn_at else None,
        "winners": _winners(draw) if drawn else [],
        # Ranked after the winners by the same stream; fewer than asked when the snapshot ran out.
        "alternates": [_pick(a) for a in draw.alternates or []] if drawn else [],
        # Kept by the wins (docs/winners.md): alternates stepped in so far, prizes passed on with none left.
        "promoted": int(draw.promoted or 0),
        "unclaimed": int(draw.unclaimed or 0),
        "notified_at": format_instant(draw.notified_at) if draw.notified_at else None,
        # Set when the runner found, at the due time, that the entries cannot give the winners.
        "blocked": {"field": draw.blocked_field, "message": draw.blocked_reason, "at": format_instant(draw.blocked_at)}
        if draw.blocked_at and draw.status == DrawStatus.SCHEDULED
        else None,
        "created_at": format_instant(draw.created_at),
    }


def _pick(pick: DrawWinner) -> dict:
    """A winner or an alternate as shown: the brand's pseudonym and the masked phone, never the shopper id."""
    return {
        "rank": int(pick.rank),
        "participant_id": pick.participant_id,
        "entries": int(pick.entries),
        "phone": pick.phone_masked or "",
    }


def _winners(draw: Draw) -> list[dict]:
    sent = draw.sms_sent.as_dict() if draw.sms_sent else {}
    return [
        {
            **_pick(w),
            # An SMS given up after its last try told nobody.
            "notified": not str(sent.get(str(int(w.rank)), "gave_up")).startswith("gave_up"),
        }
        for w in (draw.winners or [])
    ]


def entries_csv(brand_id: str, draw_id: str, cursor: str | None) -> tuple[str, str, str | None]:
    """One page of the frozen snapshot, as stored (its pages joined are the hashed file)."""
    return snapshot_csv(draw_store.load(brand_id, draw_id), cursor)


def snapshot_csv(draw: Draw, cursor: str | None) -> tuple[str, str, str | None]:
    """One page of a draw's snapshot once frozen (409 naming `status` before), its file name and next cursor."""
    draw_id = draw.draw_id
    if draw.status not in _PUBLISHED:
        raise Conflict("status: The snapshot is published when the draw runs; it has not yet.", field="status")
    body, next_cursor = draw_store.snapshot_page(draw_id, int(draw.snapshot_pages), cursor)
    return body.decode("ascii"), f"draw-{draw_id}-entries.csv", next_cursor


def my_draws(shopper_id: str) -> dict:
    """Every draw of the campaigns a shopper takes part in (set-aside ones too): their entries in it, its
    commitment and status, and whether they won.

    A bounded number of requests whatever the draws: one Query of the shopper's participations,
    one BatchGet of those campaigns' draw lists and one of the draws (per 100 of each), and at
    most one Query of the shopper's claims, for the draws whose cut they claimed after.
    """
    now = clock.now()
    taking_part = {p.campaign_id: p for p in draw_store.participations(shopper_id)}
    draws = draw_store.of_campaigns(list(taking_part))
    late = [(d.campaign_id, d.entries_until) for d in draws if _claimed_after_cut(taking_part[d.campaign_id], d, now)]
    earned = draw_store.entries_by_cut(shopper_id, late)
    items = [_mine(draw, taking_part[draw.campaign_id], shopper_id, now, earned) for draw in draws]
    items.sort(key=lambda d: (not d["upcoming"], d["draw_at"], d["draw_id"]))
    return {"draws": items}


def _claimed_after_cut(participation: draw_store.Participation, draw: Draw, now: datetime) -> bool:
    last = participation.last_claim_at
    return now > draw.entries_until and last is not None and last > draw.entries_until


def _mine(
    draw: Draw,
    participation: draw_store.Participation,
    shopper_id: str,
    now: datetime,
    earned: dict[tuple[str, datetime], int],
) -> dict:
    drawn = draw.status == DrawStatus.DRAWN
    won = drawn and any(getattr(w, "shopper_id", None) == shopper_id for w in draw.winners or [])
    cut = draw.entries_until
    entries = earned.get((draw.campaign_id, cut), participation.entries)
    set_aside = bool(draw.blocked_at) and draw.status == DrawStatus.SCHEDULED
    return {
        "draw_id": draw.draw_id,
        "campaign_id": draw.campaign_id,
        "name": draw.name,
        "prize": draw.prize,
        "winners_wanted": int(draw.winners_wanted),
        "alternates_wanted": int(draw.alternates_wanted or 0),
        "draw_at": format_instant(draw.draw_at),
        "entries_until": format_instant(cut),
        "status": draw.status,
        "upcoming": not drawn and not set_aside,
        "set_aside": set_aside,
        "entries": entries,
        "entries_final": now > cut,
        "won": won,
        "seed_commitment": draw.seed_commitment,
    }
