"""Status lifecycles of campaigns and batches: which moves are allowed (the write is the caller's)."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.errors import InvalidTransition

__all__ = ["CAMPAIGN_TRANSITIONS", "BATCH_TRANSITIONS", "check_move"]

# draft -> active <-> paused -> ended; a draft can be ended unused; ended is final.
CAMPAIGN_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "ended"}),
    "active": frozenset({"paused", "ended"}),
    "paused": frozenset({"active", "ended"}),
    "ended": frozenset(),
}
# inactive while printing (scans refused), active once shipped, void if lost: void is final.
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    "inactive": frozenset({"active", "void"}),
    "active": frozenset({"void"}),
    "void": frozenset(),
}


def check_move(current: str, target: str, transitions: Mapping[str, frozenset[str]], noun: str) -> bool:
    """Whether moving from `current` to `target` changes anything; raises if the lifecycle forbids it.

    Asking for the status something already has is allowed and changes nothing (False).
    """
    if target == current:
        return False
    if target not in transitions[current]:
        raise InvalidTransition(f"status: A {noun} that is {current} cannot become {target}.", field="status")
    return True
