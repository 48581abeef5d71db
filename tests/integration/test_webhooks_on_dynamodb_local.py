"""Webhooks on DynamoDB Local and an SQS (moto server) with a real HTTP receiver: a receiver down then up gets every
event, duplicates only as retries of one webhook-id; a 410 disables; a private address is refused in an AWS stage; a
fault at any AWS call of the delivery path loses nothing."""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

import app
from chalicelib.adapters import aws, sqs, webhook_http
from chalicelib.adapters.models import AuditEvent, WebhookDelivery, WebhookEvent
from chalicelib.config import Settings, get_settings
from chalicelib.domain import webhooks as rules
from chalicelib.services import batches, campaigns, webhook_delivery, webhooks
from scripts.export_worker import lambda_event
from tests.faults import Crash, Injector, prove
from tests.integration.test_faults_on_dynamodb_local import _empty_tables, frozen, injector, moto_server  # noqa: F401
from tests.support import VALID_CAMPAIGN, empty_queue, run_schedule
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(600)
BRAND = "brand-a"
# The proof keeps the receiver down for 60 s; the suite makes it shorter
# (WEBHOOK_DOWN_SECONDS=60 runs the long version).
DOWN_SECONDS = float(os.environ.get("WEBHOOK_DOWN_SECONDS", "8"))


@pytest.fixture
def queue(moto_server, store, monkeypatch):
    """The delivery queue with its dead-letter queue, as dev.py and AWS have them."""
    from scripts.dev import WEBHOOK_RECEIVES, create_queue

    name = f"whk-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SQS_ENDPOINT", moto_server)
    monkeypatch.setenv("WEBHOOK_QUEUE_NAME", name)
    get_settings.cache_clear()
    sqs._queue_url.cache_clear()
    url, dlq = create_queue(moto_server, name, WEBHOOK_RECEIVES, 30)
    arn = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield {"url": url, "dlq": dlq, "arn": arn}
    get_settings.cache_clear()
    sqs._queue_url.cache_clear()


def _activate_batches(count: int) -> list[str]:
    """`count` batches activated: each an audited change that makes one `batch.activated` event."""
    campaign = campaigns.create_campaign(BRAND, "op", VALID_CAMPAIGN)
    made = []
    for _ in range(count):
        batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": 2})
        batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
        made.append(batch["batch_id"])
    return made


def _audit_records() -> list[dict]:
    """The audit table's new events as its stream hands them to webhook_outbox (this run's only)."""
    return [{"eventName": "INSERT", "dynamodb": {"NewImage": event.serialize()}} for event in AuditEvent.query(BRAND)]


def _deliver_once(queue: dict, message: dict) -> bool:
    try:
        app.webhook_deliverer(lambda_event(message, queue["arn"], "us-east-1"), None)
    except Exception:  # noqa: BLE001 - like Lambda: the message stays and comes again
        return False
    aws.client("sqs").delete_message(QueueUrl=queue["url"], ReceiptHandle=message["ReceiptHandle"])
    return True


