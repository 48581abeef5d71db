"""Local stand-in for Lambda's SQS event source: long-polls the export queue and runs app.export_worker."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["LambdaContext", "lambda_event", "poll_once", "main"]

_FUNCTION_TIMEOUT_MS = 900_000  # the worker's Lambda timeout (.chalice/config.json)


class LambdaContext:
    """The parts of Lambda's context object a handler may read."""

    def __init__(self, function_name: str = "qr-campaigns-local-export_worker") -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + _FUNCTION_TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_event(message: dict, queue_arn: str, region: str) -> dict:
    """The event Lambda's SQS event source sends for one received message (batch size 1)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes") or {}),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        ]
    }


def poll_once(
    sqs: Any,
    queue_url: str,
    handler: Callable[[dict, Any], Any],
    *,
    queue_arn: str,
    region: str,
    wait_seconds: int = 10,
) -> tuple[int, int]:
    """Receive at most one message and run `handler` on it as Lambda would.

    The message is deleted only when the handler returns; when it raises, the message
    stays on the queue and SQS delivers it again after its visibility timeout, as it
    does for a failed Lambda invocation. Returns (handled, failed).
    """
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=wait_seconds, MessageSystemAttributeNames=["All"]
    )
    handled = failed = 0
    for message in response.get("Messages", []):
        try:
            handler(lambda_event(message, queue_arn, region), LambdaContext())
        except Exception:  # noqa: BLE001 - like Lambda: log, keep the message, carry on
            failed += 1
            traceback.print_exc()
            continue
        except BaseException:
            # Stopped mid-message (Ctrl-C, a code change): hand it back to the other workers
            # now instead of after the visibility timeout.
            with contextlib.suppress(Exception):
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            raise
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        handled += 1
    return handled, failed


class _Stop(BaseException):
    """A signal: unwinds past the handler's own error handling."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Poll until Ctrl-C or SIGTERM; a chunk cut short stays on the queue for redelivery."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait", type=int, default=10, help="long-poll seconds per receive (default 10)")
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    # The app's own lines (one per export step) at INFO, libraries' only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("qr-campaigns").setLevel(logging.INFO)

    # Imported only now: the app reads its settings (endpoints, queue) from the environment.
    from app import export_worker
    from chalicelib.adapters import aws, sqs
    from chalicelib.config import get_settings

    settings = get_settings()
    client = aws.client("sqs")
    queue_url = sqs.export_queue_url()
    arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handler = export_worker
    print(f"export worker: polling {settings.export_queue_name} at {settings.sqs_endpoint or 'AWS'}", flush=True)
    try:
        while True:
            try:
                poll_once(client, queue_url, handler, queue_arn=arn, region=settings.region, wait_seconds=args.wait)
            except Exception as exc:  # noqa: BLE001 - the queue went away for a moment: keep polling
                print(f"export worker: receive failed ({exc}); retrying in 2 s", file=sys.stderr, flush=True)
                time.sleep(2)
    except _Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
