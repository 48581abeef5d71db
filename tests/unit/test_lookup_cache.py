"""The scan lookup's rules, with the reads counted instead of made: what is kept, for how long, and never."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.models import Batch, Campaign, Rules
from chalicelib.adapters.records import LOOKUP_SECONDS, LookupCache, ScanTarget
from chalicelib.domain import clock

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
NOW = datetime(2027, 1, 15, 3, 0, tzinfo=UTC)


def _target(batch_status: str = "active", campaign_status: str = "active") -> ScanTarget:
    batch = Batch("bat_1", batch_number=7, brand_id="b", campaign_id="cmp_1", sku="S", quantity=10, key_version=1)
    batch.status = batch_status
    campaign = Campaign(
        "b",
        "cmp_1",
        name="n",
        status=campaign_status,
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=1),
        timezone="Asia/Ho_Chi_Minh",
        rules=Rules(points_per_scan=10, entries_per_scan=1, budget_points=20_001),
    )
    return ScanTarget.of(batch, campaign)


class _Counted(LookupCache):
    """A lookup whose reads return what the test puts in `stored`, counted."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: ScanTarget | None = _target()
        self.reads = 0

    def _read(self, batch_number: int) -> ScanTarget | None:
        self.reads += 1
        return self.stored


@pytest.fixture
def at() -> list[float]:
    elapsed = [0.0]
    with clock.replaced(lambda: NOW.timestamp() + elapsed[0], lambda: elapsed[0]):
        yield elapsed


def test_the_bound_is_at_most_five_seconds_and_is_the_one_the_operations_guide_states():
    assert 0 < LOOKUP_SECONDS <= 5
    text = OPERATIONS.read_text()
    assert "`LOOKUP_SECONDS`" in text
    stated = re.search(r"within \*\*(\d+(?:\.\d+)?) s\*\* \(`LOOKUP_SECONDS`", text)
    assert stated and float(stated.group(1)) == LOOKUP_SECONDS
    assert f"`LOOKUP_SECONDS` = {LOOKUP_SECONDS:g} s" in text


def test_a_claimable_answer_is_kept_until_the_bound_from_before_its_read(at):
    lookup = _Counted()
    assert lookup.target(7) is lookup.stored
    at[0] = LOOKUP_SECONDS - 0.001
    lookup.stored = _target(batch_status="void")
    assert lookup.target(7).batch_status == "active" and lookup.reads == 1
    at[0] = LOOKUP_SECONDS
    assert lookup.target(7).batch_status == "void" and lookup.reads == 2


@pytest.mark.parametrize(
    "refused",
    [None, _target(batch_status="inactive"), _target(batch_status="void"), _target(campaign_status="paused")],
    ids=["no such batch", "batch inactive", "batch void", "campaign paused"],
)
def test_a_refusal_is_never_kept(at, refused):
    lookup = _Counted()
    lookup.stored = refused
    for _ in range(3):
        assert lookup.target(7) is refused
    assert lookup.reads == 3
    lookup.stored = _target()
    assert lookup.target(7).batch_status == "active", "the next lookup sees the activation"


def test_a_campaign_outside_its_window_is_not_kept(at):
    lookup = _Counted()
    at[0] = timedelta(days=2).total_seconds()  # past ends_at
    lookup.target(7), lookup.target(7)
    assert lookup.reads == 2


def test_what_every_scan_derives_is_worked_out_once_per_lookup():
    target = _target()
    assert (target.points, target.entries, target.budget_points) == (10, 1, 20_001)
    assert target.budget_shards == (0, 1)
    assert target.prizes == {} and target.odds_prizes == () and target.allocations == ()


def test_batches_of_one_campaign_share_its_record_for_the_bound_and_no_longer(at, monkeypatch):
    """Refreshing one batch does not read the campaign again while the copy is fresh, so a
    campaign's many batches on many containers do not all land on its one item; a paused
    campaign is still seen within the bound."""
    from chalicelib.adapters import records

    reads: list[str] = []
    campaign = _target().campaign

    def get_campaign(brand_id, campaign_id, consistent_read=False):
        assert consistent_read
        reads.append(campaign_id)
        return campaign

    monkeypatch.setattr(records.Campaign, "get", get_campaign)
    lookup = LookupCache()
    for _ in range(3):
        assert lookup._campaign("b", "cmp_1") is campaign
    assert reads == ["cmp_1"]
    campaign.status = "paused"
    at[0] = LOOKUP_SECONDS
    assert lookup._campaign("b", "cmp_1").status == "paused" and reads == ["cmp_1"] * 2
    lookup._campaign("b", "cmp_1")
    assert reads == ["cmp_1"] * 3, "a campaign that refuses scans is read again every time"
