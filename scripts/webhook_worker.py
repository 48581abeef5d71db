"""Local stand-in for the webhook functions' event sources: the audit stream into app.webhook_outbox, the delivery queue into app.webhook_deliverer."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from scripts.export_worker import _on_signal, _Stop, poll_once
from scripts.stats_worker import StreamFeeder, feeder_for

__all__ = ["audit_feeder", "queue_poller", "main"]


def audit_feeder(handler: Callable[[dict, Any], Any] | None = None) -> StreamFeeder:
    """A feeder for the audit table's stream of the bound endpoint (DynamoDB Local or moto), into app.webhook_outbox."""
    from chalicelib.adapters.models import AuditEvent

    if handler is None:
        from app import webhook_outbox

        handler = webhook_outbox
    return feeder_for(handler, AuditEvent, batch_size=100)


def queue_poller(wait_seconds: int = 1) -> Callable[[], tuple[int, int]]:
    """One receive of the delivery queue run through app.webhook_deliverer as Lambda would: (handled, failed)."""
    from app import webhook_deliverer
    from chalicelib.adapters import aws, sqs
    from chalicelib.config import get_settings

    client = aws.client("sqs")
    url = sqs.webhook_queue_url()
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    region = get_settings().region
    return lambda: poll_once(client, url, webhook_deliverer, queue_arn=arn, region=region, wait_seconds=wait_seconds)


def _feed(stop: threading.Event, interval: float) -> None:
    feeder = None
    while not stop.is_set():
        try:
            feeder = feeder or audit_feeder()
            if not feeder.poll():
                stop.wait(interval)
        except Exception as exc:  # noqa: BLE001 - DynamoDB Local restarting: keep trying
            print(f"webhook worker: stream read failed ({exc}); retrying in 2 s", file=sys.stderr, flush=True)
            feeder = None
            stop.wait(2)


def _deliver(stop: threading.Event) -> None:
    poll = None
    while not stop.is_set():
        try:
            poll = poll or queue_poller()
            poll()
        except Exception as exc:  # noqa: BLE001 - the queue went away for a moment: keep polling
            print(f"webhook worker: receive failed ({exc}); retrying in 2 s", file=sys.stderr, flush=True)
            poll = None
            stop.wait(2)


def main(argv: list[str] | None = None) -> int:
    """Feed the stream and deliver until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between idle stream polls")
    parser.add_argument("--senders", type=int, default=4, help="deliveries posted at once (Lambda's concurrency)")
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print(f"webhook worker: the audit stream into webhook_outbox, {args.senders} deliverer(s)", flush=True)
    stop = threading.Event()
    threads = [threading.Thread(target=_feed, args=(stop, args.interval), daemon=True)]
    threads += [threading.Thread(target=_deliver, args=(stop,), daemon=True) for _ in range(args.senders)]
    for thread in threads:
        thread.start()
    try:
        while True:
            time.sleep(3600)
    except _Stop:
        stop.set()
        return 0


if __name__ == "__main__":
    sys.exit(main())
