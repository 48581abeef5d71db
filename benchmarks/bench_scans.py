"""Cost of a granted scan: DynamoDB calls and write units (DynamoDB Local), and CPU time in our code.

Calls and write units are counted on DynamoDB Local with a botocore hook, scan by scan,
on a warm container (its batch and campaign lookup held, LOOKUP_SECONDS not yet past).
CPU is the whole POST /v1/scans route through chalice's test client with DynamoDB
answered from memory, beside a bare Chalice route in the same process: several rounds
of each, taken in turn, and the medians compared (the ratio is the robust figure). The
bare route's app declares the same paths as ours, each a bare handler: chalice's local
gateway finds a request's route by walking the sorted path table (API Gateway does that
step in AWS, and Chalice's Lambda handler looks the route up by its resource path), so a
one-route baseline would charge ours alone for the walk. A one-route bare app is
measured in the same rounds and its ratio printed too.
The app's access log is written to /dev/null meanwhile (formatted as always).
`--profile` adds where the CPU of our route goes, by package and by function.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pathlib
import pstats
import statistics
import sys
import time
from collections import defaultdict

from benchmarks.report import compared_row, print_table, ratio_rows
from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from botocore.client import BaseClient
from chalice import Chalice
from chalice.test import Client

from chalicelib.adapters import dynamo, models, records, tables
from chalicelib.adapters.records import LOOKUP_SECONDS
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings
from chalicelib.domain import clock, codes
from chalicelib.services import scans
from tests.support import active_batch, synthetic_shopper_id


class CallCounter:
    """Counts DynamoDB API calls and the write units they report, through one botocore hook."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.transactions: list[dict] = []
        self.write_units = 0.0
        self._original = BaseClient._make_api_call
        counter = self

        def counting(client, operation, params):
            response = counter._original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                counter.calls.append(operation)
                if operation == "TransactWriteItems":
                    counter.transactions.append(params)
                consumed = response.get("ConsumedCapacity") or []
                for entry in consumed if isinstance(consumed, list) else [consumed]:
                    counter.write_units += (
                        float(entry.get("WriteCapacityUnits") or entry.get("CapacityUnits") or 0)
                        if operation in ("TransactWriteItems", "PutItem", "UpdateItem")
                        else 0
                    )
            return response

        BaseClient._make_api_call = counting

    def close(self) -> None:
        BaseClient._make_api_call = self._original

    def reset(self) -> None:
        self.calls, self.transactions, self.write_units = [], [], 0.0


def measure_calls(n: int) -> tuple[dict[str, float], float, dict, list[str], list[str]]:
    """Calls, write units and transaction items per warm granted scan, each scan counted on its own."""
    counter = CallCounter()
    campaign, batch, scan_codes = active_batch("bench-brand", n + 1)
    records.clear_cache()
    # A warm container: its lookup is held for the whole run (the steady clock stands still),
    # so every measured scan is one the lookup serves; what a refresh costs is shown apart.
    with clock.replaced(time.time, steady=lambda: 0.0):
        scans.claim_code("shp_warmup", "192.0.2.1", {"code": scan_codes[0]})
        counter.reset()
        items: dict[str, int] = defaultdict(int)
        for i, code in enumerate(scan_codes[1:]):
            scans.claim_code(f"shp_{i}", "192.0.2.1", {"code": code})
        for params in counter.transactions:
            for item in params["TransactItems"]:
                table = next(iter(item.values()))["TableName"].removeprefix("bench-")
                items[table] += 1
    per_operation: dict[str, float] = {}
    for operation in counter.calls:
        per_operation[operation] = per_operation.get(operation, 0) + 1 / n
    write_units = counter.write_units / n
    # One refresh of the lookup, as a container makes once per LOOKUP_SECONDS and batch.
    counter.reset()
    with clock.replaced(time.time, steady=lambda: LOOKUP_SECONDS + 1):
        records.LOOKUPS.target(batch["batch_number"])
    refresh = sorted(counter.calls)
    counter.close()
    return per_operation, write_units, {k: v / n for k, v in items.items()}, scan_codes, refresh


def cpu_per_request(client: Client, path: str, bodies: list[str], headers: dict) -> float:
    started = time.process_time()
    for body in bodies:
        response = client.http.post(path, body=body, headers=headers)
        assert response.status_code == 200, response.body
    return (time.process_time() - started) / len(bodies) * 1e6


def stubbed_dynamodb(items_by_table: dict[str, dict]):
    """Answer every DynamoDB call from memory so only our code spends CPU.

    GetItem and BatchGetItem answer the items recorded for their tables (batch, campaign,
    participant; no loyalty program); writes succeed. botocore's own request building, signing and HTTP are not counted.
    """
    original = BaseClient._make_api_call

    def answer(client, operation, params):
        if client.meta.service_model.service_name != "dynamodb":
            return original(client, operation, params)
        if operation == "GetItem":
            return {"Item": items_by_table[params["TableName"]]}
        if operation == "BatchGetItem":
            tables = [table for table in params["RequestItems"] if table in items_by_table]
            return {"Responses": {table: [items_by_table[table]] for table in tables}}
        return {}

    BaseClient._make_api_call = answer
    return lambda: setattr(BaseClient, "_make_api_call", original)


