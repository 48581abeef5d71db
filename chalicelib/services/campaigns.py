"""Campaign setup: create, list, read, change and move through the lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from chalicelib.adapters import records
from chalicelib.adapters.models import Campaign, Prize, Rules
from chalicelib.adapters.records import create, drawn_by_line, load_campaign, save_status
from chalicelib.domain import clock, markets
from chalicelib.domain.errors import Conflict, InvalidInput, InvalidTransition
from chalicelib.domain.ids import id_pattern, new_id
from chalicelib.domain.lifecycle import CAMPAIGN_TRANSITIONS, CampaignStatus, check_move
from chalicelib.domain.markets import MarketCode, PrizeKind
from chalicelib.domain.promises import refuse_taking_back
from chalicelib.domain.schemas import Instant, Label, Schema, Sku, TimeZoneName, check_sms_safe, validate
from chalicelib.domain.validation import format_instant, parse_limit, refuse_fields
from chalicelib.services import audit

__all__ = [
    "create_campaign",
    "list_campaigns",
    "get_campaign",
    "update_campaign",
    "change_campaign_status",
]

_MAX_DURATION = timedelta(days=3 * 366)
_MAX_PRIZES = 50
_MAX_UNIT_VALUE = 10**15  # minor units: VND 10^15 or PHP 10^13, beyond any prize
_MAX_CLAIM_DAYS = 3660  # the schema's bound; each market's table sets the real one
_SERVER_OWNED = (
    "campaign_id",
    "id",
    "brand",
    "brand_id",
    "status",
    "created_at",
    "updated_at",
    "created_by",
    "version",
    "counters",
    "stats",
)


class SkuRulesIn(Schema):
    points_per_scan: Annotated[int, Field(ge=0, le=1_000_000)]
    entries_per_scan: Annotated[int, Field(ge=0, le=1_000)] = 0


class RulesIn(Schema):
    points_per_scan: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    entries_per_scan: Annotated[int, Field(ge=0, le=1_000)] = 0
    max_claims_per_participant_per_day: Annotated[int, Field(ge=1, le=10000)] | None = None
    max_claims_per_participant: Annotated[int, Field(ge=1, le=1000000)] | None = None
    budget_points: Annotated[int, Field(ge=1, le=1000000000000)] | None = None
    # What a pack of one SKU earns instead of the campaign's points and entries.
    sku_overrides: Annotated[dict[Sku, SkuRulesIn], Field(max_length=500)] | None = None


class PrizeIn(Schema):
    name: Label
    quantity: Annotated[int, Field(ge=1, le=10_000_000)]
    # Set: won per scan at these odds while stock lasts. Unset: won by secret codes
    # allocated to batches at minting, in exact counts.
    odds_per_million: Annotated[int, Field(ge=1, le=1000000)] | None = None
    kind: Literal[PrizeKind.INSTANT, PrizeKind.DRAW] = PrizeKind.INSTANT
    # The announced value of one prize, in the market's minor units (dong; centavos).
    unit_value: Annotated[int, Field(ge=1, le=_MAX_UNIT_VALUE)] | None = None
    currency: Literal["VND", "PHP"] | None = None
    registration: Label | None = None  # the registration or permit reference
    claim_days: Annotated[int, Field(ge=1, le=_MAX_CLAIM_DAYS)] | None = None


class PrizeChange(PrizeIn):
    prize_id: Annotated[str, Field(pattern=id_pattern("prz"))] | None = None


def _unique_prize_names(prizes: Sequence[PrizeIn] | Sequence[PrizeChange] | None) -> None:
    seen = set()
    for index, prize in enumerate(prizes or ()):
        key = prize.name.casefold()
        if key in seen:
            raise InvalidInput(f"prizes[{index}].name: Prize names must be unique.", field=f"prizes[{index}].name")
        seen.add(key)


class CampaignIn(Schema):
    name: Label
    starts_at: Instant
    ends_at: Instant
    timezone: TimeZoneName
    market: Literal[MarketCode.VN, MarketCode.PH] | None = None
    rules: RulesIn = RulesIn()
    prizes: Annotated[list[PrizeIn], Field(max_length=_MAX_PRIZES)] = []

    @model_validator(mode="after")
    def _check(self) -> CampaignIn:
        _check_window(self.starts_at, self.ends_at)
        _unique_prize_names(self.prizes)
        _check_lines(self.market, self.prizes)
        return self


class CampaignChange(Schema):
    name: Label | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    timezone: TimeZoneName | None = None
    market: Literal[MarketCode.VN, MarketCode.PH] | None = None
    rules: dict | None = None
    prizes: Annotated[list[PrizeChange], Field(max_length=_MAX_PRIZES)] | None = None


class StatusChange(Schema):
    status: Literal[CampaignStatus.ACTIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED]


def _check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInput("ends_at: Must be after starts_at.", field="ends_at")
    if ends_at - starts_at > _MAX_DURATION:
        raise InvalidInput("ends_at: A campaign may run for at most 3 years.", field="ends_at")


def _check_lines(market: str | None, lines: Sequence[PrizeIn]) -> None:
    """Refuse (400 naming the field) a prize line the campaign's market does not allow."""
    for index, line in enumerate(lines):
        at = f"prizes[{index}]"
        if line.kind == PrizeKind.DRAW:
            _check_draw_line(line, at)
        if market is None:
            if line.kind == PrizeKind.DRAW or _valued(line):
                raise InvalidInput(
                    "market: Name the campaign's market (VN or PH) to register prize values, currencies and "
                    "claim windows.",
                    field="market",
                )
            continue
        rules = markets.market(market)
        if line.currency is not None and line.currency != rules.currency:
            raise InvalidInput(
                f"{at}.currency: Must be {rules.currency}, the currency of the campaign's market ({market}).",
                field=f"{at}.currency",
            )
        least, _, most = markets.claim_days_bounds(market)
        if line.claim_days is not None and not least <= line.claim_days <= most:
            raise InvalidInput(
                f"{at}.claim_days: Must be from {least} to {most} days in {market} (docs/winners.md).",
                field=f"{at}.claim_days",
            )


