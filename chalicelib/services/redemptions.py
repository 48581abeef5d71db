"""Points swapped for rewards: redeemed exactly once by shoppers, fulfilled or cancelled by operators."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from chalicelib.adapters import dynamo, members, redemption_store, reward_store
from chalicelib.adapters.models import Redemption, Reward
from chalicelib.adapters.records import load_program
from chalicelib.adapters.redemption_store import Redeemed, Written
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock, loyalty
from chalicelib.domain.csvfile import csv_text
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, ServiceBusy
from chalicelib.domain.ids import CROCKFORD, id_pattern, is_id, new_id
from chalicelib.domain.lifecycle import REDEMPTION_TRANSITIONS, RedemptionStatus
from chalicelib.domain.phones import keyed_hash, seal_text, unseal_text
from chalicelib.domain.schemas import Label, PhoneText, Schema, validate
from chalicelib.domain.validation import format_instant, parse_limit
from chalicelib.services import audit, retention
from chalicelib.services.loyalty import add_brand_counts
from chalicelib.services.rewards import NoteIn, on_offer

__all__ = [
    "Sight",
    "sight_for",
    "masked_delivery",
    "DeliveryIn",
    "redeem",
    "my_redemptions",
    "my_redemptions_in_full",
    "list_redemptions",
    "redemptions_csv",
    "fulfil",
    "cancel",
]

_ATTEMPTS = 10


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


def _shopper_view(record: Redemption) -> dict:
    pepper = get_phone_hash_pepper()
    # A cancelled voucher's code is spent, not usable: it is no longer shown.
    usable = record.voucher_sealed and record.status != RedemptionStatus.CANCELLED
    return {
        "redemption_id": record.redemption_id,
        "brand_id": record.brand_id,
        "reward_id": record.reward_id,
        "reward_name": record.reward_name,
        "kind": record.kind,
        "cost": int(record.cost),
        "status": record.status,
        "voucher_code": unseal_text(record.voucher_sealed, pepper, "voucher") if usable else None,
        "note": record.note,
        "created_at": format_instant(record.created_at),
        "fulfilled_at": format_instant(record.fulfilled_at) if record.fulfilled_at else None,
        "cancelled_at": format_instant(record.cancelled_at) if record.cancelled_at else None,
    }


class Sight(StrEnum):
    """How much of a delivery an operator's answer shows."""

    CLEAR = "clear"  # owners: name, phone and address as given, each answer in the audit trail
    MASKED = "masked"  # managers: name's initial, the phone's last digits, the address's last part
    GIVEN = "given"  # viewers: only that a delivery was given


def sight_for(role: str, why: str | None = None) -> Sight:
    """What a role sees of delivery details: owners alone see them in clear, and only when they say why (the
    `why` of audit.reason); an owner who gives none sees them masked, as a manager does (docs/privacy.md)."""
    if role == "owner" and why is not None:
        return Sight.CLEAR
    return Sight.MASKED if role in ("owner", "manager") else Sight.GIVEN


def masked_delivery(delivery: dict) -> dict:
    """A delivery with too little left to reach the shopper, enough to tell one shipment from another:
    the name's initial, the phone's last three digits, the address's last part when it names a town."""
    phone = str(delivery.get("phone", ""))
    hidden = sum(ch.isdigit() for ch in phone) - 3
    digits = iter(range(len(phone)))
    masked_phone = "".join("•" if ch.isdigit() and next(digits) < hidden else ch for ch in phone)
    *street, town = str(delivery.get("address", "")).rsplit(",", 1)
    # The town only: a last part with a digit in it (a house number) is part of the street.
    shown_town = street and not any(ch.isdigit() for ch in town)
    return {
        "name": str(delivery.get("name", ""))[:1] + "•••",
        "phone": masked_phone,
        "address": "•••," + town if shown_town else "•••",
    }


def _delivery(record: Redemption, sight: Sight) -> dict | None:
    if not record.delivery_sealed:
        return None
    if sight == Sight.GIVEN:
        return {"given": True}
    given = json.loads(unseal_text(record.delivery_sealed, get_phone_hash_pepper(), "delivery"))
    return given if sight == Sight.CLEAR else masked_delivery(given)


def _operator_view(record: Redemption, sight: Sight) -> dict:
    """An operator's view: delivery details as the role may see them; nobody sees voucher codes."""
    view = _shopper_view(record)
    view.pop("voucher_code")
    view.update(
        shopper_id=_brand_shopper(record.brand_id, record.shopper_id),
        voucher_seq=record.voucher_seq,
        delivery=_delivery(record, sight),
        updated_at=format_instant(record.updated_at),
    )
    return view


