"""The regulator's papers as read: a campaign's prize lines and draws, each draw's wins, the report's deadline."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters import draw_store, win_store
from chalicelib.adapters.models import Campaign, Draw, DrawWinner
from chalicelib.adapters.records import load_campaign
from chalicelib.domain import clock, markets
from chalicelib.domain import reports as papers
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import DrawStatus
from chalicelib.domain.markets import MarketCode, PrizeKind
from chalicelib.domain.validation import format_instant

__all__ = ["awarded", "results_report", "deadline"]


def awarded(draw: Draw) -> list[papers.AwardedPrize]:
    """Every win of a drawn draw, the winner's details as given: the one source of the papers' per-win facts.

    One per win record, by pick (winners, then the alternates promoted), with its status and the delivery
    details and ID number as the winner gave them, unsealed (the caller masks them below owners). A draw
    drawn before wins were recorded, or whose wins the runner has not made yet, gives its winners as
    drawn, with no details.
    """
    if draw.status != DrawStatus.DRAWN:
        return []
    phones = {(False, int(w.rank)): w.phone_masked or "" for w in draw.winners or []}
    phones.update({(True, int(a.rank)): a.phone_masked or "" for a in draw.alternates or []})
    wins = win_store.of_draw(draw.draw_id)
    if not wins:
        return [_as_drawn(draw, w) for w in draw.winners or []]
    shown = []
    for win in wins:
        delivery, id_number = win_store.given_details(win)
        shown.append(
            papers.AwardedPrize(
                draw_id=draw.draw_id,
                rank=int(win.pick),
                participant_id=win.participant_id,
                status=win.status,
                name=(delivery or {}).get("name"),
                address=(delivery or {}).get("address"),
                id_number=id_number,
                phone_masked=phones.get((bool(win.alternate), int(win.rank)), ""),
            )
        )
    return shown


def _as_drawn(draw: Draw, winner: DrawWinner) -> papers.AwardedPrize:
    return papers.AwardedPrize(
        draw_id=draw.draw_id,
        rank=int(winner.rank),
        participant_id=winner.participant_id,
        status=DrawStatus.DRAWN,
        name=None,
        address=None,
        id_number=None,
        phone_masked=winner.phone_masked or "",
    )


def _lines(campaign: Campaign) -> list[papers.Line]:
    return [
        papers.Line(
            prize_id=p.prize_id,
            name=p.name,
            kind=p.kind or PrizeKind.INSTANT,
            quantity=int(p.quantity),
            unit_value=int(p.unit_value) if p.unit_value is not None else None,
            currency=p.currency,
            registration=p.registration,
            claim_days=int(p.claim_days) if p.claim_days is not None else None,
        )
        for p in campaign.prizes or []
    ]


def _facts(draw: Draw, wins: Sequence[papers.AwardedPrize]) -> papers.DrawFacts:
    drawn = draw.status == DrawStatus.DRAWN
    return papers.DrawFacts(
        draw_id=draw.draw_id,
        name=draw.name,
        prize=draw.prize,
        prize_id=draw.prize_id,
        draw_at=draw.draw_at,
        drawn_at=draw.drawn_at if drawn else None,
        set_aside=bool(draw.blocked_at) and draw.status == DrawStatus.SCHEDULED,
        slots=len(draw.winners or []) if drawn else 0,
        wins=tuple(wins),
    )


def _market(campaign: Campaign) -> MarketCode:
    if not campaign.market:
        raise Conflict(
            "market: The campaign names no market, so no regulator's report applies; register its market and "
            "prize lines (docs/winners.md).",
            field="market",
        )
    return MarketCode(campaign.market)


def results_report(brand_id: str, campaign_id: str, *, clear: bool) -> papers.Report:
    """The campaign's paper for its market, winners' details in clear or masked.

    A bounded number of reads whatever the participants: the campaign, its draw list and its draws
    (one BatchGet per 100); the participants and the snapshot are never read.
    """
    campaign = load_campaign(brand_id, campaign_id)
    market = _market(campaign)
    lines = _lines(campaign)
    draws = sorted(draw_store.of_campaigns([campaign_id]), key=lambda d: (d.draw_at, d.draw_id))
    facts = []
    for draw in draws:
        wins = awarded(draw)
        facts.append(_facts(draw, wins if clear else [papers.masked(w) for w in wins]))
    return papers.Report(
        kind=papers.KIND_OF_MARKET[market],
        market=market,
        campaign_id=campaign_id,
        promotion=campaign.name,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        timezone=campaign.timezone,
        registrations=tuple(dict.fromkeys(line.registration for line in lines if line.registration)),
        lines=tuple(lines),
        outcomes=tuple(papers.outcomes(market, lines, facts)),
        draws=tuple(facts),
        award_deadline=papers.award_deadline(market, lines, facts),
        due_at=papers.report_due(market, lines, facts),
        unawarded_rule=next(r.says for r in markets.market(market).rules if r.name == "unawarded_state_share_bp"),
        generated_at=clock.now(),
    )


def deadline(campaign: Campaign) -> dict | None:
    """The campaign's paper and when it is due, for the dashboard (None for a campaign with no market)."""
    if not campaign.market:
        return None
    market = MarketCode(campaign.market)
    lines = _lines(campaign)
    facts = [_facts(d, ()) for d in draw_store.of_campaigns([campaign.campaign_id])]
    award = papers.award_deadline(market, lines, facts)
    due = papers.report_due(market, lines, facts)
    return {
        "kind": papers.KIND_OF_MARKET[market],
        "market": market,
        "award_deadline": format_instant(award) if award else None,
        "due_at": format_instant(due) if due else None,
    }
