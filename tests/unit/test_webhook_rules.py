"""Webhooks' pure rules: signatures a receiver's library verifies, the URL and address rules, the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.domain import webhooks as rules


def test_a_signature_is_the_libraries_own_and_a_rotation_carries_both():
    old, new = rules.new_secret(), rules.new_secret()
    assert old.startswith("whsec_") and len(rules.secret_key(old)) == 32
    now = int(datetime.now(UTC).timestamp())
    body = b'{"id":"evt_x","type":"claim.granted"}'
    header = rules.signature_header([new, old], "evt_x", now, body)
    assert header.split(" ")[0] == Webhook(new).sign("evt_x", datetime.fromtimestamp(now, UTC), body)
    headers = {"webhook-id": "evt_x", "webhook-timestamp": str(now), "webhook-signature": header}
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "claim.granted"


def test_an_event_id_is_the_same_for_the_same_change_and_differs_otherwise():
    assert rules.event_id("claim:1:5:granted") == rules.event_id("claim:1:5:granted")
    assert rules.event_id("claim:1:5:granted") != rules.event_id("claim:1:6:granted")
    assert len(rules.event_id("x")) == 30


@pytest.mark.parametrize(
    ("url", "local", "ok"),
    [
        ("https://hooks.brand.example/in", False, True),
        ("https://hooks.brand.example:8443/in", False, False),
        ("http://hooks.brand.example/in", False, False),
        ("http://127.0.0.1:9000/in", True, True),
        ("http://127.0.0.1:9000/in", False, False),
        ("https://10.0.0.1/in", False, False),
        ("https://169.254.169.254/latest/meta-data", False, False),
        ("https://[::1]/in", False, False),
        ("https://user:pw@hooks.brand.example/in", False, False),
        ("https://intranet/in", False, False),
        ("https://93.184.216.34/in", False, True),
        (" https://hooks.brand.example/in", False, False),
        ("", False, False),
        (42, False, False),
    ],
)
def test_the_url_rule(url, local, ok):
    assert (rules.check_url(url, local=local) is None) == ok


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("127.0.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("::ffff:10.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address, refused):
    assert rules.refused_address(address) == refused


def test_the_answer_decides_the_delivery():
    assert rules.verdict(200) == rules.verdict(204) == rules.Verdict.DELIVERED
    assert rules.verdict(410) == rules.Verdict.GONE
    for status in (None, 429, 500, 503, 400, 404, 301):
        assert rules.verdict(status) == rules.Verdict.RETRY


def test_retries_back_off_with_full_jitter_and_go_on_for_three_days():
    rng = random.Random(7)
    for attempts in range(1, 60):
        delay = rules.retry_delay(attempts, rng)
        assert 1.0 <= delay <= min(6 * 3600, 5 * 2 ** (attempts - 1)) or delay == 1.0
    # Even the unluckiest schedule (every draw at its ceiling) keeps trying past three days: the
    # giving up is by the clock, GIVE_UP_AFTER from the first try, not by a count of attempts.
    assert rules.GIVE_UP_AFTER.total_seconds() >= 3 * 86400
    waits = [rules.retry_delay(n, random.Random(n)) for n in range(1, 200)]
    assert sum(waits) > 3 * 86400


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_outbox_filter_lets_through_every_action_that_makes_events(stage):
    """Lambda drops a stream record the filter refuses before the code sees it: the two lists must agree."""
    import json
    from pathlib import Path

    from chalicelib.services import webhook_events

    template = json.loads((Path(__file__).parents[2] / "infra" / f"{stage}.json").read_text())
    source = template["Resources"]["WebhookOutbox"]["Properties"]["Events"]["WebhookOutboxDynamodbEventSource"]
    (rule,) = source["Properties"]["FilterCriteria"]["Filters"]
    allowed = json.loads(rule["Pattern"])["dynamodb"]["NewImage"]["action"]["S"]
    assert sorted(a for a in allowed if isinstance(a, str)) == sorted(webhook_events._AUDITED)
    assert [a for a in allowed if isinstance(a, dict)] == [{"prefix": "win_"}]
