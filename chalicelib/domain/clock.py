"""The one clock: every "now" comes from here, so a test can move time for all of the code at once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

__all__ = ["now", "epoch", "monotonic", "replaced"]

_wall: Callable[[], float] = time.time
_steady: Callable[[], float] = time.monotonic


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.fromtimestamp(_wall(), UTC)


def epoch() -> float:
    """The current instant in seconds since the epoch."""
    return _wall()


def monotonic() -> float:
    """Seconds on a clock that never goes back: for caches and timeouts, never for records."""
    return _steady()


@contextlib.contextmanager
def replaced(wall: Callable[[], float], steady: Callable[[], float] | None = None) -> Iterator[None]:
    """Run a block with another clock (tests): `wall` gives epoch seconds, `steady` defaults to it."""
    global _wall, _steady
    saved = _wall, _steady
    _wall, _steady = wall, steady or wall
    try:
        yield
    finally:
        _wall, _steady = saved
