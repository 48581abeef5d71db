"""The lucky draw's one algorithm, qrc-draw-v1, exactly as docs/draws.md specifies it.

Pure: a snapshot (participant id -> entries, sorted by id), a 32-byte seed and an optional
public beacon go in; the winners come out, the same on every machine. Nothing here reads a
clock, a table or the environment. scripts/verify_draw.py is a second, independent
implementation of the same text (standard library only), and the tests hold the two equal.

In short (the document is the reference):

* the snapshot is a CSV, `participant_id,entries` then one line per participant, sorted by
  id (byte order), `\\n` line ends; its SHA-256 is published before any winner is drawn;
* the commitment is SHA-256 of the seed, published when the draw is scheduled;
* the beacon is the text as published with surrounding white space removed (beacon_text), UTF-8;
* K = HMAC-SHA256(seed, "qrc-draw-v1" 0x00 snapshot_sha256 0x00 beacon); the random stream
  is HMAC-SHA256(K, counter as 8 bytes big-endian) for counter 0, 1, 2..., read 8 bytes at a
  time as unsigned big-endian integers;
* a number below n is the next integer u below 2^64 - (2^64 mod n), taken mod n (larger
  ones are skipped: no modulo bias);
* each pick draws r below the remaining total weight and takes the first participant whose
  running sum of remaining weights exceeds r; with one win per participant the winner's
  weight drops to 0, otherwise by one entry. A Fenwick tree answers both in O(log n);
* the alternates are the picks that follow the winners' in the same stream, under the same
  rule, as many as asked for or as the snapshot has left (alternates_allowed): a draw with
  no alternates reads exactly the integers it always read.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.csvfile import safe_cell

__all__ = [
    "ALGORITHM",
    "SETTLE",
    "due_at",
    "CSV_HEADER",
    "Winner",
    "Drawn",
    "RandomStream",
    "Fenwick",
    "BEACON_SPACE",
    "commitment",
    "beacon_text",
    "mixing_key",
    "snapshot_lines",
    "snapshot_bytes",
    "snapshot_page",
    "parse_snapshot",
    "draw_winners",
    "draw_ranked",
    "most_winners",
    "alternates_allowed",
]

ALGORITHM = "qrc-draw-v1"
CSV_HEADER = b"participant_id,entries\n"
_TWO_64 = 1 << 64
# The white space a beacon loses at either end, listed so another language can apply the same rule
# (docs/draws.md): exactly the characters Python's str.strip() removes, which the service always used.
BEACON_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
SETTLE = timedelta(minutes=2)
"""How long after `entries_until` a draw waits before freezing: a claim stamped at the cut has
committed (a request lives at most 29 s behind API Gateway) and reached the claims' index."""


def due_at(draw_at: datetime, entries_until: datetime) -> datetime:
    """When a draw may run: its draw_at, but never before its cut has settled."""
    return max(draw_at, entries_until + SETTLE)


@dataclass(frozen=True, slots=True)
class Winner:
    """One pick: its place in draw order (1 first), the participant and the entries they had in the snapshot."""

    rank: int
    participant_id: str
    entries: int


@dataclass(frozen=True, slots=True)
class Drawn:
    """A draw's result: the winners in rank order, then the alternates in the order they step in (rank 1 first)."""

    winners: list[Winner]
    alternates: list[Winner]


def commitment(seed: bytes) -> str:
    """SHA-256 of the seed, lower-case hex: published when the draw is scheduled."""
    if len(seed) != 32:
        raise ValueError("a draw seed is 32 bytes")
    return hashlib.sha256(seed).hexdigest()


def beacon_text(value: str) -> str:
    """The beacon as the draw mixes it in: the value as published, white space at either end removed.

    The one place the rule lives: the service stores and shows this form, so a draw's `beacon` is
    exactly the text in K, and whoever copies the lottery's result with a stray space or line end
    still gets the same winners.
    """
    return value.strip(BEACON_SPACE)


