"""Claim rules as pure functions: no store, no AWS, plain values in and decisions out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import claims
from chalicelib.domain.claims import Cancel, Refusal
from chalicelib.domain.errors import (
    AlreadyClaimed,
    CampaignNotRunning,
    CodeInvalid,
    CodeNotActive,
    LimitReached,
    ServiceBusy,
)

NOW = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City
START, END = NOW - timedelta(days=10), NOW + timedelta(days=10)
HCM = "Asia/Ho_Chi_Minh"


@dataclass
class SoFar:
    """A participant as the claim reads it (what the Participant record carries)."""

    claims: int | None = None
    active_days: int | None = None
    first_claim_at: datetime | None = None
    last_claim_at: datetime | None = None


@dataclass
class Rules:
    points_per_scan: int | None = 10
    entries_per_scan: int | None = 1


@pytest.mark.parametrize(
    ("batch", "campaign", "at", "expected"),
    [
        ("active", "active", NOW, None),
        ("void", "active", NOW, Refusal.INVALID),
        ("void", "ended", NOW, Refusal.INVALID),  # a void batch looks like any invalid code
        ("inactive", "active", NOW, Refusal.NOT_ACTIVE),
        ("inactive", "paused", NOW, Refusal.NOT_ACTIVE),  # the batch is checked before the campaign
        ("active", "paused", NOW, Refusal.NOT_RUNNING),
        ("active", "draft", NOW, Refusal.NOT_RUNNING),
        ("active", "ended", NOW, Refusal.NOT_RUNNING),
        ("active", "active", START, None),  # the window includes its start
        ("active", "active", END, Refusal.NOT_RUNNING),  # and excludes its end
        ("active", "active", START - timedelta(seconds=1), Refusal.NOT_RUNNING),
    ],
)
def test_what_refuses_a_genuine_code_before_any_write(batch, campaign, at, expected):
    assert claims.refusal_before_claim(batch, campaign, START, END, at) is expected


@pytest.mark.parametrize(
    ("refusal", "error", "code"),
    [
        (Refusal.INVALID, CodeInvalid, "code_invalid"),
        (Refusal.NOT_ACTIVE, CodeNotActive, "code_not_active"),
        (Refusal.NOT_RUNNING, CampaignNotRunning, "campaign_not_running"),
        (Refusal.ALREADY_CLAIMED, AlreadyClaimed, "code_already_claimed"),
        (Refusal.PARTICIPANT_CAP, LimitReached, "limit_reached"),
        (Refusal.DAILY_CAP, LimitReached, "limit_reached"),
        (Refusal.BUDGET, LimitReached, "limit_reached"),
        (Refusal.RATE, LimitReached, "limit_reached"),
    ],
)
def test_every_refusal_has_one_answer(refusal, error, code):
    answer = refusal.error()
    assert type(answer) is error and answer.code == code and answer.message


def test_caps_are_caps_and_rates_say_when_to_come_back():
    assert Refusal.RATE.error().kind == "rate" and Refusal.RATE.error().retry_after == 60
    for cap in (Refusal.PARTICIPANT_CAP, Refusal.DAILY_CAP, Refusal.BUDGET):
        assert cap.error().kind == "cap" and cap.error().retry_after is None
    lock = claims.locked(59 * 60 + 40)
    assert lock.kind == "rate" and lock.retry_after == 3580 and "60 minutes" in lock.message


@pytest.mark.parametrize(
    ("error", "stat"),
    [
        (Refusal.INVALID.error(), "invalid"),
        (Refusal.NOT_ACTIVE.error(), "refused_inactive"),
        (Refusal.NOT_RUNNING.error(), "refused_inactive"),
        (Refusal.ALREADY_CLAIMED.error(), "duplicate"),
        (Refusal.DAILY_CAP.error(), "refused_cap"),
        (Refusal.RATE.error(), "refused_rate"),
        (claims.locked(60), "refused_rate"),
        (ServiceBusy("x"), None),  # contention is ours, not the shopper's: counted nowhere
    ],
)
def test_each_refusal_moves_one_statistics_counter(error, stat):
    assert claims.stat_of(error) == stat


def test_what_a_scan_earns():
    assert claims.reward(Rules()) == (10, 1)
    assert claims.reward(Rules(points_per_scan=None, entries_per_scan=None)) == (0, 0)


@pytest.mark.parametrize(("budget", "shards"), [(1, 1), (9_999, 1), (20_000, 2), (150_000, 15), (10**9, 16)])
def test_a_budget_is_split_by_its_size_alone(budget, shards):
    assert claims.budget_shards(budget) == shards
    allowances = [claims.shard_allowance(budget, n) for n in range(shards)]
    assert sum(allowances) == budget and max(allowances) - min(allowances) <= 1


def test_only_shards_that_can_pay_a_whole_scan_are_offered():
    assert claims.budget_shard_choices(20_001, 10) == [0, 1]
    assert claims.budget_shard_choices(25, 10) == [0]
    assert claims.budget_shard_choices(5, 10) == []  # the campaign has given out all it can


@pytest.mark.parametrize(
    ("cap", "so_far", "reached"),
    [
        (None, 10**6, False),
        (0, 5, False),
        (3, 2, False),
        (3, 3, True),
        (3, 4, True),
    ],
)
def test_the_participant_cap(cap, so_far, reached):
    assert claims.participant_cap_reached(cap, so_far) is reached


def test_the_daily_cap_counts_in_the_campaign_day():
    # 23:30 UTC on the 14th is already the 15th in Ho Chi Minh City (+07:00).
    assert claims.local_date(HCM, datetime(2027, 1, 14, 23, 30, tzinfo=UTC)) == "2027-01-15"
    assert claims.local_date("UTC", datetime(2027, 1, 14, 23, 30, tzinfo=UTC)) == "2027-01-14"


def test_a_first_claim_starts_the_history():
    for before in (None, SoFar(claims=0)):
        past = claims.history(before, HCM, NOW)
        assert (past.nth, past.active_days, past.first_claim_at, past.prev_claim_at) == (1, 1, NOW, None)


def test_later_claims_number_on_and_count_new_local_days():
    first = NOW - timedelta(days=3)
    same_day = claims.history(
        SoFar(claims=2, active_days=1, first_claim_at=first, last_claim_at=NOW - timedelta(hours=2)), HCM, NOW
    )
    assert (same_day.nth, same_day.active_days, same_day.first_claim_at) == (3, 1, first)
    # 16:59 UTC yesterday was 23:59 local: a new local day begins at 17:00 UTC.
    late = datetime(2027, 1, 14, 16, 59, tzinfo=UTC)
    next_day = claims.history(
        SoFar(claims=1, active_days=1, first_claim_at=late, last_claim_at=late),
        HCM,
        datetime(2027, 1, 14, 17, 1, tzinfo=UTC),
    )
    assert (next_day.nth, next_day.active_days, next_day.prev_claim_at) == (2, 2, late)


def test_an_address_counter_is_stable_per_shopper_and_spread_over_shards():
    assert claims.ip_shard("shp_a") == claims.ip_shard("shp_a")
    assert {claims.ip_shard(f"shp_{n}") for n in range(200)} == set(range(claims.LIMITS.ip_shards))


NAMES = ["lock", "claim", "participant", "daily_cap", "budget", "prize", "rate", "rate"]


def _codes(**failed: str) -> list[str]:
    return [failed.get(name, "None") if name != "rate" else failed.get("rate", "None") for name in NAMES]


@pytest.mark.parametrize(
    ("failed", "found", "expected"),
    [
        ({"claim": "ConditionalCheckFailed"}, True, Cancel.CLAIMED),
        ({"claim": "ConditionalCheckFailed"}, False, Cancel.UNKNOWN),
        ({"participant": "TransactionConflict"}, False, Cancel.CONFLICT),
        ({"lock": "ConditionalCheckFailed"}, False, Cancel.LOCKED),
        ({"participant": "ConditionalCheckFailed"}, False, Cancel.PARTICIPANT_MOVED),
        ({"daily_cap": "ConditionalCheckFailed"}, False, Cancel.DAILY_CAP),
        ({"budget": "ConditionalCheckFailed"}, False, Cancel.BUDGET),
        ({"rate": "ConditionalCheckFailed"}, False, Cancel.RATE),
        ({"prize": "ConditionalCheckFailed"}, False, Cancel.PRIZE_GONE),
        # The code being taken matters more than anything else that failed with it.
        ({"claim": "ConditionalCheckFailed", "rate": "ConditionalCheckFailed"}, True, Cancel.CLAIMED),
        # A lock outranks caps; a cap outranks an empty prize pool (the scan would not grant at all).
        ({"lock": "ConditionalCheckFailed", "daily_cap": "ConditionalCheckFailed"}, False, Cancel.LOCKED),
        ({"daily_cap": "ConditionalCheckFailed", "prize": "ConditionalCheckFailed"}, False, Cancel.DAILY_CAP),
        ({}, False, Cancel.UNKNOWN),
    ],
)
def test_a_cancelled_claim_is_explained_by_its_most_important_reason(failed, found, expected):
    assert claims.explain(NAMES, _codes(**failed), claim_found=found) is expected


def test_contention_that_outlasts_the_retries_is_busy_not_refused():
    assert isinstance(claims.busy(Cancel.CONFLICT), ServiceBusy)
    assert "Many scans at once" in claims.busy(Cancel.CONFLICT).message
    assert "could not be completed" in claims.busy(Cancel.UNKNOWN).message


def test_a_started_campaign_keeps_its_promises():
    from chalicelib.domain.errors import Conflict
    from chalicelib.domain.promises import refuse_taking_back

    def change(status="active", tz=("Asia/Ho_Chi_Minh",) * 2, start=(START, START), prizes=({"a": 3}, {"a": 3})):
        refuse_taking_back(status, timezone=tz, starts_at=start, prizes=prizes, now=NOW)

    change()
    change(prizes=({"a": 3}, {"a": 4, "b": 1}))  # growing and adding are fine
    change(start=(NOW + timedelta(days=1), NOW + timedelta(days=2)))  # a start still ahead may move
    change("draft", tz=("Asia/Ho_Chi_Minh", "UTC"), prizes=({"a": 3}, {}))  # a draft may do anything
    for kwargs, field in (
        ({"tz": ("Asia/Ho_Chi_Minh", "Asia/Manila")}, "timezone"),
        ({"start": (START, START + timedelta(hours=1))}, "starts_at"),
        ({"prizes": ({"a": 3, "b": 1}, {"a": 3})}, "prizes"),
        ({"prizes": ({"a": 3}, {"a": 2})}, "prizes"),
    ):
        for status in ("active", "paused"):
            with pytest.raises(Conflict) as refused:
                change(status, **kwargs)
            assert refused.value.field == field
