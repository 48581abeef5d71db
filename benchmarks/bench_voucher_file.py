"""A 20,000-code voucher file through the HTTP API and the export worker: the request's time against the API's
29 s, the time until its codes are in stock, each code exactly once, beside plain BatchWriteItem (DynamoDB Local).

One voucher reward, one file of `--codes` codes sent to POST /v1/rewards/{id}/vouchers (chalice's test
client, in process) with the real rewards.WRITE_SECONDS: the request writes for up to that long and answers
200 (published) or 202 (its progress; a job on the export queue goes on). The export worker then runs on the
queue as Lambda's event source would (scripts/export_worker.poll_once into app.export_worker, S3 and SQS on a
moto server on 127.0.0.1) until the queue is empty, while GET .../vouchers/{upload_id} is polled for
progress. Afterwards the reward's stock must be the file's count and every voucher is read back and opened:
each code of the file exactly once. The baseline in the same run writes the same voucher items to a scratch
table by BatchWriteItem, 25 a request and no conditions: the floor for writing that many items on this
engine (ours writes two items per code, in transactions of 49 codes with their conditions, and keeps the
codes for the job).

    .venv/bin/python benchmarks/bench_voucher_file.py [--codes 20000]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.dynamodb_local import HOST, add_endpoint_option, engine, free_port, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

import boto3
from chalice.test import Client
from moto.server import ThreadedMotoServer

from benchmarks.report import machine, print_table
from chalicelib.adapters import aws, models, tables
from chalicelib.adapters.models import Reward, Voucher
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.config import get_settings
from chalicelib.domain.phones import unseal_text
from chalicelib.services import exports, rewards
from scripts.dev import create_export_resources
from scripts.export_worker import poll_once
from tests.support import operator_token

BRAND = "bench-brand"
API_SECONDS = 29.0  # API Gateway's integration timeout (30 s, less a second for the answer)
POLL_SECONDS = 0.5  # how often the sender's progress is read while the job runs
BATCH = 25  # BatchWriteItem's most items a request
SCRATCH = "bench-voucher-scratch"


@dataclass
class Job:
    """What the worker did with the queue: messages handled and failed, and when the last one ended."""

    handled: int = 0
    failed: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


def _stack(ddb_endpoint: str, moto_endpoint: str) -> dict:
    """Point the app at DynamoDB Local and at moto's S3 and SQS, as the dev stack does; fresh tables, queue."""
    name = f"bench-vouchers-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        DYNAMODB_ENDPOINT=ddb_endpoint,
        TABLE_PREFIX=name,
        S3_ENDPOINT=moto_endpoint,
        SQS_ENDPOINT=moto_endpoint,
        EXPORT_BUCKET=name,
        EXPORT_QUEUE_NAME=name,
    )
    get_settings.cache_clear()
    models.bind()
    tables.create_tables()
    queue, dlq = create_export_resources(moto_endpoint, exports.MAX_RECEIVES, bucket=name, queue=name)
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"sqs": sqs, "queue": queue, "dlq": dlq, "arn": arn, "region": get_settings().region}


def _work(stack: dict, job: Job, handler: Callable[[dict, Any], Any]) -> None:
    """Lambda's SQS event source, one message at a time, until the queue is empty once the file is done."""

    def timed(event: dict, context: Any) -> None:
        job.first_start = job.first_start or time.perf_counter()
        handler(event, context)
        job.last_end = time.perf_counter()

    while True:
        handled, failed = poll_once(
            stack["sqs"], stack["queue"], timed, queue_arn=stack["arn"], region=stack["region"], wait_seconds=1
        )
        job.handled, job.failed = job.handled + handled, job.failed + failed
        if handled == failed == 0 and job.done.is_set():
            return