def _valued(line: PrizeIn) -> bool:
    return line.unit_value is not None or line.currency is not None or line.claim_days is not None


def _check_draw_line(line: PrizeIn, at: str) -> None:
    if line.odds_per_million is not None:
        raise InvalidInput(
            f"{at}.odds_per_million: A draw line is won by its draws, not by odds per scan.",
            field=f"{at}.odds_per_million",
        )
    if line.unit_value is None:
        raise InvalidInput(
            f"{at}.unit_value: A draw line announces the value of one prize, in the market's minor units.",
            field=f"{at}.unit_value",
        )
    try:
        check_sms_safe(line.name)
    except ValueError as exc:
        raise InvalidInput(f"{at}.name: {str(exc).capitalize()}.", field=f"{at}.name") from None


def _prize(line: PrizeIn, prize_id: str, market: str | None) -> Prize:
    """A line as stored: in a campaign with a market, in its currency and with a claim window."""
    return Prize(
        prize_id=prize_id,
        name=line.name,
        quantity=line.quantity,
        odds_per_million=line.odds_per_million,
        kind=line.kind,
        unit_value=line.unit_value,
        currency=markets.market(market).currency if market else None,
        registration=line.registration,
        claim_days=(line.claim_days or markets.claim_days_bounds(market)[1]) if market else None,
    )


def _line_out(prize: Prize, market: str | None, drawn: dict[str, int]) -> dict:
    value = int(prize.unit_value) if prize.unit_value is not None else None
    tax = None
    if market and value is not None:
        taxable, withheld = markets.tax_on(market, value)
        tax = {"taxable": taxable, "withheld": withheld}
    return {
        "prize_id": prize.prize_id,
        "kind": prize.kind or PrizeKind.INSTANT,
        "name": prize.name,
        "quantity": prize.quantity,
        "odds_per_million": prize.odds_per_million,
        "unit_value": value,
        "currency": prize.currency,
        "registration": prize.registration,
        "claim_days": int(prize.claim_days) if prize.claim_days is not None else None,
        "drawn": drawn.get(prize.prize_id, 0),
        "tax": tax,
    }


