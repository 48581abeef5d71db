"""Exports on DynamoDB Local with S3 and SQS on moto's server: chunks completed concurrently and
delivered twice finish exactly once; a crashed finisher is replaced; the local poller's contract."""

from __future__ import annotations

import copy
import io
import random
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import moto.s3.models
import pytest
import requests
from moto.server import ThreadedMotoServer

from app import export_worker
from chalicelib.adapters import aws, s3, sqs
from chalicelib.adapters.models import Batch, Export
from chalicelib.config import get_settings
from chalicelib.domain import clock
from chalicelib.services import batches, campaigns, exports
from scripts.dynamodb_local import HOST, free_port
from scripts.export_worker import poll_once
from tests.support import VALID_CAMPAIGN, empty_queue

pytestmark = pytest.mark.timeout(120)
BRAND = "brand-a"


@pytest.fixture(scope="module")
def local_aws(ddb_settings):
    """S3 and SQS on a moto server on 127.0.0.1, reached through the endpoint settings, while
    DynamoDB is DynamoDB Local (moto's in-process mock would take DynamoDB calls too)."""
    server = ThreadedMotoServer(ip_address=HOST, port=free_port(), verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("S3_ENDPOINT", endpoint)
        patch.setenv("SQS_ENDPOINT", endpoint)
        get_settings.cache_clear()
        sqs._queue_url.cache_clear()
        settings = get_settings()
        aws.client("s3").create_bucket(Bucket=settings.export_bucket)
        aws.client("sqs").create_queue(QueueName=settings.export_queue_name, Attributes={"VisibilityTimeout": "900"})
        try:
            yield settings
        finally:
            server.stop()
            get_settings.cache_clear()
            sqs._queue_url.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(s3, "MIN_PART_BYTES", 1024)
    monkeypatch.setattr(s3, "PART_BYTES", 2048)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)


@pytest.fixture
def queue_url(local_aws):
    return empty_queue(sqs.export_queue_url())


@pytest.fixture
def finishes(monkeypatch):
    """Export ids in the order their file was assembled; assembly is slowed down so that
    duplicates arrive while it runs."""
    seen, lock = [], threading.Lock()
    assemble = exports._assemble

    def counted(export):
        with lock:
            seen.append(export.export_id)
        time.sleep(0.2)
        return assemble(export)

    monkeypatch.setattr(exports, "_assemble", counted)
    return seen


def _batch(quantity: int) -> Batch:
    campaign = campaigns.create_campaign(BRAND, "user-1", copy.deepcopy(VALID_CAMPAIGN))
    minted = batches.mint_batch(BRAND, campaign["campaign_id"], "user-1", {"sku": "NOODLE-90G", "quantity": quantity})
    return Batch.get(minted["batch_id"])


def _chunk_messages(queue_url: str) -> list[str]:
    sqs = aws.client("sqs")
    bodies = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _deliver(bodies: list[str], threads: int = 12) -> int:
    """Hand every body to a worker at once, like concurrent Lambdas; returns how many were
    told to come back later because another worker was finishing."""
    barrier = threading.Barrier(threads)
    pending = 0
    lock = threading.Lock()

    def work(share: list[str]) -> None:
        nonlocal pending
        barrier.wait()
        for body in share:
            try:
                exports.handle_message(body)
            except exports._FinishPending:
                with lock:
                    pending += 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, [bodies[i::threads] for i in range(threads)]))
    return pending


def _file(export_id: str) -> bytes:
    export = Export.get(export_id)
    return b"".join(s3.read_object(export.s3_key))


def _start(batch: Batch, fmt: str, queue_url: str) -> tuple[str, list[str]]:
    export_id = exports.request_export(BRAND, batch.batch_id, "user-1", {"format": fmt})["export_id"]
    (plan,) = _chunk_messages(queue_url)
    exports.handle_message(plan)
    return export_id, _chunk_messages(queue_url)


def test_concurrent_duplicated_chunks_finish_exactly_once(local_aws, queue_url, small_parts, finishes, monkeypatch):
    monkeypatch.setitem(exports.FORMATS, "csv", exports.ExportFormat("csv", "csv", "text/csv", 50))
    rng = random.Random(7)
    for _ in range(3):
        batch = _batch(1_000)
        export_id, chunk_bodies = _start(batch, "csv", queue_url)
        assert len(chunk_bodies) == 20
        # Every chunk delivered three times, in any order, to twelve workers at once.
        deliveries = chunk_bodies * 3
        rng.shuffle(deliveries)
        _deliver(deliveries)
        export = Export.get(export_id, consistent_read=True)
        assert export.status == "done" and export.done == set(range(20))
        assert export.finisher is None
        assert finishes.count(export_id) == 1
        assert _file(export_id) == "".join(batches.csv_lines(batch, 0, 1_000)).encode()
        # Later redeliveries of anything change nothing.
        _deliver(chunk_bodies, threads=4)
        assert finishes.count(export_id) == 1


