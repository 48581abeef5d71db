"""What one claim adds to the statistics counters: local hours and days, bins, cohorts, new and returning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.adapters.models import CodeState
from chalicelib.domain import statistics
from chalicelib.services import stats_aggregator

UTC = UTC


def _claim(
    at: datetime,
    *,
    nth: int = 1,
    prev: datetime | None = None,
    first: datetime | None = None,
    active_days: int = 1,
    tz: str = "Asia/Ho_Chi_Minh",
    points: int = 10,
) -> CodeState:
    return CodeState(
        "7:1",
        state="claimed",
        batch_id="bat_1",
        brand_id="b",
        changed_at=at,
        changed_by="s",
        shopper_id="shp_1",
        campaign_id="cmp_1",
        points=points,
        entries=1,
        timezone=tz,
        nth=nth,
        active_days=active_days,
        first_claim_at=first or at,
        prev_claim_at=prev,
    )


def test_a_first_claim_counts_a_new_participant_in_its_local_day_and_hour():
    at = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # 01:30 on the 24th in Ho Chi Minh City
    counts = statistics.claim_increments(_claim(at))
    assert counts["total"] == {
        "granted": 1,
        "points": 10,
        "entries": 1,
        "b#bat_1": 1,
        "participants": 1,
        "hist#1": 1,
        "coh#2026-11-23#0": 1,
    }
    assert counts["day#2026-11-24"] == {
        "granted": 1,
        "points": 10,
        "granted@01": 1,
        "points@01": 10,
        "new": 1,
        "new@01": 1,
    }


def test_a_claim_on_a_later_day_returns_once_and_moves_bins():
    first = datetime(2026, 11, 20, 3, tzinfo=UTC)
    at = datetime(2026, 11, 23, 3, tzinfo=UTC)
    counts = statistics.claim_increments(_claim(at, nth=2, prev=first, first=first, active_days=2))
    assert counts["total"]["returning"] == 1
    assert (counts["total"]["hist#2"], counts["total"]["hist#1"]) == (1, -1)
    assert counts["day#2026-11-23"]["returning"] == 1 and counts["day#2026-11-23"]["returning@10"] == 1
    # Same day again: no longer new, not returning again, 6-10 bin entered at the 6th claim.
    again = statistics.claim_increments(_claim(at + timedelta(minutes=5), nth=6, prev=at, first=first, active_days=2))
    assert "returning" not in again["total"] and "returning" not in again["day#2026-11-23"]
    assert (again["total"]["hist#6-10"], again["total"]["hist#5"]) == (1, -1)
    seventh = statistics.claim_increments(_claim(at + timedelta(minutes=9), nth=7, prev=at, first=first, active_days=2))
    assert not [k for k in seventh["total"] if k.startswith("hist#")], "inside one bin the histogram stays"


def test_cohort_cells_count_a_participant_once_per_week_after_their_first():
    first = datetime(2026, 11, 2, 3, tzinfo=UTC)  # a Monday: cohort 2026-11-02
    later = datetime(2026, 11, 17, 3, tzinfo=UTC)  # two weeks on
    counts = statistics.claim_increments(_claim(later, nth=2, prev=first, first=first, active_days=2))
    assert counts["total"]["coh#2026-11-02#2"] == 1
    same_week = statistics.claim_increments(
        _claim(later + timedelta(days=1), nth=3, prev=later, first=first, active_days=3)
    )
    assert not [k for k in same_week["total"] if k.startswith("coh#")]


def test_a_25_hour_day_keeps_its_repeated_hour_apart():
    tz = "America/New_York"  # clocks go back at 02:00 on 2026-11-01
    first_one_am = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second_one_am = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    hours = [
        next(k for k in statistics.claim_increments(_claim(t, tz=tz))["day#2026-11-01"] if k.startswith("granted@"))
        for t in (first_one_am, second_one_am)
    ]
    assert hours == ["granted@01", "granted@02"]
    last = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # 23:30 EST, the day's 25th hour
    assert "granted@24" in statistics.claim_increments(_claim(last, tz=tz))["day#2026-11-01"]


def test_zones_with_a_quarter_hour_offset_bucket_by_local_hours():
    at = datetime(2026, 11, 23, 0, 20, tzinfo=UTC)  # 06:05 in Kathmandu (+05:45)
    counts = statistics.claim_increments(_claim(at, tz="Asia/Kathmandu"))
    assert "granted@06" in counts["day#2026-11-23"]
    start = statistics.midnight(datetime(2026, 11, 23).date(), ZoneInfo("Asia/Kathmandu")) + timedelta(hours=6)
    assert start.astimezone(ZoneInfo("Asia/Kathmandu")).isoformat() == "2026-11-23T06:00:00+05:45"


def test_claims_group_into_transactions_of_at_most_one_hundred_items():
    base = datetime(2026, 11, 1, tzinfo=UTC)
    claims = [_claim(base + timedelta(hours=7 * i)) for i in range(400)]
    for i, claim in enumerate(claims):
        claim.code_key = f"7:{i}"
    groups = list(stats_aggregator.transaction_groups(claims))
    assert sum(len(g) for g in groups) == 400
    for group in groups:
        assert len(group) + len(stats_aggregator.counters_of(group)) <= 100
