"""Webhooks' rules, no I/O: event types, Standard Webhooks signing, the URL and address rules, the retry schedule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

__all__ = [
    "EVENT_TYPES",
    "PING",
    "SECRET_PREFIX",
    "TIMEOUT_SECONDS",
    "GIVE_UP_AFTER",
    "DISABLE_AFTER",
    "MAX_IN_FLIGHT",
    "Verdict",
    "new_secret",
    "secret_key",
    "sign",
    "signature_header",
    "event_id",
    "check_url",
    "refused_address",
    "verdict",
    "retry_delay",
    "object_version",
]

# What a brand may subscribe to: each is documented with its payload in docs/webhooks.md and
# the `webhooks:` section of docs/openapi.yaml.
EVENT_TYPES: tuple[str, ...] = (
    "claim.granted",
    "prize.won",
    "member.tier_changed",
    "redemption.shipped",
    "redemption.cancelled",
    "draw.frozen",
    "draw.drawn",
    "win.accepted",
    "win.verified",
    "win.shipped",
    "win.delivered",
    "win.declined",
    "win.rejected",
    "win.forfeited",
    "win.alternate_promoted",
    "batch.activated",
    "batch.voided",
    "integrity.signal_raised",
)
PING = "webhook.ping"  # a test call: sent to one endpoint when its owner asks, never subscribed to

SECRET_PREFIX = "whsec_"
TIMEOUT_SECONDS = 10.0  # a receiver that has not answered by then failed this attempt
GIVE_UP_AFTER = timedelta(days=3, hours=1)  # retries go on at least three days from the first try
DISABLE_AFTER = timedelta(days=5)  # an endpoint that failed every attempt this long is disabled
MAX_IN_FLIGHT = 10  # deliveries posted to one endpoint at once, at most
_FIRST_DELAY = 5.0  # seconds: the ceiling of the first retry's wait, doubled each attempt
_MAX_DELAY = 6 * 3600.0  # no wait between two attempts is longer than this


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64 HMAC-SHA256>` signature of `message_id.timestamp.body` (the specification's content)."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), content, hashlib.sha256).digest()).decode()


def signature_header(secrets_in_force: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one signature per secret in force, space separated (a rotation's
    overlap signs with both, so a receiver holding either verifies)."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_force)


def event_id(source: str) -> str:
    """The stable id of the event one change makes: `evt_` and 26 characters of a hash of what changed,
    so the same stream record read twice makes the same event (and the same `webhook-id`)."""
    digest = hashlib.sha256(source.encode()).digest()
    return "evt_" + base64.b32encode(digest).decode()[:26].lower()


def object_version(changed_at: datetime) -> int:
    """A per-object version: the change's instant in microseconds since the epoch, so of two events
    about one object the greater version is the later state."""
    return int(changed_at.timestamp() * 1_000_000)


def check_url(url: object, *, local: bool) -> str | None:
    """Why `url` may not be an endpoint (None when it may): https with a host name in AWS stages; the
    local stage may also post over http to the loopback address."""
    if not isinstance(url, str) or not url or len(url) > 2000 or url != url.strip():
        return "must be a URL of at most 2000 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "must be a URL"
    host = parts.hostname or ""
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if parts.scheme == "http" and local and host in ("127.0.0.1", "localhost"):
        return None
    if parts.scheme != "https" or not host:
        return "must be an https URL"
    if port not in (None, 443) and not local:
        return "must use the https port (443)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None if "." in host else "must name a public host"
    return "must not be a private, loopback or link-local address" if refused_address(str(address)) else None


def refused_address(address: str) -> bool:
    """Whether an address a host name resolved to must not be posted to: private, loopback,
    link-local (the cloud metadata service is 169.254.169.254), multicast, reserved or unspecified,
    also when written as an IPv4-mapped IPv6 address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback


class Verdict(Enum):
    """What one attempt's answer means for the delivery."""

    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the receiver asks us to stop; the endpoint is disabled at once
    RETRY = "retry"  # no answer, a timeout, 429, 5xx or another refusal: tried again later


def verdict(status: int | None) -> Verdict:
    """The meaning of an attempt's HTTP status (None: no answer in time, or no connection)."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GONE
    return Verdict.RETRY


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential backoff with full jitter
    (a uniform draw below 5 s, 10 s, 20 s, ... up to 6 hours), so receivers coming back up are not hit
    by every sender at once."""
    ceiling = min(_MAX_DELAY, _FIRST_DELAY * 2 ** min(max(0, attempts - 1), 32))
    return max(1.0, (rng or random).uniform(0, ceiling))
