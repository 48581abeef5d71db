"""Operators' status changes on two warm containers (two scan lookups) against the same DynamoDB Local.

Activating a batch or a campaign lets the very next scan through on every container;
voiding a batch, pausing or ending a campaign refuses every scan once LOOKUP_SECONDS
have passed since a container last read them, and no sooner than its docs say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from botocore.client import BaseClient

from chalicelib.adapters.records import LOOKUP_SECONDS, LookupCache
from chalicelib.domain import clock
from chalicelib.domain.errors import CampaignNotRunning, CodeInvalid, CodeNotActive, DomainError
from chalicelib.services import batches, campaigns, scans
from chalicelib.views.codes import describe_code
from tests.functional.test_scans import BRAND, running  # noqa: F401 - fixture

IP = "192.0.2.44"


class _Time:
    """The one clock, moved by the test: wall time from now on, steady time from zero."""

    def __init__(self) -> None:
        self.start, self.elapsed = time.time(), 0.0

    def wall(self) -> float:
        return self.start + self.elapsed

    def steady(self) -> float:
        return self.elapsed


@pytest.fixture
def moments() -> Iterator[_Time]:
    moved = _Time()
    with clock.replaced(moved.wall, moved.steady):
        yield moved


def _scan(container: LookupCache, shopper: str, code: str) -> str:
    """'granted', or the refusal's error code."""
    try:
        return scans.claim_code(shopper, IP, {"code": code}, lookups=container)["result"]
    except DomainError as refusal:
        return refusal.code


def test_activating_a_batch_grants_the_very_next_scan_on_every_container(running, moments):
    _, batch, codes_ = running(batch_status="inactive")
    a, b = LookupCache(), LookupCache()
    assert _scan(a, "shp_a", codes_[0]) == _scan(b, "shp_b", codes_[1]) == CodeNotActive.code
    assert describe_code(codes_[2], lookups=a)["reason"] == CodeNotActive.code
    batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
    # No time passes: neither container kept the refusal.
    assert describe_code(codes_[2], lookups=b)["claimable"] is True
    assert _scan(a, "shp_a", codes_[0]) == _scan(b, "shp_b", codes_[1]) == "granted"


def test_activating_a_campaign_grants_the_very_next_scan_on_every_container(running, moments):
    campaign, _, codes_ = running()
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "paused"})
    a, b = LookupCache(), LookupCache()
    assert _scan(a, "shp_a", codes_[0]) == _scan(b, "shp_b", codes_[1]) == CampaignNotRunning.code
    moments.elapsed += 0.5
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "active"})
    assert _scan(a, "shp_a", codes_[0]) == _scan(b, "shp_b", codes_[1]) == "granted"


def _void(_campaign: dict, batch: dict) -> None:
    batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "void"})


def _pause(campaign: dict, _batch: dict) -> None:
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "paused"})


def _end(campaign: dict, _batch: dict) -> None:
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "ended"})


@pytest.mark.parametrize(
    ("change", "refusal"),
    [(_void, CodeInvalid.code), (_pause, CampaignNotRunning.code), (_end, CampaignNotRunning.code)],
    ids=["void batch", "pause campaign", "end campaign"],
)
def test_a_stop_refuses_on_every_container_within_the_bound(
    running, moments, change: Callable[[dict, dict], None], refusal: str
):
    campaign, batch, codes_ = running(quantity=12)
    a, b = LookupCache(), LookupCache()
    # Both containers warm, a having read the batch at 0 s and b at 1 s.
    assert _scan(a, "shp_0", codes_[0]) == "granted"
    moments.elapsed = 1.0
    assert _scan(b, "shp_1", codes_[1]) == "granted"
    moments.elapsed = 2.0
    change(campaign, batch)
    fresh = LookupCache()
    assert _scan(fresh, "shp_2", codes_[2]) == refusal, "a container that had not read it refuses at once"
    if refusal == CodeInvalid.code:
        with pytest.raises(CodeInvalid):
            describe_code(codes_[3], lookups=fresh)
    else:
        assert describe_code(codes_[3], lookups=fresh)["claimable"] is False
    # Until LOOKUP_SECONDS after its own read a warm container may still grant: the stated window.
    moments.elapsed = LOOKUP_SECONDS - 0.01
    assert _scan(a, "shp_3", codes_[3]) == "granted"
    moments.elapsed = LOOKUP_SECONDS
    assert _scan(a, "shp_4", codes_[4]) == refusal
    assert _scan(b, "shp_5", codes_[5]) == "granted", "b read it at 1 s"
    moments.elapsed = 1.0 + LOOKUP_SECONDS
    assert _scan(b, "shp_6", codes_[6]) == refusal
    # From then on every container refuses, scan after scan: the refusal is read each time, never kept.
    for second in range(3):
        moments.elapsed += 1.0
        assert _scan(a, f"shp_a{second}", codes_[7 + second]) == _scan(b, f"shp_b{second}", codes_[10]) == refusal


def test_a_warm_scan_reads_and_writes_no_item_every_scan_shares(running, moments, monkeypatch):
    # The bound costs one read request per container per LOOKUP_SECONDS, and nothing per scan:
    # no batch or campaign item is read, written or condition-checked by a warm scan.
    _, _, codes_ = running(quantity=30)
    container = LookupCache()
    assert _scan(container, "shp_warm", codes_[0]) == "granted"
    calls: list[tuple[str, dict]] = []
    original = BaseClient._make_api_call

    def counting(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, params))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    for n in range(1, 21):
        moments.elapsed = n * 0.2  # 4 s of scans, inside the bound
        assert _scan(container, f"shp_{n}", codes_[n]) == "granted"
    assert [operation for operation, _ in calls] == ["GetItem", "TransactWriteItems"] * 20
    from chalicelib.adapters.models import Batch, Campaign, LoyaltyProgram, Participant

    # The brand's loyalty program (tiers at claim time) is kept under the same bound.
    shared_tables = {Batch.Meta.table_name, Campaign.Meta.table_name, LoyaltyProgram.Meta.table_name}
    for operation, params in calls:
        tables = (
            {params["TableName"]}
            if operation == "GetItem"
            else {next(iter(item.values()))["TableName"] for item in params["TransactItems"]}
        )
        assert not tables & shared_tables, (operation, tables)
    # Past the bound the container reads the batch, the campaign and the brand's loyalty
    # program again, once each and in one request, beside the scan's own participant read.
    calls.clear()
    moments.elapsed = LOOKUP_SECONDS + 0.5
    assert _scan(container, "shp_late", codes_[25]) == "granted"
    assert [operation for operation, _ in calls] == ["BatchGetItem", "GetItem", "TransactWriteItems"]
    batch_read, participant_read = calls[0][1]["RequestItems"], calls[1][1]
    assert sorted(batch_read) == sorted(shared_tables)
    assert all(read["ConsistentRead"] and len(read["Keys"]) == 1 for read in batch_read.values())
    assert participant_read["TableName"] == Participant.Meta.table_name
