"""The winners' SMS of a drawn draw: each sent once, however many runners try at once, and tried again until it is.

Each winner's SMS is claimed (a lease on the draw item, counting a try), sent, then marked
sent. A failed send lets go of the claim until its next try (SMS_BACKOFF_SECONDS, growing),
up to SMS_MAX_TRIES, then it is marked given up and logged (`draw_sms_given_up`, which an
alarm counts). A spent SMS budget lets go of it until the budget's window ends, without
spending a try. The draw stays on the runner's list, at its earliest next try, until every
winner's SMS has ended, so the every-minute run picks up what failed or was cut short.

The one window in which a winner can get two texts: the sender dies after the provider took
the message and before `mark_sms` lands (SNS has no idempotency key); the claim then lapses
after SMS_LEASE_SECONDS and a later run sends it again. Nothing else sits between the two calls.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import draw_store, sms_ledger
from chalicelib.adapters.models import Draw
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.adapters.sms import SmsNotSent, SmsSender, sender_for
from chalicelib.config import Settings, get_settings
from chalicelib.domain import clock
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.phones import normalise_phone, unseal_phone
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import texting as texts

__all__ = ["Texting", "send_once", "notify_winners", "SMS_LEASE_SECONDS", "SMS_MAX_TRIES", "sms_backoff"]

log = logging.getLogger(__name__)

SMS_LEASE_SECONDS = 180
"""How long a claim holds a winner's SMS: longer than one send with its retries (aws.py: up to
DYNAMODB_MAX_ATTEMPTS = 5 attempts of 2 s to connect and 10 s to read, with backoff between),
so a live sender never loses it mid-send."""
SMS_MAX_TRIES = 6
_BACKOFF_FIRST, _BACKOFF_MOST = 60, 3600

# By language (services/texting.py picks it from the winner's country; Vietnamese goes without diacritics).
_SMS_TEXT = {
    "vi": (
        "Chuc mung! Ban da trung {prize} trong chuong trinh boc tham '{name}'. "
        "Xem cach nhan giai: {link} Chung toi khong bao gio yeu cau thanh toan hay ma so."
    ),
    "fil": (
        "Binabati kita! Nanalo ka ng {prize} sa lucky draw na '{name}'. "
        "Alamin kung paano ito makukuha: {link} Hindi kami humihingi ng bayad o code."
    ),
    "en": (
        "Congratulations! You won {prize} in the lucky draw '{name}'. "
        "See how to claim it: {link} We never ask for a payment or a code."
    ),
}


def sms_backoff(tries: int) -> int:
    """Seconds before the next try of an SMS that failed `tries` times: 1, 3, 9, 27 minutes, then an hour."""
    return min(_BACKOFF_MOST, _BACKOFF_FIRST * 3 ** max(0, tries - 1))


def _sms_text(draw: Draw, region: str, *, settings: Settings) -> str:
    link = f"{settings.public_base_url}/wallet/{draw.brand_id}?lang={texts.language_for(region)}"
    return texts.render(_SMS_TEXT, region, prize=draw.prize, name=draw.name, link=link)


def notify_winners(draw: Draw) -> None:
    """Try each winner's SMS that is due; mark the draw notified once all have ended, else put it
    back on the runner's list at the earliest next try."""
    if draw.status != DrawStatus.DRAWN or draw.notified_at is not None:
        return
    settings = get_settings()
    sender = sender_for(settings)
    ended = draw.sms_sent.as_dict() if draw.sms_sent else {}
    for winner in draw.winners or []:
        rank = str(int(winner.rank))
        if rank not in ended:
            _text_winner(draw, rank, getattr(winner, "shopper_id", None) or "", sender, settings)
    # Another runner may have finished the rest meanwhile, or hold some: read what is left.
    after = draw_store.reload(draw.draw_id)
    ended = after.sms_sent.as_dict() if after.sms_sent else {}
    held = after.sms_claims.as_dict() if after.sms_claims else {}
    now_epoch = int(clock.epoch())
    waits = [int(held.get(str(int(w.rank)), now_epoch)) for w in after.winners or [] if str(int(w.rank)) not in ended]
    if waits:
        draw_store.retry_sms_at(draw.draw_id, datetime.fromtimestamp(max(now_epoch, min(waits)), UTC))
    else:
        draw_store.mark_notified(draw.draw_id, clock.now())


def _text_winner(draw: Draw, rank: str, shopper_id: str, sender: SmsSender, settings: Settings) -> None:
    """Claim, send and mark one winner's SMS; a failed send or a spent budget lets go of it for later."""
    send_once(
        Texting(draw_store.sms_ledger(draw.draw_id, rank), "draw_sms", {"draw_id": draw.draw_id, "rank": rank}),
        shopper_id,
        draw.brand_id,
        functools.partial(_sms_text, draw, settings=settings),
        sender,
    )


@dataclass(frozen=True)
class Texting:
    """One SMS to send once: where it is kept, the prefix of its log events, and what they name."""

    ledger: sms_ledger.Ledger
    event: str
    fields: dict[str, Any]


def send_once(
    texting: Texting, shopper_id: str, brand_id: str, text_for: Callable[[str], str], sender: SmsSender
) -> None:
    """Claim, send and mark one SMS to a shopper, its text in the language of the number's region;
    a failed send or a spent budget lets go of it for later, up to SMS_MAX_TRIES tries."""
    ledger, settings = texting.ledger, get_settings()
    now_epoch = int(clock.epoch())
    held = now_epoch + SMS_LEASE_SECONDS
    tries = sms_ledger.claim(ledger, held, now_epoch)
    if not tries:
        return  # another sender holds it, or its next try is later
    sealed = draw_store.sealed_phone(shopper_id)
    if sealed is None:
        sms_ledger.mark(ledger, f"no_phone@{format_instant(clock.now())}")
        return
    if tries > SMS_MAX_TRIES:  # the last tries were cut short (the sender died): give up as after a failure
        _give_up(texting, tries - 1, "tries cut short")
        return
    phone = normalise_phone(unseal_phone(sealed, get_phone_hash_pepper()), settings.phone_regions)
    wait = texts.spend_budgets(phone, settings, now_epoch, brand_id=brand_id)
    if wait is not None:
        log_event(log, f"{texting.event}_deferred", level=logging.WARNING, seconds=wait, **texting.fields)
        sms_ledger.defer(ledger, held, now_epoch + wait, refund=True)
        return
    try:
        sender.send(phone.e164, text_for(phone.region))
    except SmsNotSent as exc:
        if tries >= SMS_MAX_TRIES:
            _give_up(texting, tries, str(exc))
            return
        log_event(log, f"{texting.event}_failed", level=logging.WARNING, tries=tries, reason=str(exc), **texting.fields)
        sms_ledger.defer(ledger, held, int(clock.epoch()) + sms_backoff(tries))
        return
    sms_ledger.mark(ledger, f"sent@{format_instant(clock.now())}")


def _give_up(texting: Texting, tries: int, reason: str) -> None:
    log_event(log, f"{texting.event}_given_up", level=logging.ERROR, tries=tries, reason=reason, **texting.fields)
    sms_ledger.mark(texting.ledger, f"gave_up@{format_instant(clock.now())}")
