"""Verifying the HS256 tokens this service issues to shoppers: one header, one key, every claim required.

Shopper tokens are signed by PyJWT (services/shoppers.py) and verified here on every
scan. Verifying them through PyJWT cost as much CPU as the whole claim: it checks
every character of the token in Python and merges its options on each call. These
tokens come only from us, with one algorithm and one header, so the check is short:
the signature over the exact text first (nothing unauthenticated is parsed), then the
header's text, then the claims, with PyJWT's rules for exp, iat, nbf, sub, aud and iss.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["TokenRefused", "HEADER", "verify_hs256"]

HEADER = {"alg": "HS256", "typ": "JWT"}
"""The only header a shopper token may carry (PyJWT writes exactly this for HS256)."""

# The header as PyJWT encodes it: compact JSON, base64url without padding. The signature
# covers this exact text, so comparing the text is the whole header check.
_HEADER_TEXT = base64.urlsafe_b64encode(json.dumps(HEADER, separators=(",", ":")).encode()).rstrip(b"=").decode()
_TOKEN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])")
"""Three base64url segments; the last is 32 bytes, whose final symbol carries 4 bits and two zero
bits: requiring those zero makes the signature's spelling unique (no second token with the same MAC)."""


class TokenRefused(Exception):
    """The token does not verify; `reason` is for the operators' log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _decode(segment: str) -> bytes:
    # The segment's characters were checked by _TOKEN; what is left is base64url's padding.
    if len(segment) % 4 == 1:
        raise TokenRefused("encoding")
    try:
        return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).encode().translate(_URLSAFE))
    except binascii.Error:
        raise TokenRefused("encoding") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode())
    except (ValueError, RecursionError):
        raise TokenRefused(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenRefused(f"{what} is not an object")
    return value


def _whole(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenRefused(f"{name} is not a whole number")
    return value


def verify_hs256(
    token: str,
    key: bytes,
    *,
    audience: str,
    issuer: str,
    now: float,
    leeway: float,
    required: Sequence[str],
    also: Sequence[bytes] = (),
    max_lifetime: int | None = None,
) -> dict[str, Any]:
    """The claims of `token` if it is an HS256 token signed with `key` (or one of `also`, the keys
    still accepted while a rotation is under way) and valid at `now`; else TokenRefused.

    Valid means: every `required` claim present, `exp` (if any) after `now - leeway`,
    `iat` and `nbf` (if any) not after `now + leeway`, `sub` and `jti` (if any) text,
    `iss` equal to `issuer`, `aud` equal to `audience` or a list holding it; with
    `max_lifetime`, an `exp` and an `iat` at most that many seconds apart.
    """
    claims = _signed_claims(token, (key, *also))
    for name in required:
        if name not in claims:
            raise TokenRefused(f"no {name}")
    _check_times(claims, now, leeway, max_lifetime)
    _check_parties(claims, audience, issuer)
    return claims


def _signed_claims(token: str, keys: Sequence[bytes]) -> dict[str, Any]:
    """The payload of a token whose signature one of `keys` made and whose header is ours."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise TokenRefused("not a signed token")
    header_text, payload_text, signature_text = match.groups()
    signed, signature = f"{header_text}.{payload_text}".encode("ascii"), _decode(signature_text)
    if not any(hmac.compare_digest(signature, hmac.digest(k, signed, "sha256")) for k in keys):
        raise TokenRefused("signature")
    if header_text != _HEADER_TEXT:
        raise TokenRefused("header")
    return _json_object(_decode(payload_text), "payload")


def _check_times(claims: dict[str, Any], now: float, leeway: float, max_lifetime: int | None) -> None:
    if "exp" in claims and _whole(claims, "exp") <= now - leeway:
        raise TokenRefused("expired")
    if "iat" in claims and _whole(claims, "iat") > now + leeway:
        raise TokenRefused("iat in the future")
    if "nbf" in claims and _whole(claims, "nbf") > now + leeway:
        raise TokenRefused("nbf in the future")
    if max_lifetime is not None:
        if "exp" not in claims or "iat" not in claims:
            raise TokenRefused("no exp or iat")
        if _whole(claims, "exp") - _whole(claims, "iat") > max_lifetime:
            raise TokenRefused("lifetime over the maximum")


def _check_parties(claims: dict[str, Any], audience: str, issuer: str) -> None:
    """sub and jti are text, the issuer is ours and the audience is (or includes) ours."""
    if not isinstance(claims.get("sub", ""), str) or not isinstance(claims.get("jti", ""), str):
        raise TokenRefused("sub or jti is not text")
    if claims.get("iss") != issuer:
        raise TokenRefused("issuer")
    audiences = claims.get("aud")
    if audiences != audience and not (
        isinstance(audiences, list) and all(isinstance(a, str) for a in audiences) and audience in audiences
    ):
        raise TokenRefused("audience")
