"""The winners' SMS of a drawn draw: each sent once, however many runners try at once."""

from __future__ import annotations

import logging

from chalicelib.adapters import draw_store
from chalicelib.adapters.models import Draw
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.adapters.sms import SmsNotSent, SmsSender, sender_for
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.phones import unseal_phone
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event

__all__ = ["notify_winners"]

log = logging.getLogger(__name__)

SMS_LEASE_SECONDS = 120


def _sms_text(draw: Draw) -> str:
    return (
        f"Congratulations! You won {draw.prize} in the lucky draw '{draw.name}' (draw {draw.draw_id}). "
        "The brand will contact you about your prize; we never ask for a payment or a code."
    )


def notify_winners(draw: Draw) -> None:
    """Send each winner's SMS once: claim the rank, send, mark it sent (a failed send frees the claim)."""
    if draw.status != DrawStatus.DRAWN or draw.notified_at is not None:
        return
    sent = draw.sms_sent.as_dict() if draw.sms_sent else {}
    sender = sender_for(get_settings())
    pending = 0
    for winner in draw.winners or []:
        rank = str(int(winner.rank))
        if rank not in sent and not _text_winner(draw, rank, getattr(winner, "shopper_id", None) or "", sender):
            pending += 1
    if pending:  # another runner may have finished the rest meanwhile: the last one to finish says so
        after = draw_store.reload(draw.draw_id)
        done = after.sms_sent.as_dict() if after.sms_sent else {}
        pending = sum(1 for w in after.winners or [] if str(int(w.rank)) not in done)
    if not pending:
        draw_store.mark_notified(draw.draw_id, clock.now())


def _text_winner(draw: Draw, rank: str, shopper_id: str, sender: SmsSender) -> bool:
    """Claim, send and mark one winner's SMS; False when another sender holds it or the send failed."""
    now_epoch = int(clock.epoch())
    if not draw_store.claim_sms(draw.draw_id, rank, now_epoch + SMS_LEASE_SECONDS, now_epoch):
        return False
    sealed = draw_store.sealed_phone(shopper_id)
    outcome = "no_phone"
    if sealed is not None:
        try:
            sender.send(unseal_phone(sealed, get_phone_hash_pepper()), _sms_text(draw))
            outcome = "sent"
        except SmsNotSent as exc:
            log_event(log, "draw_sms_failed", level=logging.WARNING, draw_id=draw.draw_id, rank=rank, reason=str(exc))
            draw_store.free_sms(draw.draw_id, rank)
            return False
    draw_store.mark_sms(draw.draw_id, rank, f"{outcome}@{format_instant(clock.now())}")
    return True
