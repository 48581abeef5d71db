"""Points swapped for rewards: redeemed exactly once by shoppers, fulfilled or cancelled by operators."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any

from botocore.exceptions import ClientError
from pydantic import Field

from chalicelib.adapters import dynamo, members
from chalicelib.adapters.models import Counter, Redemption, Reward, Voucher
from chalicelib.adapters.records import load_owned, load_program
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock, loyalty
from chalicelib.domain.csvfile import csv_text
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, ServiceBusy
from chalicelib.domain.ids import CROCKFORD, id_pattern, is_id, new_id
from chalicelib.domain.phones import seal_text, unseal_text
from chalicelib.domain.schemas import Label, PhoneText, Schema, validate
from chalicelib.domain.validation import decode_cursor, encode_cursor, format_instant, parse_limit
from chalicelib.services import audit
from chalicelib.services.loyalty import add_brand_counts
from chalicelib.services.rewards import NoteIn, on_offer

__all__ = ["redeem", "my_redemptions", "list_redemptions", "redemptions_csv", "fulfil", "cancel"]

_ATTEMPTS = 10
_STATUS = ("issued", "pending", "shipped", "cancelled")


class DeliveryIn(Schema):
    name: Label
    phone: PhoneText
    address: Annotated[str, Field(min_length=5, max_length=300)]


class RedeemIn(Schema):
    reward_id: Annotated[str, Field(pattern=id_pattern("rwd"))]
    delivery: DeliveryIn | None = None


def _redemption_id(shopper_id: str, request_key: str | None) -> str:
    """A new redemption's id: derived from the shopper and the request's Idempotency-Key when it
    sent one, so the same request sent again finds the redemption it made."""
    if request_key is None:
        return new_id("rdm")
    digest = int.from_bytes(hashlib.sha256(f"redemption:{shopper_id}:{request_key}".encode()).digest()[:17], "big") >> 6
    chars = []
    for _ in range(26):
        digest, index = divmod(digest, 32)
        chars.append(CROCKFORD[index])
    return "rdm_" + "".join(reversed(chars))


def _limit_key(reward_id: str, shopper_id: str) -> str:
    return f"rlimit:{reward_id}:{shopper_id}"


def _shopper_view(record: Redemption) -> dict:
    pepper = get_phone_hash_pepper()
    return {
        "redemption_id": record.redemption_id,
        "brand_id": record.brand_id,
        "reward_id": record.reward_id,
        "reward_name": record.reward_name,
        "kind": record.kind,
        "cost": int(record.cost),
        "status": record.status,
        "voucher_code": unseal_text(record.voucher_sealed, pepper, "voucher") if record.voucher_sealed else None,
        "note": record.note,
        "created_at": format_instant(record.created_at),
        "fulfilled_at": format_instant(record.fulfilled_at) if record.fulfilled_at else None,
        "cancelled_at": format_instant(record.cancelled_at) if record.cancelled_at else None,
    }


def _operator_view(record: Redemption, *, clear: bool) -> dict:
    """An operator's view: writers (who ship gifts) see delivery details; nobody sees voucher codes."""
    delivery: Any = None
    if record.delivery_sealed:
        if clear:
            delivery = json.loads(unseal_text(record.delivery_sealed, get_phone_hash_pepper(), "delivery"))
        else:
            delivery = {"given": True}
    view = _shopper_view(record)
    view.pop("voucher_code")
    view.update(
        shopper_id=_brand_shopper(record.brand_id, record.shopper_id),
        voucher_seq=record.voucher_seq,
        delivery=delivery,
        updated_at=format_instant(record.updated_at),
    )
    return view


def _brand_shopper(brand_id: str, shopper_id: str) -> str:
    from chalicelib.domain.phones import brand_shopper_id

    return brand_shopper_id(get_phone_hash_pepper(), brand_id, shopper_id)


def _existing(redemption_id: str) -> Redemption | None:
    try:
        return Redemption.get(redemption_id, consistent_read=True)
    except Redemption.DoesNotExist:
        return None


def _refused(code: str, message: str, **extra: Any) -> Conflict:
    error = Conflict(message, field="reward_id")
    error.code = code
    for name, value in extra.items():
        setattr(error, name, value)
    return error