def _left_on(stack: dict) -> int:
    """Messages still on the queue and its dead-letter queue (visible or taken)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    total = 0
    for url in (stack["queue"], stack["dlq"]):
        attributes = stack["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        total += sum(int(attributes[name]) for name in names)
    return total


def send_file(client: Client, codes: list[str], stack: dict, handler: Callable[[dict, Any], Any]) -> dict:
    """The file through the API, then the worker until the queue is empty, its progress read meanwhile."""
    headers = {"Authorization": f"Bearer {operator_token(BRAND, 'owner')}", "Content-Type": "application/json"}
    reward = client.http.post(
        "/v1/rewards", headers=headers, body=b'{"name": "Bench voucher", "kind": "voucher", "cost": 10}'
    )
    assert reward.status_code == 201, reward.body
    reward_id = reward.json_body["reward_id"]
    raw = ("code\n" + "".join(f"{code}\n" for code in codes)).encode()
    started = time.perf_counter()
    answer = client.http.post(
        f"/v1/rewards/{reward_id}/vouchers", headers={**headers, "Content-Type": "text/csv"}, body=raw
    )
    answered = time.perf_counter()
    assert answer.status_code in (200, 202), answer.body
    body = answer.json_body
    job = Job()
    worker = threading.Thread(target=_work, args=(stack, job, handler), daemon=True)
    worker.start()
    seen = [body["written"]]
    progress = f"/v1/rewards/{reward_id}/vouchers/{body['upload_id']}"
    while True:
        state = client.http.get(progress, headers=headers)
        assert state.status_code == 200, state.body
        seen.append(state.json_body["written"])
        if state.json_body["status"] != "writing" or not worker.is_alive():
            break
        time.sleep(POLL_SECONDS)
    job.done.set()
    worker.join()
    return {
        "reward_id": reward_id,
        "status": answer.status_code,
        "answer": body,
        "final": state.json_body,
        "request_s": answered - started,
        "published_s": max(answered, job.last_end) - started,
        "seen": seen,
        "job": job,
        "left": _left_on(stack),
    }


def read_back(reward_id: str) -> tuple[list[Voucher], list[str]]:
    """Every voucher of the reward, and its code opened."""
    vouchers = list(Voucher.query(reward_id, consistent_read=True))
    pepper = get_phone_hash_pepper()
    return vouchers, [unseal_text(v.code_sealed, pepper, "voucher") for v in vouchers]


def baseline(endpoint: str, vouchers: list[Voucher]) -> float:
    """Seconds to write the same voucher items to a scratch table by BatchWriteItem, 25 a request, no conditions."""
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=get_settings().region)
    table = f"{SCRATCH}-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "reward_id", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "reward_id", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {
            "PutRequest": {
                "Item": {
                    "reward_id": {"S": v.reward_id},
                    "seq": {"N": str(v.seq)},
                    "code_sealed": {"S": v.code_sealed},
                    "upload_id": {"S": v.upload_id},
                    "code_key": {"S": v.code_key or ""},
                }
            }
        }
        for v in vouchers
    ]
    try:
        started = time.perf_counter()
        for first in range(0, len(items), BATCH):
            batch = {table: items[first : first + BATCH]}
            while batch:  # what the engine did not take, sent again
                batch = ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
        seconds = time.perf_counter() - started
        written = sum(page["Count"] for page in ddb.get_paginator("scan").paginate(TableName=table, Select="COUNT"))
        assert written == len(items), f"the baseline wrote {written:,} of {len(items):,} items"
        return seconds
    finally:
        ddb.delete_table(TableName=table)


def _rows(count: int, run: dict, floor: float, stock: int, once: bool) -> list[tuple]:
    body, final, job = run["answer"], run["final"], run["job"]
    answered_well = (run["status"] == 200 and body["status"] == "published" and body["written"] == count) or (
        run["status"] == 202 and body["status"] == "writing" and 0 < body["written"] < count
    )
    seen, written = run["seen"], body["written"]
    job_s = job.last_end - job.first_start
    steady = all(a <= b for a, b in zip(seen, seen[1:])) and final["written"] == count
    ours = run["published_s"]
    return [
        (
            "request time",
            "-",
            f"{run['request_s']:.1f} s",
            f"< {API_SECONDS:g} s (the API's 30 s)",
            "met" if run["request_s"] < API_SECONDS else "MISSED",
        ),
        (
            "  its answer",
            "-",
            f"{run['status']} {body['status']}, {body['written']:,} of {body['total']:,} written",
            "200 published, or 202 with progress",
            "met" if answered_well else "MISSED",
        ),
        (
            "codes written by the request",
            "-",
            f"{written:,} of {count:,} ({written / run['request_s']:,.0f} a second, reading and checking the file "
            "included)",
            "",
            "",
        ),
        (
            "  then the job",
            "-",
            f"{job.handled} message(s), {job.failed} failed"
            + (
                f"; {count - written:,} codes in {job_s:.1f} s ({(count - written) / job_s:,.0f} a second)"
                if job_s
                else ""
            ),
            "",
            "",
        ),
        (
            "  its progress, read at GET .../vouchers/{upload_id}",
            "-",
            f"{len(seen) - 1} reads {POLL_SECONDS:g} s apart: {len(set(seen))} values, {seen[0]:,} → {seen[-1]:,}",
            "never backwards, ends at the total",
            "yes" if steady else "no",
        ),
        (
            "time until published",
            f"{floor:.1f} s (BatchWriteItem, {BATCH} a request)",
            f"{ours:.1f} s ({ours / floor:.2f}x)",
            "",
            "",
        ),
        ("codes per second, end to end", f"{count / floor:,.0f}", f"{count / ours:,.0f}", "", ""),
        ("stock after", "-", f"{stock:,} ({final['status']})", f"= {count:,}", "yes" if stock == count else "no"),
        (
            "each code once (every voucher read back)",
            "-",
            f"{'all' if once else 'not all'} {count:,} codes, one voucher each",
            f"{count:,} distinct",
            "yes" if once else "no",
        ),
        (
            "queue and dead-letter queue after",
            "-",
            f"{run['left']} message(s)",
            "0",
            "yes" if not run["left"] else "no",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--codes", type=int, default=rewards.MAX_VOUCHERS_PER_FILE, help="codes in the file (at most 20,000)"
    )
    add_endpoint_option(parser)
    args = parser.parse_args()
    if not 1 <= args.codes <= rewards.MAX_VOUCHERS_PER_FILE:
        parser.error(f"--codes: 1 to {rewards.MAX_VOUCHERS_PER_FILE:,}")
    codes = [f"BENCH-{n:06d}-{uuid.uuid4().hex[:10].upper()}" for n in range(args.codes)]

    print(machine())
    print(
        f"one file of {args.codes:,} codes through the HTTP API (in process), {rewards.WRITE_SECONDS:g} s of writing "
        f"a request, then the export worker (up to {exports.VOUCHER_JOB_SECONDS:g} s a message) on moto's SQS"
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server: no line per request
    server = ThreadedMotoServer(ip_address=HOST, port=free_port(), verbose=False)
    server.start()
    try:
        with engine(args.endpoint) as ddb:
            stack = _stack(ddb.endpoint, "http://{}:{}".format(*server.get_host_and_port()))
            try:
                import app as application

                application.app.log.setLevel(logging.WARNING)  # no access log line per call
                logging.getLogger("qr-campaigns").setLevel(logging.WARNING)  # nor the worker's line per message
                with Client(application.app) as client:
                    run = send_file(client, codes, stack, application.export_worker)
                stock = int(Reward.get(run["reward_id"], consistent_read=True).stock or 0)
                vouchers, opened = read_back(run["reward_id"])
                once = len(vouchers) == len(set(opened)) == args.codes and set(opened) == set(codes)
                floor = baseline(ddb.endpoint, vouchers)
            finally:
                tables.delete_tables()
    finally:
        server.stop()
    print()
    rows = _rows(args.codes, run, floor, stock, once)
    print_table(("figure", "baseline (same run)", "ours", "target", "check"), rows)
    return 0 if all(row[4] not in ("MISSED", "no") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
