"""Local stand-in for Lambda's DynamoDB stream event source: feeds code_states' stream to app.stats_aggregator."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from scripts.export_worker import _on_signal, _Stop  # the same Ctrl-C/SIGTERM handling

__all__ = ["StreamFeeder", "feeder_for", "drain", "main"]


class StreamFeeder:
    """Reads every shard of one stream in order and hands batches to a handler, as Lambda does.

    A batch whose handler raises is handed over again, unchanged, on the next poll (the
    iterator does not move past it); a closed shard is read to its end, then dropped,
    and its children are read after it.
    """

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Callable[[dict, Any], Any],
        *,
        region: str = "us-east-1",
        batch_size: int = 500,
    ) -> None:
        self.streams, self.stream_arn, self.handler = streams, stream_arn, handler
        self.region, self.batch_size = region, batch_size
        self._iterators: dict[str, str | None] = {}
        self._retry: dict[str, tuple[list[dict], str | None]] = {}
        self._finished: set[str] = set()
        self.failures = 0

    def _shards(self) -> list[dict]:
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            start = description.get("LastEvaluatedShardId")
            if not start:
                return shards

    def _event(self, records: list[dict]) -> dict:
        # boto3 parses the creation time; Lambda sends it as epoch seconds.
        converted = []
        for record in records:
            dynamodb = dict(record["dynamodb"])
            created = dynamodb.get("ApproximateCreationDateTime")
            if isinstance(created, datetime):
                dynamodb["ApproximateCreationDateTime"] = created.timestamp()
            converted.append(
                {**record, "dynamodb": dynamodb, "eventSourceARN": self.stream_arn, "awsRegion": self.region}
            )
        return {"Records": converted}

    def poll(self) -> int:
        """One pass over the open shards; returns how many records the handler accepted."""
        fed = 0
        shards = self._shards()
        known = {s["ShardId"] for s in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            parent = shard.get("ParentShardId")
            if shard_id in self._finished or (parent in known and parent not in self._finished):
                continue
            if shard_id in self._retry:
                records, next_iterator = self._retry.pop(shard_id)
            else:
                if shard_id not in self._iterators:
                    self._iterators[shard_id] = self.streams.get_shard_iterator(
                        StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
                iterator = self._iterators[shard_id]
                if iterator is None:
                    self._finished.add(shard_id)
                    continue
                page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
                records, next_iterator = page.get("Records", []), page.get("NextShardIterator")
            if records:
                try:
                    self.handler(self._event(records), None)
                except Exception:  # noqa: BLE001 - like Lambda: the same batch comes again
                    self.failures += 1
                    self._retry[shard_id] = (records, next_iterator)
                    traceback.print_exc()
                    continue
                fed += len(records)
            self._iterators[shard_id] = next_iterator
            if next_iterator is None:
                self._finished.add(shard_id)
        return fed

    def drain(self, max_passes: int = 10_000) -> int:
        """Poll until a pass finds nothing new (and no batch waits for a retry)."""
        total = 0
        for _ in range(max_passes):
            fed = self.poll()
            total += fed
            if not fed and not self._retry:
                return total
        raise RuntimeError("the stream did not drain")


def feeder_for(
    handler: Callable[[dict, Any], Any] | None = None, model: Any = None, batch_size: int = 500
) -> StreamFeeder:
    """A feeder for the stream of `model`'s table (code_states unless told) on the bound endpoint
    (DynamoDB Local or moto), into `handler` (app.stats_aggregator unless told)."""
    import boto3

    from chalicelib.adapters.models import CodeState
    from chalicelib.config import get_settings

    if handler is None:
        from app import stats_aggregator

        handler = stats_aggregator
    model = model or CodeState
    region = model.Meta.region or get_settings().region
    # The regional endpoint named outright: left to itself botocore picks an account-based
    # host for stream ARNs, which moto's in-process mock does not route.
    endpoint = model.Meta.host or f"https://streams.dynamodb.{region}.amazonaws.com"
    streams = boto3.session.Session().client("dynamodbstreams", region_name=region, endpoint_url=endpoint)
    arn = model.describe_table()["LatestStreamArn"]
    return StreamFeeder(streams, arn, handler, region=region, batch_size=batch_size)


def drain(handler: Callable[[dict, Any], Any] | None = None) -> int:
    """Count every claim waiting in the stream now (tests and scripts)."""
    return feeder_for(handler).drain()


def main(argv: list[str] | None = None) -> int:
    """Poll the stream until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between idle polls (default 1)")
    args = parser.parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print("stats worker: feeding code_states' stream to app.stats_aggregator", flush=True)
    feeder = None
    try:
        while True:
            try:
                feeder = feeder or feeder_for()
                if not feeder.poll():
                    time.sleep(args.interval)
            except Exception as exc:  # noqa: BLE001 - DynamoDB Local restarting: keep trying
                print(f"stats worker: stream read failed ({exc}); retrying in 2 s", file=sys.stderr, flush=True)
                feeder = None
                time.sleep(2)
    except _Stop:
        return 0


if __name__ == "__main__":
    sys.exit(main())
