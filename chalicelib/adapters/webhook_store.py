"""Webhooks as stored: a brand's endpoints, the events outbox (each written once) and each delivery's attempts."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.models import Model

from chalicelib.adapters import paging
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import Counter, WebhookDelivery, WebhookEndpoint, WebhookEvent
from chalicelib.domain.ids import id_pattern
from chalicelib.domain.lifecycle import DeliveryStatus

__all__ = [
    "KEEP",
    "DUE",
    "create_endpoint",
    "endpoint",
    "endpoints",
    "endpoints_page",
    "change_endpoint",
    "delete_endpoint",
    "put_event",
    "event",
    "events_between",
    "put_delivery",
    "delivery",
    "lease",
    "postpone",
    "record_attempt",
    "endpoint_failed",
    "endpoint_succeeded",
    "due_deliveries",
    "deliveries_page",
    "replay_delivery",
    "take_slot",
    "free_slot",
]

_EARLY = timedelta(seconds=2)  # a delayed message may come this much before its time (whole seconds)
KEEP = timedelta(days=30)
"""How long events and their deliveries are kept (the replay window): past the three days of retries."""
DUE = "due"
"""The one partition of the due index: a few hundred deliveries a second fit one partition's writes."""


def create_endpoint(record: WebhookEndpoint) -> bool:
    """Save a new endpoint; False when its id is taken (drawn twice)."""
    return _saved_once(record, WebhookEndpoint.webhook_id)


