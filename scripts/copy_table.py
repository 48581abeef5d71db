"""Copy every item of one DynamoDB table into another: the write-back half of a point-in-time restore.

    .venv/bin/python scripts/copy_table.py --source qrc-prod-rewards-restored --target qrc-prod-rewards

A table restored to a point in time gets a new name; the app only knows its tables as
`<TABLE_PREFIX>-<table>`, fixed by the stack and the policies, so the restored items are
written back into the live table instead (docs/operations.md, "Restore a table"). Items
are written whole (PutItem semantics: a restored item replaces the live one with its key;
live items the source lacks are left alone). Runs with operator credentials.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.session
from botocore.config import Config


def _client(region: str | None, endpoint: str | None):
    config = Config(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32)
    return botocore.session.get_session().create_client(
        "dynamodb", region_name=region, endpoint_url=endpoint, config=config
    )


def _key_schema(client, table: str) -> list[tuple[str, str]]:
    return sorted(
        (k["AttributeName"], k["KeyType"]) for k in client.describe_table(TableName=table)["Table"]["KeySchema"]
    )


def _write(client, table: str, items: list[dict]) -> None:
    requests = [{"PutRequest": {"Item": item}} for item in items]
    attempt = 0
    while requests:
        left = client.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {}).get(table, [])
        requests, attempt = left, attempt + 1
        if requests:
            time.sleep(min(2.0, 0.05 * 2**attempt))  # throttled: back off, then send what is left


def _copy_segment(client, source: str, target: str, segment: int, segments: int, dry_run: bool) -> int:
    copied, start = 0, None
    while True:
        kwargs = {"TableName": source, "Segment": segment, "TotalSegments": segments, "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.scan(**kwargs)
        items = page.get("Items", [])
        for first in range(0, len(items), 25):
            if not dry_run:
                _write(client, target, items[first : first + 25])
        copied += len(items)
        start = page.get("LastEvaluatedKey")
        if not start:
            return copied


def copy_table(source: str, target: str, *, client, segments: int = 4, dry_run: bool = False) -> int:
    """Copy `source`'s items into `target` (same key schema); returns how many were read."""
    if source == target:
        raise SystemExit("copy_table: --source and --target are the same table")
    if _key_schema(client, source) != _key_schema(client, target):
        raise SystemExit(f"copy_table: {source} and {target} have different keys; nothing was written")
    with ThreadPoolExecutor(segments) as pool:
        counts = pool.map(lambda s: _copy_segment(client, source, target, s, segments, dry_run), range(segments))
        return sum(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="the restored table")
    parser.add_argument("--target", required=True, help="the live table, <TABLE_PREFIX>-<table>")
    parser.add_argument("--region", help="defaults to the AWS CLI's")
    parser.add_argument("--endpoint-url", help="DynamoDB Local, for a rehearsal")
    parser.add_argument("--segments", type=int, default=4, help="parallel scan segments")
    parser.add_argument("--dry-run", action="store_true", help="count the source's items, write nothing")
    args = parser.parse_args(argv)
    client = _client(args.region, args.endpoint_url)
    count = copy_table(args.source, args.target, client=client, segments=args.segments, dry_run=args.dry_run)
    print(f"{'would copy' if args.dry_run else 'copied'} {count} items from {args.source} into {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
