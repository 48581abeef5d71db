"""SQS access for export work and webhook deliveries: the queues' URLs, batched sends, visibility changes."""

from __future__ import annotations

import functools

from chalicelib.adapters.aws import client
from chalicelib.config import get_settings

__all__ = ["export_queue_url", "webhook_queue_url", "send_messages", "send_webhook_messages", "change_visibility"]


def export_queue_url() -> str:
    """The export queue's URL: from the settings in AWS, looked up by name locally."""
    settings = get_settings()
    if settings.export_queue_url:
        return settings.export_queue_url
    return _queue_url(settings.export_queue_name, settings.sqs_endpoint, settings.region)


def webhook_queue_url() -> str:
    """The webhook delivery queue's URL: from the settings in AWS, looked up by name locally."""
    settings = get_settings()
    if settings.webhook_queue_url:
        return settings.webhook_queue_url
    return _queue_url(settings.webhook_queue_name, settings.sqs_endpoint, settings.region)


@functools.lru_cache(maxsize=8)
def _queue_url(name: str, endpoint: str | None, region: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def send_messages(bodies: list[str], queue_url: str | None = None) -> None:
    """Send messages to the export queue in batches of ten; raises if SQS refuses any of them."""
    url = queue_url or export_queue_url()
    sqs = client("sqs")
    for first in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[first : first + 10])]
        _sent(sqs.send_message_batch(QueueUrl=url, Entries=entries))


def send_webhook_messages(bodies: list[str], *, delay_seconds: int = 0) -> None:
    """Send messages to the webhook delivery queue in batches of ten, each held back `delay_seconds`
    (SQS allows up to 900); raises if SQS refuses any of them. A function of its own, so the IAM
    check reads which queue it sends to."""
    url = webhook_queue_url()
    sqs = client("sqs")
    delay = {"DelaySeconds": max(0, min(int(delay_seconds), 900))} if delay_seconds else {}
    for first in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": body, **delay} for n, body in enumerate(bodies[first : first + 10])]
        _sent(sqs.send_message_batch(QueueUrl=url, Entries=entries))


def _sent(response: dict) -> None:
    if response.get("Failed"):
        failed = response["Failed"][0]
        raise RuntimeError(
            f"SQS refused {len(response['Failed'])} message(s): {failed.get('Code')} {failed.get('Message')}"
        )


def change_visibility(receipt_handle: str, seconds: int, queue_url: str | None = None) -> None:
    """Make a received message visible again after `seconds` (SQS caps it at 12 hours)."""
    client("sqs").change_message_visibility(
        QueueUrl=queue_url or export_queue_url(),
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=max(0, min(int(seconds), 43_200)),
    )