def _deliveries_seen(
    brand_id: str, actor: str, sight: Sight, where: str, records: list[Redemption], why: str | None
) -> None:
    # Every answer that showed delivery details in clear is in the owner's audit trail: who, when, which, why.
    shown = [r.redemption_id for r in records if r.delivery_sealed]
    if sight == Sight.CLEAR and shown:
        details = {"deliveries": len(shown), "redemptions": shown, "why": why}
        audit.record(brand_id, actor, "deliveries_viewed", where, details)


def _brand_shopper(brand_id: str, shopper_id: str) -> str:
    from chalicelib.domain.phones import brand_shopper_id

    return brand_shopper_id(get_phone_hash_pepper(), brand_id, shopper_id)


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
    request sent again with the same Idempotency-Key and body gets the original redemption back;
    with another body, a 409 naming the key.
    """
    values = validate(RedeemIn, body)
    redemption_id = _redemption_id(shopper_id, request_key)
    digest = _request_digest(values)
    try:
        return _redeem(shopper_id, values, redemption_id, digest, keyed=request_key is not None)
    except Conflict:
        # A copy of the request racing the first finds the stock or points the first took gone:
        # its answer is the redemption the first made, not a refusal.
        made = redemption_store.read(redemption_id) if request_key else None
        if made is None:
            raise
        return _replayed(made, shopper_id, values, digest)


def _replayed(existing: Redemption, shopper_id: str, values: RedeemIn, digest: str) -> dict:
    """The answer the first copy of the request got, balance after it included."""
    _check_same_request(existing, shopper_id, values, digest)
    return {**_shopper_view(existing), "replay": True, "points_left": existing.points_left}


def _redeem(shopper_id: str, values: RedeemIn, redemption_id: str, digest: str, *, keyed: bool) -> dict:
    for _ in dynamo.attempts(_ATTEMPTS, "Many redemptions at once; please try again."):
        existing = redemption_store.read(redemption_id) if keyed else None
        if existing is not None:
            return _replayed(existing, shopper_id, values, digest)
        reward = reward_store.read(values.reward_id)
        if reward is None:
            raise NotFound("No such reward.")
        now = clock.now()
        _check_offer(reward, values, now)
        taken, left = _points_taken(reward, shopper_id, now)
        issued = int(reward.issued or 0)
        record = _record(reward, shopper_id, redemption_id, taken, issued, values, now, left)
        # Kept with the redemption: its cancel gives back what this redemption took, whatever the
        # reward's limit is by then.
        record.request_digest, record.limit_counted = digest, bool(reward.per_shopper_limit)
        figures = add_brand_counts(
            reward.brand_id, {"spent": int(reward.cost), "redemptions": 1, f"r#{reward.reward_id}": 1}
        )
        outcome = redemption_store.redeem(reward, record, taken, figures, issued=issued)
        if outcome == Redeemed.LIMIT_REACHED:
            raise _refused(
                "limit_reached",
                f"You have redeemed this reward {reward.per_shopper_limit} time(s), the most allowed.",
            )
        if outcome == Redeemed.MADE:
            return {**_shopper_view(record), "replay": False, "points_left": left}
        # A replay (made by an earlier copy of this request) is answered above; stock, points
        # or the voucher moved under a concurrent redemption or claim: read again.
    raise AssertionError("unreachable: attempts raises ServiceBusy past the last try")


def _request_digest(values: RedeemIn) -> str:
    """What an Idempotency-Key is bound to: a keyed hash of the body's canonical JSON (keyed, since a
    delivery holds a phone number and a plain hash of one is easily guessed)."""
    canonical = json.dumps(values.model_dump(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keyed_hash(get_phone_hash_pepper(), "redeem-request", canonical)


def _check_same_request(existing: Redemption, shopper_id: str, values: RedeemIn, digest: str) -> None:
    """Refuse an Idempotency-Key sent again with another body: it would answer a redemption the shopper did
    not ask for. A redemption made before bodies were kept is matched by its reward alone."""
    if existing.shopper_id != shopper_id:
        raise Conflict("This Idempotency-Key was used for another redemption.", field="Idempotency-Key")
    same = existing.request_digest == digest if existing.request_digest else existing.reward_id == values.reward_id
    if not same:
        raise _key_reused()


def _key_reused() -> Conflict:
    error = Conflict(
        "This Idempotency-Key was sent with another request; use a new key for a new redemption.",
        field="Idempotency-Key",
    )
    error.code = "idempotency_key_reused"
    return error


def _check_offer(reward: Reward, values: RedeemIn, now: datetime) -> None:
    """Refuse a reward not on offer now, and a delivery that does not fit its kind."""
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


def _points_taken(reward: Reward, shopper_id: str, now: datetime) -> tuple[dict[str, int], int]:
    """The points the reward takes from each of the shopper's lots, oldest first, and the balance left."""
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
    return taken, balance - int(reward.cost)


