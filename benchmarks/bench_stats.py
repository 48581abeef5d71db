"""Cost of a stats call against the number of claims: DynamoDB calls, items read, read units, time (DynamoDB Local).

For each size a campaign is put in the state that many claims leave (tests/stats_scale.py:
counters, participants, leaderboard accounts, prize counters; one refused scan per ten
claims), on tables of its own, and every stats endpoint is called through the HTTP API
(chalice's test client, in process). The baseline in the same run answers the totals the
way they would be answered without counters: a Scan of code_states for the campaign's
claims, summed in Python. It needs the claim records, which the loader then writes too.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import zoneinfo
from datetime import UTC, datetime, timedelta

from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from chalice.test import Client

from benchmarks.report import machine
from chalicelib.adapters import models, tables
from chalicelib.adapters.models import CodeState
from chalicelib.config import Settings
from chalicelib.domain import statistics as counters
from tests.stats_scale import ReadMeter, active_campaign, load_claims
from tests.support import operator_token

BRAND = "bench-brand"
PRIZES = [
    {"name": "Motorbike", "quantity": 3, "odds_per_million": 5_000},
    {"name": "Phone", "quantity": 20, "odds_per_million": 20_000},
]
ENDPOINTS = (
    ("stats", "/stats"),
    ("timeseries day, whole campaign", "/stats/timeseries?granularity=day"),
    ("timeseries hour, last 48 h", "/stats/timeseries?granularity=hour"),
    ("batches", "/stats/batches"),
    ("participants", "/stats/participants"),
)
BASELINE = "baseline: totals by Scan of claims"


def _campaign(now: datetime, quantity: int) -> tuple[dict, dict]:
    return active_campaign(
        BRAND,
        start=now - timedelta(days=29),
        end=now + timedelta(days=30),
        quantity=quantity,
        prizes=PRIZES,
        sku="BENCH",
    )


def caps(campaign: dict, now: datetime) -> dict[str, int]:
    """The most items each call can read for this campaign, whatever its number of claims.

    The campaign record, then: the total shards (claim and refusal), the batches, the
    prize counters (stats); one counter item per local day and shard of the range
    (timeseries); TOP participants per leaderboard shard and their TOP accounts.
    """
    tz = zoneinfo.ZoneInfo(campaign["timezone"])
    shards = 2 * counters.CLAIM_SHARDS  # claim shards `#<n>` and refusal shards `#r<n>`
    starts = datetime.fromisoformat(campaign["starts_at"].replace("Z", "+00:00"))

    def days(since: datetime) -> int:
        return (now.astimezone(tz).date() - since.astimezone(tz).date()).days + 1

    return {
        "stats": 1 + shards + 1 + len(campaign["prizes"]),
        "timeseries day, whole campaign": 1 + days(starts) * shards,
        "timeseries hour, last 48 h": 1 + days(max(starts, now - timedelta(hours=47))) * shards,
        "batches": 1 + shards + 1,
        "participants": 1 + shards + counters.RANK_SHARDS * counters.TOP + counters.TOP,
    }


def naive_totals(campaign_id: str) -> dict:
    """What /stats would do without counters: read every claim of the campaign and add them up."""
    granted = points = entries = 0
    shoppers: set[str] = set()
    for claim in CodeState.scan((CodeState.campaign_id == campaign_id) & (CodeState.state == "claimed")):
        granted += 1
        points += int(claim.points or 0)
        entries += int(claim.entries or 0)
        shoppers.add(claim.shopper_id)
    return {"granted": granted, "points": points, "entries": entries, "participants": len(shoppers)}


def _measure(call, meter: ReadMeter, repeat: int) -> tuple[int, int, str, float]:
    """Calls, items read, read units and median milliseconds of `call` (after one warm-up call)."""
    call()
    meter.reset()
    call()
    calls, items = meter.total_calls, meter.items
    units = f"{meter.read_units:g}" if meter.units_reported else "n/a"
    assert meter.unseen == 0, "a DynamoDB call went through a client the meter does not watch"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return calls, items, units, statistics.median(times)


def run_size(endpoint: str, size: int, *, baseline: bool, repeat: int) -> tuple[list[tuple], float]:
    """Load one campaign of `size` claims on fresh tables and measure every endpoint (and the baseline)."""
    settings = Settings(table_prefix=f"bench-stats-{size}", dynamodb_endpoint=endpoint)
    models.bind(settings)
    tables.delete_tables()
    tables.create_tables()
    try:
        now = datetime.now(UTC)
        campaign, batch = _campaign(now, max(size, 1_000) * 2)
        started = time.perf_counter()
        load_claims(campaign, batch, size, store_claims=baseline, now=now)
        loaded = time.perf_counter() - started
        import app as application

        application.app.log.setLevel(logging.WARNING)  # no access log line per call
        headers = {"Authorization": f"Bearer {operator_token(BRAND, 'viewer')}"}
        rows = []
        limits = caps(campaign, datetime.now(UTC))
        with Client(application.app) as client, ReadMeter(capacity=True) as meter:
            for name, path in ENDPOINTS:
                url = f"/v1/campaigns/{campaign['campaign_id']}{path}"

                def call(url=url):
                    response = client.http.get(url, headers=headers)
                    assert response.status_code == 200, response.body

                rows.append((size, name, *_measure(call, meter, repeat), limits[name]))
            if baseline:
                totals = naive_totals(campaign["campaign_id"])
                assert totals["granted"] == size, totals
                rows.append(
                    (size, BASELINE, *_measure(lambda: naive_totals(campaign["campaign_id"]), meter, repeat), size)
                )
        return rows, loaded
    finally:
        tables.delete_tables()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="claims per campaign, comma-separated")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per endpoint (median reported)")
    parser.add_argument(
        "--baseline-100k",
        action="store_true",
        help="also run the Scan baseline at sizes above 10,000 (writes every claim record)",
    )
    add_endpoint_option(parser)
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    print(machine())
    rows: list[tuple] = []
    loads: list[str] = []
    with engine(args.endpoint) as ddb:
        for size in sizes:
            size_rows, loaded = run_size(
                ddb.endpoint, size, baseline=size <= 10_000 or args.baseline_100k, repeat=args.repeat
            )
            rows.extend(size_rows)
            loads.append(f"{size:,} claims in {loaded:.1f} s")
    # The baseline where it was not run: it reads every claim of the campaign, so its
    # calls, read units and time are extrapolated linearly from the largest size measured.
    measured = [r for r in rows if r[1] == BASELINE]
    for size in sizes:
        if not any(r[0] == size for r in measured):
            if measured:
                largest = max(measured, key=lambda r: r[0])
                k = size / largest[0]
                units = f"~{float(largest[4]) * k:,.0f}" if largest[4] != "n/a" else "n/a"
                rows.append(
                    (
                        size,
                        BASELINE + ", extrapolated",
                        f"~{largest[2] * k:,.0f}",
                        size,
                        units,
                        f"~{largest[5] * k:,.0f}",
                        size,
                    )
                )
            else:
                rows.append((size, BASELINE + " (not run)", "-", size, "n/a", "-", size))

    header = ("claims", "call", "DynamoDB calls", "items read", "most possible", "read units", "median ms")
    order = [name for name, _ in ENDPOINTS]

    def cell(value, form: str) -> str:
        return value if isinstance(value, str) else format(value, form)

    table = [header] + [
        (f"{r[0]:,}", r[1], cell(r[2], "d"), f"{r[3]:,}", f"{r[6]:,}", r[4], cell(r[5], ",.1f"))
        for r in sorted(rows, key=lambda r: (order.index(r[1]) if r[1] in order else len(order), r[0]))
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print(
            "  ".join(
                text.ljust(w) if j == 1 else text.rjust(w) for j, (text, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))

    flat = []
    over = [f"{r[1]} at {r[0]:,}" for r in rows if r[1] in order and r[3] > r[6]]
    for name, _ in ENDPOINTS:
        items = {r[0]: r[3] for r in rows if r[1] == name}
        flat.append(
            f"{name} {'same' if len(set(items.values())) == 1 else ', '.join(f'{v:,}' for v in items.values())}"
        )
    print("load: " + "; ".join(loads))
    print("items read by size: " + "; ".join(flat))
    print("every stats call within its most possible items: " + ("yes" if not over else "NO: " + ", ".join(over)))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
