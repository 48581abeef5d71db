"""Data-subject requests a brand received by other means: recorded with their legal deadline, acted on with the
shopper's own machinery ("my data", the account's deletion, consents), each step audited, closed by owners."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from chalicelib.adapters import audit_log, members, participants, records, request_store, shopper_store
from chalicelib.adapters.models import ShopperAccount, SubjectRequest
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import Settings
from chalicelib.domain import clock, markets
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.ids import id_pattern, new_id
from chalicelib.domain.lifecycle import ErasureStatus, SubjectRequestStatus
from chalicelib.domain.phones import brand_shopper_id, normalise_phone, phone_hash, seal_text
from chalicelib.domain.schemas import Label, PhoneText, Schema, validate
from chalicelib.domain.validation import format_instant, parse_limit
from chalicelib.services import audit, erasure, my_data
from chalicelib.services.redemptions import DeliveryIn

__all__ = ["KINDS", "CHANNELS", "NO_DATA_HELD", "create", "list_requests", "get", "close", "access", "erase", "correct"]

KINDS = ("access", "correction", "deletion")
CHANNELS = ("email", "letter", "phone", "in_person", "other")
NO_DATA_HELD = "no_data_held"
"""The outcome of a request whose number finds nothing the brand holds: closed as it is recorded."""
_OUTCOMES = ("done", "refused", "withdrawn")
_OLDEST_DAYS = 366  # a request received longer ago than this is a mistyped date


def _day(value: str) -> str:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None
    today = clock.now().date()
    if day > today:
        raise ValueError("must not be in the future")
    if (today - day).days > _OLDEST_DAYS:
        raise ValueError(f"must be within the last {_OLDEST_DAYS} days")
    return day.isoformat()


class _CreateIn(Schema):
    kind: Literal["access", "correction", "deletion"]
    phone: PhoneText
    received_on: Annotated[str, AfterValidator(_day)]
    channel: Literal["email", "letter", "phone", "in_person", "other"]
    market: Literal["VN", "PH"] | None = None
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class _CloseIn(Schema):
    outcome: Literal["done", "refused", "withdrawn"]
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class _RedemptionFix(Schema):
    redemption_id: Annotated[str, Field(pattern=id_pattern("rdm"))]
    delivery: DeliveryIn


class _WinFix(Schema):
    draw_id: Annotated[str, Field(pattern=id_pattern("drw"))]
    pick: Annotated[int, Field(ge=1, le=10_000)]
    delivery: DeliveryIn


class _CorrectIn(Schema):
    """Exactly one of: a pending gift's delivery, an accepted win's delivery, or the brand's marketing withdrawn."""

    redemption: _RedemptionFix | None = None
    win: _WinFix | None = None
    marketing: Literal[False] | None = None
    note: Label | None = None


def _deadline(received_on: str, market: str | None) -> str:
    return (date.fromisoformat(received_on) + timedelta(days=markets.subject_request_days(market))).isoformat()


def _brands_of(shopper_id: str) -> set[str]:
    """The brands holding data on the shopper: a membership (points, gifts) or a campaign claimed in (draws, wins)."""
    brands = {m.brand_id for m in members.members_of(shopper_id)}
    for standing in participants.campaigns_of(shopper_id):
        brand = records.brand_of_campaign(standing.campaign_id)
        if brand:
            brands.add(brand)
    return brands


def _live(account: ShopperAccount | None) -> bool:
    return account is not None and bool(account.phone_hash) and account.erasure_status != ErasureStatus.DONE


def _view(record: SubjectRequest, today: date | None = None) -> dict:
    today = today or clock.now().date()
    is_open = record.status == SubjectRequestStatus.OPEN
    return {
        "request_id": record.request_id,
        "kind": record.kind,
        "market": record.market,
        "channel": record.channel,
        "note": record.note,
        "received_on": record.received_on,
        "deadline": record.deadline,
        "overdue": is_open and today.isoformat() > record.deadline,
        "status": record.status,
        "outcome": record.outcome,
        "phone": record.phone_masked,
        "data_held": record.shopper_id is not None,
        "actions": [
            {
                "action": a.action,
                "by": a.actor,
                "at": format_instant(a.at),
                "result": json.loads(a.result) if a.result else None,
            }
            for a in record.actions or []
        ],
        "created_by": record.created_by,
        "created_at": format_instant(record.created_at),
        "closed_by": record.closed_by,
        "closed_at": format_instant(record.closed_at) if record.closed_at else None,
    }