def mixing_key(seed: bytes, snapshot_sha256: str, beacon: str | None) -> bytes:
    """K: the seed bound to the published snapshot hash and the beacon (empty when there is none)."""
    published = beacon_text(beacon or "").encode("utf-8")
    message = ALGORITHM.encode() + b"\x00" + snapshot_sha256.encode("ascii") + b"\x00" + published
    return hmac.new(seed, message, hashlib.sha256).digest()


class RandomStream:
    """HMAC-SHA256 in counter mode under K, read as unsigned 64-bit big-endian integers."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0
        self._block = b""
        self._offset = 0
        self.drawn = 0  # integers read so far, rejected ones included

    def next_u64(self) -> int:
        if self._offset >= len(self._block):
            self._block = hmac.new(self._key, self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
            self._counter += 1
            self._offset = 0
        value = int.from_bytes(self._block[self._offset : self._offset + 8], "big")
        self._offset += 8
        self.drawn += 1
        return value

    def below(self, n: int) -> int:
        """A uniform integer in [0, n) by rejection sampling: no value is more likely than another."""
        if not 0 < n < _TWO_64:
            raise ValueError("n must be between 1 and 2^64 - 1")
        limit = _TWO_64 - _TWO_64 % n
        while True:
            value = self.next_u64()
            if value < limit:
                return value % n


class Fenwick:
    """Prefix sums of weights with point updates and "first index whose running sum exceeds r", all O(log n)."""

    def __init__(self, weights: Sequence[int]) -> None:
        size = len(weights)
        tree = array("q", [0]) * (size + 1)
        for i, weight in enumerate(weights, 1):
            tree[i] += weight
            parent = i + (i & -i)
            if parent <= size:
                tree[parent] += tree[i]
        self._tree = tree
        self._size = size
        self._top = 1 << (size.bit_length() - 1) if size else 0

    def add(self, index: int, delta: int) -> None:
        """Add `delta` to the weight at 0-based `index`."""
        i, tree, size = index + 1, self._tree, self._size
        while i <= size:
            tree[i] += delta
            i += i & -i

    def find(self, r: int) -> int:
        """The smallest 0-based index whose running sum of weights (itself included) is greater than r."""
        position, remaining, step, tree, size = 0, r, self._top, self._tree, self._size
        while step:
            nxt = position + step
            if nxt <= size and tree[nxt] <= remaining:
                position = nxt
                remaining -= tree[nxt]
            step >>= 1
        if position >= size:
            raise ValueError("r is not below the total weight")
        return position


def snapshot_lines(rows: Iterable[tuple[str, int]]) -> Iterator[bytes]:
    """The snapshot CSV, line by line (header first), from (participant id, entries) in id order.

    Ids must be strictly increasing (byte order) and entries positive: anything else is not a snapshot.
    """
    yield CSV_HEADER
    previous: bytes | None = None
    for participant_id, entries in rows:
        key = participant_id.encode("utf-8")
        if previous is not None and key <= previous:
            raise ValueError(f"snapshot rows must be sorted by participant id, without repeats: {participant_id!r}")
        if not _plain_id(participant_id):
            raise ValueError(f"participant id {participant_id!r} cannot be written as a plain CSV cell")
        if int(entries) <= 0:
            raise ValueError(f"participant {participant_id!r}: entries must be positive")
        previous = key
        yield key + b"," + str(int(entries)).encode("ascii") + b"\n"


def _plain_id(value: str) -> bool:
    # Written as it is, no quoting and no apostrophe: domain/csvfile.safe_cell leaves it alone,
    # so the file is formula-safe and what it says is exactly the id the SHA-256 covers.
    plain = value.isascii() and value.replace("_", "").replace("-", "").isalnum() and value[:1].isalnum()
    return bool(plain) and safe_cell(value) == value


def snapshot_bytes(rows: Iterable[tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    for line in snapshot_lines(rows):
        buffer.write(line)
    return buffer.getvalue()


_LINES = re.compile(rb"(?:[A-Za-z0-9][A-Za-z0-9_-]*,[1-9][0-9]*\n)*")
_LINE = re.compile(rb"([^,\n]+),([0-9]+)\n")


def snapshot_page(rows: Sequence[tuple[str, int]], *, header: bool) -> bytes:
    """Consecutive lines of a snapshot (the header first when `header`), for rows already in id order.

    The fast form of snapshot_lines for the runner: the same bytes, checked with one regular
    expression per page instead of per line (the caller checks the order across pages).
    """
    body = "".join([f"{participant_id},{entries}\n" for participant_id, entries in rows]).encode("ascii")
    # Every id starts with a letter or digit (the expression): domain/csvfile.safe_cell would
    # leave each cell as it is, so the page is formula-safe exactly as hashed.
    if _LINES.fullmatch(body) is None:
        raise ValueError("snapshot rows must be plain ids with positive entries")
    return (CSV_HEADER if header else b"") + body


def parse_snapshot(data: bytes) -> tuple[list[str], array]:
    """The participant ids and entries of a snapshot CSV, checked as snapshot_lines writes it."""
    if not data.startswith(CSV_HEADER):
        raise ValueError("a snapshot starts with the line participant_id,entries")
    body = data[len(CSV_HEADER) :]
    if _LINES.fullmatch(body) is None:
        raise ValueError("a snapshot's lines are `id,entries` (entries a positive whole number), each ending in \\n")
    pairs = _LINE.findall(body)
    keys = [key for key, _ in pairs]
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise ValueError("a snapshot's lines are sorted by participant id, each id once")
    ids = [key.decode("ascii") for key in keys]
    weights = array("q", [int(count) for _, count in pairs])
    return ids, weights


def most_winners(weights: Sequence[int], one_win_per_participant: bool) -> int:
    """How many winners a snapshot allows: one per participant, or one per entry."""
    return sum(1 for w in weights if w > 0) if one_win_per_participant else sum(weights)


def alternates_allowed(weights: Sequence[int], one_win_per_participant: bool, winners: int, alternates: int) -> int:
    """How many alternates follow `winners`: as many as asked for, or as the snapshot has picks left."""
    return max(0, min(alternates, most_winners(weights, one_win_per_participant) - winners))


def draw_winners(
    ids: Sequence[str],
    weights: Sequence[int],
    *,
    seed: bytes,
    snapshot_sha256: str,
    beacon: str | None,
    winners: int,
    one_win_per_participant: bool,
) -> list[Winner]:
    """The winners, in draw order, of a snapshot under qrc-draw-v1 (docs/draws.md)."""
    key = mixing_key(seed, snapshot_sha256, beacon)
    return draw_ranked(ids, weights, key=key, winners=winners, alternates=0, one_win=one_win_per_participant).winners


def draw_ranked(
    ids: Sequence[str], weights: Sequence[int], *, key: bytes, winners: int, alternates: int, one_win: bool
) -> Drawn:
    """The winners and then the alternates of a snapshot under qrc-draw-v1, from its key K (mixing_key).

    The alternates are the next picks of the same stream, so the winners are those of a draw
    without alternates; there are alternates_allowed of them (fewer than asked when the snapshot
    runs out of participants, or entries, to pick).
    """
    if winners < 1:
        raise ValueError("winners must be at least 1")
    if alternates < 0:
        raise ValueError("alternates must not be negative")
    if winners > most_winners(weights, one_win):
        raise ValueError("more winners than the snapshot allows")
    picks = winners + alternates_allowed(weights, one_win, winners, alternates)
    stream = RandomStream(key)
    tree = Fenwick(weights)
    remaining = array("q", weights)
    total = sum(remaining)
    picked: list[Winner] = []
    for pick in range(1, picks + 1):
        index = tree.find(stream.below(total))
        rank = pick if pick <= winners else pick - winners
        picked.append(Winner(rank, ids[index], int(weights[index])))
        taken = remaining[index] if one_win else 1
        remaining[index] -= taken
        tree.add(index, -taken)
        total -= taken
    return Drawn(picked[:winners], picked[winners:])
