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


def _batch(batch_id: str) -> Batch:
    return Batch(batch_id, batch_number=7, brand_id="b", campaign_id="cmp_1", sku="S", quantity=10, key_version=1)


def test_batches_of_one_campaign_share_its_record_for_the_bound_and_no_longer(at, monkeypatch):
    """Refreshing one batch does not read the campaign again while the copy is fresh, so a
    campaign's many batches on many containers do not all land on its one item; a paused
    campaign is still seen within the bound. What is due is read in one request."""
    from chalicelib.adapters import records

    stored = _target().campaign  # as DynamoDB holds it: each read gets a copy
    asked: list[tuple[str, bool, bool]] = []

    def read_for_scan(batch_id, brand_id, campaign_id, *, campaign: bool, program: bool):
        assert (brand_id, campaign_id) == ("b", "cmp_1")
        asked.append((batch_id, campaign, program))
        batch = _batch(batch_id)
        batch.status = "active"
        return batch, Campaign.from_raw_data(stored.serialize(null_check=False)) if campaign else None, None

    indexed = {7: _batch("bat_7"), 8: _batch("bat_8")}
    monkeypatch.setattr(records, "batch_by_number", lambda number: indexed[number])
    monkeypatch.setattr(records, "read_for_scan", read_for_scan)
    lookup = LookupCache()
    assert lookup.target(7).batch_id == "bat_7" and lookup.target(8).batch_id == "bat_8"
    assert asked == [("bat_7", True, True), ("bat_8", False, False)], "the campaign and program once"
    stored.status = "paused"
    at[0] = LOOKUP_SECONDS
    assert lookup.target(7).campaign_status == "paused" and asked[-1] == ("bat_7", True, True)
    assert lookup.target(8).campaign_status == "paused" and asked[-1] == ("bat_8", True, False)
    assert len(asked) == 4, "a campaign that refuses scans is read again every time"


class _Answers:
    """A DynamoDB client whose BatchGetItem gives the answers queued, recording each request."""

    def __init__(self, *answers: dict) -> None:
        self.answers, self.requests = list(answers), []

    def batch_get_item(self, RequestItems: dict) -> dict:
        self.requests.append(RequestItems)
        return self.answers.pop(0)


def test_the_lookup_asks_again_for_the_keys_dynamodb_leaves_unprocessed(monkeypatch):
    from chalicelib.adapters import dynamo, records

    batch, campaign = _batch("bat_7"), _target().campaign
    batches, campaigns = Batch.Meta.table_name, Campaign.Meta.table_name
    left = {campaigns: {"Keys": [{"brand_id": {"S": "b"}, "campaign_id": {"S": "cmp_1"}}], "ConsistentRead": True}}
    client = _Answers(
        {"Responses": {batches: [batch.serialize(null_check=False)]}, "UnprocessedKeys": left},
        {"Responses": {campaigns: [campaign.serialize(null_check=False)]}, "UnprocessedKeys": {}},
    )
    monkeypatch.setattr(dynamo, "client", lambda: client)
    waits: list[int] = []
    # dynamo.attempts pauses through backoff(attempt, base_seconds).
    monkeypatch.setattr(dynamo, "backoff", lambda attempt, base_seconds=0.02: waits.append(attempt))
    found = records.read_for_scan("bat_7", "b", "cmp_1", campaign=True, program=False)
    assert [record.serialize(null_check=False) if record else None for record in found] == [
        batch.serialize(null_check=False),
        campaign.serialize(null_check=False),
        None,
    ]
    assert sorted(client.requests[0]) == sorted([batches, campaigns]) and client.requests[1] == left
    assert waits == [1]


def test_keys_still_unprocessed_after_five_tries_answer_busy_not_missing(monkeypatch):
    from chalicelib.adapters import dynamo, records
    from chalicelib.domain.errors import ServiceBusy

    left = {Batch.Meta.table_name: {"Keys": [{"batch_id": {"S": "bat_7"}}], "ConsistentRead": True}}
    client = _Answers(*[{"Responses": {}, "UnprocessedKeys": left}] * 5)
    monkeypatch.setattr(dynamo, "client", lambda: client)
    monkeypatch.setattr(dynamo, "backoff", lambda attempt, base_seconds=0.02: None)
    with pytest.raises(ServiceBusy):
        records.read_for_scan("bat_7", "b", "cmp_1", campaign=False, program=False)
    assert len(client.requests) == 5
