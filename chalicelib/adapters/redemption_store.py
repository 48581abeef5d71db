"""Redemptions' records: the redeem transaction, an operator's status change with its audit event, the lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.expressions.condition import Condition

from chalicelib.adapters import dynamo, members, paging, retention_store
from chalicelib.adapters.models import Counter, Redemption, Reward, Voucher
from chalicelib.adapters.records import load_owned
from chalicelib.domain.ids import id_pattern
from chalicelib.domain.lifecycle import RedemptionStatus, RewardStatus

__all__ = [
    "CURSOR",
    "Redeemed",
    "Written",
    "read",
    "load",
    "voucher_code",
    "allowance_used",
    "standing",
    "redeem",
    "ship",
    "cancel",
    "shopper_page",
    "brand_page",
    "brand_slice",
]

CURSOR = paging.Cursor.of(created_at=r"[0-9T:.+-]{20,40}", redemption_id=id_pattern("rdm"))
"""A list's cursor: the last redemption's time and id (the shopper or the brand come from the request)."""


class Redeemed(StrEnum):
    """How one try of the redeem transaction went."""

    MADE = "made"
    REPLAY = "replay"  # the redemption exists: an earlier copy of this request made it
    LIMIT_REACHED = "limit_reached"  # the shopper has had this reward as often as allowed
    MOVED = "moved"  # stock, points or the voucher moved under a concurrent write: read again


class Written(StrEnum):
    """How one try of an operator's change went."""

    DONE = "done"
    BUSY = "busy"  # it met another transaction: send it again
    REFUSED = "refused"  # its condition failed: read the redemption again and decide


def read(redemption_id: str) -> Redemption | None:
    """A redemption by id (a consistent read), or None."""
    try:
        return Redemption.get(redemption_id, consistent_read=True)
    except Redemption.DoesNotExist:
        return None


def load(brand_id: str, redemption_id: str) -> Redemption:
    """A redemption of the brand, or NotFound (another brand's is not found, as an unknown one)."""
    return load_owned(Redemption, brand_id, redemption_id, "rdm", "redemption")


def voucher_code(reward_id: str, seq: int) -> str | None:
    """The sealed code numbered `seq` in the reward's pool, or None while it is not written yet."""
    try:
        return Voucher.get(reward_id, seq, consistent_read=True).code_sealed
    except Voucher.DoesNotExist:
        return None


def _limit_key(reward_id: str, shopper_id: str) -> str:
    return f"rlimit:{reward_id}:{shopper_id}"


def allowance_used(reward_id: str, shopper_id: str) -> int:
    """How many of the reward's per-shopper allowance the shopper holds now (0 when never counted)."""
    try:
        return int(Counter.get(_limit_key(reward_id, shopper_id), consistent_read=True).value or 0)
    except Counter.DoesNotExist:
        return 0


def _update(item: Any, actions: list, condition: Condition | None = None) -> dict:
    # PynamoDB builds the item's request from its actions and condition (a version attribute only counts up).
    return {
        "Update": item.get_update_kwargs_from_instance(
            actions=actions, condition=condition, add_version_condition=False
        )
    }


def _send(named: list[tuple[str, dict]]) -> dict[str, str] | None:
    """Write the items in one transaction: None when written, else each item's cancellation reason by name."""
    # Low-level: the items other modules build (member lots the model does not declare, the brand's figures,
    # the audit event) go in the same request, in this order, so each cancellation reason names its item;
    # PynamoDB's TransactWrite takes its own model items only, and orders them by kind.
    try:
        dynamo.client().transact_write_items(
            TransactItems=[item for _, item in named], ClientRequestToken=dynamo.request_token()
        )
    except ClientError as error:
        reasons = dynamo.cancellation_codes(error)
        if reasons is None:
            raise
        return {name: code for (name, _), code in zip(named, reasons, strict=False)}
    return None


def redeem(reward: Reward, record: Redemption, taken: Mapping[str, int], figures: dict, *, issued: int) -> Redeemed:
    """One try of a redemption: the points from the lots `taken` (each on condition it still holds them), one
    unit of stock (on condition it is still `issued`, for a voucher, and some is left), the next voucher code
    (on condition nobody has it), one of the shopper's allowance for this reward, the redemption `record` (on
    condition it is new) and the brand's `figures`."""
    cost = int(reward.cost)
    named = [("member", members.spend_update(reward.brand_id, record.shopper_id, taken, cost))]
    in_stock = (Reward.status == RewardStatus.ACTIVE) & (Reward.issued < Reward.stock)
    if record.voucher_seq is not None:
        # Codes are given in order: this redemption takes the next number, on condition nobody
        # took it first (a racing redemption makes this one read again).
        in_stock &= Reward.issued == issued
        voucher = Voucher(reward.reward_id, int(record.voucher_seq))
        taken_now = [Voucher.redemption_id.set(record.redemption_id), Voucher.assigned_at.set(record.created_at)]
        unclaimed = Voucher.code_sealed.exists() & Voucher.redemption_id.does_not_exist()
        named.append(("voucher", _update(voucher, taken_now, unclaimed)))
    named.append(("reward", _update(Reward(reward.reward_id, version=0), [Reward.issued.add(1)], in_stock)))
    if reward.per_shopper_limit:
        allowance = Counter(_limit_key(reward.reward_id, record.shopper_id))
        below = Counter.value.does_not_exist() | (Counter.value < int(reward.per_shopper_limit))
        named.append(("limit", _update(allowance, [Counter.value.add(1)], below)))
    new = record.get_save_kwargs_from_instance(condition=Redemption.redemption_id.does_not_exist())
    named += [("redemption", {"Put": new}), ("stats", figures)]
    failed = _send(named)
    if failed is None:
        return Redeemed.MADE
    refused = {name for name, code in failed.items() if code == "ConditionalCheckFailed"}
    if "redemption" in refused:
        return Redeemed.REPLAY
    if "limit" in refused:
        return Redeemed.LIMIT_REACHED
    return Redeemed.MOVED


