"""Instant wins: secret winning serials derived from a key (exact counts, no stored list), and odds."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["KeyedPermutation", "winning_prize", "roll_odds"]

_ROUNDS = 8


class KeyedPermutation:
    """A bijection of 0..size-1 chosen by `key`: a balanced Feistel network with cycle-walking.

    Serial s wins prize i when permute(s) falls in prize i's slice of 0..total-1. Because
    the map is a bijection, exactly `count` serials land in each slice, and without the key
    nobody can tell which: the database and the print file hold only the counts.
    """

    def __init__(self, key: bytes, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        bits += bits % 2
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        self._round_keys = [
            hmac.new(key, b"qrc-win-round" + bytes([r]), hashlib.sha256).digest() for r in range(_ROUNDS)
        ]

    def _round(self, r: int, value: int) -> int:
        digest = hmac.new(self._round_keys[r], value.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") & self._mask

    def _encrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for r in range(_ROUNDS):
            left, right = right, left ^ self._round(r, right)
        return (left << self._half) | right

    def permute(self, value: int) -> int:
        if not 0 <= value < self.size:
            raise ValueError("value out of range")
        # Cycle-walking: the Feistel domain is at most 4x the size, so a few steps on average.
        value = self._encrypt(value)
        while value >= self.size:
            value = self._encrypt(value)
        return value


def winning_prize(
    key: bytes, batch_number: int, quantity: int, serial: int, allocations: Sequence[tuple[str, int]]
) -> str | None:
    """The prize id a serial wins under a batch's secret allocation, or None."""
    total = sum(count for _, count in allocations)
    if total == 0:
        return None
    batch_key = hmac.new(key, b"qrc-win-batch" + batch_number.to_bytes(4, "big"), hashlib.sha256).digest()
    rank = KeyedPermutation(batch_key, quantity).permute(serial)
    for prize_id, count in allocations:
        if rank < count:
            return prize_id
        rank -= count
    return None


def roll_odds(odds_per_million: int) -> bool:
    """One fair draw at `odds_per_million` in a million, from the OS's CSPRNG."""
    return secrets.randbelow(1_000_000) < odds_per_million
