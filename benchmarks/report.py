"""The benchmarks' one table format: a header, a rule, then one left-aligned row per figure."""

from __future__ import annotations

import os
import pathlib
import platform
import statistics
from collections.abc import Sequence

from scripts.dynamodb_local import find_jar_dir

__all__ = ["machine", "print_table", "ratio_rows", "compared_row"]


def machine() -> str:
    """The line a DynamoDB Local benchmark prints first: the system, CPU and its load, Python and the engine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load n/a"
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, {load}; "
        f"Python {platform.python_version()}; DynamoDB Local {find_jar_dir().name.removeprefix('dynamodb_local_')} "
        f"(in memory)"
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print `rows` under `headers`, each column as wide as its widest cell."""
    widths = [max(len(str(row[i])) for row in [*rows, headers]) for i in range(len(headers))]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print(line.format(*headers))
    print(line.format(*("-" * width for width in widths)))
    for row in rows:
        print(line.format(*row))


def ratio_rows(
    figure: str, baseline: str, bare: Sequence[float], ours: Sequence[float], *, most: float, unit: str, scale: float
) -> list[tuple[str, str, str, str, str]]:
    """A figure measured in runs of ours beside runs of a baseline: the medians (checked: ours at most
    `most` times the baseline's), their ratio, and every run (values times `scale`, then `unit`)."""
    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    ratio = ours_median / bare_median
    return [
        (
            f"{figure} (median of {len(ours)})",
            f"{bare_median * scale:,.0f}{unit} ({baseline})",
            f"{ours_median * scale:,.0f}{unit}",
            f"<= {most:g}x the baseline",
            "met" if ratio <= most else "MISSED",
        ),
        ("  ratio, ours / baseline", "-", f"{ratio:.2f}x", "", ""),
        (
            "  runs, baseline / ours",
            " ".join(f"{v * scale:.0f}" for v in bare),
            " ".join(f"{v * scale:.0f}" for v in ours),
            "",
            "",
        ),
    ]


def compared_row(
    label: str, baseline: str, values: Sequence[float], against: Sequence[float], *, unit: str, scale: float
) -> tuple[str, str, str, str, str]:
    """One more figure under `ratio_rows`, unchecked: the median of `values` (times `scale`, then
    `unit`) and its ratio to the median of `against`, from the same rounds."""
    median = statistics.median(values)
    return (label, baseline, f"{median * scale:,.0f}{unit} ({median / statistics.median(against):.2f}x)", "", "")
