"""Deleting a shopper's account: told what will happen, confirmed by a fresh one-time code, run exactly once and resumed after a crash."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.adapters import erasure_store, limits, members, participants
from chalicelib.adapters.models import ShopperAccount, Win
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import Settings
from chalicelib.domain import clock
from chalicelib.domain.errors import NotFound
from chalicelib.domain.lifecycle import WIN_TRANSITIONS, ErasureStatus, RedemptionStatus, WinStatus
from chalicelib.domain.phones import normalise_phone, unseal_phone
from chalicelib.domain.schemas import CodeText, Schema, validate
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import shoppers

__all__ = ["STEPS", "preview", "request_deletion", "confirm_deletion", "run", "resume_running"]

log = logging.getLogger(__name__)

# The steps in order; `account` is last, as the others still read the phone hash it removes.
STEPS = ("points", "wins", "redemptions", "draws", "sign_in", "account")
# How far back the number's hourly sign-in limit windows are deleted (older ones expired by TTL).
_RATE_WINDOWS = 48
_HOUR = 3600
_REQUESTS_PER_HOUR = 3

_SMS_TEXT = {
    "vi": "Ma xac nhan XOA tai khoan QR Campaigns: {code}, het han sau {minutes} phut. Neu ban khong yeu cau, hay bo qua.",
    "en": "Your code to DELETE your QR Campaigns account is {code}. It expires in {minutes} minutes. "
    "Ignore this if you did not ask.",
}


class _RequestIn(Schema):
    """No fields: a body sent is still checked."""


class _ConfirmIn(Schema):
    otp: CodeText


def _code_key(shopper_id: str) -> str:
    # Its own challenge, so a sign-in code never confirms a deletion nor the other way round.
    return f"erasure#{shopper_id}"


def _open_win(win: Win) -> bool:
    # Still being offered or delivered: its details are what the brand needs to hand the prize over.
    return bool(WIN_TRANSITIONS[win.status])


def _live_account(shopper_id: str) -> ShopperAccount:
    account = erasure_store.account(shopper_id)
    if account is None or not account.phone_sealed:
        raise NotFound("No account to delete.")
    return account


def preview(shopper_id: str) -> dict:
    """What deleting the account does: points forfeited per brand, wins and gifts whose details are kept."""
    kept_wins = [
        {
            "draw_id": w.draw_id,
            "pick": w.pick,
            "prize": w.prize,
            "status": str(w.status),
            "deadline": format_instant(w.deadline),
            "kept": "until the prize is delivered or the win ends"
            if w.status != WinStatus.OFFERED
            else "the offer lapses at its deadline and passes to the next pick",
        }
        for w in erasure_store.wins_of(shopper_id)
        if _open_win(w)
    ]
    gifts = [
        {"redemption_id": r.redemption_id, "reward": r.reward_name, "kept": "until the gift is shipped"}
        for r in erasure_store.redemptions_of(shopper_id)
        if r.status == RedemptionStatus.PENDING
    ]
    points = [{"brand_id": m.brand_id, "points": m.balance} for m in members.members_of(shopper_id) if m.balance]
    return {"points_forfeited": points, "wins_kept": kept_wins, "gifts_kept": gifts}


def request_deletion(shopper_id: str, body: dict, settings: Settings, *, now: float | None = None) -> dict:
    """POST /v1/me/deletion: text the account's number a fresh code to confirm, and say what will happen."""
    validate(_RequestIn, body)
    account = _live_account(shopper_id)
    if account.erasure_status == ErasureStatus.RUNNING:
        return {"status": str(ErasureStatus.RUNNING), "sent": False}
    now = clock.epoch() if now is None else now
    busy = "Codes to delete this account were sent a few times already. Use the last one, or try again later."
    limits.hit("erase-otp", shopper_id, limit=_REQUESTS_PER_HOUR, window_seconds=_HOUR, now=now, message=busy)
    phone = normalise_phone(
        unseal_phone(account.phone_sealed or "", get_phone_hash_pepper(settings)), settings.phone_regions
    )
    shoppers.send_code(_code_key(shopper_id), phone, _SMS_TEXT, settings, now)
    log_event(log, "erasure_code_sent", shopper_id=shopper_id)
    return {"sent": True, "expires_in": shoppers.OTP_TTL_SECONDS, "phone": phone.masked, **preview(shopper_id)}


