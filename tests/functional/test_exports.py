"""Print-file exports over moto: queue, worker, chunks joined in S3, download, bad input, retries."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import time
import uuid
import zipfile

import moto.s3.models
import pypdfium2 as pdfium
import pytest
import yaml
import zxingcpp
from moto import mock_aws
from openapi_schema_validator import OAS31Validator
from PIL import Image

from app import app, export_worker
from chalicelib.adapters import aws, models, s3, sqs, tables
from chalicelib.adapters.models import Batch, Export
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import Settings, get_settings
from chalicelib.domain import clock, codes
from chalicelib.rendering import printfiles, qr
from chalicelib.services import batches, exports
from scripts.export_worker import poll_once
from tests.support import assert_safe_csv, empty_queue, operator_token

pytestmark = pytest.mark.timeout(120)
SPEC = yaml.safe_load((pathlib.Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())


@pytest.fixture(scope="module")
def store():
    """One moto for the module (creating every table per test costs seconds); tests keep
    to their own batches and exports."""
    with mock_aws():
        settings = Settings(table_prefix=f"fn-exports-{uuid.uuid4().hex[:8]}")
        models.bind(settings)
        tables.create_tables()
        sqs._queue_url.cache_clear()
        aws.client("s3").create_bucket(Bucket=get_settings().export_bucket)
        aws.client("sqs").create_queue(QueueName=get_settings().export_queue_name)
        try:
            yield settings
        finally:
            sqs._queue_url.cache_clear()
            models.bind(get_settings())


@pytest.fixture
def queue(store):
    """The export queue, empty: the bucket and queue are named by the process settings.

    The tests share one store, and some leave exports that never end on purpose: each
    test starts with brand-a's export slots free.
    """
    from chalicelib.adapters.models import Counter

    for brand in ("brand-a", "brand-b"):
        Counter(f"{exports._SLOTS}:{brand}").delete()
    return empty_queue(sqs.export_queue_url())


@pytest.fixture
def small_parts(monkeypatch):
    """Tiny S3 parts, here and in moto, so a few hundred codes exercise every join path."""
    monkeypatch.setattr(s3, "MIN_PART_BYTES", 1024)
    monkeypatch.setattr(s3, "PART_BYTES", 2048)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)


def chunked(monkeypatch, **sizes: int) -> None:
    for name, chunk_size in sizes.items():
        name = name.replace("_", "-")
        monkeypatch.setitem(exports.FORMATS, name, dataclasses.replace(exports.FORMATS[name], chunk_size=chunk_size))


def mint(api, campaign, quantity: int, brand: str = "brand-a") -> dict:
    return api.json(
        "POST",
        f"/v1/campaigns/{campaign['campaign_id']}/batches",
        {"sku": "NOODLE-90G", "quantity": quantity},
        expect=201,
        brand=brand,
    )


def drain(queue_url: str, *, duplicate: bool = False, limit: int = 500) -> int:
    """Run the worker as Lambda would until the queue is empty; `duplicate` delivers every
    message a second time after it succeeded, as SQS may."""
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    for _ in range(limit):
        if duplicate:
            received = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            for message in received:
                export_worker({"Records": [_record(message, arn)]}, None)
        done, failed = poll_once(sqs, queue_url, export_worker, queue_arn=arn, region="us-east-1", wait_seconds=0)
        assert failed == 0
        if not done:
            return handled
        handled += done
    raise AssertionError("the queue never emptied")


def _record(message: dict, arn: str) -> dict:
    from scripts.export_worker import lambda_event

    return lambda_event(message, arn, "us-east-1")["Records"][0]


def download(api, export_id: str) -> tuple[dict, bytes]:
    export = api.json("GET", f"/v1/exports/{export_id}")
    assert export["status"] == "done", export
    assert export["progress"] == 1.0
    url = export["download_url"]
    assert url and "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url
    # The URL names a key of the export bucket; read it through the same mocked S3.
    key = f"exports/{export_id}/{export['file_name']}"
    assert f"/{key}" in url.split("?")[0]
    body = aws.client("s3").get_object(Bucket=get_settings().export_bucket, Key=key)["Body"].read()
    assert len(body) == export["size_bytes"]
    return export, body


def expected_csv(batch_id: str) -> bytes:
    return "".join(batches.csv_lines(Batch.get(batch_id), 0, Batch.get(batch_id).quantity)).encode()


def batch_urls(batch_id: str) -> list[str]:
    batch = Batch.get(batch_id)
    base = get_settings().public_base_url
    return [
        codes.code_url(base, code)
        for _, code in codes.iter_codes(
            get_keyring(), batch.batch_number, 0, batch.quantity, key_version=batch.key_version
        )
    ]


def test_csv_export_joins_chunks_into_the_print_file(api, campaign, queue, small_parts, monkeypatch):
    chunked(monkeypatch, csv=100)
    batch = mint(api, campaign, 250)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)
    assert queued["status"] == "queued" and queued["progress"] == 0
    assert queued["chunks"] == {"total": 3, "done": 0}
    assert queued["download_url"] is None
    assert queued["export_id"].startswith("exp_")

    assert drain(queue) == 1 + 3  # the plan, then one message per chunk
    export, body = download(api, queued["export_id"])
    assert body == expected_csv(batch["batch_id"])
    for shown in (queued, export):
        OAS31Validator({"$ref": "#/components/schemas/Export", "components": SPEC["components"]}).validate(shown)
    rows = assert_safe_csv(body.decode())
    assert rows[0] == ["serial", "code", "url"] and len(rows) == 251
    assert export["chunks"] == {"total": 3, "done": 3}
    assert export["file_name"] == f"{batch['batch_id']}.csv"


def test_csv_export_at_real_part_sizes(api, campaign, queue):
    # A first chunk of ~8 MB copied inside S3 under S3's real 5 MiB floor, then one row.
    batch = mint(api, campaign, 100_001)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)
    assert queued["chunks"]["total"] == 2
    drain(queue)
    _, body = download(api, queued["export_id"])
    assert body.count(b"\n") == 100_002
    assert body == expected_csv(batch["batch_id"])


@pytest.mark.parametrize("fmt", ["png-zip", "svg-zip"])
def test_image_zip_export_is_one_archive_of_scannable_codes(api, campaign, queue, small_parts, monkeypatch, fmt):
    chunked(monkeypatch, **{fmt: 20})
    batch = mint(api, campaign, 45)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": fmt}, expect=202)
    drain(queue)
    export, body = download(api, queued["export_id"])
    assert export["file_name"].endswith(f".{fmt[:3]}.zip")
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    names = archive.namelist()
    urls = batch_urls(batch["batch_id"])
    assert len(names) == 45
    for serial, name in enumerate(names):
        assert name == f"{serial:08d}_{urls[serial].rsplit('/', 1)[1]}.{fmt[:3]}"
    if fmt == "png-zip":
        for serial in (0, 21, 44):
            image = Image.open(io.BytesIO(archive.read(names[serial])))
            assert [r.text for r in zxingcpp.read_barcodes(image)] == [urls[serial]]
    else:
        for serial in (0, 44):
            assert archive.read(names[serial]).decode() == qr.render_svg(urls[serial])


def test_pdf_export_is_an_a4_label_sheet_with_code_text(api, campaign, queue, small_parts, monkeypatch):
    chunked(monkeypatch, pdf=40)  # one page per chunk
    batch = mint(api, campaign, 85)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "pdf"}, expect=202)
    assert queued["chunks"]["total"] == 3
    drain(queue)
    _, body = download(api, queued["export_id"])
    urls = batch_urls(batch["batch_id"])
    document = pdfium.PdfDocument(body)
    assert len(document) == 3
    seen, texts = [], ""
    for page in document:
        width, height = page.get_size()
        assert (round(width), round(height)) == (595, 842)  # A4 in points
        texts += page.get_textpage().get_text_range()
        image = page.render(scale=150 / 72, grayscale=True).to_pil()
        seen += [r.text for r in zxingcpp.read_barcodes(image)]
    assert sorted(seen) == sorted(urls)
    for url in urls:
        assert url.rsplit("/", 1)[1] in texts


def test_bad_export_requests_name_the_field_and_write_nothing(api, campaign, queue):
    batch = mint(api, campaign, 10)
    for body, field in [
        ({"format": "docx"}, "format"),
        ({"format": "CSV"}, "format"),
        ({}, "format"),
        ({"format": "csv", "colour": "red"}, "colour"),
        ({"format": 1}, "format"),
        ({"format": ["csv"]}, "format"),
    ]:
        response = api.call("POST", f"/v1/batches/{batch['batch_id']}/exports", body)
        assert response.status_code == 400, body
        error = json.loads(response.body)["error"]
        assert error["field"] == field and error["code"] == "invalid_input", body
    message = json.loads(api.call("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "docx"}).body)
    assert message["error"]["message"] == "format: Must be one of 'csv', 'svg-zip', 'png-zip' or 'pdf'."
    assert [e for e in Export.scan() if e.batch_id == batch["batch_id"]] == []
    assert aws.client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_exports_belong_to_the_batch_brand_and_writers(api, campaign, queue):
    batch = mint(api, campaign, 10)
    path = f"/v1/batches/{batch['batch_id']}/exports"
    assert api.call("POST", path, {"format": "csv"}, brand="brand-b").status_code == 404
    assert api.call("POST", path, {"format": "csv"}, role="viewer").status_code == 403
    assert api.call("POST", "/v1/batches/bat_nope/exports", {"format": "csv"}).status_code == 404
    queued = api.json("POST", path, {"format": "csv"}, expect=202)
    assert api.call("GET", f"/v1/exports/{queued['export_id']}", brand="brand-b").status_code == 404
    assert api.call("GET", f"/v1/exports/{queued['export_id']}", role="viewer").status_code == 403
    assert api.call("GET", "/v1/exports/exp_01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404


def test_void_batch_is_refused_and_a_voided_batch_file_is_withheld(api, campaign, queue):
    batch = mint(api, campaign, 10)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)
    drain(queue)
    assert api.json("GET", f"/v1/exports/{queued['export_id']}")["download_url"]
    api.json("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": "void"})
    response = api.call("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "pdf"})
    assert response.status_code == 409 and json.loads(response.body)["error"]["field"] == "status"
    withheld = api.json("GET", f"/v1/exports/{queued['export_id']}")
    assert withheld["status"] == "done" and withheld["download_url"] is None
    assert "void" in withheld["error"]


def test_duplicate_deliveries_finish_once(api, campaign, queue, small_parts, monkeypatch):
    chunked(monkeypatch, csv=40)
    finished = []
    assemble = exports._assemble
    monkeypatch.setattr(exports, "_assemble", lambda export: finished.append(export.export_id) or assemble(export))
    batch = mint(api, campaign, 200)
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)
    drain(queue, duplicate=True)
    assert finished == [queued["export_id"]]
    _, body = download(api, queued["export_id"])
    assert body == expected_csv(batch["batch_id"])
    assert Export.get(queued["export_id"]).done == set(range(5))


def test_progress_counts_chunks_and_the_join(api, campaign, queue, small_parts, monkeypatch):
    chunked(monkeypatch, csv=50)
    batch = mint(api, campaign, 200)
    export_id = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)["export_id"]
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    poll_once(sqs, queue, export_worker, queue_arn=arn, region="us-east-1", wait_seconds=0)  # the plan
    poll_once(sqs, queue, export_worker, queue_arn=arn, region="us-east-1", wait_seconds=0)  # chunk 0
    running = api.json("GET", f"/v1/exports/{export_id}")
    assert running["status"] == "running" and running["chunks"] == {"total": 4, "done": 1}
    assert running["progress"] == 0.2 and running["download_url"] is None


def test_a_failing_chunk_is_retried_then_fails_the_export(api, campaign, queue, monkeypatch):
    batch = mint(api, campaign, 10)
    export_id = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)["export_id"]
    exports.handle_message(exports._message(export_id, "plan"))
    monkeypatch.setattr(printfiles, "csv_rows", lambda *args: iter([b"1,2,3\n", 1 / 0]))
    message = exports._message(export_id, "chunk", 0)
    for attempt in range(1, exports.MAX_RECEIVES):
        with pytest.raises(ZeroDivisionError):
            exports.handle_message(message, attempt=attempt)
        assert api.json("GET", f"/v1/exports/{export_id}")["status"] == "running"
    # Nothing half-written is left behind: the part upload was aborted each time.
    s3 = aws.client("s3")
    assert s3.list_multipart_uploads(Bucket=get_settings().export_bucket).get("Uploads", []) == []
    with pytest.raises(ZeroDivisionError):
        exports.handle_message(message, attempt=exports.MAX_RECEIVES)
    failed = api.json("GET", f"/v1/exports/{export_id}")
    assert failed["status"] == "failed" and "5 attempts" in failed["error"]
    exports.handle_message(message, attempt=6)  # a late redelivery of a failed export does nothing


def test_a_failed_delivery_is_retried_soon_not_after_the_visibility_timeout(api, campaign, queue, monkeypatch):
    batch = mint(api, campaign, 10)
    export_id = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)["export_id"]
    delays = []
    monkeypatch.setattr(sqs, "change_visibility", lambda handle, seconds: delays.append((handle, seconds)))
    monkeypatch.setattr(exports, "_plan", lambda export: 1 / 0)
    for attempt in (1, 2, 3):
        with pytest.raises(ZeroDivisionError):
            exports.handle_message(exports._message(export_id, "plan"), attempt=attempt, receipt_handle="rh")
    assert delays == [("rh", 10), ("rh", 30), ("rh", 90)]


def test_unreadable_or_unknown_messages_are_dropped(store):
    for body in [
        "not json",
        "[]",
        '{"v": 2}',
        '{"v": 1, "export_id": "exp_x", "step": "plan"}',
        '{"v": 1, "export_id": "exp_01ARZ3NDEKTSV4RRFFQ69G5FAV", "step": "chunk"}',
        '{"v": 1, "export_id": "exp_01ARZ3NDEKTSV4RRFFQ69G5FAV", "step": "plan"}',
    ]:
        exports.handle_message(body)  # returns, so the message is deleted instead of looping


def test_worker_handler_takes_the_lambda_event(api, campaign, queue, monkeypatch):
    seen = []
    monkeypatch.setattr(exports, "handle_message", lambda body, **kw: seen.append((body, kw)))
    from chalice.test import Client

    with Client(app) as client:
        event = client.events.generate_sqs_event(message_bodies=["m1"], queue_name="qrc-local-exports")
        client.lambda_.invoke("export_worker", event)
    assert seen == [("m1", {"attempt": 1, "receipt_handle": "receipt-handle"})]


def _brand_campaign(api, brand: str) -> dict:
    from tests.support import VALID_CAMPAIGN

    return api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201, brand=brand)


def _queued(queue_url: str) -> list[dict]:
    """The bodies of the messages waiting in the queue, left there (visibility 0)."""
    sqs_client = aws.client("sqs")
    seen: dict[str, dict] = {}
    for _ in range(20):
        for message in sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            seen[message["MessageId"]] = json.loads(message["Body"])
    return list(seen.values())


def test_one_brand_has_at_most_three_exports_under_way(api, queue):
    brand = "brand-slots"
    batch = mint(api, _brand_campaign(api, brand), 30, brand=brand)
    path = f"/v1/batches/{batch['batch_id']}/exports"
    for _ in range(exports.ACTIVE_PER_BRAND):
        api.json("POST", path, {"format": "csv"}, expect=202, brand=brand)
    refused = api.call("POST", path, {"format": "csv"}, brand=brand)
    assert refused.status_code == 429 and refused.json_body["error"]["code"] == "limit_reached"
    assert 0 < int(refused.headers["Retry-After"]) <= exports.ACTIVE_LEASE.total_seconds()
    other = mint(api, _brand_campaign(api, "brand-other"), 30, brand="brand-other")
    api.json("POST", f"/v1/batches/{other['batch_id']}/exports", {"format": "csv"}, expect=202, brand="brand-other")
    drain(queue)  # every export ends: the slots are free again
    api.json("POST", path, {"format": "csv"}, expect=202, brand=brand)
    drain(queue)


def test_an_export_lost_for_good_gives_its_slot_back_after_the_lease(api, queue):
    brand = "brand-lost"
    batch = mint(api, _brand_campaign(api, brand), 30, brand=brand)
    path = f"/v1/batches/{batch['batch_id']}/exports"
    for _ in range(exports.ACTIVE_PER_BRAND):
        api.json("POST", path, {"format": "csv"}, expect=202, brand=brand)
    empty_queue(queue)  # their messages are gone: these exports will never end
    assert api.call("POST", path, {"format": "csv"}, brand=brand).status_code == 429
    later = time.time() + exports.ACTIVE_LEASE.total_seconds() + 60
    token = operator_token(brand)  # signed now: the server reads the moved clock, the token's checks do not
    with clock.replaced(lambda: later, steady=time.monotonic):
        api.json("POST", path, {"format": "csv"}, expect=202, token=token)
    empty_queue(queue)


def test_a_big_export_queues_one_wave_of_chunks_at_a_time(api, campaign, queue, small_parts, monkeypatch):
    chunked(monkeypatch, csv=10)
    monkeypatch.setattr(exports, "WAVE", 4)
    batch = mint(api, campaign, 250)  # 25 chunks
    queued = api.json("POST", f"/v1/batches/{batch['batch_id']}/exports", {"format": "csv"}, expect=202)
    sqs_client = aws.client("sqs")
    arn = sqs_client.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    most = 0
    while True:
        waiting = [m for m in _queued(queue) if m["export_id"] == queued["export_id"] and m["step"] == "chunk"]
        most = max(most, len(waiting))
        handled, failed = poll_once(sqs_client, queue, export_worker, queue_arn=arn, region="us-east-1", wait_seconds=0)
        assert failed == 0
        if not handled:
            break
    assert most == 4, "never more than one wave of this export's chunks in the queue"
    _, body = download(api, queued["export_id"])
    assert body == expected_csv(batch["batch_id"])
