"""Claiming a lucky draw's prize: the winner accepts or declines, the brand verifies, ships, delivers or rejects,
and a prize that passes on goes to the next alternate, exactly once (docs/winners.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.adapters import draw_store, records, retention_store, win_store
from chalicelib.adapters.models import Draw, Prize, Win
from chalicelib.adapters.win_store import Promotion
from chalicelib.domain import clock, markets
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.lifecycle import WIN_FINAL, WIN_TRANSITIONS, WinStatus, check_move
from chalicelib.domain.schemas import Schema, validate
from chalicelib.domain.validation import format_instant
from chalicelib.services import audit, retention
from chalicelib.services.redemptions import DeliveryIn, Sight, masked_delivery, sight_for

__all__ = [
    "PrizeTerms",
    "prize_terms",
    "CLAIM_DAYS",
    "new_win",
    "pass_on",
    "settle",
    "my_wins",
    "my_wins_in_full",
    "accept",
    "decline",
    "draw_wins",
    "move_win",
]

CLAIM_DAYS = 30
"""The claim window of a prize whose draw names no prize line."""
_MOST_PICKS = 10_000
_PICK_RE = re.compile(r"^[1-9][0-9]{0,4}$")
_ATTEMPTS = 8
_ACCEPTED = frozenset({WinStatus.ACCEPTED, WinStatus.VERIFIED, WinStatus.SHIPPED, WinStatus.DELIVERED})


@dataclass(frozen=True)
class PrizeTerms:
    """What a draw's prize asks of and gives its winner: the claim window, the announced value (minor
    units, None when not announced), its taxable part and the tax withheld, and whether an ID is needed."""

    claim_days: int
    unit_value: int | None
    currency: str | None
    taxable: int | None
    tax_withheld: int | None
    needs_id: bool


def prize_terms(draw: Draw) -> PrizeTerms:
    """The terms of a draw's prize: the one place the claim window, value, tax and ID rule come from.

    A draw of a registered prize line (`draw.prize_id`) takes the line's claim window (the market's
    default when the line names none) and announced value, and the market's rules (domain/markets.py:
    the tax withheld on that value, and whether it is above the value that needs an ID number). A draw
    scheduled before prize lines, or whose line is gone, gets CLAIM_DAYS and no value.
    """
    line, market = _line_of(draw)
    if line is None or market is None:
        return PrizeTerms(
            claim_days=int(line.claim_days) if line is not None and line.claim_days else CLAIM_DAYS,
            unit_value=None,
            currency=None,
            taxable=None,
            tax_withheld=None,
            needs_id=False,
        )
    claim_days = int(line.claim_days) if line.claim_days else markets.claim_days_bounds(market)[1]
    if line.unit_value is None:
        return PrizeTerms(claim_days, None, None, None, None, needs_id=False)
    value = int(line.unit_value)
    taxable, withheld = markets.tax_on(market, value)
    needs_id = value > markets.market(market).number("id_required_above")
    return PrizeTerms(claim_days, value, markets.market(market).currency, taxable, withheld, needs_id)


def _line_of(draw: Draw) -> tuple[Prize | None, str | None]:
    """The draw's prize line and its campaign's market (None for either that is not there)."""
    if not draw.prize_id:
        return None, None
    try:
        campaign = records.load_campaign(draw.brand_id, draw.campaign_id)
    except NotFound:
        return None, None
    line = next((p for p in campaign.prizes or [] if p.prize_id == draw.prize_id), None)
    return line, campaign.market or None


class AcceptIn(DeliveryIn):
    id_number: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{4,18}[A-Za-z0-9]$")] | None = None


class MoveIn(Schema):
    status: Literal[WinStatus.VERIFIED, WinStatus.SHIPPED, WinStatus.DELIVERED, WinStatus.REJECTED]
    note: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None


# --- making and passing on wins ------------------------------------------------------------


def new_win(draw: Draw, row: Any, pick: int, at: datetime, claim_days: int, *, replaces: int | None = None) -> Win:
    """A new win (unsaved) for a winner or alternate `row` of the draw, offered at `at` for `claim_days`
    (its prize's terms, read once by the caller for all the wins it makes)."""
    return win_store.on_list(
        Win(
            draw.draw_id,
            pick,
            brand_id=draw.brand_id,
            campaign_id=draw.campaign_id,
            draw_name=draw.name,
            prize=draw.prize,
            rank=int(row.rank),
            alternate=replaces is not None,
            replaces=replaces,
            participant_id=row.participant_id,
            shopper_id=row.shopper_id or "",
            status=WinStatus.OFFERED,
            offered_at=at,
            deadline=at + timedelta(days=claim_days),
            updated_at=at,
            # Each SMS's maps, there from the start: its claim is a conditional update of a key in them.
            text_claims={},
            text_tries={},
            text_sent={},
        ),
        at,
    )


def pass_on(draw: Draw, win: Win, at: datetime) -> Promotion:
    """What a final move of `win` writes to pass its prize on: the next alternate not yet promoted."""
    promoted = int(draw.promoted or 0)
    alternates = draw.alternates or []
    if promoted >= len(alternates):
        return Promotion(promoted, None)
    row = alternates[promoted]
    pick = int(draw.winners_wanted) + int(row.rank)
    return Promotion(promoted, new_win(draw, row, pick, at, prize_terms(draw).claim_days, replaces=win.pick))


def _passed(promotion: Promotion) -> str:
    return f"pick:{promotion.win.pick}" if promotion.win is not None else "unclaimed"


def _settle(
    draw_id: str, win: Win, target: WinStatus, actor: str, actions: list, details: dict[str, Any]
) -> Win | None:
    """One try of a move from the status `win` was read with, its event and (final) promotion in one
    transaction: the win after it, or None when something changed since it was read."""
    now = clock.now()
    actions = [*actions, Win.status.set(target), Win.updated_at.set(now), Win.changed_by.set(actor)]
    promotion = None
    if target in WIN_FINAL:
        promotion = pass_on(draw_store.reload(draw_id), win, now)
        actions.append(Win.passed_to.set(_passed(promotion)))
        details = {**details, "passed_to": _passed(promotion)}
    if not WIN_TRANSITIONS[target]:  # closed: the clock of its details' removal starts in this same write
        due = retention.win_due(win.brand_id, now, owner_erased=bool(win.owner_erased))
        actions += retention_store.purge_actions(Win, f"{draw_id}#{win.pick}", due)
    event = audit.transaction_event(win.brand_id, actor, f"win_{target}", f"{draw_id}#{win.pick}", details)
    moved = win_store.move(win, actions, event, promotion, leaves_offer=win.status == WinStatus.OFFERED)
    return win_store.read(draw_id, win.pick) if moved else None


def settle(draw_id: str, pick: int, target: WinStatus, actor: str, actions: list, details: dict[str, Any]) -> Win:
    """Move a win to `target`, exactly once: sent again, or after another caller moved it there, the
    same win comes back; a move the lifecycle forbids is a 409 naming `status`."""
    for _ in range(_ATTEMPTS):
        win = _read(draw_id, pick)
        if not check_move(win.status, target, WIN_TRANSITIONS, "win"):
            return win
        moved = _settle(draw_id, win, target, actor, actions, details)
        if moved is not None:
            return moved
    raise Conflict("This win changed many times at once; please try again.")


def _read(draw_id: str, pick: int) -> Win:
    win = win_store.read(draw_id, pick)
    if win is None:
        raise NotFound("No such win.")
    return win


def _pick(pick: str) -> int:
    if not _PICK_RE.fullmatch(pick or "") or int(pick) > _MOST_PICKS:
        raise NotFound("No such win.")
    return int(pick)


# --- what a shopper sees and does -----------------------------------------------------------


def _terms_view(terms: PrizeTerms) -> dict:
    return {
        "claim_days": terms.claim_days,
        "unit_value": terms.unit_value,
        "currency": terms.currency,
        "taxable": terms.taxable,
        "tax_withheld": terms.tax_withheld,
        "needs_id": terms.needs_id,
    }


def _shopper_view(win: Win, terms: PrizeTerms) -> dict:
    return {
        "draw_id": win.draw_id,
        "pick": int(win.pick),
        "brand_id": win.brand_id,
        "campaign_id": win.campaign_id,
        "draw_name": win.draw_name,
        "prize": win.prize,
        "alternate": bool(win.alternate),
        "status": win.status,
        "offered_at": format_instant(win.offered_at),
        "deadline": format_instant(win.deadline),
        "terms": _terms_view(terms),
        "note": win.note,
        "reason": win.reason,
    }


def _wins_with_terms(shopper_id: str) -> list[tuple[Win, PrizeTerms | None]]:
    """The shopper's wins, newest first, each with its prize's terms (None when its draw is gone): the
    terms read once a draw, however many of its wins the shopper holds."""
    wins = win_store.of_shopper(shopper_id)
    found = win_store.draws([w.draw_id for w in wins])
    terms = {draw_id: prize_terms(draw) for draw_id, draw in found.items()}
    return [(win, terms.get(win.draw_id)) for win in wins]


def my_wins(shopper_id: str) -> dict:
    """GET /v1/me/wins: the shopper's wins, newest first, each with its prize's terms and deadline."""
    return {"items": [_shopper_view(w, terms) for w, terms in _wins_with_terms(shopper_id) if terms is not None]}


def my_wins_in_full(shopper_id: str) -> list[dict]:
    """The shopper's wins with the delivery details and ID number they gave, in clear ("my data")."""
    items = []
    for win, terms in _wins_with_terms(shopper_id):
        delivery, id_number = win_store.given_details(win)
        view = _shopper_view(win, terms) if terms is not None else {}
        items.append(
            {**view, "draw_id": win.draw_id, "pick": int(win.pick), "delivery": delivery, "id_number": id_number}
        )
    return items


def _own(shopper_id: str, draw_id: str, pick: str) -> tuple[Win, Draw]:
    win = win_store.read(draw_id, _pick(pick)) if draw_id.startswith("drw_") else None
    if win is None or win.shopper_id != shopper_id:
        raise NotFound("No such win.")
    return win, draw_store.reload(draw_id)


def accept(shopper_id: str, draw_id: str, pick: str, body: dict) -> dict:
    """Accept a win with what its prize needs (delivery details; an ID number when its terms say so).
    Sent again it answers the same; after the window ended, 409 naming `deadline`."""
    win, draw = _own(shopper_id, draw_id, pick)
    terms = prize_terms(draw)
    values = validate(AcceptIn, body)
    if terms.needs_id and values.id_number is None:
        raise InvalidInput("id_number: This prize needs the winner's ID number.", field="id_number")
    if win.status in _ACCEPTED:
        return _shopper_view(win, terms)  # sent again, or already moved on by the brand: the same answer
    if win.status == WinStatus.OFFERED and clock.now() >= win.deadline:
        raise Conflict("deadline: The time to claim this prize has ended.", field="deadline")
    actions = win_store.seal_details(values.model_dump(exclude={"id_number"}), values.id_number)
    moved = settle(draw_id, win.pick, WinStatus.ACCEPTED, win.participant_id, actions, {})
    return _shopper_view(moved, terms)


def decline(shopper_id: str, draw_id: str, pick: str) -> dict:
    """Decline a win: its prize passes on to the next alternate. Sent again it answers the same."""
    win, draw = _own(shopper_id, draw_id, pick)
    moved = settle(draw_id, win.pick, WinStatus.DECLINED, win.participant_id, [], {})
    return _shopper_view(moved, prize_terms(draw))


# --- what the brand sees and does ------------------------------------------------------------


def _delivery(win: Win, sight: Sight) -> dict | None:
    if not win.delivery_sealed:
        return None
    if sight == Sight.GIVEN:
        return {"given": True}
    given, id_number = win_store.given_details(win)
    if given is None or sight != Sight.CLEAR:
        return masked_delivery(given or {})
    return {**given, "id_number": id_number} if id_number else given


def draw_wins(brand_id: str, actor: str, role: str, draw_id: str, why: str | None = None) -> dict:
    """GET /v1/draws/{draw_id}/wins: the draw's wins by pick; delivery details and ID numbers in clear
    to owners alone when they say `why`, each such answer audited (`deliveries_viewed`)."""
    why = audit.reason(brand_id, why)
    draw = draw_store.load(brand_id, draw_id)
    terms = prize_terms(draw)
    sight = sight_for(role, why)
    wins = win_store.of_draw(draw_id)
    items = [_view(w, sight, terms) for w in wins]
    shown = [f"{draw_id}#{w.pick}" for w in wins if w.delivery_sealed]
    if sight == Sight.CLEAR and shown:
        details = {"deliveries": len(shown), "wins": shown, "why": why}
        audit.record(brand_id, actor, "deliveries_viewed", draw_id, details)
    return {
        "items": items,
        "terms": _terms_view(terms),
        "promoted": int(draw.promoted or 0),
        "alternates_left": len(draw.alternates or []) - int(draw.promoted or 0),
        "unclaimed": int(draw.unclaimed or 0),
    }


def _view(win: Win, sight: Sight, terms: PrizeTerms) -> dict:
    view = _shopper_view(win, terms)
    view.update(
        rank=int(win.rank),
        replaces=win.replaces,
        participant_id=win.participant_id,
        passed_to=win.passed_to,
        updated_at=format_instant(win.updated_at),
        delivery=_delivery(win, sight),
        id_number_given=bool(win.id_number_sealed),
    )
    return view


def move_win(brand_id: str, actor: str, draw_id: str, pick: str, body: dict) -> dict:
    """POST /v1/draws/{draw_id}/wins/{pick}/status: verify, ship (with a tracking note), deliver or reject (with a
    reason) a win, audited in the move's transaction; sent again it answers the same."""
    draw = draw_store.load(brand_id, draw_id)
    number = _pick(pick)
    values = validate(MoveIn, body)
    if values.status == WinStatus.SHIPPED and values.note is None:
        raise InvalidInput("note: Say how the prize was sent (a tracking note).", field="note")
    if values.status == WinStatus.REJECTED and values.reason is None:
        raise InvalidInput("reason: Say why the win is rejected; the winner sees it.", field="reason")
    actions, details = [], {}
    if values.note is not None:
        actions.append(Win.note.set(values.note))
        details["note"] = values.note
    if values.reason is not None:
        actions.append(Win.reason.set(values.reason))
        details["reason"] = values.reason
    win = _read(draw_id, number)
    moved = settle(draw_id, win.pick, WinStatus(values.status), actor, actions, details)
    return _view(moved, Sight.GIVEN, prize_terms(draw))
