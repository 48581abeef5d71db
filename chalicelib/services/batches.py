"""Print batches: mint N codes with one record, activate, void, and look codes up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.adapters import batch_store, records
from chalicelib.adapters.models import Allocation, Batch, Campaign, CodeState
from chalicelib.adapters.records import batch_by_number, load_batch, load_campaign
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import get_settings
from chalicelib.domain import clock, codes
from chalicelib.domain.errors import CodeInvalid, Conflict, InvalidInput, LimitReached
from chalicelib.domain.ids import id_pattern, new_id
from chalicelib.domain.integrity import check_market
from chalicelib.domain.lifecycle import BATCH_TRANSITIONS, BatchStatus, CampaignStatus, CodeStatus, check_move
from chalicelib.domain.markets import PrizeKind
from chalicelib.domain.schemas import Label, Schema, Sku, validate
from chalicelib.domain.validation import format_instant, parse_int_param, parse_limit, refuse_fields
from chalicelib.services import audit

__all__ = [
    "MAX_QUANTITY",
    "CodeRef",
    "mint_batch",
    "list_batches",
    "get_batch",
    "update_batch",
    "change_batch_status",
    "find_code",
    "void_code",
    "operator_record",
    "code_payload",
    "csv_lines",
    "codes_csv",
]

MAX_QUANTITY = 10_000_000
_SERVER_OWNED = (
    "batch_id",
    "batch_number",
    "brand",
    "brand_id",
    "campaign_id",
    "status",
    "key_version",
    "created_at",
    "updated_at",
    "created_by",
    "version",
)


class InstantWinIn(Schema):
    prize_id: Annotated[str, Field(pattern=id_pattern("prz"))]
    count: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class BatchIn(Schema):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    label: Label | None = None
    instant_wins: Annotated[list[InstantWinIn], Field(max_length=50)] = []
    market: dict | None = None  # checked by integrity.check_market, which names the field at fault


class BatchPatch(Schema):
    market: dict | None = None


def _check_instant_wins(values: BatchIn, campaign: Campaign) -> None:
    prizes = {p.prize_id: p for p in campaign.prizes or []}
    seen = set()
    for index, win in enumerate(values.instant_wins):
        field = f"instant_wins[{index}].prize_id"
        prize = prizes.get(win.prize_id)
        if prize is None:
            raise InvalidInput(f"{field}: Not a prize of this campaign.", field=field)
        if prize.odds_per_million:
            raise InvalidInput(f"{field}: This prize is won by odds per scan, not by secret codes.", field=field)
        if prize.kind == PrizeKind.DRAW:
            raise InvalidInput(f"{field}: This prize line is won by draws, not by secret codes.", field=field)
        if win.prize_id in seen:
            raise InvalidInput(f"{field}: Each prize may appear once.", field=field)
        if win.count > prize.quantity:
            count_field = f"instant_wins[{index}].count"
            raise InvalidInput(f"{count_field}: More than the prize's quantity ({prize.quantity}).", field=count_field)
        seen.add(win.prize_id)
    if sum(w.count for w in values.instant_wins) > values.quantity:
        raise InvalidInput("instant_wins: More winning codes than codes in the batch.", field="instant_wins")


class BatchStatusChange(Schema):
    status: Literal[BatchStatus.ACTIVE, BatchStatus.VOID]


class CodeStatusChange(Schema):
    status: Literal[CodeStatus.VOID]


@dataclass(frozen=True)
class CodeRef:
    """A genuine code of one of the brand's batches."""

    code: str
    serial: int
    batch: Batch


