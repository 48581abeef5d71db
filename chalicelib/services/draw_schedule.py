"""Scheduling lucky draws: schedule one with a seed commitment, list and read them, give the beacon; a shopper's draws."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from chalicelib.adapters import draw_store, dynamo, limits
from chalicelib.adapters.models import Campaign, Draw, Prize
from chalicelib.adapters.records import drawn_by_line, load_campaign
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain import clock
from chalicelib.domain import draws as algorithm
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.ids import id_pattern, new_id
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.markets import PrizeKind
from chalicelib.domain.phones import seal_text
from chalicelib.domain.schemas import Instant, Label, Schema, SmsLabel, validate
from chalicelib.domain.validation import parse_limit, refuse_fields
from chalicelib.services import audit
from chalicelib.services.draw_runner import SEED_PURPOSE, advance
from chalicelib.views.draws import my_draws, render
from chalicelib.views.reports import deadline as report_deadline

__all__ = [
    "MAX_WINNERS",
    "MAX_ALTERNATES",
    "MAX_DRAWS_PER_CAMPAIGN",
    "create_draw",
    "list_draws",
    "get_draw",
    "post_beacon",
    "shopper_draws",
]

MAX_WINNERS = 1000
MAX_ALTERNATES = 500
"""Alternates a draw may name: one for every other win of the largest draw. The draw item holds them beside
the winners and their SMS state: at the most of both it weighs some 290 KB of DynamoDB's 400 KB, leaving
room for what the winners' claims will add (tests/functional/test_draws.py weighs it)."""
MAX_DRAWS_PER_CAMPAIGN = 10
"""Draws a campaign may have, ever (none is deleted): a monthly draw over a long campaign and a grand
draw fit, while a brand cannot schedule a pile of like draws to publish the one it likes, and every
shopper sees them all on one page."""
MY_DRAWS_PER_MINUTE = 30
"""GET /v1/me/draws a shopper may make a minute: the page reads it once a visit; more is a script."""
MAX_AFTER_CAMPAIGN = timedelta(days=90)
_ID = "drw"
_ADD_ATTEMPTS = 6
_SERVER_OWNED = (
    "draw_id",
    "status",
    "seed",
    "seed_commitment",
    "snapshot_sha256",
    "beacon",
    "algorithm",
    "campaign_id",
    "brand_id",
    "created_at",
    "created_by",
)


class DrawIn(Schema):
    name: SmsLabel  # goes into the winners' SMS, with the prize line's name
    prize_id: Annotated[str, Field(pattern=id_pattern("prz"))]  # the campaign's draw line it awards
    prize: SmsLabel | None = None  # the line's name, when sent: a client of before prize lines
    winners: Annotated[int, Field(ge=1, le=MAX_WINNERS)]
    # Ranked after the winners by the same algorithm, to step in for a win that is forfeited.
    alternates: Annotated[int, Field(ge=0, le=MAX_ALTERNATES)] = 0
    draw_at: Instant
    entries_until: Instant
    one_win_per_participant: bool = True
    # Said in advance: which public value will be mixed in (a lottery's result of a given day).
    beacon_source: Label | None = None


class BeaconIn(Schema):
    value: Annotated[str, Field(min_length=1, max_length=500)]


def get_draw(brand_id: str, draw_id: str) -> dict:
    return render(draw_store.load(brand_id, draw_id))