def redeem(shopper_id: str, body: dict, request_key: str | None = None) -> dict:
    """Swap points for a reward, exactly once.

    One transaction takes the points from the oldest lots (each on condition it still holds
    them), one unit of stock (on condition some is left), the next voucher code (on
    condition nobody has it), one of the shopper's allowance for this reward, and writes the
    redemption; nothing else can give the same unit or code, or spend the same points. A
    request sent again with the same Idempotency-Key gets the original redemption back.
    """
    values = validate(RedeemIn, body)
    redemption_id = _redemption_id(shopper_id, request_key)
    for attempt in range(1, _ATTEMPTS + 1):
        existing = _existing(redemption_id) if request_key else None
        if existing is not None:
            if existing.shopper_id != shopper_id:
                raise Conflict("This Idempotency-Key was used for another redemption.", field="Idempotency-Key")
            # The answer the first copy got, balance after it included.
            return {**_shopper_view(existing), "replay": True, "points_left": existing.points_left}
        try:
            reward = Reward.get(values.reward_id, consistent_read=True)
        except Reward.DoesNotExist:
            raise NotFound("No such reward.") from None
        now = clock.now()
        blocked = on_offer(reward, now)
        if blocked == "out_of_stock":
            raise _refused("out_of_stock", "This reward is out of stock.")
        if blocked == "reward_not_available":
            raise _refused("reward_not_available", "This reward cannot be redeemed at this time.")
        if blocked:
            raise _refused("reward_retired", "This reward is no longer offered.")
        if reward.kind == "gift" and values.delivery is None:
            raise InvalidInput("delivery: A gift needs a name, phone and address to send it to.", field="delivery")
        if reward.kind == "voucher" and values.delivery is not None:
            raise InvalidInput("delivery: A voucher is shown here, not sent: leave delivery out.", field="delivery")
        program = load_program(reward.brand_id, consistent=False)
        member = members.read_member(reward.brand_id, shopper_id)
        month = loyalty.month_of(now, program.timezone)
        lots = dict(member.lots) if member else {}
        for gone in loyalty.expired(lots, month, program.expire_months, program.expire_from):
            lots.pop(gone)  # expired, even if the review has not removed them yet
        taken = loyalty.spend_oldest(lots, int(reward.cost))
        balance = member.balance if member else 0
        if taken is None or balance < int(reward.cost):
            have = min(balance, sum(v for v in lots.values() if v > 0))
            raise _refused("not_enough_points", f"You have {have:,} points; this reward needs {int(reward.cost):,}.")
        issued = int(reward.issued or 0)
        left = balance - int(reward.cost)
        items, names, record = _redeem_items(reward, shopper_id, redemption_id, taken, issued, values, now, left)
        try:
            dynamo.client().transact_write_items(
                TransactItems=items, ClientRequestToken=f"{redemption_id}:{attempt}"[:36]
            )
        except ClientError as error:
            reasons = dynamo.cancellation_codes(error)
            if reasons is None:
                raise
            failed = {name for name, code in zip(names, reasons, strict=False) if code == "ConditionalCheckFailed"}
            if "redemption" in failed:
                continue  # made by an earlier copy of this request: answered above
            if "limit" in failed:
                raise _refused(
                    "limit_reached",
                    f"You have redeemed this reward {reward.per_shopper_limit} time(s), the most allowed.",
                ) from None
            # Stock, points or the voucher moved under a concurrent redemption or claim: read again.
            dynamo.backoff(min(attempt, 6))
            continue
        return {**_shopper_view(record), "replay": False, "points_left": left}
    raise ServiceBusy("Many redemptions at once; please try again.", retry_after=1)


