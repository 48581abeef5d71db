"""A national launch in miniature (tests/national_scale.py; the full run is benchmarks/sim_national.py):
5,000 scans a second through the real scan path and aggregator, DynamoDB recorded, not sent.
No partition key may take more than DynamoDB's per-partition limits in any second, and the
one item every scan depends on, the campaign, is read once per container per lookup bound."""

from __future__ import annotations

import time

from chalicelib.adapters.records import LOOKUP_SECONDS
from chalicelib.domain import clock
from tests.national_scale import PARTITION_RCU, PARTITION_WCU, SimClock, prepared, simulate

CONTAINERS = 500


def test_two_seconds_of_a_national_launch_stay_under_every_partition_limit():
    sim = SimClock()
    recorder, made = prepared(20, 100_000, sim)
    start = time.time()
    recorder.install()
    try:
        with clock.replaced(lambda: start + sim.at, steady=sim):
            launch = simulate(rate=5_000, seconds=2, containers=CONTAINERS, batch_list=made, recorder=recorder)
    finally:
        recorder.uninstall()
    assert launch.scans == 10_000 and launch.granted > 9_000
    assert launch.write_peaks[0][1] < PARTITION_WCU, launch.write_peaks
    assert launch.read_peaks[0][1] < PARTITION_RCU, launch.read_peaks
    campaign_reads = [
        value for (table, _, second), value in recorder.rcu.items() if table.endswith("-campaigns") and second == 1
    ]
    # Second 1: every container read it in second 0, and keeps it for LOOKUP_SECONDS.
    assert sum(campaign_reads) <= CONTAINERS / LOOKUP_SECONDS, campaign_reads
    # What one scan costs, all tables and the aggregator included: a claim transaction of
    # six small items, its stream's counting, the reads of the participant and lookups.
    assert 8 <= launch.wcu_total / launch.scans <= 16
    assert launch.rcu_total / launch.scans <= 6
