"""Webhook deliveries: one event posted to one endpoint, signed; retried with backoff; the sweep of due ones."""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timedelta

from chalicelib.adapters import sqs, webhook_http, webhook_store
from chalicelib.adapters.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.lifecycle import DeliveryStatus, WebhookStatus
from chalicelib.domain.phones import seal_text, unseal_text
from chalicelib.domain.webhooks import (
    DISABLE_AFTER,
    GIVE_UP_AFTER,
    MAX_IN_FLIGHT,
    PING,
    TIMEOUT_SECONDS,
    Verdict,
    event_id,
    retry_delay,
    signature_header,
    verdict,
)
from chalicelib.logs import log_event

__all__ = [
    "LEASE_SECONDS",
    "seal_secret",
    "new_delivery",
    "enqueue",
    "handle_message",
    "deliver",
    "sweep",
    "ping",
    "replay",
]

log = logging.getLogger(__name__)

LEASE_SECONDS = 40  # one attempt (a 10 s POST, its reads and writes) ends well inside it
_SQS_DELAY_MAX = 900  # a wait longer than SQS's longest delay is left to the minute sweep
_SWEEP_GRACE = timedelta(seconds=30)  # a delivery this late was not queued, or its sender was lost
_SWEEP_AT_MOST = 2000
_BUSY_WAIT = 5  # seconds a delivery waits when its endpoint has its most in flight


def _purpose(webhook_id: str) -> str:
    return f"webhook-secret:{webhook_id}"


def seal_secret(secret: str, webhook_id: str) -> str:
    """The secret as stored: sealed for this endpoint alone."""
    return seal_text(secret, get_phone_hash_pepper(), _purpose(webhook_id))


def _secrets_in_force(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    pepper = get_phone_hash_pepper()
    found = [unseal_text(endpoint.secret_sealed, pepper, _purpose(endpoint.webhook_id))]
    if endpoint.previous_sealed and endpoint.previous_until and endpoint.previous_until > now:
        found.append(unseal_text(endpoint.previous_sealed, pepper, _purpose(endpoint.webhook_id)))
    return found


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def new_delivery(endpoint: WebhookEndpoint, event: WebhookEvent, now: datetime) -> WebhookDelivery:
    """The delivery of `event` to `endpoint`, due now."""
    return WebhookDelivery(
        endpoint.webhook_id,
        event.event_key,
        brand_id=endpoint.brand_id,
        event_id=event.event_id,
        type=event.type,
        status=DeliveryStatus.PENDING,
        attempts=0,
        due=webhook_store.DUE,
        next_try=_iso(now),
        created_at=now,
        expires_at=now + webhook_store.KEEP,
    )


def enqueue(keys: list[tuple[str, str]], delay_seconds: int = 0) -> None:
    """Queue (webhook_id, event_key) pairs for the deliverer; a message lost here is found by the sweep."""
    bodies = [json.dumps({"w": webhook_id, "e": event_key}) for webhook_id, event_key in keys]
    if bodies:
        sqs.send_webhook_messages(bodies, delay_seconds=delay_seconds)


def handle_message(body: str) -> str:
    """The deliverer's SQS message: one delivery to try now."""
    message = json.loads(body)
    return deliver(str(message["w"]), str(message["e"]))


def _post(endpoint: WebhookEndpoint, message_id: str, body: bytes, now: datetime) -> webhook_http.Answer:
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "qr-campaigns-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(_secrets_in_force(endpoint, now), message_id, timestamp, body),
    }
    return webhook_http.post(
        endpoint.url, headers, body, timeout=TIMEOUT_SECONDS, allow_private=get_settings().is_local
    )


def deliver(webhook_id: str, event_key: str) -> str:
    """Try one delivery now, unless it is done, or another sender holds it; returns what happened."""
    now = clock.now()
    record = webhook_store.lease(webhook_id, event_key, now, LEASE_SECONDS)
    if record is None:
        return "skipped"
    endpoint = webhook_store.endpoint(record.brand_id, webhook_id)
    event = webhook_store.event(record.brand_id, event_key)
    if endpoint is None or endpoint.status != WebhookStatus.ENABLED or event is None:
        reason = "the event expired" if event is None else "the webhook was deleted or disabled"
        webhook_store.record_attempt(record, _final(DeliveryStatus.FAILED, None, reason, 0, now))
        return "dropped"
    slot = webhook_store.take_slot(webhook_id, event_key, int(now.timestamp()), LEASE_SECONDS, MAX_IN_FLIGHT)
    if slot is None:
        return _later(record, now, _BUSY_WAIT)
    try:
        answer = _post(endpoint, record.event_id, event.body.encode(), now)
    finally:
        webhook_store.free_slot(slot, event_key)
    return _settle(record, endpoint, answer, now)


def _later(record: WebhookDelivery, now: datetime, seconds: int) -> str:
    """The endpoint has its most deliveries in flight: this one waits, no attempt counted."""
    webhook_store.postpone(record, _iso(now + timedelta(seconds=seconds)))
    enqueue([(record.webhook_id, record.event_key)], delay_seconds=seconds)
    return "waiting"