def _to_dict(campaign: Campaign) -> dict:
    rules = campaign.rules
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "status": campaign.status,
        "starts_at": format_instant(campaign.starts_at),
        "ends_at": format_instant(campaign.ends_at),
        "timezone": campaign.timezone,
        "market": campaign.market,
        "rules": _rules_out(rules),
        "prizes": [_line_out(p, campaign.market, drawn_by_line(campaign)) for p in campaign.prizes or []],
        "created_at": format_instant(campaign.created_at),
        "updated_at": format_instant(campaign.updated_at),
        "version": campaign.version,
    }


def _rules_out(rules: Rules) -> dict:
    out = {name: getattr(rules, name) for name in RulesIn.model_fields}
    overrides = out["sku_overrides"]
    out["sku_overrides"] = (
        {sku: {k: int(v) for k, v in own.items()} for sku, own in overrides.as_dict().items()} if overrides else None
    )
    return out


def _rules(values: RulesIn) -> Rules:
    return Rules(**values.model_dump())


def create_campaign(brand_id: str, actor: str, body: dict) -> dict:
    """Create a draft campaign for `brand_id` from a request body."""
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    values = validate(CampaignIn, body)
    now = clock.now()
    campaign = Campaign(
        brand_id,
        new_id("cmp"),
        name=values.name,
        status=CampaignStatus.DRAFT,
        starts_at=values.starts_at,
        ends_at=values.ends_at,
        timezone=values.timezone,
        market=values.market,
        rules=_rules(values.rules),
        prizes=[_prize(p, new_id("prz"), values.market) for p in values.prizes],
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    create(campaign, Campaign.campaign_id, "campaign")
    return _to_dict(campaign)


def list_campaigns(brand_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of the brand's campaigns, newest first, with a cursor for the next page."""
    return records.campaigns_page(brand_id, parse_limit(limit), cursor, _to_dict)


def get_campaign(brand_id: str, campaign_id: str) -> dict:
    """One campaign of the brand."""
    return _to_dict(load_campaign(brand_id, campaign_id))


def _merged_rules(current: Rules, changes: dict) -> RulesIn:
    # JSON merge-patch semantics: fields sent replace, null clears an optional cap.
    merged = _rules_out(current)
    merged.update(changes)
    try:
        return validate(RulesIn, merged)
    except InvalidInput as exc:
        field = f"rules.{exc.field}"
        raise InvalidInput(exc.message.replace(exc.field or "", field, 1), field=field) from None


def _merged_prizes(current: list[Prize], changes: list[PrizeChange], market: str | None) -> list[Prize]:
    known = {p.prize_id for p in current or []}
    prizes = []
    for index, change in enumerate(changes):
        if change.prize_id is not None and change.prize_id not in known:
            field = f"prizes[{index}].prize_id"
            raise InvalidInput(f"{field}: Not a prize of this campaign.", field=field)
        prizes.append(_prize(change, change.prize_id or new_id("prz"), market))
    _unique_prize_names(changes)
    _check_lines(market, changes)
    return prizes


def _market_of(campaign: Campaign, changes: CampaignChange) -> str | None:
    """The campaign's market after a change: it may change only while a draft, with its prize lines."""
    market = changes.market or campaign.market
    if market == campaign.market:
        return market
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict("market: The market is fixed once a campaign has left draft.", field="market")
    if changes.prizes is None and any(p.currency or p.claim_days for p in campaign.prizes or []):
        raise InvalidInput(
            "prizes: Send the prize lines with the new market: their currency and claim windows are the market's.",
            field="prizes",
        )
    return market


def _refuse_below_drawn(drawn: dict[str, int], prizes: list[Prize]) -> None:
    """Refuse (409 naming the field) a change that would leave a line holding less than its draws award."""
    lines = {p.prize_id: (index, p) for index, p in enumerate(prizes)}
    for prize_id, count in drawn.items():
        if count <= 0:
            continue
        if prize_id not in lines:
            raise Conflict("prizes: A prize line that draws award cannot be removed.", field="prizes")
        index, line = lines[prize_id]
        if line.kind != PrizeKind.DRAW:
            field = f"prizes[{index}].kind"
            raise Conflict(f"{field}: This line's draws award {count}; it stays a draw line.", field=field)
        if int(line.quantity) < count:
            field = f"prizes[{index}].quantity"
            raise Conflict(
                f"{field}: This line's draws award {count} already; it cannot hold fewer.",
                field=field,
            )


def _change_of(body: dict) -> CampaignChange:
    """A change's fields, checked: none the server owns or the status route changes, none null, at least one."""
    refuse_fields(body, ("status",), "Change the status with POST /v1/campaigns/{campaign_id}/status.")
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    for name in ("name", "starts_at", "ends_at", "timezone", "market", "rules", "prizes"):
        if name in body and body[name] is None:
            raise InvalidInput(f"{name}: Must not be null.", field=name)
    changes = validate(CampaignChange, body)
    if not body:
        raise InvalidInput("body: Send at least one field to change.", field="body")
    return changes


def update_campaign(brand_id: str, campaign_id: str, actor: str, body: dict) -> dict:
    """Change name, window, time zone, rules or prizes of a campaign that has not ended."""
    changes = _change_of(body)
    campaign = load_campaign(brand_id, campaign_id)
    if campaign.status == CampaignStatus.ENDED:
        raise Conflict("An ended campaign can no longer be changed.", field="status")
    rules = _merged_rules(campaign.rules, changes.rules) if changes.rules is not None else None
    if (
        rules is not None
        and rules.budget_points != campaign.rules.budget_points
        and campaign.status != CampaignStatus.DRAFT
    ):
        # The budget is split into shards by its size at the first scan; moving it later
        # could strand or double-count spend, so it is fixed once the campaign has run.
        raise Conflict(
            "rules.budget_points: The budget can only change while the campaign is a draft.",
            field="rules.budget_points",
        )
    market = _market_of(campaign, changes)
    prizes = _merged_prizes(campaign.prizes, changes.prizes, market) if changes.prizes is not None else None
    if prizes is not None:
        _refuse_below_drawn(drawn_by_line(campaign), prizes)
    starts_at = changes.starts_at or campaign.starts_at
    ends_at = changes.ends_at or campaign.ends_at
    _check_window(starts_at, ends_at)
    refuse_taking_back(
        campaign.status,
        timezone=(campaign.timezone, changes.timezone or campaign.timezone),
        starts_at=(campaign.starts_at, starts_at),
        prizes=(_quantities(campaign.prizes), _quantities(prizes if prizes is not None else campaign.prizes)),
        now=clock.now(),
    )
    before = _to_dict(campaign)
    campaign.starts_at, campaign.ends_at = starts_at, ends_at
    campaign.name = changes.name if changes.name is not None else campaign.name
    campaign.timezone = changes.timezone or campaign.timezone
    campaign.market = market
    campaign.rules = _rules(rules) if rules is not None else campaign.rules
    campaign.prizes = prizes if prizes is not None else campaign.prizes
    campaign.updated_at = clock.now()
    _save_versioned(campaign)
    after = _to_dict(campaign)
    if campaign.status != CampaignStatus.DRAFT:
        audit.record(brand_id, actor, "campaign_changed", campaign_id, audit.changes(before, after))
    return after


def _quantities(prizes: list[Prize] | None) -> dict[str, int]:
    return {p.prize_id: int(p.quantity) for p in prizes or []}


def _save_versioned(campaign: Campaign) -> None:
    # The version attribute makes the save conditional: a concurrent change wins and we say so.
    if not records.save_campaign(campaign):
        raise Conflict("The campaign was changed by someone else; read it again and retry.")


def change_campaign_status(brand_id: str, campaign_id: str, actor: str, body: dict) -> dict:
    """Move a campaign along its lifecycle, refusing transitions it does not allow."""
    target = validate(StatusChange, body).status
    campaign = load_campaign(brand_id, campaign_id)

    if check_move(campaign.status, target, CAMPAIGN_TRANSITIONS, "campaign"):
        if target == CampaignStatus.ACTIVE and campaign.ends_at <= clock.now():
            raise InvalidTransition("status: The campaign's ends_at has passed; extend it first.", field="status")
        before = campaign.status
        save_status(campaign, target, "campaign")
        audit.record(brand_id, actor, "campaign_status", campaign_id, {"status": {"before": before, "after": target}})
    return _to_dict(campaign)
