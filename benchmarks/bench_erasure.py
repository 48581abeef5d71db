"""Cost of deleting a shopper's account against their number of claims: DynamoDB calls, items read, items written (DynamoDB Local).

For each size a shopper is put on fresh tables with that many claims (code_states, by_shopper), their
standing in one campaign, points with the brand, a delivered win with delivery details and ID number
of a drawn draw, a shipped gift and a pending sign-in code; other shoppers' claims fill the tables
around them. The deletion (chalicelib/services/erasure.py, the confirmed call's steps) is measured.
The baseline in the same run finds the shopper's items the way a deletion without the by_shopper
indexes would: a Scan of every table for their id or phone hash.
"""

from __future__ import annotations

import argparse
import os
import sys

from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from benchmarks.report import machine, print_table
from chalicelib.adapters import models, tables
from chalicelib.adapters.models import (
    ShopperAccount,
)
from chalicelib.config import Settings
from chalicelib.services import erasure
from tests.integration.test_erasure_on_dynamodb_local import shopper_with_everything
from tests.stats_scale import ReadMeter

PHONE = "+84912340001"
BASELINE = "baseline: Scan of every table"
OURS = "deletion (by_shopper indexes)"


class WriteMeter:
    """Items written by whatever runs inside `with meter:` (each item of a transaction or batch counts)."""

    def __init__(self) -> None:
        self.items = 0
        self._clients: list = []

    def _count(self, params: dict, model, **_) -> None:
        name = model.name
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.items += 1
        elif name == "TransactWriteItems":
            self.items += len(params.get("TransactItems") or [])
        elif name == "BatchWriteItem":
            self.items += sum(len(v) for v in (params.get("RequestItems") or {}).values())

    def __enter__(self) -> WriteMeter:
        self._clients = ReadMeter.application_clients()
        for client in self._clients:
            client.meta.events.register("provide-client-params.dynamodb", self._count)
        return self

    def __exit__(self, *exc) -> None:
        for client in self._clients:
            client.meta.events.unregister("provide-client-params.dynamodb", self._count)


def _scan_for(sid: str, hashed: str) -> int:
    """The baseline: every item of every table read, those naming the shopper found."""
    found = 0
    for model in models.ALL_MODELS:
        for item in model.scan():
            text = repr(item.serialize())
            found += sid in text or hashed in text
    return found


def run_size(endpoint: str, claims: int, others: int) -> list[tuple]:
    settings = Settings(table_prefix=f"bench-erasure-{claims}", dynamodb_endpoint=endpoint)
    models.bind(settings)
    tables.delete_tables()
    tables.create_tables()
    try:
        sid = shopper_with_everything(PHONE, claims, others)["shopper"]
        hashed = ShopperAccount.get(sid).phone_hash or ""
        rows = []
        with ReadMeter() as reads, WriteMeter() as writes:
            assert _scan_for(sid, hashed) > claims
            rows.append((claims, BASELINE, reads.total_calls, reads.items, writes.items))
            reads.reset()
            writes.items = 0
            assert erasure.run(sid)["status"] == "done"
            rows.append((claims, OURS, reads.total_calls, reads.items, writes.items))
        assert ShopperAccount.get(sid).phone_hash is None
        return rows
    finally:
        tables.delete_tables()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,1000", help="the shopper's claims, comma-separated")
    parser.add_argument("--others", type=int, default=2000, help="other shoppers' claims on the same tables")
    add_endpoint_option(parser)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(machine())
    rows: list[tuple] = []
    with engine(args.endpoint) as ddb:
        for size in sizes:
            rows += run_size(ddb.endpoint, size, args.others)
    print_table(
        ("claims", "path", "DynamoDB calls", "items read", "items written"),
        [(f"{r[0]:,}", r[1], r[2], f"{r[3]:,}", f"{r[4]:,}") for r in rows],
    )
    ours = {(r[2], r[3], r[4]) for r in rows if r[1] == OURS}
    same = len(ours) == 1
    print("deletion cost the same at every size: " + ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
