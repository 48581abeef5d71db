"""Local stand-in for EventBridge's schedules: runs every `@app.schedule` of app.py on its rate.

The dev stack starts one of these, so a job declared in app.py (the loyalty review, the retention job, the lucky
draw runner) runs locally exactly as its deployed rule would call it, with nothing to list
twice. `--once NAME` runs one job now and exits (what an operator does to try one).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scripts.export_worker import _on_signal, _Stop  # the same Ctrl-C/SIGTERM handling

__all__ = ["Job", "jobs_of", "main", "scheduled_event"]

_UNIT_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: float
    handler: Callable[[dict, Any], Any]


def jobs_of(app: Any) -> list[Job]:
    """The app's scheduled functions with their periods; a cron expression is refused (none yet)."""
    from chalice.app import Rate, ScheduledEventConfig

    jobs = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        expression = source.schedule_expression
        if not isinstance(expression, Rate):
            raise SystemExit(f"scheduler: {source.name} uses {expression!r}; only Rate(...) schedules run locally")
        module_name, _, attribute = source.handler_string.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        jobs.append(Job(source.name, expression.value * _UNIT_SECONDS[expression.unit], handler))
    return sorted(jobs, key=lambda job: job.name)


def scheduled_event(name: str, now: datetime | None = None) -> dict:
    """The event EventBridge hands a scheduled Lambda function."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": moment,
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{name}"],
        "detail": {},
    }


def _run(job: Job) -> None:
    started = time.monotonic()
    try:
        result = job.handler(scheduled_event(job.name), None)
    except Exception:  # noqa: BLE001 - like EventBridge: the next tick tries again
        traceback.print_exc()
        print(f"scheduler: {job.name} failed; it runs again in {job.every_seconds:.0f} s", file=sys.stderr, flush=True)
        return
    took = time.monotonic() - started
    print(f"scheduler: {job.name} ran in {took:.2f} s: {result}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", metavar="NAME", help="run this one job now and exit")
    parser.add_argument("--list", action="store_true", help="list the jobs and their periods")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from app import app

    jobs = jobs_of(app)
    if args.list:
        for job in jobs:
            print(f"{job.name}\tevery {job.every_seconds:.0f} s")
        return 0
    if args.once:
        chosen = [job for job in jobs if job.name == args.once]
        if not chosen:
            names = ", ".join(job.name for job in jobs) or "none"
            print(f"scheduler: no job named {args.once!r} (jobs: {names})", file=sys.stderr)
            return 2
        _run(chosen[0])
        return 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    print("scheduler: " + ", ".join(f"{job.name} every {job.every_seconds:.0f} s" for job in jobs), flush=True)
    due = {job.name: time.monotonic() for job in jobs}  # each runs once at start, then on its rate
    try:
        while True:
            for job in jobs:
                if time.monotonic() >= due[job.name]:
                    _run(job)
                    due[job.name] = time.monotonic() + job.every_seconds
            time.sleep(1)
    except _Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
