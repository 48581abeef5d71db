"""Time-ordered, unguessable identifiers (ULID layout, Crockford base32)."""
from __future__ import annotations

import secrets
import time

__all__ = ["new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """`prefix_` + 26 chars: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return f"{prefix}_{''.join(reversed(chars))}"
