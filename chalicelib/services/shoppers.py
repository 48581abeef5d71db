"""Shopper sign-in: phone numbers, one-time codes sent by SMS, and shopper tokens."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.adapters import limits
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import OtpChallenge, ShopperAccount
from chalicelib.adapters.secrets import get_phone_hash_pepper, get_shopper_jwt_secret
from chalicelib.adapters.sms import sender_for
from chalicelib.config import Settings
from chalicelib.domain import clock
from chalicelib.domain.errors import InvalidInput, Unauthorized
from chalicelib.domain.ids import is_id
from chalicelib.domain.phones import Phone, keyed_hash, normalise_phone, phone_hash, seal_phone, shopper_id_for
from chalicelib.domain.tokens import TokenRefused, verify_hs256
from chalicelib.domain.validation import CodeText, PhoneText, Schema, bearer_token, format_instant, validate
from chalicelib.logs import log_event

__all__ = [
    "Shopper",
    "record_account",
    "request_otp",
    "create_session",
    "issue_shopper_token",
    "authenticate_shopper",
    "OTP_DIGITS",
    "OTP_TTL_SECONDS",
    "OTP_MAX_TRIES",
    "OTP_PER_PHONE_PER_DAY",
]

log = logging.getLogger(__name__)

OTP_DIGITS = 6
OTP_TTL_SECONDS = 5 * 60
OTP_MAX_TRIES = 5
OTP_PER_PHONE_PER_DAY = 5
# Mobile carriers in Vietnam and the Philippines put many subscribers behind one public
# address (carrier-grade NAT), so the per-address limit only stops a script spraying
# many numbers from one place; the per-number limit is what protects a phone.
OTP_PER_IP_LIMIT = 30
OTP_PER_IP_WINDOW_SECONDS = 10 * 60
_DAY_SECONDS = 24 * 3600

_ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "aud", "iss", "sub"]
_MAX_TOKEN_CHARS = 4096

# Vietnamese without diacritics keeps the text in the GSM-7 alphabet: one SMS segment
# instead of two, and it is how Vietnamese carriers' own codes read.
_SMS_TEXT = {
    "VN": "Ma dang nhap QR Campaigns cua ban la {code}, het han sau {minutes} phut. Khong chia se ma nay cho ai.",
}
_SMS_TEXT_DEFAULT = "Your QR Campaigns sign-in code is {code}. It expires in {minutes} minutes. Never share it."


@dataclass(frozen=True)
class Shopper:
    """Who is scanning: taken from a verified shopper token, never from a request body."""

    shopper_id: str
    phone_masked: str


class _OtpRequestIn(Schema):
    phone: PhoneText


class _SessionIn(Schema):
    phone: PhoneText
    otp: CodeText


def _code_hash(pepper: str, hashed_phone: str, challenge_id: str, code: str) -> str:
    return keyed_hash(pepper, "otp", f"{hashed_phone}:{challenge_id}:{code}")


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _sms_text(code: str, region: str) -> str:
    return _SMS_TEXT.get(region, _SMS_TEXT_DEFAULT).format(code=code, minutes=OTP_TTL_SECONDS // 60)


def request_otp(body: dict, source_ip: str, settings: Settings, *, now: float | None = None) -> dict:
    """Send a new one-time code to the phone in `body`; it replaces any code sent before.

    Limits, each one conditional write: OTP_PER_IP_LIMIT per source address per window,
    OTP_PER_PHONE_PER_DAY per number per UTC day. A refused request sends nothing.
    """
    phone = normalise_phone(validate(_OtpRequestIn, body).phone, settings.phone_regions)
    # Configuration problems surface before any limit is spent.
    sender = sender_for(settings)
    pepper = get_phone_hash_pepper(settings)
    now = clock.epoch() if now is None else now
    hashed = phone_hash(phone.e164, pepper)
    limits.hit(
        "otp-ip",
        keyed_hash(pepper, "ip", source_ip or "unknown")[:32],
        limit=OTP_PER_IP_LIMIT,
        window_seconds=OTP_PER_IP_WINDOW_SECONDS,
        now=now,
        message="Too many sign-in codes were asked for from this network. Try again in a few minutes.",
    )
    limits.hit(
        "otp-phone",
        hashed,
        limit=OTP_PER_PHONE_PER_DAY,
        window_seconds=_DAY_SECONDS,
        now=now,
        field="phone",
        message=f"This number has had {OTP_PER_PHONE_PER_DAY} sign-in codes today. Try again tomorrow.",
    )
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    challenge_id = secrets.token_hex(16)
    # Stored before sending, so the code works the moment it arrives.
    OtpChallenge(
        hashed,
        challenge_id=challenge_id,
        code_hash=_code_hash(pepper, hashed, challenge_id, code),
        tries=0,
        expires_at=_instant(now + OTP_TTL_SECONDS),
        created_at=_instant(now),
    ).save()
    sender.send(phone.e164, _sms_text(code, phone.region))
    log_event(log, "otp_sent", shopper_id=shopper_id_for(hashed))
    return {"sent": True, "expires_in": OTP_TTL_SECONDS, "phone": phone.masked}


def _parse_code(raw: str) -> str:
    code = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw))
    if not re.fullmatch(rf"[0-9]{{{OTP_DIGITS}}}", code):
        raise InvalidInput(f"otp: Enter the {OTP_DIGITS}-digit code from the SMS.", field="otp")
    return code


def _code_gone() -> InvalidInput:
    return InvalidInput(
        "otp: This code is no longer valid: it expired, was used, or a newer code was sent. Ask for a new one.",
        field="otp",
        code="otp_expired",
    )


def _too_many_tries() -> InvalidInput:
    return InvalidInput(
        "otp: Too many wrong tries for this code. Ask for a new one.", field="otp", code="otp_tries_exceeded"
    )


def _wrong_code(tries_left: int) -> InvalidInput:
    if tries_left <= 0:
        message = "otp: This code is not right, and that was the last try. Ask for a new one."
    else:
        message = f"otp: This code is not right. {tries_left} {'try' if tries_left == 1 else 'tries'} left."
    return InvalidInput(message, field="otp", code="otp_invalid")


def _consume(challenge: OtpChallenge, candidate: str, now: float) -> None:
    """Check a code against the challenge: a wrong one spends a try, a right one deletes it.

    Both writes are conditional on the challenge read (same id, tries under the maximum),
    so concurrent guesses never spend more than OTP_MAX_TRIES tries, one code yields at
    most one session, and a guess that lost a race gets the same answer right or wrong.
    """
    unchanged = (OtpChallenge.challenge_id == challenge.challenge_id) & (OtpChallenge.tries < OTP_MAX_TRIES)
    if not hmac.compare_digest(candidate, challenge.code_hash):
        try:
            challenge.update(actions=[OtpChallenge.tries.add(1)], condition=unchanged)
        except UpdateError as exc:
            if condition_failed(exc):
                raise _code_gone() from None
            raise
        raise _wrong_code(OTP_MAX_TRIES - int(challenge.tries))
    try:
        challenge.delete(condition=unchanged & (OtpChallenge.expires_at > _instant(now)))
    except DeleteError as exc:
        if condition_failed(exc):
            raise _code_gone() from None
        raise


def create_session(body: dict, settings: Settings, *, now: float | None = None) -> dict:
    """Exchange a phone number and its one-time code for a shopper token.

    Wrong code: 400 `otp_invalid` and one try spent. Expired, used or replaced code: 400
    `otp_expired`. Tries used up: 400 `otp_tries_exceeded` (waiting does not help, a new
    code does). Nothing else is written unless the code is right.
    """
    data = validate(_SessionIn, body)
    phone = normalise_phone(data.phone, settings.phone_regions)
    code = _parse_code(data.otp)
    pepper = get_phone_hash_pepper(settings)
    get_shopper_jwt_secret(settings)  # a missing key must fail before the code is used up
    now = clock.epoch() if now is None else now
    hashed = phone_hash(phone.e164, pepper)
    shopper_id = shopper_id_for(hashed)
    try:
        challenge = OtpChallenge.get(hashed, consistent_read=True)
    except OtpChallenge.DoesNotExist:
        raise _code_gone() from None
    if challenge.expires_at.timestamp() <= now:
        raise _code_gone()
    if challenge.tries >= OTP_MAX_TRIES:
        raise _too_many_tries()
    try:
        _consume(challenge, _code_hash(pepper, hashed, challenge.challenge_id, code), now)
    except InvalidInput as exc:
        log_event(log, "otp_refused", shopper_id=shopper_id, reason=exc.code)
        raise
    record_account(phone, pepper, _instant(now))
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

    Stores the keyed hash, the masked form and the sealed number, never the clear one.
    """
    hashed = phone_hash(phone.e164, pepper)
    shopper_id = shopper_id_for(hashed)
    ShopperAccount(shopper_id).update(
        actions=[
            ShopperAccount.phone_hash.set(hashed),
            ShopperAccount.phone_masked.set(phone.masked),
            ShopperAccount.phone_sealed.set(seal_phone(phone.e164, pepper)),
            ShopperAccount.created_at.set(ShopperAccount.created_at | signed_in),
            ShopperAccount.last_sign_in_at.set(signed_in),
        ]
    )
    return shopper_id