def _closing(actor: str, outcome: str, now: datetime, record: SubjectRequest) -> dict:
    return {
        "status": SubjectRequestStatus.CLOSED,
        "outcome": outcome,
        "closed_by": actor,
        "closed_at": now,
        "queue": request_store.queue_key(SubjectRequestStatus.CLOSED, record.deadline, record.request_id),
        "expires_at": now + audit_log.KEEP,
    }


def create(brand_id: str, actor: str, body: dict, settings: Settings) -> dict:
    """POST /v1/subject-requests: record a request with its legal deadline. The number finds the account
    by its keyed hash and is never kept (only its masked form); a number the brand holds nothing on closes
    the request at once as "no data held"."""
    values = validate(_CreateIn, body)
    phone = normalise_phone(values.phone, settings.phone_regions)
    found = shopper_store.account_of_phone(phone_hash(phone.e164, get_phone_hash_pepper(settings)))
    held = found is not None and _live(shopper_store.account(found)) and brand_id in _brands_of(found)
    shopper_id = found if held else None
    now = clock.now()
    deadline = _deadline(values.received_on, values.market)
    request_id = new_id("dsr")
    record = request_store.new_request(
        brand_id,
        request_id,
        request_store.action("record", actor, now, {"data_held": held}),
        kind=values.kind,
        market=values.market,
        channel=values.channel,
        note=values.note,
        received_on=values.received_on,
        deadline=deadline,
        status=SubjectRequestStatus.OPEN,
        queue=request_store.queue_key(SubjectRequestStatus.OPEN, deadline, request_id),
        shopper_id=shopper_id,
        phone_masked=phone.masked,
        created_by=actor,
        created_at=now,
    )
    if not held:
        for name, value in _closing(actor, NO_DATA_HELD, now, record).items():
            setattr(record, name, value)
    details = {"kind": values.kind, "deadline": deadline, "data_held": held}
    event = audit.transaction_event(brand_id, actor, "subject_request_recorded", request_id, details)
    if not request_store.create(record, event):
        raise Conflict("request_id: taken; send the request again.", field="request_id")
    return _view(record)