def _redeem_items(
    reward: Reward,
    shopper_id: str,
    redemption_id: str,
    taken: dict[str, int],
    issued: int,
    values: RedeemIn,
    now: datetime,
    points_left: int,
) -> tuple[list[dict], list[str], Redemption]:
    cost = int(reward.cost)
    pepper = get_phone_hash_pepper()
    items: list[dict] = [members.spend_update(reward.brand_id, shopper_id, taken, cost)]
    names = ["member"]
    condition = "#st = :active AND #i < #k"
    values_: dict[str, dict] = {":one": {"N": "1"}, ":active": {"S": "active"}}
    voucher_sealed = None
    if reward.kind == "voucher":
        # Codes are given in order: this redemption takes the next number, on condition
        # nobody took it first (a racing redemption makes this one read again).
        condition += " AND #i = :n"
        values_[":n"] = {"N": str(issued)}
        seq = issued + 1
        try:
            voucher = Voucher.get(reward.reward_id, seq, consistent_read=True)
        except Voucher.DoesNotExist:
            raise ServiceBusy("The reward's codes are being added; please try again.", retry_after=1) from None
        voucher_sealed = voucher.code_sealed
        items.append(
            {
                "Update": {
                    "TableName": Voucher.Meta.table_name,
                    "Key": {"reward_id": {"S": reward.reward_id}, "seq": {"N": str(seq)}},
                    "UpdateExpression": "SET #r = :r, #a = :a",
                    "ConditionExpression": "attribute_exists(#c) AND attribute_not_exists(#r)",
                    "ExpressionAttributeNames": {"#r": "redemption_id", "#a": "assigned_at", "#c": "code_sealed"},
                    "ExpressionAttributeValues": {
                        ":r": {"S": redemption_id},
                        ":a": {"S": Voucher.assigned_at.serialize(now)},
                    },
                }
            }
        )
        names.append("voucher")
    items.append(
        {
            "Update": {
                "TableName": Reward.Meta.table_name,
                "Key": {"reward_id": {"S": reward.reward_id}},
                "UpdateExpression": "ADD #i :one, #v :one",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#i": "issued", "#k": "stock", "#st": "status", "#v": "version"},
                "ExpressionAttributeValues": values_,
            }
        }
    )
    names.append("reward")
    if reward.per_shopper_limit:
        items.append(
            {
                "Update": {
                    "TableName": Counter.Meta.table_name,
                    "Key": {"name": {"S": _limit_key(reward.reward_id, shopper_id)}},
                    "UpdateExpression": "ADD #v :one",
                    "ConditionExpression": "attribute_not_exists(#v) OR #v < :most",
                    "ExpressionAttributeNames": {"#v": "value"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":most": {"N": str(reward.per_shopper_limit)}},
                }
            }
        )
        names.append("limit")
    record = Redemption(
        redemption_id,
        brand_id=reward.brand_id,
        shopper_id=shopper_id,
        reward_id=reward.reward_id,
        reward_name=reward.name,
        kind=reward.kind,
        cost=cost,
        status="issued" if reward.kind == "voucher" else "pending",
        spent_lots=taken,
        voucher_seq=issued + 1 if reward.kind == "voucher" else None,
        voucher_sealed=voucher_sealed,
        delivery_sealed=(
            seal_text(json.dumps(values.delivery.model_dump(), ensure_ascii=False), pepper, "delivery")
            if values.delivery
            else None
        ),
        created_at=now,
        updated_at=now,
        changed_by=shopper_id,
        points_left=points_left,
    )
    items.append(
        {
            "Put": {
                "TableName": Redemption.Meta.table_name,
                "Item": record.serialize(),
                "ConditionExpression": "attribute_not_exists(redemption_id)",
            }
        }
    )
    names.append("redemption")
    items.append(add_brand_counts(reward.brand_id, {"spent": cost, "redemptions": 1, f"r#{reward.reward_id}": 1}))
    names.append("stats")
    return items, names, record


# --- reading ----------------------------------------------------------------------------

_CURSOR_RE = re.compile(r"^[0-9T:.+-]{20,40}\|rdm_[0-9A-HJKMNP-TV-Z]{26}$")


def _cursor(last: dict | None) -> str | None:
    if not last:
        return None
    return encode_cursor(f"{last['created_at']['S']}|{last['redemption_id']['S']}")


def _start(cursor: str | None, hash_name: str, hash_value: str) -> dict | None:
    if not cursor:
        return None
    created, redemption_id = decode_cursor(cursor, _CURSOR_RE).split("|")
    return {
        "redemption_id": {"S": redemption_id},
        "created_at": {"S": created},
        hash_name: {"S": hash_value},
    }