def _to_dict(batch: Batch) -> dict:
    return {
        "batch_id": batch.batch_id,
        "batch_number": batch.batch_number,
        "campaign_id": batch.campaign_id,
        "sku": batch.sku,
        "label": batch.label,
        "quantity": batch.quantity,
        "status": batch.status,
        "serials": {"first": 0, "last": batch.quantity - 1},
        "instant_wins": [{"prize_id": a.prize_id, "count": int(a.count)} for a in batch.allocations or []],
        "market": {"country": batch.market_country, "places": sorted(batch.market_places or ())}
        if batch.market_country
        else None,
        "created_at": format_instant(batch.created_at),
        "updated_at": format_instant(batch.updated_at),
        "version": batch.version,
    }


def _next_batch_number() -> int:
    number = batch_store.take_batch_number()
    if number is None:
        raise Conflict("Batch numbers are exhausted; contact support.")
    return number


def _quota_reached(quota: int) -> LimitReached:
    return LimitReached(
        f"This brand has minted its {quota:,} batches, the most one brand may; contact support to raise it.",
        kind="cap",
    )


def mint_batch(brand_id: str, campaign_id: str, actor: str, body: dict) -> dict:
    """Create an inactive batch of `quantity` codes: one record, whatever the quantity."""
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    values = validate(BatchIn, body)
    campaign = load_campaign(brand_id, campaign_id)
    if campaign.status == CampaignStatus.ENDED:
        raise Conflict("The campaign has ended; no more batches can be minted.", field="campaign_id")
    _check_instant_wins(values, campaign)
    country, places = _market(values.market)
    quota = get_settings().mint_batches_per_brand
    # Checked before a batch number is taken, so a brand at its quota spends none; the
    # transaction below holds the quota exactly when two mints race for the last one.
    if batch_store.minted_by(brand_id) >= quota:
        raise _quota_reached(quota)
    now = clock.now()
    batch = Batch(
        new_id("bat"),
        batch_number=_next_batch_number(),
        brand_id=brand_id,
        campaign_id=campaign.campaign_id,
        sku=values.sku,
        label=values.label,
        quantity=values.quantity,
        key_version=get_keyring().current,
        allocations=[Allocation(prize_id=w.prize_id, count=w.count) for w in values.instant_wins],
        market_country=country,
        market_places=set(places) or None,
        status=BatchStatus.INACTIVE,
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    quantities = {p.prize_id: int(p.quantity) for p in campaign.prizes or []}
    wins = [(w.prize_id, w.count, quantities[w.prize_id]) for w in values.instant_wins]
    refused = batch_store.mint(batch, quota, wins)
    if refused is not None and refused.quota:
        raise _quota_reached(quota)
    if refused is not None:
        field = f"instant_wins[{refused.win}].count"
        raise Conflict(f"{field}: More winning codes than this prize has left to allocate.", field=field)
    return _to_dict(batch)


def list_batches(brand_id: str, campaign_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of a campaign's batches, oldest first."""
    page_size = parse_limit(limit)
    campaign = load_campaign(brand_id, campaign_id)
    return records.batches_page(campaign.campaign_id, page_size, cursor, _to_dict)


def _market(market: dict | None) -> tuple[str | None, list[str]]:
    if market is None:
        return None, []
    for name in market:
        if name not in ("country", "places"):
            raise InvalidInput(
                f"market.{name}: Not a field of a market; it takes country and places.", field=f"market.{name}"
            )
    if market.get("country") is None:
        raise InvalidInput(
            "market.country: Name the country (or send market: null to clear it).", field="market.country"
        )
    return check_market(market.get("country"), market.get("places"))


def update_batch(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    """Name (or clear, with null) the market a batch was shipped to, before it is activated."""
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    values = validate(BatchPatch, body)
    if "market" not in body:
        raise InvalidInput("market: Send the market to set (or null to clear it).", field="market")
    country, places = _market(values.market)
    batch = load_batch(brand_id, batch_id)
    if batch.status != BatchStatus.INACTIVE:
        raise Conflict("The batch is active: its market is set before activation.", field="market")
    batch_store.save_market(batch, country, places)
    audit.record(brand_id, actor, "batch_market", batch_id, {"market": {"country": country, "places": places}})
    return _to_dict(load_batch(brand_id, batch_id))


def get_batch(brand_id: str, batch_id: str) -> dict:
    """One batch of the brand."""
    return _to_dict(load_batch(brand_id, batch_id))


def change_batch_status(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    """Activate a printed batch or void a lost one; void is final."""
    target = validate(BatchStatusChange, body).status
    batch = load_batch(brand_id, batch_id)
    if check_move(batch.status, target, BATCH_TRANSITIONS, "batch"):
        event = audit.transaction_event(
            brand_id, actor, "batch_status", batch_id, {"status": {"before": batch.status, "after": target}}
        )
        records.save_status_with_event(batch, target, "batch", event)
    return _to_dict(batch)


def find_code(brand_id: str, code_text: str) -> CodeRef:
    """The brand's batch behind a code; forged or mistyped codes fail before any read."""
    parts, code = codes.read_code(code_text, get_keyring())
    batch = batch_by_number(parts.batch_number)
    if batch is None or batch.brand_id != brand_id or parts.serial >= batch.quantity:
        raise CodeInvalid()
    return CodeRef(code=code, serial=parts.serial, batch=batch)


def operator_record(ref: CodeRef, status: str, actor: str) -> CodeState:
    """The record an operator writes for a code nobody claimed yet (void, quarantined): its claim is refused."""
    return CodeState(
        CodeState.key_for(ref.batch.batch_number, ref.serial),
        state=status,
        batch_id=ref.batch.batch_id,
        brand_id=ref.batch.brand_id,
        changed_at=clock.now(),
        changed_by=actor,
    )


def void_code(brand_id: str, code_text: str, actor: str, body: dict) -> dict:
    """Void one code ahead of any scan; voiding twice is a no-op, a claimed code stays claimed."""
    validate(CodeStatusChange, body)
    ref = find_code(brand_id, code_text)
    state = batch_store.void_code(operator_record(ref, CodeStatus.VOID, actor))
    if state.state != CodeStatus.VOID:
        raise Conflict("This code has already been claimed.", field="code")
    return {
        "code": ref.code,
        "batch_id": ref.batch.batch_id,
        "serial": ref.serial,
        "status": CodeStatus.VOID,
        "voided_at": format_instant(state.changed_at),
    }


def code_payload(ref: CodeRef) -> str:
    """What the code's QR symbol encodes: its landing URL, upper case."""
    return codes.code_url(get_settings().public_base_url, ref.code)


def csv_lines(batch: Batch, start: int, stop: int) -> Iterator[str]:
    """`serial,code,url` lines for serials start <= serial < stop, header first."""
    base_url = get_settings().public_base_url
    yield "serial,code,url\n"
    for serial, code in codes.iter_codes(get_keyring(), batch.batch_number, start, stop, key_version=batch.key_version):
        yield f"{serial},{code},{codes.code_url(base_url, code)}\n"


def codes_csv(brand_id: str, batch_id: str, first: str | None, last: str | None) -> tuple[str, str]:
    """A slice of the print file (inclusive serial range) and its file name."""
    batch = load_batch(brand_id, batch_id, consistent=False)
    if batch.status == BatchStatus.VOID:
        raise Conflict("The batch is void; its codes must not be printed.", field="status")
    top = batch.quantity - 1
    start = parse_int_param("from", first, minimum=0, maximum=top, default=0)
    end = parse_int_param("to", last, minimum=0, maximum=top, default=top)
    if start > end:
        raise InvalidInput("from: must not be greater than to.", field="from")
    limit = get_settings().max_csv_rows
    if end - start + 1 > limit:
        raise InvalidInput(
            f"to: at most {limit:,} rows per request; pull slices with from/to or POST /v1/batches/{batch_id}/exports.",
            field="to",
        )
    name = f"{batch.batch_id}-{start}-{end}.csv"
    return "".join(csv_lines(batch, start, end + 1)), name
