"""The regulator's papers as data: each line's outcome, the state's share, and when each market's paper is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import reports as papers
from chalicelib.domain.lifecycle import DrawStatus, WinStatus
from chalicelib.domain.markets import MarketCode, PrizeKind

T = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)


def _line(quantity: int, value: int, days: int | None = 30, prize_id: str = "prz_A") -> papers.Line:
    return papers.Line(prize_id, "Xe máy", PrizeKind.DRAW, quantity, value, "VND", "1234/SCT", days)


def _draw(statuses: list[str], at: datetime = T, **changes) -> papers.DrawFacts:
    wins = tuple(
        papers.AwardedPrize("drw_1", rank, f"mbr_{rank}", status, None, None, None, "")
        for rank, status in enumerate(statuses, 1)
    )
    values = dict(
        draw_id="drw_1",
        name="Đợt 1",
        prize="Xe máy",
        prize_id="prz_A",
        draw_at=at,
        drawn_at=None,
        set_aside=False,
        slots=len(statuses),
        wins=wins,
    )
    return papers.DrawFacts(**{**values, **changes})


def test_each_winner_slot_counts_once_awarded_pending_or_not_claimed():
    # Claims' statuses: an accepted and a delivered win stand, an offered one waits, a forfeited one with no
    # alternate left is not claimed; a forfeited win whose alternate was promoted and accepted is awarded.
    statuses = [WinStatus.ACCEPTED, WinStatus.DELIVERED, WinStatus.OFFERED, WinStatus.FORFEITED, DrawStatus.DRAWN]
    (outcome,) = papers.outcomes(MarketCode.VN, [_line(10, 15_000_001)], [_draw(statuses)])
    assert (outcome.awarded, outcome.pending, outcome.not_claimed, outcome.not_drawn) == (3, 1, 1, 5)
    # Six prizes not awarded at VND 15,000,001: half of 90,000,006 to the state budget.
    assert (outcome.value_not_awarded, outcome.state_share) == (90_000_006, 45_000_003)
    promoted = [*statuses, WinStatus.ACCEPTED]  # an alternate took the forfeited win: same five slots
    (outcome,) = papers.outcomes(MarketCode.VN, [_line(10, 1)], [_draw(promoted, slots=5)])
    assert (outcome.awarded, outcome.not_claimed) == (4, 0)


def test_the_share_is_rounded_half_up_and_the_philippines_pays_none():
    (vn,) = papers.outcomes(MarketCode.VN, [_line(1, 3)], [])
    assert (vn.value_not_awarded, vn.state_share) == (3, 2)
    (ph,) = papers.outcomes(MarketCode.PH, [_line(1, 5_000_000)], [])
    assert (ph.value_not_awarded, ph.state_share) == (5_000_000, 0)


def test_vietnam_s_report_is_due_45_days_after_the_last_draw_s_claim_window():
    lines = [_line(5, 1, 20), _line(5, 1, None, "prz_B")]
    draws = [
        _draw([], T),
        _draw([], T + timedelta(days=5), prize_id="prz_B"),
        _draw([], T + timedelta(days=90), set_aside=True),
    ]
    # prz_B has no window of its own: the market's default, 30 days, from the later draw.
    award = T + timedelta(days=35)
    assert papers.award_deadline(MarketCode.VN, lines, draws) == award
    assert papers.report_due(MarketCode.VN, lines, draws) == award + timedelta(days=45)
    assert papers.report_due(MarketCode.VN, lines, []) is None


def test_the_philippines_list_is_due_when_the_winners_are_determined():
    drawn = _draw([], T, drawn_at=T + timedelta(minutes=3))
    waiting = _draw([], T - timedelta(days=1))
    assert papers.report_due(MarketCode.PH, [_line(1, 1, 60)], [drawn, waiting]) == T + timedelta(minutes=3)


def test_a_manager_sees_too_little_to_reach_the_winner():
    win = papers.AwardedPrize("drw_1", 1, "mbr_1", WinStatus.ACCEPTED, "Nguyễn Ánh", "12 Lê Lợi", "079123456789", "")
    shown = papers.masked(win)
    assert (shown.name, shown.address, shown.id_number) == ("N•••", "•••", "•••89")
    assert papers.masked(papers.AwardedPrize("d", 1, "m", DrawStatus.DRAWN, None, None, None, "")).name is None
