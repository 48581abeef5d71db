"""A national launch by simulation: 5,000 scans a second from 1,000,000 shoppers over 100 batches,
through the real scan path and stream aggregator, with DynamoDB calls recorded, not sent.

Prints the peak write and read units per second on any one partition key (targets: under
1,000 WCU and 3,000 RCU, DynamoDB's per-partition limits), the keys nearest them, and the
units per scan. How calls are charged is in tests/national_scale.py.

    .venv/bin/python benchmarks/sim_national.py [--rate 5000] [--seconds 20] [--containers 1000]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "simulated")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "simulated")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["STAGE"] = "local"

from benchmarks.report import print_table
from chalicelib.domain import clock
from tests.national_scale import PARTITION_RCU, PARTITION_WCU, SimClock, prepared, simulate


def run(rate: int, seconds: int, shoppers: int, batches: int, containers: int, stream_shards: int):
    sim = SimClock()
    recorder, made = prepared(batches, 100_000, sim)
    start = time.time()
    recorder.install()
    try:
        with clock.replaced(lambda: start + sim.at, steady=sim):
            return simulate(
                rate=rate,
                seconds=seconds,
                shoppers=shoppers,
                containers=containers,
                stream_shards=stream_shards,
                batch_list=made,
                recorder=recorder,
            )
    finally:
        recorder.uninstall()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5_000, help="scans a second")
    parser.add_argument("--seconds", type=int, default=20, help="simulated seconds")
    parser.add_argument("--shoppers", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--containers", type=int, default=1_000, help="warm Lambda containers sharing the scans")
    parser.add_argument("--stream-shards", type=int, default=8)
    args = parser.parse_args()
    started = time.perf_counter()
    launch = run(args.rate, args.seconds, args.shoppers, args.batches, args.containers, args.stream_shards)
    took = time.perf_counter() - started
    print(
        f"Simulated: {launch.scans:,} scans at {args.rate:,}/s for {args.seconds} s, {args.shoppers:,} shoppers, "
        f"{args.batches} batches of one campaign, {args.containers:,} containers, {args.stream_shards} stream shards "
        f"({launch.granted:,} granted, {launch.refused:,} refused; {took:.0f} s to run).\n"
    )
    top_write, top_read = launch.write_peaks[0], launch.read_peaks[0]
    print_table(
        ("figure", "DynamoDB's limit (baseline)", "this launch", "within"),
        [
            (
                "peak WCU/s on one key",
                f"{PARTITION_WCU:,}",
                f"{top_write[1]:,.0f} ({top_write[0]})",
                "yes" if top_write[1] < PARTITION_WCU else "NO",
            ),
            (
                "peak RCU/s on one key",
                f"{PARTITION_RCU:,}",
                f"{top_read[1]:,.0f} ({top_read[0]})",
                "yes" if top_read[1] < PARTITION_RCU else "NO",
            ),
            ("WCU per scan (all tables, with the aggregator)", "-", f"{launch.wcu_total / launch.scans:.2f}", ""),
            ("RCU per scan", "-", f"{launch.rcu_total / launch.scans:.2f}", ""),
            ("calls", "-", ", ".join(f"{op} {n:,}" for op, n in sorted(launch.calls.items())), ""),
        ],
    )
    print("\nThe hottest keys (peak units in one second, and which second):\n")
    print_table(
        ("writes: key", "WCU", "s", "reads: key", "RCU", "s"),
        [
            (w[0], f"{w[1]:,.0f}", w[2], r[0], f"{r[1]:,.0f}", r[2])
            for w, r in zip(launch.write_peaks, launch.read_peaks, strict=False)
        ],
    )
    return 0 if top_write[1] < PARTITION_WCU and top_read[1] < PARTITION_RCU else 1


if __name__ == "__main__":
    raise SystemExit(main())