def _outcome(failed: dict[str, str] | None) -> Written:
    if failed is None:
        return Written.DONE
    return Written.BUSY if "TransactionConflict" in failed.values() else Written.REFUSED


def _status_actions(to: RedemptionStatus, now: datetime, actor: str, note: str | None) -> list:
    actions = [Redemption.status.set(to), Redemption.updated_at.set(now), Redemption.changed_by.set(actor)]
    if note:
        actions.append(Redemption.note.set(note))
    return actions


def ship(record: Redemption, actor: str, note: str | None, now: datetime, event: dict, *, purge_on: str) -> Written:
    """Mark a pending gift shipped, on condition it is still pending, with its audit `event`; its delivery
    details go on `purge_on` (the retention job's index, in the same write)."""
    actions = [
        *_status_actions(RedemptionStatus.SHIPPED, now, actor, note),
        Redemption.fulfilled_at.set(now),
        *retention_store.purge_actions(Redemption, record.redemption_id, purge_on),
    ]
    change = _update(Redemption(record.redemption_id), actions, Redemption.status == RedemptionStatus.PENDING)
    return _outcome(_send([("redemption", change), ("event", event)]))


def cancel(
    record: Redemption,
    actor: str,
    note: str | None,
    now: datetime,
    *,
    figures: dict,
    event: dict,
    limited: bool,
    purge_on: str,
) -> Written:
    """Cancel a redemption, on condition it is still the status read: its points back into the lots they came
    from, a gift back in stock, one back on the shopper's allowance when the reward is `limited`, the brand's
    `figures` and the audit `event` in the same transaction; its delivery details go on `purge_on`."""
    actions = [
        *_status_actions(RedemptionStatus.CANCELLED, now, actor, note),
        Redemption.cancelled_at.set(now),
        *retention_store.purge_actions(Redemption, record.redemption_id, purge_on),
    ]
    change = _update(Redemption(record.redemption_id), actions, Redemption.status == record.status)
    lots = {month: int(points) for month, points in (record.spent_lots.as_dict() if record.spent_lots else {}).items()}
    named = [
        ("redemption", change),
        ("member", members.refund_update(record.brand_id, record.shopper_id, lots, int(record.cost))),
        ("stats", figures),
    ]
    if record.kind == "gift":
        named.append(("reward", _update(Reward(record.reward_id, version=0), [Reward.issued.add(-1)])))
    if limited:
        allowance = Counter(_limit_key(record.reward_id, record.shopper_id))
        named.append(("limit", _update(allowance, [Counter.value.add(-1)], Counter.value > 0)))
    return _outcome(_send([*named, ("event", event)]))


# --- lists --------------------------------------------------------------------------------


def shopper_page(shopper_id: str, limit: int, cursor: str | None, render: Callable[[Redemption], dict]) -> dict:
    """One page of the shopper's redemptions, newest first, as `{items, next_cursor}`."""
    results = Redemption.by_shopper.query(shopper_id, **CURSOR.newest_first(cursor, limit, shopper_id=shopper_id))
    return paging.page(results, limit, render, CURSOR, lambda: results.last_evaluated_key)


def standing(shopper_id: str, reward_id: str) -> int:
    """How many of the shopper's redemptions of the reward are not cancelled (read whole: a shopper's own few)."""
    not_cancelled = (Redemption.reward_id == reward_id) & (Redemption.status != RedemptionStatus.CANCELLED)
    return sum(1 for _ in Redemption.by_shopper.query(shopper_id, filter_condition=not_cancelled))


def _filter(status: RedemptionStatus | None, reward_id: str | None) -> Condition | None:
    condition = None
    if status is not None:
        condition = Redemption.status == status
    if reward_id is not None:
        clause = Redemption.reward_id == reward_id
        condition = clause if condition is None else condition & clause
    return condition


def _brand_query(
    brand_id: str, limit: int, cursor: str | None, status: RedemptionStatus | None, reward_id: str | None
) -> Any:
    return Redemption.by_brand.query(
        brand_id, filter_condition=_filter(status, reward_id), **CURSOR.newest_first(cursor, limit, brand_id=brand_id)
    )


def brand_page(
    brand_id: str,
    limit: int,
    cursor: str | None,
    render: Callable[[Redemption], dict],
    *,
    status: RedemptionStatus | None = None,
    reward_id: str | None = None,
) -> dict:
    """One page of the brand's redemptions, newest first, optionally of one status or reward."""
    results = _brand_query(brand_id, limit, cursor, status, reward_id)
    return paging.page(results, limit, render, CURSOR, lambda: results.last_evaluated_key)


def brand_slice(
    brand_id: str, limit: int, cursor: str | None, *, status: RedemptionStatus | None = None
) -> tuple[list[Redemption], str | None]:
    """Up to `limit` of the brand's redemptions after `cursor`, newest first, and the next slice's cursor."""
    results = _brand_query(brand_id, limit, cursor, status, None)
    records = list(results)
    return records, CURSOR.after(results.last_evaluated_key, len(records), limit)