def my_redemptions(shopper_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """The shopper's own redemptions, newest first, voucher codes shown."""
    page_size = parse_limit(limit)
    results = Redemption.by_shopper.query(
        shopper_id,
        scan_index_forward=False,
        limit=page_size,
        page_size=page_size,
        last_evaluated_key=_start(cursor, "shopper_id", shopper_id),
    )
    items = [_shopper_view(record) for record in results]
    return {"items": items, "next_cursor": _cursor(results.last_evaluated_key)}


def _filters(status: str | None, reward_id: str | None):
    condition = None
    if status is not None:
        if status not in _STATUS:
            raise InvalidInput(f"status: must be one of {', '.join(_STATUS)}.", field="status")
        condition = Redemption.status == status
    if reward_id is not None:
        if not is_id("rwd", reward_id):
            raise InvalidInput("reward_id: not a reward id.", field="reward_id")
        clause = Redemption.reward_id == reward_id
        condition = clause if condition is None else condition & clause
    return condition


def list_redemptions(
    brand_id: str,
    *,
    clear: bool,
    status: str | None = None,
    reward_id: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> dict:
    """The brand's redemptions, newest first, optionally of one status or reward.

    `clear` (owners and managers, who ship gifts) shows delivery details.
    """
    page_size = parse_limit(limit)
    results = Redemption.by_brand.query(
        brand_id,
        filter_condition=_filters(status, reward_id),
        scan_index_forward=False,
        limit=page_size,
        page_size=page_size,
        last_evaluated_key=_start(cursor, "brand_id", brand_id),
    )
    items = [_operator_view(record, clear=clear) for record in results]
    return {"items": items, "next_cursor": _cursor(results.last_evaluated_key)}


def redemptions_csv(brand_id: str, actor: str, *, status: str | None = None) -> tuple[str, int]:
    """Every redemption of the brand as CSV, with delivery details (for shipping); cells safe to open."""
    header = [
        "redemption_id",
        "created_at",
        "status",
        "reward_id",
        "reward",
        "kind",
        "cost",
        "shopper_id",
        "name",
        "phone",
        "address",
        "note",
    ]
    rows = []
    for record in Redemption.by_brand.query(
        brand_id, filter_condition=_filters(status, None), scan_index_forward=False
    ):
        delivery = (
            json.loads(unseal_text(record.delivery_sealed, get_phone_hash_pepper(), "delivery"))
            if record.delivery_sealed
            else {}
        )
        rows.append(
            [
                record.redemption_id,
                format_instant(record.created_at),
                record.status,
                record.reward_id,
                record.reward_name,
                record.kind,
                int(record.cost),
                _brand_shopper(brand_id, record.shopper_id),
                delivery.get("name"),
                delivery.get("phone"),
                delivery.get("address"),
                record.note,
            ]
        )
    with_delivery = sum(1 for row in rows if row[8])
    if with_delivery:
        audit.record(brand_id, actor, "deliveries_viewed", "redemptions.csv", {"deliveries": with_delivery})
    return csv_text(header, rows), len(rows)


# --- operators: fulfil and cancel ------------------------------------------------------


def _load(brand_id: str, redemption_id: str) -> Redemption:
    return load_owned(Redemption, brand_id, redemption_id, "rdm", "redemption")


def fulfil(brand_id: str, redemption_id: str, actor: str, body: dict) -> dict:
    """Mark a gift shipped (with an optional note, a tracking number say); once.

    Sent again after it was done (its answer lost), it answers the shipped redemption.
    """
    note = validate(NoteIn, body).note
    record = _load(brand_id, redemption_id)
    if record.status == "shipped":
        return _operator_view(record, clear=True)
    if record.status != "pending":
        raise Conflict(f"Only a gift waiting to be sent can be marked shipped; this one is {record.status}.")
    now = clock.now()
    names = {"#s": "status", "#f": "fulfilled_at", "#u": "updated_at", "#b": "changed_by"}
    values = {
        ":to": {"S": "shipped"},
        ":was": {"S": "pending"},
        ":now": {"S": Redemption.updated_at.serialize(now)},
        ":actor": {"S": actor},
    }
    if note:
        names["#n"], values[":note"] = "note", {"S": note}
    update = {
        "TableName": Redemption.Meta.table_name,
        "Key": {"redemption_id": {"S": redemption_id}},
        "UpdateExpression": "SET #s = :to, #f = :now, #u = :now, #b = :actor" + (", #n = :note" if note else ""),
        "ConditionExpression": "#s = :was",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    event = audit.transaction_item(brand_id, actor, "redemption_shipped", redemption_id, {"note": note})
    return _commit_change(brand_id, redemption_id, [{"Update": update}, event], "shipped")


def _commit_change(brand_id: str, redemption_id: str, items: list[dict], outcome: str) -> dict:
    """Write an operator's change with its audit event in one transaction; a change that
    another request (or an earlier copy of this one) already made answers as done."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            dynamo.client().transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = dynamo.cancellation_codes(error)
            if reasons is None:
                raise
            if "TransactionConflict" in reasons:  # another writer on one of its items: again
                dynamo.backoff(attempt)
                continue
            record = _load(brand_id, redemption_id)
            if record.status != outcome:
                raise Conflict(f"The redemption changed meanwhile (it is {record.status}); read it again.") from None
        return _operator_view(_load(brand_id, redemption_id), clear=True)
    raise ServiceBusy("The redemption is busy; please try again.", retry_after=1)


def cancel(brand_id: str, redemption_id: str, actor: str, body: dict) -> dict:
    """Cancel a redemption and give its points back, once, into the lots they came from.

    A gift not yet shipped goes back in stock; a voucher code stays spent (it was shown).
    """
    note = validate(NoteIn, body).note
    record = _load(brand_id, redemption_id)
    if record.status == "cancelled":  # sent again after it was done: the same answer
        return _operator_view(record, clear=True)
    if record.status not in ("issued", "pending"):
        raise Conflict(f"A redemption that is {record.status} cannot be cancelled.")
    now = clock.now()
    cost = int(record.cost)
    lots = {month: int(points) for month, points in (record.spent_lots.as_dict() if record.spent_lots else {}).items()}
    items = [
        {
            "Update": {
                "TableName": Redemption.Meta.table_name,
                "Key": {"redemption_id": {"S": redemption_id}},
                "UpdateExpression": "SET #s = :c, #u = :now, #x = :now, #b = :actor" + (", #n = :note" if note else ""),
                "ConditionExpression": "#s = :was",
                "ExpressionAttributeNames": {
                    "#s": "status",
                    "#u": "updated_at",
                    "#x": "cancelled_at",
                    "#b": "changed_by",
                    **({"#n": "note"} if note else {}),
                },
                "ExpressionAttributeValues": {
                    ":c": {"S": "cancelled"},
                    ":was": {"S": record.status},
                    ":now": {"S": Redemption.updated_at.serialize(now)},
                    ":actor": {"S": actor},
                    **({":note": {"S": note}} if note else {}),
                },
            }
        },
        members.refund_update(brand_id, record.shopper_id, lots, cost),
        add_brand_counts(
            brand_id, {"spent": -cost, "refunded": cost, "cancelled": 1, "redemptions": -1, f"r#{record.reward_id}": -1}
        ),
    ]
    if record.kind == "gift":
        items.append(
            {
                "Update": {
                    "TableName": Reward.Meta.table_name,
                    "Key": {"reward_id": {"S": record.reward_id}},
                    "UpdateExpression": "ADD #i :less, #v :one",
                    "ExpressionAttributeNames": {"#i": "issued", "#v": "version"},
                    "ExpressionAttributeValues": {":less": {"N": "-1"}, ":one": {"N": "1"}},
                }
            }
        )
    try:
        reward = Reward.get(record.reward_id)
        limited = bool(reward.per_shopper_limit)
    except Reward.DoesNotExist:
        limited = False
    if limited:
        items.append(
            {
                "Update": {
                    "TableName": Counter.Meta.table_name,
                    "Key": {"name": {"S": _limit_key(record.reward_id, record.shopper_id)}},
                    "UpdateExpression": "ADD #v :less",
                    "ConditionExpression": "#v > :zero",
                    "ExpressionAttributeNames": {"#v": "value"},
                    "ExpressionAttributeValues": {":less": {"N": "-1"}, ":zero": {"N": "0"}},
                }
            }
        )
    items.append(
        audit.transaction_item(
            brand_id, actor, "redemption_cancelled", redemption_id, {"points_refunded": cost, "note": note}
        )
    )
    return _commit_change(brand_id, redemption_id, items, "cancelled")
