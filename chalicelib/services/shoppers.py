"""Shopper sign-in: phone numbers and one-time codes sent by SMS, exchanged for a shopper
token (chalicelib.services.auth issues and verifies it)."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from chalicelib.adapters import dynamo, limits, shopper_store
from chalicelib.adapters.models import OtpChallenge
from chalicelib.adapters.secrets import get_phone_hash_pepper, get_shopper_jwt_secret
from chalicelib.adapters.sms import sender_for
from chalicelib.config import Settings
from chalicelib.domain import clock
from chalicelib.domain.consent import MAX_BRAND_PURPOSES, NOTICE_VERSION, REQUIRED_PURPOSES, Acceptance, BrandPurpose
from chalicelib.domain.errors import InvalidInput, SmsPaused
from chalicelib.domain.phones import (
    Phone,
    keyed_hash,
    new_shopper_id,
    normalise_phone,
    phone_hash,
    seal_phone,
    seal_text,
    unseal_text,
)
from chalicelib.domain.schemas import BrandIdText, CodeText, PhoneText, Schema, validate
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import brand_purposes, texting
from chalicelib.services.auth import Shopper, issue_shopper_token

__all__ = [
    "record_account",
    "request_otp",
    "create_session",
    "OTP_DIGITS",
    "OTP_TTL_SECONDS",
    "OTP_MAX_TRIES",
    "OtpLimits",
    "OTP_LIMITS",
    "OTP_PHONE_LIMIT",
    "send_code",
    "check_code",
]

log = logging.getLogger(__name__)

OTP_DIGITS = 6
OTP_TTL_SECONDS = 5 * 60
OTP_MAX_TRIES = 5
# A pending code with less than this left is not sent again: a new one replaces it.
OTP_RESEND_MIN_SECONDS = 60


@dataclass(frozen=True)
class OtpLimits:
    """How many sign-in codes may be asked for, by whom; each limit is one conditional write.

    Mobile carriers in Vietnam and the Philippines put many subscribers behind one public
    address (carrier-grade NAT), so a number's own limits count per address: a stranger
    asking from elsewhere spends their own allowance for that number, never the owner's.
    Across all addresses a number gets at most `per_number_per_hour`, which bounds the
    texts strangers together can send to one phone and, since a pending code is sent
    again rather than replaced, never cancels the code its owner holds.
    """

    per_address_per_window: int = 30
    address_window_seconds: int = 10 * 60
    per_address_per_day: int = 300
    per_number_and_address_per_window: int = 3
    per_number_and_address_per_day: int = 10
    per_number_per_hour: int = 5


OTP_LIMITS = OtpLimits()
# The rate counter of a number's own hourly limit: its key holds the phone hash (a deletion removes it).
OTP_PHONE_LIMIT = "otp-phone"
_DAY_SECONDS = 24 * 3600
_HOUR_SECONDS = 3600

# By language (services/texting.py picks it from the number's country).
_SMS_TEXT = {
    "vi": "Ma dang nhap QR Campaigns cua ban la {code}, het han sau {minutes} phut. Khong chia se ma nay cho ai.",
    "en": "Your QR Campaigns sign-in code is {code}. It expires in {minutes} minutes. Never share it.",
}


class _OtpRequestIn(Schema):
    phone: PhoneText


def _current_notice(version: str) -> str:
    if version != NOTICE_VERSION:
        raise ValueError(f"The notice has changed (now {NOTICE_VERSION}): show it again and send its version.")
    return version


def _notice_purposes(purposes: list[str]) -> list[str]:
    unknown = sorted(set(purposes) - set(REQUIRED_PURPOSES))
    if unknown:
        raise ValueError(f"{unknown[0]} is not a purpose of the notice ({', '.join(REQUIRED_PURPOSES)}).")
    missing = [p for p in REQUIRED_PURPOSES if p not in purposes]
    if missing:
        raise ValueError(f"Signing in accepts every purpose of the notice; {missing[0]} is missing.")
    return purposes


class _ConsentIn(Schema):
    """The notice the shopper was shown and accepted before their number was sent, and the brand's own
    purposes shown under it (services/brand_purposes.py): their version and the ones ticked."""

    notice: Annotated[str, AfterValidator(_current_notice)]
    purposes: Annotated[list[str], AfterValidator(_notice_purposes)]
    language: Literal["vi", "en", "fil"]
    brand_id: BrandIdText | None = None
    brand_version: int = Field(default=0, ge=0)
    brand_purposes: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=MAX_BRAND_PURPOSES)] = []


class _SessionIn(Schema):
    phone: PhoneText
    otp: CodeText
    consent: _ConsentIn


def _code_hash(pepper: str, hashed_phone: str, challenge_id: str, code: str) -> str:
    return keyed_hash(pepper, "otp", f"{hashed_phone}:{challenge_id}:{code}")


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _sms_text(code: str, region: str) -> str:
    return texting.render(_SMS_TEXT, region, code=code, minutes=OTP_TTL_SECONDS // 60)


def _network(pepper: str, source_ip: str) -> str:
    # Keyed, so the rate-limit table holds no client addresses.
    return keyed_hash(pepper, "ip", source_ip or "unknown")[:32]


def _check_limits(hashed: str, network: str, pepper: str, now: float) -> None:
    limit = OTP_LIMITS
    busy_network = "Too many sign-in codes were asked for from this network. Try again later."
    busy_number = "This number has had its sign-in codes for now. Use the last code sent, or try again later."
    # Keyed with the network, so these counters hold nothing a deletion could find by the number
    # (docs/privacy.md): they expire with their window.
    mine = keyed_hash(pepper, "limit-phone-ip", f"{hashed}:{network}")[:32]
    # (counter, subject, limit, window, field, message), cheapest to refuse first.
    checks = (
        ("otp-ip", network, limit.per_address_per_window, limit.address_window_seconds, None, busy_network),
        ("otp-ip-day", network, limit.per_address_per_day, _DAY_SECONDS, None, busy_network),
        (
            "otp-phone-ip",
            mine,
            limit.per_number_and_address_per_window,
            limit.address_window_seconds,
            "phone",
            busy_number,
        ),
        ("otp-phone-ip-day", mine, limit.per_number_and_address_per_day, _DAY_SECONDS, "phone", busy_number),
        (OTP_PHONE_LIMIT, hashed, limit.per_number_per_hour, _HOUR_SECONDS, "phone", busy_number),
    )
    for name, subject, most, window, field, message in checks:
        limits.hit(name, subject, limit=most, window_seconds=window, now=now, field=field, message=message)


def _spend_sms_budgets(phone: Phone, settings: Settings, now: float) -> None:
    """One unit of each SMS budget a sign-in code spends (services/texting.py), or SmsPaused."""
    wait = texting.spend_budgets(phone, settings, now)
    if wait is not None:
        raise SmsPaused("Sign-in codes cannot be sent right now. Please try again later.", retry_after=wait)


def _code_to_send(hashed: str, pepper: str, now: float) -> str:
    """The code to text: the pending one while it is still good, else a new one, stored first."""
    pending = shopper_store.pending_code(hashed)
    if (
        pending is not None
        and pending.code_sealed
        and pending.tries < OTP_MAX_TRIES
        and pending.expires_at.timestamp() - now >= OTP_RESEND_MIN_SECONDS
    ):
        return unseal_text(pending.code_sealed, pepper, f"otp:{pending.challenge_id}")
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    challenge_id = secrets.token_hex(16)
    # Stored before sending, so the code works the moment it arrives. Replaced only if the
    # one read is still the one there: of two requests racing, the second sends the first's code.
    challenge = OtpChallenge(
        hashed,
        challenge_id=challenge_id,
        code_hash=_code_hash(pepper, hashed, challenge_id, code),
        code_sealed=seal_text(code, pepper, f"otp:{challenge_id}"),
        tries=0,
        expires_at=_instant(now + OTP_TTL_SECONDS),
        created_at=_instant(now),
    )
    if not shopper_store.store_code(challenge, pending.challenge_id if pending is not None else None):
        return _code_to_send(hashed, pepper, now)
    return code


def send_code(key: str, phone: Phone, texts: dict[str, str], settings: Settings, now: float) -> None:
    """Text `phone` the pending code of the challenge `key` (or a new one), worded by `texts`
    (by language, with {code} and {minutes}); SmsPaused when a budget is spent."""
    sender = sender_for(settings)
    pepper = get_phone_hash_pepper(settings)
    _spend_sms_budgets(phone, settings, now)
    code = _code_to_send(key, pepper, now)
    sender.send(phone.e164, texting.render(texts, phone.region, code=code, minutes=OTP_TTL_SECONDS // 60))


def check_code(key: str, raw_code: str, settings: Settings, now: float) -> None:
    """Use the pending code of the challenge `key` if `raw_code` is it; else InvalidInput `otp_invalid`
    (a wrong code spends a try), the same answer for every reason, as at sign-in."""
    code = _parse_code(raw_code)
    pepper = get_phone_hash_pepper(settings)
    try:
        challenge = shopper_store.pending_code(key)
        if challenge is None or challenge.expires_at.timestamp() <= now or challenge.tries >= OTP_MAX_TRIES:
            raise _Refusal("no good code pending")
        _consume(challenge, _code_hash(pepper, key, challenge.challenge_id, code), now)
    except _Refusal:
        raise _refused() from None


def request_otp(body: dict, source_ip: str, settings: Settings, *, now: float | None = None) -> dict:
    """Text the phone in `body` its sign-in code: the pending one again, or a new one.

    The answer is the same whether or not the number has an account. A refused request
    sends nothing: the limits of OtpLimits (429) and the SMS budgets (503 sms_unavailable).
    """
    phone = normalise_phone(validate(_OtpRequestIn, body).phone, settings.phone_regions)
    # Configuration problems surface before any limit is spent.
    sender = sender_for(settings)
    pepper = get_phone_hash_pepper(settings)
    now = clock.epoch() if now is None else now
    hashed = phone_hash(phone.e164, pepper)
    _check_limits(hashed, _network(pepper, source_ip), pepper, now)
    _spend_sms_budgets(phone, settings, now)
    code = _code_to_send(hashed, pepper, now)
    sender.send(phone.e164, _sms_text(code, phone.region))
    log_event(log, "otp_sent")
    return {"sent": True, "expires_in": OTP_TTL_SECONDS, "phone": phone.masked}


def _parse_code(raw: str) -> str:
    code = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw))
    if not re.fullmatch(rf"[0-9]{{{OTP_DIGITS}}}", code):
        raise InvalidInput(f"otp: Enter the {OTP_DIGITS}-digit code from the SMS.", field="otp")
    return code


def _refused() -> InvalidInput:
    # One answer for a wrong code, an expired or used one, one whose tries are spent and
    # no code at all: a stranger trying codes learns nothing about a number's sign-in.
    return InvalidInput(
        "otp: This code is not right, or it is no longer valid. Check the SMS, or ask for a new code.",
        field="otp",
        code="otp_invalid",
    )


class _Refusal(Exception):
    """Why a code was refused, for the log only: the caller always answers _refused()."""


def _consume(challenge: OtpChallenge, candidate: str, now: float) -> None:
    """Check a code against the challenge: a wrong one spends a try, a right one deletes it.

    Both writes are conditional on the challenge read (same id, tries under the maximum),
    so concurrent guesses never spend more than OTP_MAX_TRIES tries, one code yields at
    most one session, and a guess that lost a race gets the same answer right or wrong.
    """
    if not hmac.compare_digest(candidate, challenge.code_hash):
        if not shopper_store.spend_try(challenge, OTP_MAX_TRIES):
            raise _Refusal("lost a race")
        raise _Refusal("wrong code")
    if not shopper_store.use_code(challenge, OTP_MAX_TRIES, _instant(now)):
        raise _Refusal("lost a race")


def _brand_purposes_shown(consent: _ConsentIn) -> list[BrandPurpose]:
    """The brand's purposes the notice showed, the ticked ones checked against them (reads only)."""
    if consent.brand_id is None:
        if consent.brand_purposes or consent.brand_version:
            raise InvalidInput("consent.brand_id: Name the brand whose purposes were shown.", field="consent.brand_id")
        return []
    return brand_purposes.check_acceptance(consent.brand_id, consent.brand_version, consent.brand_purposes)


