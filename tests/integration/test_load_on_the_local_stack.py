"""A short run of benchmarks/load_scans.py: concurrent shoppers over HTTP on the local stack, then
every invariant checked exact (granted = records = balances = counters). The full run prints
the figures; this one only has to end with no 5xx and no difference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_a_short_load_keeps_every_invariant_exact():
    run = subprocess.run(
        [
            sys.executable,
            "benchmarks/load_scans.py",
            "--seconds",
            "4",
            "--concurrency",
            "6",
            "--shoppers",
            "30",
            "--codes",
            "600",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    invariants = run.stdout.split("Invariants")[1]
    rows = [
        line
        for line in invariants.splitlines()
        if line.startswith(("granted", "points", "entries", "prizes", "duplicates"))
    ]
    assert len(rows) == 5 and all(line.rstrip().endswith("yes") for line in rows), invariants
    (five_xx,) = [line for line in run.stdout.splitlines() if line.startswith("5xx other than 503")]
    assert five_xx.split()[-1] == "0", five_xx