def _record(
    reward: Reward,
    shopper_id: str,
    redemption_id: str,
    taken: dict[str, int],
    issued: int,
    values: RedeemIn,
    now: datetime,
    points_left: int,
) -> Redemption:
    """The redemption this try writes; a voucher's is the code of the next unit of stock (`issued` + 1),
    which a published file wrote before it was counted in stock."""
    pepper = get_phone_hash_pepper()
    voucher_sealed = seq = None
    if reward.kind == "voucher":
        seq = reward_store.voucher_seq(reward, issued + 1)
        voucher_sealed = redemption_store.voucher_code(reward.reward_id, seq)
        if voucher_sealed is None:  # never, while stock counts only published files
            raise ServiceBusy("The reward's codes are being added; please try again.", retry_after=1)
    return Redemption(
        redemption_id,
        brand_id=reward.brand_id,
        shopper_id=shopper_id,
        reward_id=reward.reward_id,
        reward_name=reward.name,
        kind=reward.kind,
        cost=int(reward.cost),
        status=RedemptionStatus.ISSUED if reward.kind == "voucher" else RedemptionStatus.PENDING,
        spent_lots=taken,
        voucher_seq=seq,
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


# --- reading ----------------------------------------------------------------------------


def my_redemptions(shopper_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """The shopper's own redemptions, newest first, voucher codes shown."""
    return redemption_store.shopper_page(shopper_id, parse_limit(limit), cursor, _shopper_view)


def _in_full(record: Redemption) -> dict:
    return {**_shopper_view(record), "delivery": _delivery(record, Sight.CLEAR)}


def my_redemptions_in_full(shopper_id: str, limit: int, cursor: str | None) -> dict:
    """One page of the shopper's own redemptions with the delivery details they gave, in clear ("my data")."""
    return redemption_store.shopper_page(shopper_id, limit, cursor, _in_full)


def _status(status: str | None) -> RedemptionStatus | None:
    """The status a list asks for (one of RedemptionStatus), or None for every status."""
    if status is None:
        return None
    try:
        return RedemptionStatus(status)
    except ValueError:
        raise InvalidInput(f"status: must be one of {', '.join(RedemptionStatus)}.", field="status") from None


def list_redemptions(
    brand_id: str,
    actor: str,
    role: str,
    *,
    status: str | None = None,
    reward_id: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    why: str | None = None,
) -> dict:
    """The brand's redemptions, newest first, optionally of one status or reward, delivery details as
    the role may see them (sight_for: an owner who says `why`, in clear); such an answer is audited."""
    page_size = parse_limit(limit)
    wanted = _status(status)
    if reward_id is not None and not is_id("rwd", reward_id):
        raise InvalidInput("reward_id: not a reward id.", field="reward_id")
    why = audit.reason(brand_id, why)
    sight, shown = sight_for(role, why), []

    def render(record: Redemption) -> dict:
        shown.append(record)
        return _operator_view(record, sight)

    page = redemption_store.brand_page(brand_id, page_size, cursor, render, status=wanted, reward_id=reward_id)
    _deliveries_seen(brand_id, actor, sight, "redemptions", shown, why)
    return page


CSV_ROWS = 5_000
"""Rows per slice of redemptions.csv: a few hundred bytes each, so a slice stays far below API Gateway's
6 MB answer and one Lambda's time; the next slice is asked for with the answer's cursor."""

_CSV_HEADER = (
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
)


def redemptions_csv(
    brand_id: str,
    actor: str,
    role: str,
    *,
    status: str | None = None,
    cursor: str | None = None,
    why: str | None = None,
) -> tuple[str, str | None]:
    """One slice (CSV_ROWS rows, newest first) of the brand's redemptions as CSV, for shipping, and the
    cursor of the next slice (None on the last); delivery details as the role may see them, an owner's
    slice audited; cells safe to open."""
    why = audit.reason(brand_id, why)
    sight = sight_for(role, why)
    records, next_cursor = redemption_store.brand_slice(brand_id, CSV_ROWS, cursor, status=_status(status))
    rows = []
    for record in records:
        delivery = _delivery(record, sight) or {}
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
    _deliveries_seen(brand_id, actor, sight, "redemptions.csv", records, why)
    return csv_text(list(_CSV_HEADER), rows), next_cursor


# --- operators: fulfil and cancel ------------------------------------------------------


def _load(brand_id: str, redemption_id: str) -> Redemption:
    return redemption_store.load(brand_id, redemption_id)


def fulfil(brand_id: str, redemption_id: str, actor: str, body: dict) -> dict:
    """Mark a gift shipped (with an optional note, a tracking number say); once.

    Sent again after it was done (its answer lost), it answers the shipped redemption.
    """
    note = validate(NoteIn, body).note
    record = _load(brand_id, redemption_id)
    if record.status == RedemptionStatus.SHIPPED:
        return _operator_view(record, Sight.MASKED)
    if record.status != RedemptionStatus.PENDING:
        raise Conflict(f"Only a gift waiting to be sent can be marked shipped; this one is {record.status}.")
    now = clock.now()

    event = audit.transaction_item(brand_id, actor, "redemption_shipped", redemption_id, {"note": note})
    purge_on = retention.delivery_due(brand_id, now)

    def write() -> Written:
        return redemption_store.ship(record, actor, note, now, event, purge_on=purge_on)

    return _commit_change(brand_id, redemption_id, write, RedemptionStatus.SHIPPED)


def _commit_change(brand_id: str, redemption_id: str, write: Callable[[], Written], outcome: RedemptionStatus) -> dict:
    """Write an operator's change with its audit event in one transaction; a change that
    another request (or an earlier copy of this one) already made answers as done."""
    for _ in dynamo.attempts(_ATTEMPTS, "The redemption is busy; please try again."):
        written = write()
        if written == Written.BUSY:  # another writer on one of its items: again
            continue
        if written == Written.REFUSED:
            record = _load(brand_id, redemption_id)
            if record.status != outcome:
                raise Conflict(f"The redemption changed meanwhile (it is {record.status}); read it again.")
        return _operator_view(_load(brand_id, redemption_id), Sight.MASKED)
    raise AssertionError("unreachable: attempts raises ServiceBusy past the last try")


def _took_allowance(record: Redemption) -> bool:
    """Whether the redemption counted against the shopper's allowance for its reward.

    Kept with each redemption since it is made. One stored before that is taken to have counted
    only when the shopper's counter covers every redemption of theirs of this reward still
    standing: when some did not count (made before a limit was set) nobody can tell which, and
    giving none back keeps the limit, where giving one back could let the shopper past it.
    """
    if record.limit_counted is not None:
        return bool(record.limit_counted)
    if reward_store.shopper_limit(record.reward_id) is None:
        return False
    used = redemption_store.allowance_used(record.reward_id, record.shopper_id)
    return used > 0 and used >= redemption_store.standing(record.shopper_id, record.reward_id)


def cancel(brand_id: str, redemption_id: str, actor: str, body: dict) -> dict:
    """Cancel a redemption and give its points back, once, into the lots they came from.

    A gift not yet shipped goes back in stock; a voucher code stays spent (it was shown).
    """
    note = validate(NoteIn, body).note
    record = _load(brand_id, redemption_id)
    if record.status == RedemptionStatus.CANCELLED:  # sent again after it was done: the same answer
        return _operator_view(record, Sight.MASKED)
    if RedemptionStatus.CANCELLED not in REDEMPTION_TRANSITIONS[record.status]:
        raise Conflict(f"A redemption that is {record.status} cannot be cancelled.")
    now = clock.now()
    cost = int(record.cost)
    limited = _took_allowance(record)
    counts = {"spent": -cost, "refunded": cost, "cancelled": 1, "redemptions": -1, f"r#{record.reward_id}": -1}

    # Built once: every try sends the same items (the same audit event, the same figures' shard).
    figures = add_brand_counts(brand_id, counts)
    details = {"points_refunded": cost, "note": note}
    event = audit.transaction_item(brand_id, actor, "redemption_cancelled", redemption_id, details)
    purge_on = retention.delivery_due(brand_id, now)

    def write() -> Written:
        return redemption_store.cancel(
            record, actor, note, now, figures=figures, event=event, limited=limited, purge_on=purge_on
        )

    return _commit_change(brand_id, redemption_id, write, RedemptionStatus.CANCELLED)