def list_requests(brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """GET /v1/subject-requests: the brand's requests, open ones first by deadline (overdue flagged), then closed."""
    today = clock.now().date()
    return request_store.page(brand_id, parse_limit(limit), cursor, lambda r: _view(r, today))


def get(brand_id: str, request_id: str) -> dict:
    """GET /v1/subject-requests/{request_id}."""
    return _view(request_store.load(brand_id, request_id))


def _open(brand_id: str, request_id: str, kind: str | None = None) -> SubjectRequest:
    record = request_store.load(brand_id, request_id)
    if record.status != SubjectRequestStatus.OPEN:
        raise Conflict(f"status: The request is {record.status}.", field="status")
    if kind is not None and record.kind != kind:
        raise Conflict(f"kind: This is a request for {record.kind}, not {kind}.", field="kind")
    return record


def _act(
    record: SubjectRequest,
    actor: str,
    action: str,
    result: dict,
    *,
    also: request_store.Change | None = None,
    outcome: str | None = None,
    forget_phone: bool = False,
) -> SubjectRequest:
    """Record `action` (audited with the request's id as its why) and, with `outcome`, close the request."""
    now = clock.now()
    done = request_store.action(action, actor, now, result)
    details = {"action": action, "why": record.request_id, **result}
    event = audit.transaction_event(record.brand_id, actor, f"subject_request_{action}", record.request_id, details)
    closing = _closing(actor, outcome, now, record) if outcome else None
    if closing is not None and forget_phone:
        closing["phone_masked"] = None  # the account is deleted: nothing derived from its number stays
    if not request_store.act(record, done, event, also=also, closing=closing):
        raise Conflict("status: The request or what it changes moved on meanwhile; read it again.", field="status")
    audit.written(record.brand_id, actor, f"subject_request_{action}", record.request_id)
    return request_store.load(record.brand_id, record.request_id)


def close(brand_id: str, actor: str, request_id: str, body: dict) -> dict:
    """POST /v1/subject-requests/{request_id}/close: done, refused (with a note why) or withdrawn."""
    values = validate(_CloseIn, body)
    if values.outcome == "refused" and values.note is None:
        raise InvalidInput("note: Say why the request is refused.", field="note")
    record = _open(brand_id, request_id)
    result = {"outcome": values.outcome, "note": values.note}
    return _view(_act(record, actor, "close", result, outcome=values.outcome))


def _subject(record: SubjectRequest) -> str:
    if record.shopper_id is None:
        raise Conflict("request_id: No data is held on this number.", field="request_id")
    return record.shopper_id


def access(brand_id: str, actor: str, request_id: str) -> tuple[dict, str]:
    """POST /v1/subject-requests/{request_id}/access: the shopper's "my data" document as the brand holds it
    (my_data.for_brand), for the owner to send them, with the download recorded and audited; and its file name."""
    record = _open(brand_id, request_id, "access")
    shopper_id = _subject(record)
    participant = brand_shopper_id(get_phone_hash_pepper(), brand_id, shopper_id)
    document = my_data.for_brand(shopper_id, brand_id, participant)
    counts = {kind: len(document[kind]["items"]) for kind in ("claims", "redemptions")}
    _act(record, actor, "access", {"participant_id": participant, **counts})
    return document, f"{request_id}-data.json"


def erase(brand_id: str, actor: str, request_id: str) -> dict:
    """POST /v1/subject-requests/{request_id}/erase: the account's deletion, as the shopper's own (erasure.run:
    exactly once, resumable), without their one-time code; the request records it and is closed, its masked
    number removed. Refused (409) while another brand holds data on the same account: deleting it would delete
    that brand's records too."""
    record = _open(brand_id, request_id, "deletion")
    shopper_id = _subject(record)
    others = _brands_of(shopper_id) - {brand_id}
    if others:
        raise Conflict(
            "request_id: The shopper's account also holds another brand's records; it is deleted from the "
            "shopper's wallet, or by the platform's operator.",
            field="request_id",
        )
    account = shopper_store.account(shopper_id)
    if _live(account) and account is not None and account.erasure_status != ErasureStatus.RUNNING:
        erasure.begin(shopper_id)
    done = erasure.run(shopper_id)
    closed = _act(record, actor, "erase", {"status": done["status"]}, outcome="done", forget_phone=True)
    return _view(closed)


def _sealed(delivery: DeliveryIn) -> str:
    return seal_text(json.dumps(delivery.model_dump(), ensure_ascii=False), get_phone_hash_pepper(), "delivery")


def correct(brand_id: str, actor: str, request_id: str, body: dict) -> dict:
    """POST /v1/subject-requests/{request_id}/correct: one correction, in the request's transaction with its
    audit event: a pending gift's or an accepted win's delivery details replaced (sealed as the shopper's own
    are), or the brand's marketing consent withdrawn. The request stays open until closed."""
    values = validate(_CorrectIn, body)
    given = [name for name in ("redemption", "win", "marketing") if getattr(values, name) is not None]
    if len(given) != 1:
        raise InvalidInput("redemption: Give exactly one of redemption, win or marketing.", field="redemption")
    record = _open(brand_id, request_id, "correction")
    shopper_id = _subject(record)
    result: dict[str, object]
    if values.redemption is not None:
        fix = values.redemption
        change = request_store.redemption_delivery(brand_id, shopper_id, fix.redemption_id, _sealed(fix.delivery))
        result = {"corrected": "redemption", "redemption_id": fix.redemption_id}
    elif values.win is not None:
        win = values.win
        change = request_store.win_delivery(brand_id, shopper_id, win.draw_id, win.pick, _sealed(win.delivery))
        result = {"corrected": "win", "draw_id": win.draw_id, "pick": win.pick}
    else:
        change = request_store.marketing_withdrawn(shopper_id, brand_id, clock.now())
        result = {"corrected": "marketing", "marketing": False}
    return _view(_act(record, actor, "correct", {**result, "note": values.note}, also=change))