def issue_shopper_token(settings: Settings, shopper: Shopper, *, now: float | None = None) -> tuple[str, int]:
    """Sign a shopper token (HS256, the shopper key and audience); returns it and its expiry."""
    issued = int(clock.epoch() if now is None else now)
    expires = issued + settings.shopper_token_ttl_seconds
    claims = {
        "sub": shopper.shopper_id,
        "phone": shopper.phone_masked,
        "aud": settings.shopper_jwt_audience,
        "iss": settings.shopper_jwt_issuer,
        "iat": issued,
        "exp": expires,
        "jti": secrets.token_urlsafe(12),
    }
    import jwt  # on the first sign-in only: scans verify tokens without PyJWT

    return jwt.encode(claims, get_shopper_jwt_secret(settings), algorithm=_ALGORITHM), expires


def authenticate_shopper(authorization: str | None, settings: Settings) -> Shopper:
    """Return the shopper behind an `Authorization` header, or raise Unauthorized.

    Only HS256 with the shopper key and the shopper audience verifies, so an operator
    token is refused here just as a shopper token is refused on operator routes. Every
    failure gives the same generic message; the reason is logged for operators.
    """
    token = bearer_token(authorization, _MAX_TOKEN_CHARS)
    try:
        claims = verify_hs256(
            token,
            get_shopper_jwt_secret(settings).encode(),
            audience=settings.shopper_jwt_audience,
            issuer=settings.shopper_jwt_issuer,
            now=clock.epoch(),
            leeway=settings.jwt_leeway_seconds,
            required=_REQUIRED_CLAIMS,
        )
    except TokenRefused as exc:
        log_event(log, "shopper_token_refused", reason=exc.reason)
        raise Unauthorized() from None
    sub, masked = claims.get("sub"), claims.get("phone")
    if not (isinstance(sub, str) and is_id("shp", sub) and isinstance(masked, str) and len(masked) <= 40):
        log_event(log, "shopper_token_refused", reason="bad sub or phone claim")
        raise Unauthorized()
    return Shopper(shopper_id=sub, phone_masked=masked)
