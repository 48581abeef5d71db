"""A draw's frozen snapshot: the entries every participant had earned at the cut, as sorted, hashed CSV pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.adapters import draw_store
from chalicelib.adapters.draw_store import LateLookup, ParticipantPage
from chalicelib.adapters.models import Draw
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import draws as algorithm
from chalicelib.domain.errors import Undrawable
from chalicelib.domain.phones import brand_shopper_ids

__all__ = ["PAGE_ROWS", "Snapshot", "build_snapshot", "snapshot_of", "check_drawable"]

PAGE_ROWS = 4000
"""Snapshot lines per DynamoDB page: about 140 KB of CSV and 125 KB of shopper ids, under the 400 KB item limit."""


@dataclass
class Snapshot:
    """A frozen snapshot: its pages (CSV bytes and the aligned platform shopper ids), hash and totals."""

    pages: list[tuple[bytes, bytes, int]] = field(default_factory=list)
    sha256: str = ""
    entries_total: int = 0
    participants: int = 0
    size: int = 0


def build_snapshot(
    brand_id: str, pages: Iterable[ParticipantPage], late: LateLookup, *, pepper: str, page_rows: int = PAGE_ROWS
) -> Snapshot:
    """The snapshot of entries earned up to the cut the pages were split at.

    The same code reads DynamoDB in the runner and a generated page source in the benchmark.
    A participant who claimed after the cut counts with what `late` finds they had earned by
    it. Each participant is shown by the brand's pseudonym for them (what the brand's other
    files show); rows are sorted by it.
    """
    pseudonym = brand_shopper_ids(pepper, brand_id)
    rows: list[tuple[str, int, str]] = []
    append = rows.append
    after_cut: list[str] = []
    for page in pages:
        for shopper_id, entries in page.counted:
            if entries > 0:
                append((pseudonym(shopper_id), entries, shopper_id))
        after_cut.extend(page.late)
    for shopper_id, entries in zip(after_cut, late(after_cut), strict=True):
        if entries > 0:
            append((pseudonym(shopper_id), entries, shopper_id))
    rows.sort()
    if any(a[0] == b[0] for a, b in zip(rows, rows[1:])):
        raise RuntimeError("two participants share a pseudonym")  # 130-bit hashes: never in practice
    snapshot = Snapshot(participants=len(rows))
    digest = hashlib.sha256()
    for start in range(0, max(len(rows), 1), page_rows):
        chunk = rows[start : start + page_rows]
        body = algorithm.snapshot_page([(r[0], r[1]) for r in chunk], header=start == 0)
        shoppers = "\n".join([r[2] for r in chunk]).encode("ascii")
        digest.update(body)
        snapshot.size += len(body)
        snapshot.pages.append((body, shoppers, len(chunk)))
    snapshot.entries_total = sum(r[1] for r in rows)
    snapshot.sha256 = digest.hexdigest()
    return snapshot


def snapshot_of(draw: Draw, stats: dict | None = None) -> Snapshot:
    """The snapshot of a draw's campaign at its cut, read from DynamoDB (`stats` counts what was read)."""
    return build_snapshot(
        draw.brand_id,
        draw_store.participants_at(draw.campaign_id, draw.entries_until, stats),
        draw_store.claims_until(draw.campaign_id, draw.entries_until, stats),
        pepper=get_phone_hash_pepper(),
    )


def check_drawable(draw: Draw, snapshot: Snapshot) -> None:
    """Refuse (Undrawable) a snapshot that cannot give the draw its winners."""
    if snapshot.entries_total == 0:
        raise Undrawable(
            "entries_until: No participant had earned an entry by entries_until; there is nothing to draw.",
            field="entries_until",
        )
    noun = "participants" if draw.one_win_per_participant else "entries"
    allowed = snapshot.participants if draw.one_win_per_participant else snapshot.entries_total
    if int(draw.winners_wanted) > allowed:
        raise Undrawable(
            f"winners: The snapshot has {allowed} {noun}, fewer than the {int(draw.winners_wanted)} winners asked for.",
            field="winners",
        )
