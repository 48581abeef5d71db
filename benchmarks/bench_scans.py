"""Cost of a granted scan: DynamoDB calls and write units (DynamoDB Local), and CPU time in our code."""

from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import sys
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from scripts.dynamodb_local import local_aws_env, start  # noqa: E402

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from botocore.client import BaseClient  # noqa: E402
from chalice import Chalice  # noqa: E402
from chalice.test import Client  # noqa: E402

from chalicelib.adapters import models, records, tables  # noqa: E402
from chalicelib.adapters.secrets import get_keyring  # noqa: E402
from chalicelib.config import Settings  # noqa: E402
from chalicelib.domain import codes
from chalicelib.services import batches, campaigns, scans
from tests.support import VALID_CAMPAIGN  # noqa: E402


class CallCounter:
    """Counts DynamoDB API calls and the write units they report, through one botocore hook."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.write_units = 0.0
        self._original = BaseClient._make_api_call
        counter = self

        def counting(client, operation, params):
            response = counter._original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                counter.calls.append(operation)
                consumed = response.get("ConsumedCapacity") or []
                for entry in consumed if isinstance(consumed, list) else [consumed]:
                    counter.write_units += (
                        float(entry.get("WriteCapacityUnits") or entry.get("CapacityUnits") or 0)
                        if operation in ("TransactWriteItems", "PutItem", "UpdateItem")
                        else 0
                    )
            return response

        BaseClient._make_api_call = counting

    def reset(self) -> None:
        self.calls, self.write_units = [], 0.0


def _seed(quantity: int) -> list[str]:
    now = datetime.now(UTC)
    body = {
        **copy.deepcopy(VALID_CAMPAIGN),
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
    }
    campaign = campaigns.create_campaign("bench-brand", "bench", body)
    campaigns.change_campaign_status("bench-brand", campaign["campaign_id"], "bench", {"status": "active"})
    batch = batches.mint_batch("bench-brand", campaign["campaign_id"], "bench", {"sku": "BENCH", "quantity": quantity})
    batches.change_batch_status("bench-brand", batch["batch_id"], "bench", {"status": "active"})
    return [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(quantity)]


def measure_calls(n: int) -> tuple[dict, float, list[str]]:
    counter = CallCounter()
    scan_codes = _seed(n + 1)
    records.clear_cache()
    scans.claim_code("shp_warmup", "192.0.2.1", {"code": scan_codes[0]})  # a warm container
    counter.reset()
    for i, code in enumerate(scan_codes[1:]):
        scans.claim_code(f"shp_{i}", "192.0.2.1", {"code": code})
    per_operation: dict[str, float] = {}
    for operation in counter.calls:
        per_operation[operation] = per_operation.get(operation, 0) + 1 / n
    return per_operation, counter.write_units / n, scan_codes


def cpu_per_request(client: Client, path: str, bodies: list[str], headers: dict) -> float:
    started = time.process_time()
    for body in bodies:
        response = client.http.post(path, body=body, headers=headers)
        assert response.status_code == 200, response.body
    return (time.process_time() - started) / len(bodies) * 1e6


def stubbed_dynamodb():
    """Answer every DynamoDB call from memory so only our code spends CPU."""
    participant = {
        "campaign_id": {"S": "c"},
        "shopper_id": {"S": "s"},
        "points": {"N": "10"},
        "entries": {"N": "1"},
        "claims": {"N": "1"},
    }
    original = BaseClient._make_api_call

    def answer(client, operation, params):
        if client.meta.service_model.service_name != "dynamodb":
            return original(client, operation, params)
        if operation == "GetItem":
            return {"Item": participant}
        return {}

    BaseClient._make_api_call = answer
    return lambda: setattr(BaseClient, "_make_api_call", original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scans", type=int, default=200, help="granted scans measured on DynamoDB Local")
    parser.add_argument("--cpu", type=int, default=2000, help="requests timed for CPU per scan")
    args = parser.parse_args()

    with start() as ddb:
        settings = Settings(table_prefix="bench", dynamodb_endpoint=ddb.endpoint)
        models.bind(settings)
        tables.create_tables()
        per_operation, write_units, scan_codes = measure_calls(args.scans)

        # CPU: the whole /v1/scans route with DynamoDB stubbed, beside a bare Chalice route.
        import app as application
        from chalicelib.domain import phones
        from chalicelib.services import shoppers

        bare = Chalice("bare")

        @bare.route("/v1/scans", methods=["POST"])
        def bare_scan():
            return {"code": json.loads(bare.current_request.raw_body)["code"]}

        token = shoppers.issue_shopper_token(
            application.get_settings(),
            shoppers.Shopper(shopper_id=phones.shopper_id_for("0" * 64), phone_masked="+84 ••• ••• 678"),
        )[0]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        bodies = [json.dumps({"code": scan_codes[i % len(scan_codes)]}) for i in range(args.cpu)]
        restore = stubbed_dynamodb()
        try:
            with Client(bare) as bare_client, Client(application.app) as app_client:
                cpu_bare = cpu_per_request(bare_client, "/v1/scans", bodies, {"Content-Type": "application/json"})
                cpu_ours = cpu_per_request(app_client, "/v1/scans", bodies, headers)
        finally:
            restore()
        # The statistics of those claims, counted off the scan's path by the stream handler
        # (after the CPU run, which relies on the batch still being cached from the scans).
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
        claims = args.scans + 1
        stats_cost = (
            f"{written['items'] / claims:.2f} items written per claim "
            f"({written['transactions']} transactions for {claims} claims)"
        )

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
        ("write units per granted scan", "-", f"{write_units:.1f}", "reported by DynamoDB Local", ""),
        ("  + statistics (stream handler)", "-", stats_cost, "off the scan's path; 2 WCU per item-KB", ""),
        (
            "CPU per scan request, microseconds",
            f"{cpu_bare:,.0f} (bare Chalice JSON route)",
            f"{cpu_ours:,.0f}",
            f"ratio {cpu_ours / cpu_bare:.1f}x",
            "",
        ),
    ]
    headers_row = ("figure", "baseline (same run)", "ours", "target", "check")
    widths = [max(len(str(r[i])) for r in rows + [headers_row]) for i in range(5)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*headers_row))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    return 0 if rows[0][4] == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
