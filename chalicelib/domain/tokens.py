"""Verifying the HS256 tokens this service issues to shoppers: one header, one key, every claim required.

Shopper tokens are signed by PyJWT (services/shoppers.py) and verified here on every
scan. Verifying them through PyJWT cost as much CPU as the whole claim: it checks
every character of the token in Python and merges its options on each call. These
tokens come only from us, with one algorithm and one header, so the check is short:
the signature over the exact text first (nothing unauthenticated is parsed), then the
header, then the claims, with PyJWT's rules for exp, iat, nbf, aud and iss.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["TokenRefused", "HEADER", "verify_hs256"]

HEADER = {"alg": "HS256", "typ": "JWT"}
"""The only header a shopper token may carry (PyJWT writes exactly this for HS256)."""

_TOKEN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})")
_SIGNATURE_BYTES = 32


class TokenRefused(Exception):
    """The token does not verify; `reason` is for the operators' log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _decode(segment: str) -> bytes:
    if len(segment) % 4 == 1:
        raise TokenRefused("encoding")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenRefused("encoding") from None
    # Only the canonical encoding: a second spelling of the same bytes is refused.
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise TokenRefused("encoding")
    return raw


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
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
) -> dict[str, Any]:
    """The claims of `token` if it is an HS256 token signed with `key` and valid at `now`; else TokenRefused.

    Valid means: every `required` claim present, `exp` (if any) after `now - leeway`,
    `iat` and `nbf` (if any) not after `now + leeway`, `sub` and `jti` (if any) text,
    `iss` equal to `issuer`, `aud` equal to `audience` or a list holding it.
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise TokenRefused("not a signed token")
    header_text, payload_text, signature_text = match.groups()
    signature = _decode(signature_text)
    expected = hmac.new(key, f"{header_text}.{payload_text}".encode("ascii"), hashlib.sha256).digest()
    if len(signature) != _SIGNATURE_BYTES or not hmac.compare_digest(signature, expected):
        raise TokenRefused("signature")
    if _json_object(_decode(header_text), "header") != HEADER:
        raise TokenRefused("header")
    claims = _json_object(_decode(payload_text), "payload")
    for name in required:
        if name not in claims:
            raise TokenRefused(f"no {name}")
    if "exp" in claims and _whole(claims, "exp") <= now - leeway:
        raise TokenRefused("expired")
    for name in ("iat", "nbf"):
        if name in claims and _whole(claims, name) > now + leeway:
            raise TokenRefused(f"{name} in the future")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise TokenRefused(f"{name} is not text")
    if claims.get("iss") != issuer:
        raise TokenRefused("issuer")
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else audiences
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences) or audience not in audiences:
        raise TokenRefused("audience")
    return claims