def list_draws(brand_id: str, campaign_id: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """One page of a campaign's draws, newest first; the first page also says when the market's regulator
    report is due (it reads every draw of the campaign: a bounded few)."""
    campaign = load_campaign(brand_id, campaign_id)
    draws, next_cursor = draw_store.campaign_page(brand_id, campaign_id, parse_limit(limit), cursor)
    answer: dict[str, object] = {"items": [render(d) for d in draws], "next_cursor": next_cursor}
    if cursor is None:
        answer["report"] = report_deadline(campaign)
    return answer


def _grants_entries(campaign: Campaign) -> bool:
    rules = campaign.rules
    if int(rules.entries_per_scan or 0) > 0:
        return True
    overrides = rules.sku_overrides.as_dict() if rules.sku_overrides else {}
    return any(int((own or {}).get("entries_per_scan") or 0) > 0 for own in overrides.values())


def _check_dates(values: DrawIn, campaign: Campaign, now: datetime) -> None:
    if values.draw_at <= now:
        raise InvalidInput("draw_at: Must be in the future.", field="draw_at")
    if values.entries_until <= now:
        # The commitment must come before the entries it draws from, or the seed could be
        # chosen knowing them.
        raise InvalidInput(
            "entries_until: Must be in the future: a draw is scheduled before the entries it draws from.",
            field="entries_until",
        )
    if values.draw_at > campaign.ends_at + MAX_AFTER_CAMPAIGN:
        raise InvalidInput("draw_at: Must be at most 90 days after the campaign's ends_at.", field="draw_at")
    if values.entries_until > values.draw_at:
        raise InvalidInput("entries_until: Must not be after draw_at.", field="entries_until")
    if values.entries_until <= campaign.starts_at:
        raise InvalidInput("entries_until: Must be after the campaign's starts_at.", field="entries_until")


def _draw_line(values: DrawIn, campaign: Campaign) -> Prize:
    """The registered draw line a draw awards, or 400 naming `prize_id` (or `prize`)."""
    line = next((p for p in campaign.prizes or [] if p.prize_id == values.prize_id), None)
    if line is None:
        raise InvalidInput("prize_id: Not a prize line of this campaign.", field="prize_id")
    if line.kind != PrizeKind.DRAW:
        raise InvalidInput("prize_id: This prize line is won instantly by scans, not by draws.", field="prize_id")
    if not line.registration:
        raise InvalidInput(
            "prize_id: This prize line has no registration or permit reference yet; add it to the campaign first.",
            field="prize_id",
        )
    if values.prize is not None and values.prize.casefold() != line.name.casefold():
        raise InvalidInput("prize: Must be the prize line's name, or left out.", field="prize")
    return line


def _count_after(values: DrawIn, campaign: Campaign) -> draw_store.DrawnLine:
    """The draw's line as read, checked: 409 naming `winners` when they would award more than the line holds."""
    line = _draw_line(values, campaign)
    already = drawn_by_line(campaign).get(line.prize_id, 0)
    quantity = int(line.quantity)
    if already + values.winners > quantity:
        raise Conflict(
            f"winners: The prize line holds {quantity} and its draws award {already} already, "
            f"so a draw may award at most {quantity - already}.",
            field="winners",
        )
    index = next(i for i, p in enumerate(campaign.prizes) if p.prize_id == line.prize_id)
    return draw_store.DrawnLine(index, line.prize_id, quantity, values.winners, campaign.drawn is not None)


def create_draw(brand_id: str, campaign_id: str, actor: str, body: dict) -> dict:
    """Schedule a draw of one of a campaign's draw lines, committing now to a secret seed made here."""
    refuse_fields(body, _SERVER_OWNED, "This field is set by the server.")
    values = validate(DrawIn, body)
    campaign = load_campaign(brand_id, campaign_id)
    now = clock.now()
    _check_dates(values, campaign, now)
    if not _grants_entries(campaign):
        raise InvalidInput(
            "campaign_id: This campaign's rules grant no lucky-draw entries (rules.entries_per_scan is 0).",
            field="campaign_id",
        )
    _count_after(values, campaign)
    draw_id = new_id(_ID)
    seed = secrets.token_bytes(32)
    draw = Draw(
        draw_id,
        brand_id=brand_id,
        campaign_id=campaign_id,
        name=values.name,
        prize=_draw_line(values, campaign).name,
        prize_id=values.prize_id,
        winners_wanted=values.winners,
        alternates_wanted=values.alternates,
        draw_at=values.draw_at,
        entries_until=values.entries_until,
        one_win_per_participant=values.one_win_per_participant,
        beacon_source=values.beacon_source,
        algorithm=algorithm.ALGORITHM,
        seed_commitment=algorithm.commitment(seed),
        seed_sealed=seal_text(seed.hex(), get_phone_hash_pepper(), f"{SEED_PURPOSE}:{draw_id}"),
        status=DrawStatus.SCHEDULED,
        created_at=now,
        created_by=actor,
    )
    view = render(draw)
    scheduled = (
        "campaign_id",
        "name",
        "prize",
        "prize_id",
        "winners_wanted",
        "alternates_wanted",
        "draw_at",
        "entries_until",
        "seed_commitment",
    )
    event = audit.transaction_event(brand_id, actor, "draw_scheduled", draw_id, {k: view[k] for k in scheduled})
    due = algorithm.due_at(values.draw_at, values.entries_until)
    for attempt in dynamo.attempts(_ADD_ATTEMPTS, "Many draws of this campaign at once; please try again."):
        if attempt > 1:  # the campaign changed since it was read: read it again and check anew
            campaign = load_campaign(brand_id, campaign_id)
        if draw_store.add(draw, due, MAX_DRAWS_PER_CAMPAIGN, event, campaign, _count_after(values, campaign)):
            return view
    return view  # never reached: attempts raises ServiceBusy after the last try


def post_beacon(brand_id: str, draw_id: str, actor: str, body: dict) -> dict:
    """Record the public beacon value of a frozen draw that announced one, then draw it."""
    value = algorithm.beacon_text(validate(BeaconIn, body).value)
    if not value or any(ord(ch) < 32 for ch in value):
        raise InvalidInput("value: Must be visible text on one line.", field="value")
    draw = draw_store.load(brand_id, draw_id)
    if draw.status in (DrawStatus.SCHEDULED, DrawStatus.FREEZING):
        raise Conflict("value: The beacon is given after the snapshot is published; it is not yet.", field="value")
    if draw.status == DrawStatus.DRAWN:
        raise Conflict("value: This draw has already been run; its beacon can no longer change.", field="value")
    if draw.beacon_source is None:
        raise Conflict("value: This draw announced no beacon when it was scheduled.", field="value")
    if draw.beacon is not None and draw.beacon != value:
        raise Conflict("value: This draw's beacon is already set to another value.", field="value")
    if draw.beacon is None:
        event = audit.transaction_event(brand_id, actor, "draw_beacon", draw_id, {"beacon": value})
        wrote = draw_store.set_beacon(draw_id, value, clock.now(), event)
        draw = draw_store.reload(draw_id)
        if not wrote and draw.beacon != value:
            raise Conflict("value: This draw's beacon is already set to another value.", field="value")
    return render(advance(draw, actor, wait=True))


def shopper_draws(shopper_id: str) -> dict:
    """GET /v1/me/draws: the shopper's draws, at most MY_DRAWS_PER_MINUTE times a minute (429 with Retry-After)."""
    limits.hit(
        "me-draws",
        shopper_id,
        limit=MY_DRAWS_PER_MINUTE,
        window_seconds=60,
        message="Your draws were asked for too often; try again in a minute.",
    )
    return my_draws(shopper_id)
