"""After a draw: each winner's win made once, and the every-minute step that forfeits lapsed wins, sends
the 7-day and 1-day reminders and tells each promoted alternate, each SMS once (docs/winners.md)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from chalicelib.adapters import draw_store, sms_ledger, win_store
from chalicelib.adapters.models import Draw, Win
from chalicelib.adapters.sms import sender_for
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.lifecycle import DrawStatus, WinStatus
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import texting, wins
from chalicelib.services.draw_notify import Texting, send_once

__all__ = ["REMINDERS", "RUNNER", "make_wins", "run_due_wins"]

log = logging.getLogger(__name__)

RUNNER = "draw_runner"
REMINDERS = (("d7", timedelta(days=7)), ("d1", timedelta(days=1)))
"""Each reminder's kind and how long before the window ends it goes; one superseded by a later one unsent is skipped."""
_OFFER = "offer"  # the SMS that tells a promoted alternate (a winner's is the draw's own, draw_notify)
_RETRY = timedelta(minutes=1)

# By language (services/texting.py picks it from the number's country; Vietnamese goes without diacritics).
_TEXTS = {
    _OFFER: {
        "vi": "Chuc mung! Ban duoc nhan {prize} trong chuong trinh boc tham '{name}'. Nhan giai truoc {deadline}: {link}",
        "fil": "Binabati kita! Sa iyo na ang {prize} sa lucky draw na '{name}'. Kunin bago mag-{deadline}: {link}",
        "en": "Congratulations! The {prize} of the lucky draw '{name}' is now yours. Claim it by {deadline}: {link}",
    },
    "reminder": {
        "vi": "Nhac nho: hay nhan {prize} ('{name}') truoc {deadline}, neu khong giai se chuyen cho nguoi khac: {link}",
        "fil": "Paalala: kunin ang {prize} ('{name}') bago mag-{deadline}, o mapupunta ito sa iba: {link}",
        "en": "Reminder: claim your {prize} ('{name}') by {deadline}, or it passes to someone else: {link}",
    },
}


def make_wins(draw: Draw) -> None:
    """Make each winner's win of a drawn draw, once: a win made before (by a run that stopped short, or
    another runner) is left as it is; the draw then records that its wins are made."""
    if draw.status != DrawStatus.DRAWN or draw.wins_made_at is not None:
        return
    at = draw.drawn_at or clock.now()  # the same instant whichever run makes them: the window starts at the draw
    claim_days = wins.prize_terms(draw).claim_days
    for row in draw.winners or []:
        win_store.make(wins.new_win(draw, row, int(row.rank), at, claim_days))
    win_store.mark_wins_made(draw.draw_id, clock.now())


def run_due_wins(now: datetime | None = None) -> dict:
    """The every-minute step for wins: forfeit each offered win whose window ended, and send what is due."""
    now = now or clock.now()
    done = {"forfeited": 0, "checked": 0}
    for draw_id, pick in win_store.due_wins(now):
        try:
            done["checked"] += 1
            done["forfeited"] += _advance(draw_id, pick, now)
        except Exception:  # noqa: BLE001 - one bad win must not stop the others; the next minute retries
            log_event(log, "win_run_failed", level=logging.ERROR, exc_info=True, draw_id=draw_id, pick=pick)
    if done["checked"]:
        log_event(log, "wins_run", checked=done["checked"], forfeited=done["forfeited"])
    return done


def _advance(draw_id: str, pick: int, now: datetime) -> int:
    win = win_store.read(draw_id, pick)
    if win is None:
        return 0
    if win.status != WinStatus.OFFERED:
        win_store.set_due(draw_id, pick, None)
        return 0
    if now >= win.deadline:
        try:
            wins.settle(draw_id, pick, WinStatus.FORFEITED, RUNNER, [], {"deadline": format_instant(win.deadline)})
        except InvalidTransition:
            return 0  # accepted or declined meanwhile
        return 1
    draw = draw_store.reload(draw_id)
    for kind, at in _pending(win):
        if at <= now:
            _text(draw, win, kind, now)
    after = win_store.read(draw_id, pick) or win
    win_store.set_due(draw_id, pick, _next_due(after, now))
    return 0


def _schedule(win: Win) -> list[tuple[str, datetime]]:
    """Each SMS of a win and when it is due: the offer (an alternate's), then the reminders that fall inside the window."""
    times = [(_OFFER, win.offered_at)] if win.alternate else []
    return times + [
        (kind, win.deadline - before) for kind, before in REMINDERS if win.deadline - before > win.offered_at
    ]


def _pending(win: Win) -> list[tuple[str, datetime]]:
    ended = win.text_sent.as_dict() if win.text_sent else {}
    return [(kind, at) for kind, at in _schedule(win) if kind not in ended]


def _next_due(win: Win, now: datetime) -> datetime:
    """When the runner should look at an offered win again: its next SMS (or that SMS's next try), or its deadline."""
    held = win.text_claims.as_dict() if win.text_claims else {}
    times = [max(at, datetime.fromtimestamp(int(held.get(kind, 0)), now.tzinfo)) for kind, at in _pending(win)]
    soonest = min([win.deadline, *times])
    return soonest if soonest > now else now + _RETRY


def _text(draw: Draw, win: Win, kind: str, now: datetime) -> None:
    ledger = win_store.text_ledger(win.draw_id, int(win.pick), kind)
    if _superseded(win, kind, now):
        sms_ledger.mark(ledger, f"skipped@{format_instant(now)}")  # a later reminder is due: send that one only
        return
    settings = get_settings()
    text = _TEXTS[_OFFER if kind == _OFFER else "reminder"]

    def text_for(region: str) -> str:
        link = f"{settings.public_base_url}/wallet/{draw.brand_id}?lang={texting.language_for(region)}"
        deadline = f"{win.deadline:%Y-%m-%d %H:%M} UTC"
        return texting.render(text, region, prize=draw.prize, name=draw.name, link=link, deadline=deadline)

    fields = {"draw_id": win.draw_id, "pick": str(win.pick), "kind": kind}
    send_once(Texting(ledger, "draw_sms", fields), win.shopper_id, draw.brand_id, text_for, sender_for(settings))


def _superseded(win: Win, kind: str, now: datetime) -> bool:
    """Whether a reminder's time has passed into a later reminder's (the runner was down, or the window is short)."""
    kinds = [k for k, _ in REMINDERS]
    if kind not in kinds:
        return False
    due = dict(_schedule(win))
    return any(k in due and due[k] <= now for k in kinds[kinds.index(kind) + 1 :])