def _saved_once(record: Model, key: Attribute[Any]) -> bool:
    """Save `record` on condition its key is new: False when it is there already."""
    try:
        record.save(condition=key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def endpoint(brand_id: str, webhook_id: str) -> WebhookEndpoint | None:
    try:
        return WebhookEndpoint.get(brand_id, webhook_id, consistent_read=True)
    except DoesNotExist:
        return None


def endpoints(brand_id: str) -> list[WebhookEndpoint]:
    """Every endpoint of a brand (a brand has a handful): the fan-out's list."""
    return list(WebhookEndpoint.query(brand_id))


_ENDPOINTS = paging.Cursor.of(webhook_id=id_pattern("whk"))


def endpoints_page(brand_id: str, limit: int, cursor: str | None, render: Callable[[WebhookEndpoint], dict]) -> dict:
    results = WebhookEndpoint.query(brand_id, **_ENDPOINTS.newest_first(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, _ENDPOINTS, lambda: results.last_evaluated_key)


def change_endpoint(record: WebhookEndpoint, changes: dict[str, Any]) -> bool:
    """Set (or, for None, remove) the named attributes of an endpoint that still exists; False when it is gone."""
    actions = [
        getattr(WebhookEndpoint, name).remove() if value is None else getattr(WebhookEndpoint, name).set(value)
        for name, value in changes.items()
    ]
    try:
        record.update(actions=actions, condition=WebhookEndpoint.webhook_id.exists())
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def delete_endpoint(brand_id: str, webhook_id: str) -> bool:
    try:
        WebhookEndpoint(brand_id, webhook_id).delete(condition=WebhookEndpoint.webhook_id.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def put_event(record: WebhookEvent) -> bool:
    """Write an event once: False when the same change's event is already there (a stream record read again)."""
    return _saved_once(record, WebhookEvent.event_key)


def event(brand_id: str, event_key: str) -> WebhookEvent | None:
    try:
        return WebhookEvent.get(brand_id, event_key)
    except DoesNotExist:
        return None


def events_between(brand_id: str, start: str, end: str) -> Iterator[WebhookEvent]:
    """A brand's events whose keys fall between `start` and `end` (instants: keys begin with theirs), oldest first."""
    return WebhookEvent.query(brand_id, WebhookEvent.event_key.between(start, end + "~"))


def put_delivery(record: WebhookDelivery) -> bool:
    """Write a delivery once: False when this event's delivery to this endpoint exists already."""
    return _saved_once(record, WebhookDelivery.event_key)


def delivery(webhook_id: str, event_key: str) -> WebhookDelivery | None:
    try:
        return WebhookDelivery.get(webhook_id, event_key, consistent_read=True)
    except DoesNotExist:
        return None


def lease(webhook_id: str, event_key: str, now: datetime, seconds: int) -> WebhookDelivery | None:
    """Take a pending delivery that is due for `seconds`, so two copies of its message never post it at
    once; None when it is done, not due yet (a copy of an earlier message), or another sender holds it."""
    record = WebhookDelivery(webhook_id, event_key)
    epoch = int(now.timestamp())
    free = WebhookDelivery.lease_until.does_not_exist() | (WebhookDelivery.lease_until < epoch)
    due = WebhookDelivery.next_try <= (now + _EARLY).isoformat(timespec="microseconds")
    try:
        record.update(
            actions=[WebhookDelivery.lease_until.set(epoch + seconds)],
            condition=(WebhookDelivery.status == DeliveryStatus.PENDING) & due & free,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return record


def postpone(record: WebhookDelivery, next_try: str) -> None:
    """Give the lease back and move the next try (no attempt made: the endpoint had its most in flight)."""
    record.update(actions=[WebhookDelivery.next_try.set(next_try), WebhookDelivery.lease_until.remove()])


def record_attempt(record: WebhookDelivery, changes: dict[str, Any]) -> None:
    """One attempt's outcome on the delivery, the lease given back; attempts counted up by one."""
    actions = [
        getattr(WebhookDelivery, name).remove() if value is None else getattr(WebhookDelivery, name).set(value)
        for name, value in changes.items()
    ]
    record.update(actions=[*actions, WebhookDelivery.attempts.add(1), WebhookDelivery.lease_until.remove()])


def endpoint_failed(brand_id: str, webhook_id: str, now: datetime) -> WebhookEndpoint | None:
    """Count a failed attempt on the endpoint (and when its failing began); the endpoint after it, None if gone."""
    record = WebhookEndpoint(brand_id, webhook_id)
    try:
        record.update(
            actions=[
                WebhookEndpoint.failures.add(1),
                WebhookEndpoint.failing_since.set(WebhookEndpoint.failing_since | now),
            ],
            condition=WebhookEndpoint.webhook_id.exists(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return record


def endpoint_succeeded(brand_id: str, webhook_id: str) -> None:
    """An answer arrived: the endpoint is no longer failing (a deleted one stays deleted)."""
    try:
        WebhookEndpoint(brand_id, webhook_id).update(
            actions=[WebhookEndpoint.failures.set(0), WebhookEndpoint.failing_since.remove()],
            condition=WebhookEndpoint.webhook_id.exists() & (WebhookEndpoint.failures > 0),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def due_deliveries(until: str, limit: int) -> list[tuple[str, str]]:
    """(webhook_id, event_key) of deliveries waiting for a try due by `until` (an ISO instant), soonest first."""
    results = WebhookDelivery.by_due.query(DUE, WebhookDelivery.next_try <= until, limit=limit, page_size=limit)
    return [(record.webhook_id, record.event_key) for record in results]


_DELIVERIES = paging.Cursor.of(event_key=r"^\d{4}-\d{2}-\d{2}T[0-9:.+]{8,40}#evt_[a-z2-7]{26}$")


def deliveries_page(webhook_id: str, limit: int, cursor: str | None, render: Callable[[WebhookDelivery], dict]) -> dict:
    """One page of an endpoint's deliveries, newest event first."""
    results = WebhookDelivery.query(webhook_id, **_DELIVERIES.newest_first(cursor, limit, webhook_id=webhook_id))
    return paging.page(results, limit, render, _DELIVERIES, lambda: results.last_evaluated_key)


def replay_delivery(record: WebhookDelivery, next_try: str) -> None:
    """Send an event to an endpoint again: a new delivery, or one that exists made pending once more
    (the same `webhook-id`: it is the same event)."""
    if put_delivery(record):
        return
    WebhookDelivery(record.webhook_id, record.event_key).update(
        actions=[
            WebhookDelivery.status.set(DeliveryStatus.PENDING),
            WebhookDelivery.due.set(DUE),
            WebhookDelivery.next_try.set(next_try),
            WebhookDelivery.replays.add(1),
            WebhookDelivery.first_try_at.remove(),
        ]
    )


def take_slot(webhook_id: str, holder: str, now: int, lease_seconds: int, limit: int) -> str | None:
    """One of an endpoint's `limit` in-flight slots for `holder` until freed or `lease_seconds` pass: its key,
    or None when all are held. Each slot is an item of its own, tried in a random order, so senders to one
    endpoint rarely write the same item (limits.take_slot keeps every slot in one item, which a hundred
    deliveries a second would queue on); a lost sender's slot is free again when its lease ends."""
    for n in random.sample(range(limit), limit):
        key = f"webhook-slot:{webhook_id}:{n}"
        slot = Counter(key, value=now + lease_seconds, slots={"holder": holder})
        try:
            slot.save(condition=Counter.name.does_not_exist() | (Counter.value < now))
        except PutError as exc:
            if condition_failed(exc):
                continue
            raise
        return key
    return None


def free_slot(key: str, holder: str) -> None:
    """Give a slot back, if `holder` still holds it (after its lease ran out another may)."""
    try:
        Counter(key).delete(condition=Counter.slots["holder"] == holder)
    except DeleteError as exc:
        if not condition_failed(exc):
            raise