def _recorded_items(batch_number: int, shopper_id: str) -> dict[str, dict]:
    """The batch, campaign and a participant as DynamoDB Local holds them, by table."""
    target = records.LOOKUPS.target(batch_number)
    assert target is not None
    client = dynamo.client()
    batch = client.get_item(TableName=models.Batch.Meta.table_name, Key={"batch_id": {"S": target.batch_id}})
    campaign = client.get_item(
        TableName=models.Campaign.Meta.table_name,
        Key={"brand_id": {"S": target.brand_id}, "campaign_id": {"S": target.campaign_id}},
    )
    participant = {
        "campaign_id": {"S": target.campaign_id},
        "shopper_id": {"S": shopper_id},
        "points": {"N": "10"},
        "entries": {"N": "1"},
        "claims": {"N": "1"},
        "active_days": {"N": "1"},
        "first_claim_at": {"S": "2027-01-01T00:00:00.000000+0000"},
        "last_claim_at": {"S": "2027-01-01T00:00:00.000000+0000"},
    }
    return {
        models.Batch.Meta.table_name: batch["Item"],
        models.Campaign.Meta.table_name: campaign["Item"],
        models.Participant.Meta.table_name: participant,
    }


@contextlib.contextmanager
def _quiet_access_log():
    """The app's log lines go to /dev/null (still formatted and written) instead of the terminal."""
    import app as application

    handlers = [h for h in application.app.log.handlers if isinstance(h, logging.StreamHandler)]
    saved = [h.stream for h in handlers]
    with open(os.devnull, "w") as sink:
        for handler in handlers:
            handler.setStream(sink)
        try:
            yield
        finally:
            for handler, stream in zip(handlers, saved):
                handler.setStream(stream)


def cpu_rounds(clients: dict[str, Client], bodies, headers, rounds: int) -> dict[str, list[float]]:
    """Microseconds per request of each route, round after round taken in turn (`ours` sends `headers`)."""
    plain = {"Content-Type": "application/json"}
    for name, client in clients.items():
        cpu_per_request(client, "/v1/scans", bodies[:200], headers if name == "ours" else plain)
    found: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(rounds):
        for name, client in clients.items():
            found[name].append(cpu_per_request(client, "/v1/scans", bodies, headers if name == "ours" else plain))
    return found


def bare_app(name: str, other_paths: dict[str, dict] | None = None) -> Chalice:
    """A Chalice app whose POST /v1/scans route only reads the code from the body, beside a bare
    handler at each of `other_paths` (a path -> methods table, as `Chalice.routes`)."""
    bare = Chalice(name)

    @bare.route("/v1/scans", methods=["POST"])
    def bare_scan():
        return {"code": json.loads(bare.current_request.raw_body)["code"]}

    for n, (path, methods) in enumerate((other_paths or {}).items()):
        if path != "/v1/scans":
            bare.route(path, methods=list(methods), name=f"other_{n}")(_nothing)
    return bare


def _nothing(**_) -> dict:
    return {}


_GROUPS = (
    ("chalicelib/domain/tokens", "shopper token check"),
    ("chalicelib/adapters/claim_store", "claim request building"),
    ("chalicelib/services/scans", "claim use case"),
    ("chalicelib/adapters/records", "batch and campaign lookup"),
    ("chalicelib/domain/codes", "code parsing"),
    ("chalicelib/logs", "access log"),
    ("chalicelib/", "chalicelib, other"),
    (str(pathlib.Path(__file__).resolve().parents[1] / "app.py"), "app.py routes"),
    ("pynamodb/", "PynamoDB"),
    ("jwt/", "PyJWT"),
    ("pydantic", "pydantic"),
    ("botocore/", "botocore"),
    ("chalice/", "chalice and its test client"),
    ("logging/", "logging"),
    ("json/", "json"),
)


