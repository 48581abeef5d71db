"""Webhook events at a steady rate through the local stack into a local receiver: delivered per second and
commit-to-delivery p50/p99, beside the same payloads posted directly to the same receiver in the same run.

Each event is an operator's change committed with its audit event (a batch activated, written as
services/audit.py writes it) at `--rate` a second for `--seconds`. The audit table's stream is read as
Lambda's event source would (scripts/webhook_worker.audit_feeder into app.webhook_outbox), the outbox writes
each event once and a delivery for the brand's endpoint, and `--senders` deliverers take the delivery queue
(SQS on a moto server on 127.0.0.1) into app.webhook_deliverer, which signs and POSTs to a receiver on
127.0.0.1 that verifies nothing and answers 200. Commit-to-delivery is the receiver's arrival time minus
the change's own time (the event's `timestamp`). The baseline, in the same run, posts the very bodies that
arrived, signed the same way, straight to the same receiver from as many threads at the same rate: what the
HTTP part alone costs here. Every event must arrive (counted by id), or the run fails.

    .venv/bin/python benchmarks/bench_webhooks.py [--rate 100] [--seconds 20] [--senders 8]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from scripts.dynamodb_local import HOST, add_endpoint_option, engine, free_port, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from moto.server import ThreadedMotoServer

from benchmarks.report import machine, print_table
from chalicelib.adapters import models, sqs, tables, webhook_http
from chalicelib.config import get_settings
from chalicelib.domain import webhooks as rules
from chalicelib.services import audit, webhooks
from scripts.dev import WEBHOOK_RECEIVES, WEBHOOK_VISIBILITY_SECONDS, create_queue
from scripts.webhook_worker import audit_feeder, queue_poller
from tests.webhook_receiver import Receiver

BRAND = "bench-brand"
TARGET_P99 = 5.0  # seconds from the change's commit to the receiver (the target)


def _stack(ddb_endpoint: str, moto_endpoint: str) -> None:
    """Point the app at DynamoDB Local and at moto's SQS, as the dev stack does; fresh tables and queue."""
    name = f"bench-webhooks-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        DYNAMODB_ENDPOINT=ddb_endpoint, TABLE_PREFIX=name, SQS_ENDPOINT=moto_endpoint, WEBHOOK_QUEUE_NAME=name
    )
    get_settings.cache_clear()
    sqs._queue_url.cache_clear()
    models.bind()
    tables.create_tables()
    create_queue(moto_endpoint, name, WEBHOOK_RECEIVES, WEBHOOK_VISIBILITY_SECONDS)


def _commit(rate: float, seconds: float) -> int:
    """Audited changes at `rate` a second for `seconds`, each in its own write as an operator's change is."""
    total = int(rate * seconds)
    start = time.perf_counter()
    for n in range(total):
        wait = start + n / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        audit.record(
            BRAND, "bench", "batch_status", f"bat_{n:026d}", {"status": {"before": "inactive", "after": "active"}}
        )
    return total


def _run_pipeline(stop: threading.Event, senders: int) -> list[threading.Thread]:
    def feed() -> None:
        feeder = audit_feeder()
        while not stop.is_set():
            if not feeder.poll():
                time.sleep(0.05)

    def deliver() -> None:
        poll = queue_poller(wait_seconds=1)
        while not stop.is_set():
            poll()

    threads = [threading.Thread(target=feed, daemon=True)]
    threads += [threading.Thread(target=deliver, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    return threads


def _latencies(received: list, by_id: dict[str, float]) -> list[float]:
    """Seconds from each event's change to its first arrival."""
    first: dict[str, float] = {}
    for request in received:
        event_id = request.headers["webhook-id"]
        first[event_id] = min(first.get(event_id, request.at), request.at)
    return [first[event_id] - by_id[event_id] for event_id in first]


def _direct(
    bodies: list[tuple[str, bytes]], secret: str, url: str, rate: float, senders: int
) -> tuple[list[float], float]:
    """The baseline: the same bodies signed and posted straight to the receiver, at the same rate and concurrency."""
    latencies: list[float] = []
    lock = threading.Lock()

    def post(item: tuple[int, tuple[str, bytes]]) -> None:
        n, (event_id, body) = item
        wait = start + n / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        sent = time.perf_counter()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": rules.signature_header([secret], event_id, stamp, body),
        }
        answer = webhook_http.post(url, headers, body, timeout=rules.TIMEOUT_SECONDS, allow_private=True)
        assert answer.status == 200, answer
        with lock:
            latencies.append(time.perf_counter() - sent)

    start = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(post, enumerate(bodies)))
    return latencies, len(bodies) / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="events committed per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to commit for (default 20)")
    parser.add_argument("--senders", type=int, default=8, help="deliverers side by side (Lambda's concurrency)")
    add_endpoint_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    server = ThreadedMotoServer(ip_address=HOST, port=free_port(), verbose=False)
    server.start()
    receiver = Receiver()
    try:
        with engine(args.endpoint) as ddb:
            _stack(ddb.endpoint, "http://{}:{}".format(*server.get_host_and_port()))
            made = webhooks.create_webhook(BRAND, "bench", {"url": receiver.url, "event_types": ["batch.activated"]})
            receiver.take()
            stop = threading.Event()
            threads = _run_pipeline(stop, args.senders)
            began = time.perf_counter()
            total = _commit(args.rate, args.seconds)
            deadline = time.monotonic() + 120
            while len({r.headers["webhook-id"] for r in receiver.received}) < total and time.monotonic() < deadline:
                time.sleep(0.2)
            elapsed = time.perf_counter() - began
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            received = receiver.take()
            by_id = {
                r.headers["webhook-id"]: datetime.fromisoformat(json.loads(r.body)["timestamp"]).timestamp()
                for r in received
            }
            ours = _latencies(received, by_id)
            bodies = list({r.headers["webhook-id"]: r.body for r in received}.items())
            direct, direct_rate = _direct(bodies, made["secret"], receiver.url, args.rate, args.senders)
            receiver.take()
    finally:
        receiver.stop()
        server.stop()
    arrived = len(by_id)
    print(machine())
    print(f"{total} events at {args.rate:g}/s for {args.seconds:g} s; {args.senders} deliverers; receiver on {HOST}")
    p99 = _pct(ours, 99) if ours else float("inf")
    rows = [
        (
            "events delivered (each once at least)",
            f"{len(bodies)} posted",
            f"{arrived} of {total}",
            "all",
            "met" if arrived == total else "MISSED",
        ),
        ("duplicates (retries of one webhook-id)", "0", str(len(received) - arrived), "only retries", "met"),
        (
            "events delivered per second",
            f"{direct_rate:,.1f}",
            f"{arrived / elapsed:,.1f}",
            f">= {args.rate:g} offered",
            "met" if arrived / elapsed >= 0.9 * args.rate else "MISSED",
        ),
        ("commit-to-delivery p50", f"{_pct(direct, 50) * 1000:,.0f} ms", f"{_pct(ours, 50) * 1000:,.0f} ms", "", ""),
        (
            "commit-to-delivery p99",
            f"{_pct(direct, 99) * 1000:,.0f} ms",
            f"{p99 * 1000:,.0f} ms",
            f"< {TARGET_P99:g} s",
            "met" if p99 < TARGET_P99 else "MISSED",
        ),
    ]
    print_table(("figure", "baseline: posted directly (same run)", "through the stack", "target", "result"), rows)
    return 1 if any(row[-1] == "MISSED" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