def _final(status: DeliveryStatus, code: int | None, error: str | None, ms: int, now: datetime) -> dict:
    return {
        "status": status,
        "last_status": code,
        "last_error": error,
        "last_ms": ms,
        "last_try_at": now,
        "due": None,
        "next_try": None,
        "delivered_at": now if status == DeliveryStatus.DELIVERED else None,
    }


def _settle(record: WebhookDelivery, endpoint: WebhookEndpoint, answer: webhook_http.Answer, now: datetime) -> str:
    """Record the attempt, and what it means for the endpoint."""
    first = {"first_try_at": record.first_try_at or now}
    outcome = verdict(answer.status)
    if outcome == Verdict.DELIVERED:
        webhook_store.record_attempt(
            record, {**_final(DeliveryStatus.DELIVERED, answer.status, None, answer.ms, now), **first}
        )
        if endpoint.failures:
            webhook_store.endpoint_succeeded(endpoint.brand_id, endpoint.webhook_id)
        return "delivered"
    if outcome == Verdict.GONE:
        webhook_store.record_attempt(
            record, {**_final(DeliveryStatus.FAILED, 410, "410 Gone", answer.ms, now), **first}
        )
        _disable(endpoint, "the receiver answered 410 Gone", now)
        return "gone"
    return _retry(record, endpoint, answer, now, first)


def _retry(
    record: WebhookDelivery, endpoint: WebhookEndpoint, answer: webhook_http.Answer, now: datetime, first: dict
) -> str:
    error = answer.error or f"HTTP {answer.status}"
    failing = webhook_store.endpoint_failed(endpoint.brand_id, endpoint.webhook_id, now)
    if failing is not None and failing.failing_since and now - failing.failing_since >= DISABLE_AFTER:
        _disable(endpoint, f"every attempt failed for {DISABLE_AFTER.days} days (last: {error})", now)
    if now - first["first_try_at"] >= GIVE_UP_AFTER:
        webhook_store.record_attempt(
            record, {**_final(DeliveryStatus.FAILED, answer.status, error, answer.ms, now), **first}
        )
        log_event(
            log, "webhook_given_up", level=logging.WARNING, webhook_id=record.webhook_id, event_id=record.event_id
        )
        return "given_up"
    wait = retry_delay(int(record.attempts or 0) + 1)
    changes = {
        **first,
        "last_status": answer.status,
        "last_error": error[:300],
        "last_ms": answer.ms,
        "last_try_at": now,
        "next_try": _iso(now + timedelta(seconds=wait)),
        "due": webhook_store.DUE,
    }
    webhook_store.record_attempt(record, changes)
    if wait <= _SQS_DELAY_MAX:
        enqueue([(record.webhook_id, record.event_key)], delay_seconds=math.ceil(wait))
    return "retry"


def _disable(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Stop posting to an endpoint; the log line is what the disabled-webhook alarm counts."""
    changes = {"status": WebhookStatus.DISABLED, "disabled_reason": reason, "updated_at": now}
    if endpoint.status == WebhookStatus.ENABLED and webhook_store.change_endpoint(endpoint, changes):
        log_event(
            log,
            "webhook_endpoint_disabled",
            level=logging.ERROR,
            brand_id=endpoint.brand_id,
            webhook_id=endpoint.webhook_id,
            reason=reason,
        )


def sweep(now: datetime | None = None) -> dict:
    """Queue every delivery whose try is overdue: waits past SQS's 15-minute delay, and any whose
    message or sender was lost (a crash between writing a delivery and queueing it)."""
    now = now or clock.now()
    due = webhook_store.due_deliveries(_iso(now - _SWEEP_GRACE), _SWEEP_AT_MOST)
    enqueue(due)
    return {"queued": len(due)}


def ping(endpoint: WebhookEndpoint) -> dict:
    """Post a `webhook.ping` to the endpoint now (the owner is waiting for the answer: no retry)."""
    now = clock.now()
    message_id = event_id(f"ping:{endpoint.webhook_id}:{now.isoformat()}")
    body = {
        "id": message_id,
        "type": PING,
        "timestamp": now.isoformat(),
        "data": {"webhook_id": endpoint.webhook_id, "version": 1},
    }
    answer = _post(endpoint, message_id, json.dumps(body, separators=(",", ":")).encode(), now)
    return {
        "webhook_id": endpoint.webhook_id,
        "message_id": message_id,
        "status": answer.status,
        "delivered": verdict(answer.status) == Verdict.DELIVERED,
        "error": answer.error,
        "latency_ms": answer.ms,
    }


def replay(endpoint: WebhookEndpoint, start: datetime, end: datetime, at_most: int) -> tuple[int, str | None]:
    """Queue the endpoint's events of its types from `start` to `end` again; (how many, where to go on from)."""
    now = clock.now()
    wanted = set(endpoint.event_types)
    keys: list[tuple[str, str]] = []
    for event in webhook_store.events_between(endpoint.brand_id, _iso(start), _iso(end)):
        if len(keys) >= at_most:
            enqueue(keys)
            return len(keys), event.event_key.split("#")[0]
        if event.type in wanted:
            webhook_store.replay_delivery(new_delivery(endpoint, event, now), _iso(now))
            keys.append((endpoint.webhook_id, event.event_key))
    enqueue(keys)
    return len(keys), None