def create_session(body: dict, settings: Settings, *, now: float | None = None) -> dict:
    """Exchange a phone number and its one-time code for a shopper token.

    The body carries the notice the shopper accepted (`consent`: its version, every purpose,
    the language read); a right code records it with the account, once per version and purposes.
    A wrong code spends one of the code's OTP_MAX_TRIES tries; a wrong, expired, used or
    spent code, and no code at all, all answer the same 400 `otp_invalid` (no oracle).
    Nothing else is written unless the code is right.
    """
    data = validate(_SessionIn, body)
    phone = normalise_phone(data.phone, settings.phone_regions)
    code = _parse_code(data.otp)
    consent = data.consent
    # The brand's purposes are checked before the code is used: a refusal costs the shopper nothing.
    shown = _brand_purposes_shown(consent)
    pepper = get_phone_hash_pepper(settings)
    get_shopper_jwt_secret(settings)  # a missing key must fail before the code is used up
    now = clock.epoch() if now is None else now
    hashed = phone_hash(phone.e164, pepper)
    try:
        challenge = shopper_store.pending_code(hashed)
        if challenge is None:
            raise _Refusal("no code pending")
        if challenge.expires_at.timestamp() <= now:
            raise _Refusal("expired")
        if challenge.tries >= OTP_MAX_TRIES:
            raise _Refusal("tries spent")
        _consume(challenge, _code_hash(pepper, hashed, challenge.challenge_id, code), now)
    except _Refusal as exc:
        log_event(log, "otp_refused", reason=str(exc))
        raise _refused() from None
    shopper_id = record_account(phone, pepper, _instant(now))
    accepted = Acceptance(consent.notice, tuple(consent.purposes), consent.language, _instant(now))
    shopper_store.record_acceptance(shopper_id, accepted)
    if consent.brand_id and shown:
        brand_purposes.record_acceptance(
            shopper_id, consent.brand_id, shown, consent.brand_purposes, consent.notice, consent.language
        )
    token, expires = issue_shopper_token(settings, Shopper(shopper_id, phone.masked), now=now)
    log_event(log, "shopper_signed_in", shopper_id=shopper_id)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": format_instant(_instant(expires)),
        "shopper_id": shopper_id,
        "phone": phone.masked,
    }


def record_account(phone: Phone, pepper: str, signed_in: datetime) -> str:
    """Create or refresh the account of a phone number that signed in; returns the shopper id.

    Stores the keyed hash, the masked form and the sealed number, never the clear one. A number's
    first sign-in opens an account under a new random id; two first sign-ins at once open one.
    """
    hashed = phone_hash(phone.e164, pepper)
    masked, sealed = phone.masked, seal_phone(phone.e164, pepper)
    for _ in dynamo.attempts(3, "Many sign-ins of this number at once; please try again."):
        shopper_id = shopper_store.account_of_phone(hashed)
        if shopper_id is not None:
            shopper_store.record_sign_in(shopper_id, masked, sealed, signed_in)
            return shopper_id
        shopper_id = new_shopper_id()
        if shopper_store.open_account(shopper_id, hashed, masked, sealed, signed_in):
            return shopper_id
    raise AssertionError("unreachable: attempts raises after the last try")