def confirm_deletion(shopper_id: str, body: dict, settings: Settings, *, now: float | None = None) -> dict:
    """POST /v1/me/deletion/confirm: the code checked, the deletion recorded and run to its end.

    A wrong code answers 400 `otp_invalid` and writes nothing but the spent try; a deletion already
    running is finished (no code needed: it was confirmed); a finished one answers 404.
    """
    data = validate(_ConfirmIn, body)
    account = _live_account(shopper_id)
    if account.erasure_status != ErasureStatus.RUNNING:
        now = clock.epoch() if now is None else now
        shoppers.check_code(_code_key(shopper_id), data.otp, settings, now)
        erasure_store.start(shopper_id, clock.now())
        log_event(log, "erasure_started", shopper_id=shopper_id)
    return run(shopper_id)


def _points(shopper_id: str, account: ShopperAccount) -> None:
    for state in members.members_of(shopper_id):
        while not members.forfeit(state):  # changed since read: read it again
            fresh = members.read_member(state.brand_id, shopper_id)
            if fresh is None:
                break
            state = fresh


def _wins(shopper_id: str, account: ShopperAccount) -> None:
    for win in erasure_store.wins_of(shopper_id):
        if not _open_win(win) and (win.delivery_sealed or win.id_number_sealed):
            erasure_store.strip_win(win)


def _redemptions(shopper_id: str, account: ShopperAccount) -> None:
    for record in erasure_store.redemptions_of(shopper_id):
        if record.status != RedemptionStatus.PENDING and (record.delivery_sealed or record.request_digest):
            erasure_store.strip_redemption(record)


def _draws(shopper_id: str, account: ShopperAccount) -> None:
    # The draws the shopper could be a pick of are those of the campaigns they took part in.
    for standing in participants.campaigns_of(shopper_id):
        for draw in erasure_store.draws_of_campaign(standing.campaign_id):
            picks = [*(draw.winners or []), *(draw.alternates or [])]
            if any(p.shopper_id == shopper_id and p.phone_masked for p in picks):
                erasure_store.clear_masked(draw, shopper_id)


def _sign_in(shopper_id: str, account: ShopperAccount) -> None:
    erasure_store.forget_code(_code_key(shopper_id))
    if account.phone_hash:
        erasure_store.forget_code(account.phone_hash)
        erasure_store.forget_rate_windows(
            shoppers.OTP_PHONE_LIMIT, account.phone_hash, _HOUR, _RATE_WINDOWS, clock.epoch()
        )


def _account(shopper_id: str, account: ShopperAccount) -> None:
    erasure_store.finish(shopper_id, account.phone_hash, clock.now())


_DO: dict[str, Callable[[str, ShopperAccount], None]] = {
    "points": _points,
    "wins": _wins,
    "redemptions": _redemptions,
    "draws": _draws,
    "sign_in": _sign_in,
    "account": _account,
}


def run(shopper_id: str) -> dict:
    """Run a recorded deletion's steps not done yet, each idempotent, each marked when done; a crash
    leaves it running, and the next run (this call again, or the scheduler's) does the rest."""
    account = erasure_store.account(shopper_id)
    if account is None or account.erasure_status is None:
        raise NotFound("No deletion of this account was confirmed.")
    done = set(account.erasure_steps or ())
    if account.erasure_status == ErasureStatus.RUNNING:
        for step in STEPS:
            if step in done:
                continue
            _DO[step](shopper_id, account)
            if step != "account":
                erasure_store.mark_step(shopper_id, step)
        log_event(log, "erasure_done", shopper_id=shopper_id)
    return {"status": str(ErasureStatus.DONE), "steps": list(STEPS)}


def resume_running() -> int:
    """The scheduler's part: finish every deletion a crash left running; how many it finished."""
    finished = 0
    for shopper_id in erasure_store.running():
        try:
            run(shopper_id)
        except NotFound:
            continue
        finished += 1
    return finished
