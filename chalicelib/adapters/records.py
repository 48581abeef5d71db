"""Single records by brand and id, the scan path's cached lookups, and conditional status writes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model
from pynamodb.pagination import ResultIterator

from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import Batch, Campaign
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.ids import is_id
from chalicelib.domain.validation import encode_cursor

__all__ = [
    "load_campaign",
    "load_owned",
    "load_batch",
    "batch_by_number",
    "batch_and_campaign",
    "clear_cache",
    "save_status",
    "create",
    "page_of",
]

_M = TypeVar("_M", bound=Model)

_CACHE_SECONDS = 15.0


def load_campaign(brand_id: str, campaign_id: str) -> Campaign:
    """The brand's campaign; another brand's id, or an id of the wrong shape, is simply not found."""
    # An id of the wrong shape can't exist: answer 404 without a read, as for another brand's id.
    if not is_id("cmp", campaign_id):
        raise NotFound("No such campaign.")
    try:
        return Campaign.get(brand_id, campaign_id, consistent_read=True)
    except Campaign.DoesNotExist:
        raise NotFound("No such campaign.") from None


def load_owned(
    model: type[_M], brand_id: str, record_id: str, prefix: str, noun: str, *, consistent: bool = True
) -> _M:
    """A record keyed by its own id that belongs to a brand (its `brand_id`), or NotFound.

    Another brand's id, and an id of the wrong shape (answered without a read), are not
    found either: a caller cannot tell them from ids that do not exist.
    """
    if not is_id(prefix, record_id):
        raise NotFound(f"No such {noun}.")
    try:
        record = model.get(record_id, consistent_read=consistent)
    except model.DoesNotExist:
        raise NotFound(f"No such {noun}.") from None
    if getattr(record, "brand_id", None) != brand_id:
        raise NotFound(f"No such {noun}.")
    return record


def load_batch(brand_id: str, batch_id: str, *, consistent: bool = True) -> Batch:
    """The brand's batch; another brand's id, or an id of the wrong shape, is simply not found."""
    return load_owned(Batch, brand_id, batch_id, "bat", "batch", consistent=consistent)


def create(record: Model, key: Attribute[Any], noun: str) -> None:
    """Save a new record on condition that its key is new: an id drawn twice answers 409, never overwrites."""
    try:
        record.save(condition=key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict(f"The new {noun} drew an id that is taken; retry.") from None
        raise


def page_of(results: ResultIterator[_M], page_size: int, render: Callable[[_M], dict], cursor_key: str) -> dict:
    """One page of a query as `{items, next_cursor}`; the cursor carries the last item's `cursor_key`."""
    items = [render(record) for record in results]
    last = results.last_evaluated_key
    next_cursor = encode_cursor(last[cursor_key]["S"]) if last and len(items) == page_size else None
    return {"items": items, "next_cursor": next_cursor}


def batch_by_number(batch_number: int) -> Batch | None:
    """The batch a code belongs to (codes carry the batch number, not the id), or None."""
    return next(iter(Batch.by_number.query(batch_number, limit=1)), None)


_cache: dict[int, tuple[float, Batch, Campaign]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached batches and campaigns (tests, and after an operator change locally)."""
    with _cache_lock:
        _cache.clear()


def batch_and_campaign(batch_number: int) -> tuple[Batch, Campaign] | None:
    """A code's batch and campaign, cached per container for a few seconds: a warm scan reads neither."""
    now = clock.monotonic()
    with _cache_lock:
        hit = _cache.get(batch_number)
    if hit and hit[0] > now:
        return hit[1], hit[2]
    batch = batch_by_number(batch_number)
    if batch is None:
        return None
    try:
        campaign = Campaign.get(batch.brand_id, batch.campaign_id)
    except Campaign.DoesNotExist:
        return None
    with _cache_lock:
        _cache[batch_number] = (now + _CACHE_SECONDS, batch, campaign)
    return batch, campaign


def save_status(item: Campaign | Batch, target: str, noun: str) -> None:
    """Write `target` as the status of `item`, on condition it is still the status read.

    Of two racing changes one wins and the other gets 409 instead of silently undoing it.
    """
    model = type(item)
    try:
        item.update(
            actions=[model.status.set(target), model.updated_at.set(clock.now())],
            condition=model.status == item.status,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict(f"The {noun} was changed by someone else; read it again and retry.") from None
        raise
