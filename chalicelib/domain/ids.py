"""Time-ordered, unguessable identifiers (ULID layout, Crockford base32), and the shape of each kind."""

from __future__ import annotations

import re
import secrets
import time
from typing import TypeGuard

__all__ = ["new_id", "id_pattern", "is_id", "is_brand_id", "split_points", "CROCKFORD"]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_BODY = "[0-9A-HJKMNP-TV-Z]{26}"


def new_id(prefix: str) -> str:
    """`prefix_` + 26 chars: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(CROCKFORD[index])
    return f"{prefix}_{''.join(reversed(chars))}"


def id_pattern(prefix: str) -> str:
    """The regular expression (anchored) an id of kind `prefix` matches, e.g. `cmp` for campaigns."""
    return rf"^{prefix}_{_ID_BODY}$"


_COMPILED: dict[str, re.Pattern] = {}


def is_id(prefix: str, value: object) -> bool:
    """Whether `value` has the shape of an id of kind `prefix` (an id of another shape can't exist)."""
    pattern = _COMPILED.get(prefix)
    if pattern is None:
        pattern = _COMPILED[prefix] = re.compile(id_pattern(prefix))
    return isinstance(value, str) and pattern.match(value) is not None


_BRAND_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def is_brand_id(value: object) -> TypeGuard[str]:
    """Whether `value` has the shape of a brand id (the `brand` claim of operator tokens)."""
    return isinstance(value, str) and _BRAND_ID.match(value) is not None


def split_points(prefix: str, parts: int) -> list[str]:
    """Where to cut the ids of kind `prefix` into `parts` key ranges of about equal size.

    An id's first character after `prefix_` is uniform over the 32 Crockford digits (a
    hash's, for shopper ids; random bits, for the rest), so the cuts fall on those digits:
    ids below the first cut, between two cuts, above the last. `parts` is at most 32.
    """
    if not 1 <= parts <= len(CROCKFORD):
        raise ValueError(f"parts must be 1..{len(CROCKFORD)}, got {parts}")
    return [f"{prefix}_{CROCKFORD[len(CROCKFORD) * i // parts]}" for i in range(1, parts)]
