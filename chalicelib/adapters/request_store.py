"""Data-subject requests as stored: each written with its audit event in one transaction, read by brand, open first."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, paging
from chalicelib.adapters.models import (
    AuditEvent,
    MarketingChange,
    Redemption,
    RequestAction,
    ShopperAccount,
    SubjectRequest,
    Win,
)
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import id_pattern
from chalicelib.domain.lifecycle import RedemptionStatus, SubjectRequestStatus, WinStatus

__all__ = [
    "Change",
    "queue_key",
    "new_request",
    "action",
    "create",
    "load",
    "page",
    "act",
    "redemption_delivery",
    "win_delivery",
    "marketing_withdrawn",
    "forget_phone",
]

_BUSY = "Many changes to this request at once; please try again."


@dataclass(frozen=True)
class Change:
    """Another item's change that joins a request's transaction: one of a redemption, a win or an account
    (its key), with its actions and condition."""

    actions: list[Action]
    condition: Condition
    redemption: Redemption | None = None
    win: Win | None = None
    account: ShopperAccount | None = None


def queue_key(status: str, deadline: str, request_id: str) -> str:
    """Where a request sorts in its brand's list: open ones first, each part by deadline then id."""
    return f"{'0' if status == SubjectRequestStatus.OPEN else '1'}#{deadline}#{request_id}"


def new_request(brand_id: str, request_id: str, first: RequestAction, **values: Any) -> SubjectRequest:
    """A request not yet written (create writes it), its record starting with `first`."""
    return SubjectRequest(brand_id, request_id, actions=[first], **values)


def action(name: str, actor: str, at: datetime, result: dict) -> RequestAction:
    """One thing done for a request, as its record keeps it (`result` as JSON)."""
    return RequestAction(action=name, actor=actor, at=at, result=json.dumps(result, sort_keys=True))


def create(record: SubjectRequest, event: AuditEvent) -> bool:
    """A new request and its audit event, together; False if its id was taken (nothing written)."""
    return _write(event, new=record)


def load(brand_id: str, request_id: str) -> SubjectRequest:
    """The brand's request (a consistent read); NotFound for another brand's or none."""
    try:
        return SubjectRequest.get(brand_id, request_id, consistent_read=True)
    except SubjectRequest.DoesNotExist:
        raise NotFound("No such request.") from None


_CURSOR = paging.Cursor.of(request_id=id_pattern("dsr"), queue=r"^[01]#\d{4}-\d{2}-\d{2}#dsr_[0-9A-HJKMNP-TV-Z]{26}$")


def page(brand_id: str, limit: int, cursor: str | None, render: Callable[[SubjectRequest], dict]) -> dict:
    """One page of the brand's requests, open first by deadline, then closed ones, as `{items, next_cursor}`."""
    results = SubjectRequest.by_queue.query(brand_id, **_CURSOR.forward(cursor, limit, brand_id=brand_id))
    return paging.page(results, limit, render, _CURSOR, lambda: results.last_evaluated_key)


def _request_actions(done: RequestAction, closing: dict | None) -> list[Action]:
    actions: list[Action] = [SubjectRequest.actions.set((SubjectRequest.actions | []).append([done]))]
    for name, value in (closing or {}).items():
        attribute = getattr(SubjectRequest, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def act(
    record: SubjectRequest,
    done: RequestAction,
    event: AuditEvent,
    *,
    also: Change | None = None,
    closing: dict | None = None,
) -> bool:
    """Record what was done on an open request (and, with `closing`, close it: outcome, by, at, queue and
    expiry), with its audit event and any other item's change, in one transaction; False if the request is
    no longer open or another item's condition refused (nothing written)."""
    return _write(
        event,
        key=SubjectRequest(record.brand_id, record.request_id),
        actions=_request_actions(done, closing),
        also=also,
    )


def _write(
    event: AuditEvent,
    *,
    new: SubjectRequest | None = None,
    key: SubjectRequest | None = None,
    actions: list[Action] | None = None,
    also: Change | None = None,
) -> bool:
    """One transaction: a new request saved, or an open one updated with `actions`, any other item's change,
    and the audit event; tried again while DynamoDB is busy; False when a condition refused it (nothing
    written)."""
    also = also or Change([], SubjectRequest.request_id.exists())
    # Each kind of item by its own name: what it is shows where it is written (tests/aws_calls.py reads it).
    redemption: Redemption | None = also.redemption
    win: Win | None = also.win
    account: ShopperAccount | None = also.account

    def items(tx: TransactWrite) -> None:
        if new is not None:
            tx.save(new, condition=SubjectRequest.request_id.does_not_exist())
        if key is not None:
            open_now = SubjectRequest.status == SubjectRequestStatus.OPEN
            tx.update(key, actions=actions or [], condition=open_now)
        if redemption is not None:
            tx.update(redemption, actions=also.actions, condition=also.condition)
        if win is not None:
            tx.update(win, actions=also.actions, condition=also.condition)
        if account is not None:
            tx.update(account, actions=also.actions, condition=also.condition)
        tx.save(event, condition=AuditEvent.event_key.does_not_exist())

    return dynamo.write_together(items, _BUSY)


def redemption_delivery(brand_id: str, shopper_id: str, redemption_id: str, sealed: str) -> Change:
    """A pending gift's delivery details replaced (sealed), while it is the brand's, the shopper's and pending."""
    return Change(
        [Redemption.delivery_sealed.set(sealed)],
        (Redemption.brand_id == brand_id)
        & (Redemption.shopper_id == shopper_id)
        & (Redemption.status == RedemptionStatus.PENDING),
        redemption=Redemption(redemption_id),
    )


_OPEN_WIN = (WinStatus.ACCEPTED, WinStatus.VERIFIED)


def win_delivery(brand_id: str, shopper_id: str, draw_id: str, pick: int, sealed: str) -> Change:
    """A win's delivery details replaced (sealed), while it is the brand's, the shopper's, accepted and not shipped."""
    return Change(
        [Win.delivery_sealed.set(sealed)],
        (Win.brand_id == brand_id) & (Win.shopper_id == shopper_id) & Win.status.is_in(*_OPEN_WIN),
        win=Win(draw_id, pick),
    )


def marketing_withdrawn(shopper_id: str, brand_id: str, at: datetime) -> Change:
    """The brand's marketing consent withdrawn on the shopper's account and the withdrawal logged, while it stands."""
    change = MarketingChange(brand_id=brand_id, granted=False, at=at)
    return Change(
        [
            ShopperAccount.marketing_brands.delete({brand_id}),
            ShopperAccount.marketing_log.set((ShopperAccount.marketing_log | []).append([change])),
        ],
        ShopperAccount.marketing_brands.contains(brand_id),
        account=ShopperAccount(shopper_id),
    )


def forget_phone(shopper_id: str) -> int:
    """The masked number taken off every request that found the shopper's account (the account is being
    deleted); how many had one. Each request is found by the by_shopper index; a repeat changes nothing."""
    cleared = 0
    for found in SubjectRequest.by_shopper.query(shopper_id):
        record = SubjectRequest(found.brand_id, found.request_id)
        try:
            record.update(
                actions=[SubjectRequest.phone_masked.remove()], condition=SubjectRequest.phone_masked.exists()
            )
        except UpdateError as exc:
            if not dynamo.condition_failed(exc):
                raise
            continue
        cleared += 1
    return cleared