class _Deliverer:
    """Lambda's SQS event source for the deliverer, and the minute sweep, in threads of this process."""

    def __init__(self, queue: dict, senders: int = 4) -> None:
        self.queue, self.stop = queue, threading.Event()
        self.pool = ThreadPoolExecutor(senders)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = aws.client("sqs")
        last_sweep = time.monotonic()
        while not self.stop.is_set():
            got = client.receive_message(QueueUrl=self.queue["url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
            list(self.pool.map(lambda m: _deliver_once(self.queue, m), got.get("Messages", [])))
            if time.monotonic() - last_sweep > 2:
                run_schedule("webhook_sweep")
                last_sweep = time.monotonic()

    def __enter__(self) -> _Deliverer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.pool.shutdown()


def _wait_until(done: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not every delivery was made in time"
        time.sleep(0.5)


def test_a_receiver_down_then_up_gets_every_event_and_duplicates_only_as_retries(queue, monkeypatch):
    # Quicker backoff in the suite (the same shape: full jitter, doubling); the sweep takes overdue ones.
    monkeypatch.setattr(rules, "_FIRST_DELAY", 1.0)
    monkeypatch.setattr(webhook_delivery, "_SWEEP_GRACE", webhook_delivery.timedelta(seconds=2))
    receiver = Receiver()
    try:
        made = webhooks.create_webhook(BRAND, "op", {"url": receiver.url, "event_types": ["batch.activated"]})
        receiver.stop()  # down
        _activate_batches(12)
        app.webhook_outbox({"Records": _audit_records()}, None)
        events = {e.event_id for e in WebhookEvent.query(BRAND)}
        assert len(events) == 12
        with _Deliverer(queue):
            time.sleep(DOWN_SECONDS)
            failed = [d for d in WebhookDelivery.query(made["webhook_id"]) if d.attempts]
            assert failed, "nothing was tried while the receiver was down"
            receiver.start()  # up again, on the same port
            pending = lambda: [d for d in WebhookDelivery.query(made["webhook_id"]) if d.status != "delivered"]  # noqa: E731
            _wait_until(lambda: not pending(), 240 + DOWN_SECONDS)
        got = receiver.take()
        by_id: dict[str, set[bytes]] = {}
        for request in got:
            Webhook(made["secret"]).verify(request.body, request.headers)
            by_id.setdefault(request.headers["webhook-id"], set()).add(request.body)
        assert set(by_id) == events, "every event arrived, and nothing else"
        assert all(len(bodies) == 1 for bodies in by_id.values()), "a duplicate is a retry of the same event"
        log = list(WebhookDelivery.query(made["webhook_id"]))
        assert all(d.attempts >= 1 and d.last_status == 200 for d in log)
        assert any(d.attempts > 1 for d in log), "some deliveries were retried"
    finally:
        receiver.stop()


def test_a_410_disables_the_endpoint_and_nothing_more_is_sent(queue):
    receiver = Receiver(lambda request: 410)
    try:
        made = webhooks.create_webhook(BRAND, "op", {"url": receiver.url, "event_types": ["batch.activated"]})
        _activate_batches(3)
        app.webhook_outbox({"Records": _audit_records()}, None)
        with _Deliverer(queue, senders=1):
            _wait_until(lambda: all(d.status != "pending" for d in WebhookDelivery.query(made["webhook_id"])), 60)
        shown = webhooks.get_webhook(BRAND, made["webhook_id"])
        assert shown["status"] == "disabled" and "410" in shown["disabled_reason"]
        assert len(receiver.take()) == 1  # the first answer disabled it: the others were not posted
    finally:
        receiver.stop()


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "127.0.0.1", "::ffff:192.168.0.9", "fd00::1"])
def test_a_url_resolving_to_a_private_address_is_refused_in_an_aws_stage(queue, monkeypatch, address):
    """The name passed the check when the endpoint was made; at delivery it resolves to a private
    address (DNS rebinding, or an internal name): nothing is connected to, the attempt fails."""
    receiver = Receiver()
    try:
        made = webhooks.create_webhook(
            BRAND, "op", {"url": "https://hooks.brand.example/in", "event_types": ["batch.activated"]}
        )
        monkeypatch.setattr(webhook_delivery, "get_settings", lambda: Settings(stage="dev"))
        family = 10 if ":" in address else 2
        monkeypatch.setattr(webhook_http, "_resolve", lambda host, port, **kw: [(family, 1, 6, "", (address, port))])
        connected = []
        monkeypatch.setattr(webhook_http, "_connect", lambda *a, **k: connected.append(a))
        _activate_batches(1)
        app.webhook_outbox({"Records": _audit_records()}, None)
        (delivery,) = WebhookDelivery.query(made["webhook_id"])
        assert webhook_delivery.deliver(made["webhook_id"], delivery.event_key) == "retry"
        (delivery,) = WebhookDelivery.query(made["webhook_id"])
        assert delivery.last_error.startswith("refused") and delivery.last_status is None
        assert connected == [] and receiver.take() == []
    finally:
        receiver.stop()


def _run_delivery_path(queue: dict, injector: Injector, clock_now: list, records: list[dict]) -> None:
    """The outbox's stream batch until it is taken, then every message, the sweep and its messages, as
    Lambda, SQS and EventBridge would: a failed run comes again, time moves past a lost sender's lease."""
    for _ in range(20):
        try:
            with injector.counted():
                app.webhook_outbox({"Records": records}, None)
            break
        except (Exception, Crash):  # noqa: BLE001 - the stream hands the batch again
            injector.revive()
    client = aws.client("sqs")
    for _ in range(60):
        got = client.receive_message(QueueUrl=queue["url"], MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages")
        if got:
            try:
                with injector.counted():
                    app.webhook_deliverer(lambda_event(got[0], queue["arn"], "us-east-1"), None)
            except (Exception, Crash):  # noqa: BLE001 - SQS gives the message again
                injector.revive()
                clock_now[0] += 120  # past the lease of a sender that was lost
                client.change_message_visibility(
                    QueueUrl=queue["url"], ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            client.delete_message(QueueUrl=queue["url"], ReceiptHandle=got[0]["ReceiptHandle"])
            continue
        if all(d.status != "pending" for d in WebhookDelivery.scan()):
            return
        clock_now[0] += 120  # a minute or two: the sweep finds what no message carries
        try:
            with injector.counted():
                run_schedule("webhook_sweep")
        except (Exception, Crash):  # noqa: BLE001 - the next minute's run
            injector.revive()
    raise AssertionError("the deliveries never settled")


def test_a_fault_at_any_aws_call_of_the_delivery_path_loses_nothing(queue, injector, frozen):
    clock_now, reset_clock = frozen
    receiver = Receiver()

    def reset() -> None:
        with injector.quiet():  # the harness's own calls, whatever the last run left armed
            _empty_tables()
            empty_queue(queue["url"])
        receiver.take()
        reset_clock()

    def setup() -> dict:
        sqs.webhook_queue_url()  # looked up by name once (the local stack only; AWS passes the URL)
        made = webhooks.create_webhook(BRAND, "op", {"url": receiver.url, "event_types": ["batch.activated"]})
        _activate_batches(1)
        return {"webhook_id": made["webhook_id"], "records": _audit_records()}

    def run(world: dict) -> None:
        with injector.quiet():
            _run_delivery_path(queue, injector, clock_now, world["records"])

    def state(world: dict, _: Any) -> dict:
        deliveries = list(WebhookDelivery.query(world["webhook_id"]))
        events = list(WebhookEvent.query(BRAND))
        got = receiver.take()
        return {
            "events": [e.type for e in events],
            "deliveries": [(d.status, d.last_status, d.event_id == events[0].event_id) for d in deliveries],
            "received": sorted({r.headers["webhook-id"] == events[0].event_id for r in got}),
            "bodies": len({r.body for r in got}),
        }

    try:
        proof = prove(injector, reset=reset, setup=setup, run=run, state=state)
    finally:
        receiver.stop()
    services = {call.service for call in proof.baseline_calls}
    assert {"dynamodb", "sqs"} <= services and len(proof.runs) > 10
    print(f"webhooks: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
