"""Garbage collection around the app's import: off while its modules load, then frozen out of it.

Importing the app makes some sixty thousand objects (botocore's and chalice's modules,
the models, the page templates) that live as long as the container. Python's collector
would walk them again and again while they are made, and then on every full collection
for the container's life; none of them is ever garbage. app.py imports this module first
and calls `loaded()` after its last import: the import runs without collections, and what
it made is moved out of the collector's reach (gc.freeze), which then runs as before for
everything a request makes. benchmarks/bench_coldstart.py measures the cold start.
"""

from __future__ import annotations

import gc

__all__ = ["loaded"]

_collecting = gc.isenabled()
gc.disable()


def loaded() -> None:
    """The app's modules are imported: freeze what they made, and collect as before from here on."""
    gc.freeze()
    if _collecting:
        gc.enable()