def profile(app_client, bodies, headers) -> str:
    """Where our route's CPU goes: self time by package, then the costliest functions of ours."""
    profiler = cProfile.Profile()
    profiler.enable()
    cpu_per_request(app_client, "/v1/scans", bodies, headers)
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    for (path, _, _), (_, _, own, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += own
        if path in ("~", "<frozen os>") or path.startswith("<"):
            # Built-ins and frozen modules count where they are called from (the most frequent caller).
            path = max(callers.items(), key=lambda kv: kv[1][0])[0][0] if callers else path
        by_group[next((name for mark, name in _GROUPS if mark in path), "the standard library and the rest")] += own
    lines = ["self time by package (profiled, so inflated; shares are what count):"]
    for name, own in sorted(by_group.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {own / total:6.1%}  {name}")
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(r"chalicelib|app\.py", 25)
    lines.append(out.getvalue())
    return "\n".join(lines)


def _cpu(scan_codes: list[str], requests: int, rounds: int, with_profile: bool) -> tuple[dict[str, list[float]], str]:
    """CPU: the whole /v1/scans route with DynamoDB answered from memory, beside a bare Chalice
    route in an app with our route table, and one in an app of its own; and the profile if asked."""
    import app as application
    from chalicelib.services import auth

    bare, one_route = bare_app("bare", application.app.routes), bare_app("bare-one-route")
    shopper = synthetic_shopper_id("0" * 64)
    token = auth.issue_shopper_token(
        application.get_settings(), auth.Shopper(shopper_id=shopper, phone_masked="+84 ••• ••• 678")
    )[0]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    bodies = [json.dumps({"code": scan_codes[i % len(scan_codes)]}) for i in range(requests)]
    batch_number = codes.parse_code(scan_codes[0], get_keyring()).batch_number
    restore = stubbed_dynamodb(_recorded_items(batch_number, shopper))
    try:
        with (
            Client(bare) as bare_client,
            Client(one_route) as one_route_client,
            Client(application.app) as app_client,
            _quiet_access_log(),
        ):
            clients = {"bare": bare_client, "one route": one_route_client, "ours": app_client}
            cpu = cpu_rounds(clients, bodies, headers, rounds)
            breakdown = profile(app_client, bodies, headers) if with_profile else ""
    finally:
        restore()
    return cpu, breakdown


def _statistics_cost(claims: int) -> str:
    """The statistics of the measured claims, counted off the scan's path by the stream handler."""
    from scripts.stats_worker import drain

    written = {"transactions": 0, "items": 0}
    original = BaseClient._make_api_call

    def spy(client, operation, params):
        if operation == "TransactWriteItems":
            written["transactions"] += 1
            written["items"] += len(params["TransactItems"])
        return original(client, operation, params)

    BaseClient._make_api_call = spy
    try:
        drain()
    finally:
        BaseClient._make_api_call = original
    return (
        f"{written['items'] / claims:.2f} items written per claim "
        f"({written['transactions']} transactions for {claims} claims)"
    )


def _rows(
    per_operation: dict[str, float],
    write_units: float,
    items: dict[str, float],
    refresh: list[str],
    stats_cost: str,
    cpu: dict[str, list[float]],
) -> list[tuple]:
    calls = sum(per_operation.values())
    reads = sum(v for k, v in per_operation.items() if k in ("GetItem", "Query", "BatchGetItem", "TransactGetItems"))
    rows = [
        (
            "DynamoDB calls per granted scan (warm)",
            "-",
            f"{calls:.2f}",
            "1 transaction + <= 1 read",
            "met"
            if round(per_operation.get("TransactWriteItems", 0), 6) == 1
            and round(reads, 6) <= 1
            and round(calls, 6) <= 2
            else "MISSED",
        ),
        ("  by operation", "-", ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_operation.items())), "", ""),
        (
            "  items in the transaction, by table",
            "-",
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(items.items())),
            "no batch or campaign item",
            "met" if not {"batches", "campaigns"} & set(items) else "MISSED",
        ),
        (
            f"  lookup refresh, once per {LOOKUP_SECONDS:g} s, container and batch",
            "-",
            ", ".join(refresh),
            "",
            "",
        ),
        ("write units per granted scan", "-", f"{write_units:.1f}", "reported by DynamoDB Local", ""),
        ("  + statistics (stream handler)", "-", stats_cost, "off the scan's path; 2 WCU per item-KB", ""),
    ]
    rows += ratio_rows(
        "CPU per scan request, microseconds",
        "bare Chalice JSON route, our route table",
        cpu["bare"],
        cpu["ours"],
        most=3,
        unit="",
        scale=1,
    )
    one_route = f"{statistics.median(cpu['one route']):.0f} (a one-route bare app)"
    rows.append(
        compared_row("  ours beside a one-route bare app", one_route, cpu["ours"], cpu["one route"], unit="", scale=1)
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=200, help="granted scans measured on DynamoDB Local")
    parser.add_argument("--cpu", type=int, default=1000, help="requests per CPU round")
    parser.add_argument("--rounds", type=int, default=7, help="CPU rounds of each route, taken in turn")
    parser.add_argument("--profile", action="store_true", help="also show where our route's CPU goes")
    add_endpoint_option(parser)
    args = parser.parse_args()

    with engine(args.endpoint) as ddb:
        settings = Settings(table_prefix="bench", dynamodb_endpoint=ddb.endpoint)
        models.bind(settings)
        tables.create_tables()
        per_operation, write_units, items, scan_codes, refresh = measure_calls(args.scans)
        cpu, breakdown = _cpu(scan_codes, args.cpu, args.rounds, args.profile)
        stats_cost = _statistics_cost(args.scans + 1)

    rows = _rows(per_operation, write_units, items, refresh, stats_cost, cpu)
    print_table(("figure", "baseline (same run)", "ours", "target", "check"), rows)
    if breakdown:
        print()
        print(breakdown)
    return 0 if all(row[4] != "MISSED" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
