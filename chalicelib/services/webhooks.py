"""A brand's webhook endpoints, for its owners: create, list, change, delete, rotate the secret, ping, the log, replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from chalicelib.adapters import webhook_store
from chalicelib.adapters.models import WebhookDelivery, WebhookEndpoint
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.lifecycle import WebhookStatus
from chalicelib.domain.schemas import Instant, Label, Schema, validate
from chalicelib.domain.validation import parse_limit
from chalicelib.domain.webhooks import EVENT_TYPES, check_url, new_secret
from chalicelib.services import audit, webhook_delivery

__all__ = [
    "create_webhook",
    "list_webhooks",
    "get_webhook",
    "change_webhook",
    "delete_webhook",
    "rotate_secret",
    "ping",
    "deliveries",
    "replay",
    "MAX_WEBHOOKS",
    "REPLAY_AT_MOST",
]

MAX_WEBHOOKS = 20  # endpoints per brand: each event is posted to each, so the fan-out stays small
REPLAY_AT_MOST = 2000  # events one replay request queues; the answer says where to go on from


def _event_types(value: list[str]) -> list[str]:
    unknown = [name for name in value if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; one of {', '.join(EVENT_TYPES)}")
    if len(set(value)) != len(value):
        raise ValueError("must not name a type twice")
    return value


def _url(value: str) -> str:
    problem = check_url(value, local=get_settings().is_local)
    if problem:
        raise ValueError(problem)
    return value


EventTypes = Annotated[list[str], Field(min_length=1, max_length=len(EVENT_TYPES)), AfterValidator(_event_types)]
Url = Annotated[str, AfterValidator(_url)]


class WebhookIn(Schema):
    url: Url
    event_types: EventTypes
    description: Label | None = None


class WebhookChange(Schema):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Label | None = None
    status: Literal[WebhookStatus.ENABLED, WebhookStatus.DISABLED] | None = None


class RotateIn(Schema):
    overlap_hours: int = Field(default=24, ge=0, le=168)


class ReplayIn(Schema):
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _view(record: WebhookEndpoint) -> dict[str, Any]:
    now = clock.now()
    overlap = record.previous_until if record.previous_sealed and record.previous_until else None
    return {
        "webhook_id": record.webhook_id,
        "url": record.url,
        "description": record.description,
        "event_types": list(record.event_types),
        "status": record.status,
        "disabled_reason": record.disabled_reason,
        "failing_since": _iso(record.failing_since),
        "failures_in_a_row": int(record.failures or 0),
        "previous_secret_until": _iso(overlap) if overlap and overlap > now else None,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }


def _load(brand_id: str, webhook_id: str) -> WebhookEndpoint:
    record = webhook_store.endpoint(brand_id, webhook_id) if is_id("whk", webhook_id) else None
    if record is None:
        raise NotFound("No such webhook.")
    return record


def create_webhook(brand_id: str, actor: str, body: dict) -> dict:
    """A new endpoint, enabled; its signing secret is in this answer and never shown again."""
    data = validate(WebhookIn, body)
    if len(webhook_store.endpoints(brand_id)) >= MAX_WEBHOOKS:
        raise Conflict(f"A brand has at most {MAX_WEBHOOKS} webhooks; delete one first.")
    now, secret, webhook_id = clock.now(), new_secret(), new_id("whk")
    record = WebhookEndpoint(
        brand_id,
        webhook_id,
        url=data.url,
        description=data.description,
        event_types=list(data.event_types),
        status=WebhookStatus.ENABLED,
        secret_sealed=webhook_delivery.seal_secret(secret, webhook_id),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    if not webhook_store.create_endpoint(record):
        raise Conflict("The new webhook drew an id that is taken; retry.")
    audit.record(brand_id, actor, "webhook_created", webhook_id, {"url": data.url, "event_types": data.event_types})
    return {**_view(record), "secret": secret}


def list_webhooks(brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    return webhook_store.endpoints_page(brand_id, parse_limit(limit), cursor, _view)


def get_webhook(brand_id: str, webhook_id: str) -> dict:
    return _view(_load(brand_id, webhook_id))


def change_webhook(brand_id: str, webhook_id: str, actor: str, body: dict) -> dict:
    """Change the URL, the types, the description, or enable or disable it (enabling clears the failures)."""
    data = validate(WebhookChange, body)
    given = data.model_dump(exclude_unset=True)
    if not given:
        raise InvalidInput("Give at least one of url, event_types, description, status.", field="body")
    record = _load(brand_id, webhook_id)
    changes: dict[str, Any] = {**given, "updated_at": clock.now()}
    if data.status == WebhookStatus.ENABLED:
        changes.update(disabled_reason=None, failing_since=None, failures=0)
    elif data.status == WebhookStatus.DISABLED and record.status != WebhookStatus.DISABLED:
        changes["disabled_reason"] = "disabled by an owner"
    if not webhook_store.change_endpoint(record, changes):
        raise NotFound("No such webhook.")
    audit.record(brand_id, actor, "webhook_changed", webhook_id, {k: str(v) for k, v in given.items()})
    return _view(_load(brand_id, webhook_id))


def delete_webhook(brand_id: str, webhook_id: str, actor: str) -> dict:
    """Delete an endpoint: nothing more is posted to it (deliveries waiting for it fail)."""
    _load(brand_id, webhook_id)
    if not webhook_store.delete_endpoint(brand_id, webhook_id):
        raise NotFound("No such webhook.")
    audit.record(brand_id, actor, "webhook_deleted", webhook_id, {})
    return {"webhook_id": webhook_id, "deleted": True}


def rotate_secret(brand_id: str, webhook_id: str, actor: str, body: dict) -> dict:
    """A new secret, shown once; the one it replaces goes on signing too for `overlap_hours` (24 unless
    said), so a receiver can switch without missing an event."""
    overlap = timedelta(hours=validate(RotateIn, body).overlap_hours)
    record = _load(brand_id, webhook_id)
    now, secret = clock.now(), new_secret()
    changes: dict[str, Any] = {
        "secret_sealed": webhook_delivery.seal_secret(secret, webhook_id),
        "previous_sealed": record.secret_sealed if overlap else None,
        "previous_until": now + overlap if overlap else None,
        "updated_at": now,
    }
    if not webhook_store.change_endpoint(record, changes):
        raise NotFound("No such webhook.")
    audit.record(
        brand_id, actor, "webhook_secret_rotated", webhook_id, {"overlap_hours": overlap.total_seconds() / 3600}
    )
    return {**_view(_load(brand_id, webhook_id)), "secret": secret}


def ping(brand_id: str, webhook_id: str) -> dict:
    """Post a `webhook.ping` event to the endpoint now, signed like every event; answers what came back."""
    return webhook_delivery.ping(_load(brand_id, webhook_id))


def _delivery_view(record: WebhookDelivery) -> dict[str, Any]:
    return {
        "event_id": record.event_id,
        "type": record.type,
        "status": record.status,
        "attempts": int(record.attempts or 0),
        "last_status": record.last_status,
        "last_error": record.last_error,
        "latency_ms": record.last_ms,
        "first_try_at": _iso(record.first_try_at),
        "last_try_at": _iso(record.last_try_at),
        "next_try_at": record.next_try,
        "delivered_at": _iso(record.delivered_at),
        "replays": int(record.replays or 0),
    }


def deliveries(brand_id: str, webhook_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """The endpoint's delivery log, newest event first: attempts, last status, latency, next try."""
    page_size = parse_limit(limit)
    _load(brand_id, webhook_id)
    return webhook_store.deliveries_page(webhook_id, page_size, cursor, _delivery_view)


def replay(brand_id: str, webhook_id: str, actor: str, body: dict) -> dict:
    """Send the endpoint every event of its types from `from` to `to` again, with their own ids."""
    data = validate(ReplayIn, body)
    if data.end <= data.start:
        raise InvalidInput("to: must be after from.", field="to")
    if data.end - data.start > webhook_store.KEEP:
        raise InvalidInput(f"to: a replay spans at most {webhook_store.KEEP.days} days.", field="to")
    record = _load(brand_id, webhook_id)
    if record.status != WebhookStatus.ENABLED:
        raise Conflict("The webhook is disabled; enable it before replaying to it.")
    queued, resume = webhook_delivery.replay(record, data.start, data.end, REPLAY_AT_MOST)
    audit.record(brand_id, actor, "webhook_replayed", webhook_id, {"from": _iso(data.start), "to": _iso(data.end)})
    return {"webhook_id": webhook_id, "queued": queued, "next_from": resume}
