"""Who is calling: operator bearer JWTs with pinned algorithms and required claims, and
shopper tokens (HS256 with the shopper key), issued at sign-in and verified on every scan.

Nothing here loads PyJWT or pydantic until an operator request or a sign-in needs it: a
cold container's first scan verifies its shopper token with chalicelib.domain.tokens.
"""

from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.secrets import get_shopper_jwt_keys, get_shopper_jwt_secret
from chalicelib.config import Settings
from chalicelib.domain import clock
from chalicelib.domain.errors import Forbidden, Unauthorized
from chalicelib.domain.ids import is_brand_id, is_id
from chalicelib.domain.tokens import TokenRefused, verify_hs256
from chalicelib.domain.validation import bearer_token
from chalicelib.logs import log_event

if TYPE_CHECKING:
    import jwt

__all__ = [
    "Operator",
    "ROLES",
    "verified_claims",
    "authenticate_operator",
    "require_write",
    "require_owner",
    "issue_operator_token",
    "Shopper",
    "issue_shopper_token",
    "authenticate_shopper",
]

log = logging.getLogger(__name__)

ROLES = ("owner", "manager", "viewer")
_WRITE_ROLES = frozenset({"owner", "manager"})
_REQUIRED_CLAIMS = ["exp", "iat", "aud", "iss", "sub"]
_MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True)
class Operator:
    """Who is calling: taken from a verified token, never from a request body."""

    sub: str
    brand: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in _WRITE_ROLES


@functools.lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One client per container: it caches the key set and refetches on an unknown kid.
    return _jwt().PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _jwt() -> ModuleType:
    # PyJWT (and the cryptography it loads for RS256) is imported on the first operator
    # request: a cold container's first scan needs neither.
    import jwt

    return jwt


def _verification_key(token: str, settings: Settings) -> Any:
    if settings.jwt_algorithm == "HS256":
        return settings.jwt_secret
    return _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key


def verified_claims(
    token: str, key: Any, *, algorithm: str, audience: str, issuer: str, leeway: int, max_ttl: int, kind: str
) -> dict:
    """The claims of a token whose signature, algorithm, audience, issuer and times all check out.

    Required: exp, iat, aud, iss and sub; not yet valid (iat or nbf in the future) or
    expired is refused, and so is a lifetime (exp - iat) over `max_ttl` seconds, whatever
    the signature says. Every failure is the same Unauthorized: a caller probing tokens
    learns nothing about which check failed. The reason is logged, labelled `kind`.
    """
    jwt = _jwt()
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        log_event(log, f"{kind}_token_refused", reason=type(exc).__name__)
        raise Unauthorized() from None
    if int(claims["exp"]) - int(claims["iat"]) > max_ttl:
        log_event(log, f"{kind}_token_refused", reason="lifetime over the maximum")
        raise Unauthorized()
    return claims


def authenticate_operator(authorization: str | None, settings: Settings) -> Operator:
    """Return the operator behind an `Authorization` header, or raise Unauthorized (see verified_claims)."""
    token = bearer_token(authorization, _MAX_TOKEN_CHARS)
    settings.check_jwt()
    jwt = _jwt()
    try:
        key = _verification_key(token, settings)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:  # an unknown kid, a broken header
        log_event(log, "operator_token_refused", reason=type(exc).__name__)
        raise Unauthorized() from None
    claims = verified_claims(
        token,
        key,
        algorithm=settings.jwt_algorithm,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        leeway=settings.jwt_leeway_seconds,
        max_ttl=settings.operator_token_max_ttl_seconds,
        kind="operator",
    )
    sub, brand, role = claims.get("sub"), claims.get("brand"), claims.get("role")
    if not (isinstance(sub, str) and sub and is_brand_id(brand)):
        log_event(log, "operator_token_refused", reason="bad sub or brand claim")
        raise Unauthorized()
    if role not in ROLES:
        log_event(log, "operator_token_refused", reason="bad role claim")
        raise Unauthorized()
    return Operator(sub=sub, brand=brand, role=role)


def require_write(operator: Operator) -> None:
    """Viewers read only; managers and owners may change things."""
    if not operator.can_write:
        raise Forbidden(f"The {operator.role} role may only read.")


def require_owner(operator: Operator) -> None:
    """What only a brand's owners may see or do: the audit trail, phone numbers in clear, the brand's own
    consent purposes (they speak for the brand to every shopper)."""
    if operator.role != "owner":
        raise Forbidden(f"Only owners may see or do this, not the {operator.role} role.")


def issue_operator_token(settings: Settings, *, sub: str, brand: str, role: str, ttl_seconds: int = 8 * 3600) -> str:
    """Sign an operator token with the local HS256 secret (local stage and tests only)."""
    if settings.jwt_algorithm != "HS256" or not settings.jwt_secret:
        raise RuntimeError("operator tokens are issued by the identity provider outside the local stage")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(clock.epoch())
    claims = {
        "sub": sub,
        "brand": brand,
        "role": role,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return _jwt().encode(claims, settings.jwt_secret, algorithm="HS256")


@dataclass(frozen=True)
class Shopper:
    """Who is scanning: taken from a verified shopper token, never from a request body."""

    shopper_id: str
    phone_masked: str


_SHOPPER_ALGORITHM = "HS256"
_MAX_SHOPPER_TOKEN_CHARS = 4096


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
    # PyJWT on the first sign-in only: scans verify shopper tokens without it.
    return _jwt().encode(claims, get_shopper_jwt_secret(settings), algorithm=_SHOPPER_ALGORITHM), expires


def _shopper_keys(settings: Settings) -> tuple[bytes, ...]:
    return tuple(key.encode() for key in get_shopper_jwt_keys(settings))


def authenticate_shopper(authorization: str | None, settings: Settings) -> Shopper:
    """Return the shopper behind an `Authorization` header, or raise Unauthorized.

    Only HS256 with the shopper key and the shopper audience verifies, so an operator
    token is refused here just as a shopper token is refused on operator routes. Every
    failure gives the same generic message; the reason is logged for operators.
    """
    token = bearer_token(authorization, _MAX_SHOPPER_TOKEN_CHARS)
    signing, *accepted = _shopper_keys(settings)
    try:
        claims = verify_hs256(
            token,
            signing,
            also=accepted,
            audience=settings.shopper_jwt_audience,
            issuer=settings.shopper_jwt_issuer,
            now=clock.epoch(),
            leeway=settings.jwt_leeway_seconds,
            required=_REQUIRED_CLAIMS,
            max_lifetime=settings.shopper_token_ttl_seconds,
        )
    except TokenRefused as exc:
        log_event(log, "shopper_token_refused", reason=exc.reason)
        raise Unauthorized() from None
    sub, masked = claims.get("sub"), claims.get("phone")
    if not (isinstance(sub, str) and is_id("shp", sub) and isinstance(masked, str) and len(masked) <= 40):
        log_event(log, "shopper_token_refused", reason="bad sub or phone claim")
        raise Unauthorized()
    return Shopper(shopper_id=sub, phone_masked=masked)
