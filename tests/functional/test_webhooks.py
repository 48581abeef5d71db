"""Webhook endpoints over the API (moto): owners only, the secret shown once, a ping a receiver verifies with the
standardwebhooks library, rotation's overlap, events from claims and audit events written once and delivered."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.adapters import aws, sqs
from chalicelib.adapters.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from chalicelib.config import get_settings
from tests.support import empty_queue
from tests.webhook_receiver import Receiver


@pytest.fixture
def queue(store):
    sqs._queue_url.cache_clear()
    aws.client("sqs").create_queue(QueueName=get_settings().webhook_queue_name)
    yield empty_queue(sqs.webhook_queue_url())
    sqs._queue_url.cache_clear()


@pytest.fixture
def receiver():
    got = Receiver()
    yield got
    got.stop()


def _create(api, url: str, types: list[str] | None = None) -> dict:
    body = {"url": url, "event_types": types or ["claim.granted"], "description": "CRM"}
    return api.json("POST", "/v1/webhooks", body, expect=201)


def test_the_secret_is_shown_once_and_a_ping_verifies_as_a_receiver_would(api, queue, receiver):
    made = _create(api, receiver.url)
    assert made["secret"].startswith("whsec_") and made["status"] == "enabled"
    shown = api.json("GET", f"/v1/webhooks/{made['webhook_id']}")
    assert "secret" not in shown and made["secret"] not in json.dumps(api.json("GET", "/v1/webhooks"))
    stored = WebhookEndpoint.get("brand-a", made["webhook_id"])
    assert made["secret"] not in stored.secret_sealed  # sealed at rest

    answer = api.json("POST", f"/v1/webhooks/{made['webhook_id']}/ping")
    assert answer["delivered"] and answer["status"] == 200
    (got,) = receiver.take()
    payload = Webhook(made["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "webhook.ping" and got.headers["webhook-id"] == payload["id"] == answer["message_id"]
    _matches_spec(payload)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(got.body, got.headers)


def test_a_rotation_signs_with_both_secrets_for_its_overlap_then_with_the_new_alone(api, queue, receiver):
    made = _create(api, receiver.url)
    rotated = api.json("POST", f"/v1/webhooks/{made['webhook_id']}/rotate", {"overlap_hours": 2})
    assert rotated["secret"] != made["secret"] and rotated["previous_secret_until"]
    api.json("POST", f"/v1/webhooks/{made['webhook_id']}/ping")
    (got,) = receiver.take()
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (made["secret"], rotated["secret"]):
        Webhook(secret).verify(got.body, got.headers)
    again = api.json("POST", f"/v1/webhooks/{made['webhook_id']}/rotate", {"overlap_hours": 0})
    api.json("POST", f"/v1/webhooks/{made['webhook_id']}/ping")
    (got,) = receiver.take()
    Webhook(again["secret"]).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(got.body, got.headers)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["claim.granted"]}, "url"),
        ({"url": "ftp://example.com/x", "event_types": ["claim.granted"]}, "url"),
        ({"url": "http://10.0.0.8/hook", "event_types": ["claim.granted"]}, "url"),
        ({"url": "https://example.com/x", "event_types": []}, "event_types"),
        ({"url": "https://example.com/x", "event_types": ["claim.nope"]}, "event_types"),
        ({"url": "https://example.com/x", "event_types": ["claim.granted"], "brand_id": "b"}, "brand_id"),
        ({"url": "https://example.com/x", "event_types": ["claim.granted"], "description": ""}, "description"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(api, queue, body, field):
    answer = api.call("POST", "/v1/webhooks", body)
    assert answer.status_code == 400, answer.body
    assert json.loads(answer.body)["error"]["field"] == field
    assert list(WebhookEndpoint.scan()) == []


def test_only_owners_manage_webhooks(api, queue):
    for role in ("manager", "viewer"):
        answer = api.call(
            "POST", "/v1/webhooks", {"url": "https://example.com/x", "event_types": ["claim.granted"]}, role=role
        )
        assert answer.status_code == 403
        assert api.call("GET", "/v1/webhooks", role=role).status_code == 403


def test_change_disable_and_delete(api, queue, receiver):
    made = _create(api, receiver.url)
    path = f"/v1/webhooks/{made['webhook_id']}"
    changed = api.json("PATCH", path, {"event_types": ["batch.voided", "claim.granted"], "status": "disabled"})
    assert changed["status"] == "disabled" and changed["disabled_reason"] == "disabled by an owner"
    assert api.json("PATCH", path, {"status": "enabled"})["disabled_reason"] is None
    assert api.call("PATCH", path, {}).status_code == 400
    assert api.call("PATCH", path, {"status": "gone"}).status_code == 400
    api.json("DELETE", path)
    assert api.call("GET", path).status_code == 404


def _deliver_all(url: str) -> int:
    """Run the deliverer's entry point on every message waiting, as Lambda's SQS source would."""
    import app

    done = 0
    client = aws.client("sqs")
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            event = {
                "Records": [
                    {
                        "body": message["Body"],
                        "receiptHandle": message["ReceiptHandle"],
                        "attributes": {},
                        "messageAttributes": {},
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                    }
                ]
            }
            app.webhook_deliverer(event, None)
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            done += 1
    return done


def _one_event(api, campaign) -> dict:
    """A batch activated, its audit event read from the stream into the outbox: one `batch.activated`."""
    batch = api.json(
        "POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", {"sku": "A", "quantity": 3}, expect=201
    )
    api.json("POST", f"/v1/batches/{batch['batch_id']}/status", {"status": "active"})
    from scripts.webhook_worker import audit_feeder

    audit_feeder().drain()
    return batch


def test_an_audited_change_makes_one_event_however_often_its_stream_record_comes(api, queue, receiver, campaign):
    made = _create(api, receiver.url, ["batch.activated", "batch.voided"])
    batch = _one_event(api, campaign)
    from scripts.webhook_worker import audit_feeder

    audit_feeder().drain()  # the same records again, as Lambda may deliver a batch twice
    events = [e for e in WebhookEvent.query("brand-a")]
    assert [e.type for e in events] == ["batch.activated"]
    assert len(list(WebhookDelivery.query(made["webhook_id"]))) == 1
    _deliver_all(queue)
    (got,) = receiver.take()
    payload = Webhook(made["secret"]).verify(got.body, got.headers)
    assert payload["data"]["batch_id"] == batch["batch_id"] and payload["id"] == events[0].event_id
    _matches_spec(payload)
    log = api.json("GET", f"/v1/webhooks/{made['webhook_id']}/deliveries")["items"]
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 1 and log[0]["last_status"] == 200


def test_a_410_disables_the_endpoint_at_once(api, queue, campaign):
    gone = Receiver(lambda received: 410)
    try:
        made = _create(api, gone.url, ["batch.activated"])
        _one_event(api, campaign)
        _deliver_all(queue)
        shown = api.json("GET", f"/v1/webhooks/{made['webhook_id']}")
        assert shown["status"] == "disabled" and "410" in shown["disabled_reason"]
        assert len(gone.take()) == 1
    finally:
        gone.stop()


def test_replay_sends_a_range_again_with_the_same_ids(api, queue, receiver, campaign):
    made = _create(api, receiver.url, ["batch.activated"])
    _one_event(api, campaign)
    _deliver_all(queue)
    first = receiver.take()
    from chalicelib.domain import clock

    now = clock.now()
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(minutes=1)).isoformat()}
    assert (
        api.call(
            "POST", f"/v1/webhooks/{made['webhook_id']}/replay", {"from": window["to"], "to": window["from"]}
        ).status_code
        == 400
    )
    answer = api.json("POST", f"/v1/webhooks/{made['webhook_id']}/replay", window, expect=202)
    assert answer["queued"] == 1
    _deliver_all(queue)
    again = receiver.take()
    assert [r.headers["webhook-id"] for r in again] == [r.headers["webhook-id"] for r in first]


def _matches_spec(payload: dict) -> None:
    """A delivered payload against its schema in docs/openapi.yaml's `webhooks:` section."""
    import pathlib

    import yaml
    from jsonschema import Draft202012Validator

    spec = yaml.safe_load((pathlib.Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
    ref = spec["webhooks"][payload["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    Draft202012Validator({"$ref": ref, "components": spec["components"]}).validate(payload)


def test_a_claim_is_granted_with_the_brands_pseudonym_and_never_the_phone(api, queue, receiver):
    from scripts.stats_worker import drain
    from tests.support import active_batch, shopper_token

    made = _create(api, receiver.url, ["claim.granted", "prize.won"])
    _, _, codes = active_batch("brand-a", 2)
    token = shopper_token("+84912345678")
    api.json("POST", "/v1/scans", {"code": codes[0]}, token=token, headers={"Idempotency-Key": "k-1"})
    drain()
    drain()  # the same stream read again: no second event
    _deliver_all(queue)
    (got,) = receiver.take()
    payload = Webhook(made["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "claim.granted" and payload["data"]["member_id"].startswith("mbr_")
    assert "912345678" not in got.body.decode() and "shp_" not in got.body.decode()
    _matches_spec(payload)


def test_retries_go_on_for_three_days_then_give_up_and_an_endpoint_failing_for_days_is_disabled(
    api, queue, campaign, caplog
):
    import time as real_time

    from chalicelib.domain import clock
    from chalicelib.services import webhook_delivery

    down = Receiver(lambda received: 503)
    try:
        made = _create(api, down.url, ["batch.activated"])
        _one_event(api, campaign)
        (first,) = WebhookDelivery.query(made["webhook_id"])
        assert webhook_delivery.deliver(made["webhook_id"], first.event_key) == "retry"
        after = WebhookDelivery.get(made["webhook_id"], first.event_key)
        assert after.status == "pending" and after.attempts == 1 and after.last_status == 503 and after.next_try
        start = real_time.time()
        with clock.replaced(lambda: start + 2 * 86400):  # two days on: still retrying
            assert webhook_delivery.deliver(made["webhook_id"], first.event_key) == "retry"
        with clock.replaced(lambda: start + 3 * 86400 + 2 * 3600):  # past three days: given up
            assert webhook_delivery.deliver(made["webhook_id"], first.event_key) == "given_up"
        assert WebhookDelivery.get(made["webhook_id"], first.event_key).status == "failed"
        assert api.json("GET", f"/v1/webhooks/{made['webhook_id']}")["status"] == "enabled"
        _one_event(api, campaign)
        (second,) = [d for d in WebhookDelivery.query(made["webhook_id"]) if d.event_key != first.event_key]
        with clock.replaced(lambda: start + 5 * 86400 + 3600):  # failing since five days: disabled
            assert webhook_delivery.deliver(made["webhook_id"], second.event_key) == "retry"
        shown = api.json("GET", f"/v1/webhooks/{made['webhook_id']}")
        assert shown["status"] == "disabled" and "5 days" in shown["disabled_reason"]
        assert shown["failures_in_a_row"] == 4
        assert any("webhook_endpoint_disabled" in r.getMessage() for r in caplog.records)  # the alarm's line
    finally:
        down.stop()


def test_no_more_than_the_bound_is_in_flight_to_one_endpoint(api, queue, receiver, campaign, monkeypatch):
    from chalicelib.adapters import webhook_store
    from chalicelib.domain import clock
    from chalicelib.services import webhook_delivery

    monkeypatch.setattr(webhook_delivery, "MAX_IN_FLIGHT", 1)
    made = _create(api, receiver.url, ["batch.activated"])
    _one_event(api, campaign)
    empty_queue(queue)
    (delivery,) = WebhookDelivery.query(made["webhook_id"])
    held = webhook_store.take_slot(made["webhook_id"], "another-delivery", int(clock.epoch()), 40, 1)
    assert held and webhook_store.take_slot(made["webhook_id"], "a third", int(clock.epoch()), 40, 1) is None
    assert webhook_delivery.deliver(made["webhook_id"], delivery.event_key) == "waiting"
    waiting = WebhookDelivery.get(made["webhook_id"], delivery.event_key)
    assert waiting.attempts == 0 and waiting.next_try > delivery.next_try and receiver.take() == []
    messages = aws.client("sqs").receive_message(QueueUrl=queue, AttributeNames=["All"]).get("Messages", [])
    assert messages == []  # held back until the slot may be free (DelaySeconds)
    webhook_store.free_slot(held, "another-delivery")
    assert webhook_delivery.deliver(made["webhook_id"], delivery.event_key) == "skipped"  # not due yet
    later = clock.epoch() + 10
    with clock.replaced(lambda: later):
        assert webhook_delivery.deliver(made["webhook_id"], delivery.event_key) == "delivered"


def test_a_batch_status_change_is_never_written_without_its_audit_event(api, campaign):
    """The batch events come from the audit event: a crash between the status change and its event lost
    both the audit trail's line and the webhook. Crash at every AWS call of the change: the batch moved
    if and only if its audit event is there."""
    from chalicelib.adapters.models import AuditEvent, Batch
    from chalicelib.services import batches
    from tests.faults import Crash, Injector

    def moved_and_recorded(batch_id: str) -> tuple[bool, bool]:
        events = [e for e in AuditEvent.query("brand-a") if e.target == batch_id and e.action == "batch_status"]
        return Batch.get(batch_id).status == "active", bool(events)

    with Injector().installed() as injector:
        for k in range(1, 6):
            with injector.quiet():
                batch = api.json(
                    "POST", f"/v1/campaigns/{campaign['campaign_id']}/batches", {"sku": "A", "quantity": 3}, expect=201
                )
            injector.arm("crash", k)
            try:
                batches.change_batch_status("brand-a", batch["batch_id"], "op", {"status": "active"})
            except Crash:
                pass
            injector.revive()
            injector.arm(None)
            with injector.quiet():
                moved, recorded = moved_and_recorded(batch["batch_id"])
            assert moved == recorded, (k, injector.fired, moved, recorded)


def test_a_copied_code_signal_goes_to_the_feed_once_with_pseudonyms_only(api, queue, receiver):
    from chalicelib.adapters import records
    from scripts.stats_worker import drain
    from tests.support import active_batch, shopper_token

    records.clear_cache()  # batch numbers start again in each test's tables: forget the earlier tests' lookups

    made = _create(api, receiver.url, ["integrity.signal_raised"])
    _, _, codes = active_batch("brand-a", 2)
    saigon = {"CloudFront-Viewer-Country": "VN", "CloudFront-Viewer-Country-Region": "SG"}
    first = api.call("POST", "/v1/scans", {"code": codes[0]}, token=shopper_token("+84911000000"), headers=saigon)
    assert first.status_code == 200
    for i in range(1, 6):  # more shoppers than a copied code's default threshold try the claimed code
        token = shopper_token(f"+8491100000{i}")
        assert api.call("POST", "/v1/scans", {"code": codes[0]}, token=token, headers=saigon).status_code == 409
    drain()
    drain()  # the same stream read again: the signal is not raised again, nor its event written again
    events = [e for e in WebhookEvent.query("brand-a") if e.type == "integrity.signal_raised"]
    assert len(events) == 1, [json.loads(e.body)["data"] for e in events]
    _deliver_all(queue)
    (got,) = receiver.take()
    payload = Webhook(made["secret"]).verify(got.body, got.headers)
    data = payload["data"]
    assert data["kind"] == "copied_code" and data["subject"] == codes[0] and data["places"] == ["VN-SG"]
    assert len(data["member_ids"]) >= 3 and all(m.startswith("mbr_") for m in data["member_ids"])
    assert "shp_" not in got.body.decode() and "91100000" not in got.body.decode()
    _matches_spec(payload)
