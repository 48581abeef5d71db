"""The regulator's papers as data: which report a market files, when it is due, and each prize's outcome (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain import markets
from chalicelib.domain.lifecycle import DrawStatus, WinStatus
from chalicelib.domain.markets import MarketCode, PrizeKind

__all__ = [
    "ReportKind",
    "KIND_OF_MARKET",
    "AwardedPrize",
    "Line",
    "DrawFacts",
    "Outcome",
    "Report",
    "AWARDED",
    "PENDING",
    "award_deadline",
    "report_due",
    "outcomes",
    "masked",
    "major_units",
]


class ReportKind(StrEnum):
    """The paper a campaign's market asks for."""

    VN_RESULTS = "vn_results"  # Vietnam: the results report to the authority that registered the promotion
    PH_WINNERS = "ph_winners"  # the Philippines: the winners list to the DTI (FDA for food, drugs, cosmetics)


KIND_OF_MARKET = {MarketCode.VN: ReportKind.VN_RESULTS, MarketCode.PH: ReportKind.PH_WINNERS}

# A win counts as awarded once it stands: drawn (no claim recorded yet) or taken up by the winner.
AWARDED = frozenset({DrawStatus.DRAWN, WinStatus.ACCEPTED, WinStatus.VERIFIED, WinStatus.SHIPPED, WinStatus.DELIVERED})
# Offered and not yet answered: neither awarded nor given up while its claim window runs.
PENDING = frozenset({WinStatus.OFFERED})


@dataclass(frozen=True)
class AwardedPrize:
    """One win of a draw as the papers show it: the winner's details as given (None until claimed)."""

    draw_id: str
    rank: int
    participant_id: str
    status: str  # a WinStatus, or DrawStatus.DRAWN for a win with no claim
    name: str | None
    address: str | None
    id_number: str | None
    phone_masked: str


@dataclass(frozen=True)
class Line:
    """A registered prize line, as the report needs it."""

    prize_id: str
    name: str
    kind: str  # a PrizeKind
    quantity: int
    unit_value: int | None  # minor units
    currency: str | None
    registration: str | None
    claim_days: int | None


@dataclass(frozen=True)
class DrawFacts:
    """A draw of the campaign: which line it awards, when, and its wins' slots (the winners drawn)."""

    draw_id: str
    name: str
    prize: str  # the line's name when scheduled
    prize_id: str | None
    draw_at: datetime
    drawn_at: datetime | None
    set_aside: bool
    slots: int
    wins: tuple[AwardedPrize, ...]


@dataclass(frozen=True)
class Outcome:
    """What became of one prize line: awarded, pending, not claimed, never drawn; their value and the rule."""

    line: Line
    awarded: int
    pending: int
    not_claimed: int
    not_drawn: int
    value_not_awarded: int  # minor units: the announced value of the prizes not awarded
    state_share: int  # minor units: the part of it the market's rule pays to the state


@dataclass(frozen=True)
class Report:
    """One campaign's paper for its market's regulator."""

    kind: ReportKind
    market: MarketCode
    campaign_id: str
    promotion: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    registrations: tuple[str, ...]
    lines: tuple[Line, ...]  # the prize structure as registered, every line
    outcomes: tuple[Outcome, ...]
    draws: tuple[DrawFacts, ...]
    award_deadline: datetime | None
    due_at: datetime | None
    unawarded_rule: str
    generated_at: datetime


def award_deadline(market: MarketCode, lines: Sequence[Line], draws: Sequence[DrawFacts]) -> datetime | None:
    """The prize-award deadline: the latest of each draw's time plus its line's claim window (the market's
    default for a draw with no line); draws set aside award nothing. None before any draw is scheduled."""
    days = {line.prize_id: line.claim_days for line in lines}
    default = markets.claim_days_bounds(market)[1]
    ends = [d.draw_at + timedelta(days=days.get(d.prize_id or "") or default) for d in draws if not d.set_aside]
    return max(ends, default=None)


def report_due(market: MarketCode, lines: Sequence[Line], draws: Sequence[DrawFacts]) -> datetime | None:
    """When the market's paper is due, from its row `report_deadline_from` plus `report_deadline_days`:
    VN counts from the prize-award deadline; PH from when the winners are determined (the latest draw's
    winners, or its time while not yet drawn)."""
    rules = markets.market(market)
    start: datetime | None
    if rules.value("report_deadline_from") == "prize_award_deadline":
        start = award_deadline(market, lines, draws)
    else:
        start = max((d.drawn_at or d.draw_at for d in draws if not d.set_aside), default=None)
    return start + timedelta(days=rules.number("report_deadline_days")) if start else None


def outcomes(market: MarketCode, lines: Sequence[Line], draws: Sequence[DrawFacts]) -> list[Outcome]:
    """Each draw line's outcome: of its quantity, the wins awarded or pending, the drawn prizes not claimed
    (given up with no alternate left), those never drawn, their announced value and the state's share."""
    share_bp = markets.market(market).number("unawarded_state_share_bp")
    result = []
    for line in lines:
        if line.kind != PrizeKind.DRAW:
            continue
        mine = [d for d in draws if d.prize_id == line.prize_id]
        wins = [w for d in mine for w in d.wins]
        awarded = sum(w.status in AWARDED for w in wins)
        pending = sum(w.status in PENDING for w in wins)
        slots = sum(d.slots for d in mine)
        not_claimed = max(0, slots - awarded - pending)
        not_drawn = max(0, line.quantity - slots)
        value = (not_claimed + not_drawn) * (line.unit_value or 0)
        # Rounded half up to the minor unit, as the tax is (markets.tax_on).
        result.append(
            Outcome(line, awarded, pending, not_claimed, not_drawn, value, (value * share_bp + 5_000) // 10_000)
        )
    return result


def masked(win: AwardedPrize) -> AwardedPrize:
    """A win as a manager sees it: the name's initial, no address, the ID number's last two characters."""
    return replace(
        win,
        name=win.name[:1] + "•••" if win.name else win.name,
        address="•••" if win.address else win.address,
        id_number="•••" + win.id_number[-2:] if win.id_number else win.id_number,
    )


def major_units(market: MarketCode, minor: int) -> str:
    """An amount in the currency's major units, plain for a spreadsheet: `40000000` (VND), `50000.00` (PHP)."""
    exponent = markets.market(market).exponent
    whole, part = divmod(minor, 10**exponent)
    return f"{whole}.{part:0{exponent}d}" if exponent else str(whole)