def test_a_finisher_that_fails_hands_over_to_the_next_delivery(local_aws, queue_url, small_parts, monkeypatch):
    monkeypatch.setitem(exports.FORMATS, "csv", exports.ExportFormat("csv", "csv", "text/csv", 50))
    batch = _batch(120)
    export_id, chunk_bodies = _start(batch, "csv", queue_url)
    assemble = exports._assemble
    monkeypatch.setattr(exports, "_assemble", lambda export: 1 / 0)
    for body in chunk_bodies[:-1]:
        exports.handle_message(body)
    with pytest.raises(ZeroDivisionError):
        exports.handle_message(chunk_bodies[-1])
    export = Export.get(export_id, consistent_read=True)
    assert export.status == "running" and export.done == {0, 1, 2} and export.finisher is None
    monkeypatch.setattr(exports, "_assemble", assemble)
    exports.handle_message(chunk_bodies[-1])  # the redelivery of the failed message
    assert Export.get(export_id, consistent_read=True).status == "done"
    assert _file(export_id) == "".join(batches.csv_lines(batch, 0, 120)).encode()


def test_a_crashed_finisher_is_replaced_once_its_lease_runs_out(local_aws, queue_url, small_parts, monkeypatch):
    monkeypatch.setitem(exports.FORMATS, "csv", exports.ExportFormat("csv", "csv", "text/csv", 50))
    batch = _batch(100)
    export_id, chunk_bodies = _start(batch, "csv", queue_url)
    monkeypatch.setattr(exports, "_finish_if_complete", lambda export: None)
    for body in chunk_bodies:
        exports.handle_message(body)
    monkeypatch.undo()
    monkeypatch.setattr(s3, "MIN_PART_BYTES", 1024)
    monkeypatch.setattr(s3, "PART_BYTES", 2048)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    # A worker took the lease and died without a trace (Lambda timeout, out of memory).
    export = Export.get(export_id, consistent_read=True)
    export.update(actions=[Export.finisher.set("dead-worker"), Export.finish_started_at.set(clock.now())])
    with pytest.raises(exports._FinishPending):
        exports.handle_message(chunk_bodies[0])  # the lease is live: come back later
    export.update(actions=[Export.finish_started_at.set(clock.now() - exports.FINISH_LEASE - timedelta(seconds=1))])
    exports.handle_message(chunk_bodies[0])
    done = Export.get(export_id, consistent_read=True)
    assert done.status == "done" and done.finisher is None
    assert _file(export_id) == "".join(batches.csv_lines(batch, 0, 100)).encode()


def test_local_poller_runs_the_lambda_handler_and_keeps_failed_messages(local_aws, queue_url, small_parts, monkeypatch):
    monkeypatch.setitem(exports.FORMATS, "png-zip", exports.ExportFormat("png-zip", "png.zip", "application/zip", 10))
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batch = _batch(25)
    export_id = exports.request_export(BRAND, batch.batch_id, "user-1", {"format": "png-zip"})["export_id"]

    handles = []

    def broken(event, context):
        handles.append(event["Records"][0]["receiptHandle"])
        raise RuntimeError("worker crashed")

    assert poll_once(sqs, queue_url, broken, queue_arn=arn, region="us-east-1", wait_seconds=0) == (0, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # not deleted: SQS will redeliver
    # Its visibility timeout running out, as SQS would after a failed invocation.
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handles[0], VisibilityTimeout=0)
    attempts = []
    real = export_worker

    def handler(event, context):
        attempts.append(int(event["Records"][0]["attributes"]["ApproximateReceiveCount"]))
        return real(event, context)

    while poll_once(sqs, queue_url, handler, queue_arn=arn, region="us-east-1", wait_seconds=0)[0]:
        pass
    assert attempts[0] >= 2  # the plan's receive count reached the handler from the queue
    got = exports.get_export(BRAND, export_id)
    assert got["status"] == "done"
    # The presigned URL works over HTTP against the S3 endpoint, as a browser would use it.
    response = requests.get(got["download_url"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{batch.batch_id}.png.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None and len(archive.namelist()) == 25
