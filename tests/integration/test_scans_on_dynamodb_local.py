"""Exactly-once claims on DynamoDB Local: races on every code, balances equal the sum of claims."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.models import CodeState, Participant
from chalicelib.domain.errors import AlreadyClaimed, ServiceBusy
from chalicelib.services import scans
from tests.functional.test_scans import (  # noqa: F401 - the same domain tests, on the real engine
    running,
    test_a_scan_grants_once_and_replays_the_original,
    test_budget_is_never_exceeded,
    test_daily_and_campaign_caps,
    test_ten_invalid_codes_lock_the_shopper_out,
    test_unknown_forged_and_voided_codes_answer_alike,
)


@pytest.fixture
def generous_limits(monkeypatch):
    # The race is the subject here, not the abuse limits.
    from chalicelib.config import get_settings

    monkeypatch.setenv("SCAN_PER_SHOPPER_PER_MINUTE", str(10**6))
    monkeypatch.setenv("SCAN_PER_IP_PER_MINUTE", str(10**6))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _attempt(shopper, code):
    try:
        return "granted", scans.claim_code(shopper, f"198.51.100.{hash(shopper) % 250}", {"code": code})
    except AlreadyClaimed:
        return "taken", None
    except ServiceBusy:
        return "busy", None


def test_fifty_concurrent_claims_on_each_of_40_codes_make_one_winner_each(running, generous_limits):
    # 2,000 attempts: each costs DynamoDB Local 20-40 ms under this contention.
    campaign, batch, codes_ = running(quantity=40, rules={"points_per_scan": 7, "entries_per_scan": 2})
    # Fifty different shoppers race for each code, drawn from a pool of 1,000: one shopper's
    # own claims are serialised by their claim count, which is not what this test is about.
    shoppers = [f"shp_{i:03d}" for i in range(1000)]
    tasks = [(shoppers[(n * 50 + i) % 1000], code) for n, code in enumerate(codes_) for i in range(50)]
    assert all(len({s for s, c in tasks if c == code}) == 50 for code in codes_)
    random.Random(3).shuffle(tasks)
    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(lambda task: (task, _attempt(*task)), tasks))

    winners: dict[str, set[str]] = {}
    granted_points = 0
    for (shopper, code), (result, body) in outcomes:
        if result == "granted":
            winners.setdefault(code, set()).add(shopper)
            if not body["replay"]:
                granted_points += body["points"]
    assert all(len(w) == 1 for w in winners.values()), "a code granted to two shoppers"
    claims = [c for c in CodeState.scan() if c.state == "claimed"]
    assert len(claims) == len(winners)
    assert {c.shopper_id for c in claims} <= set(shoppers)
    assert len(winners) >= 39, f"only {len(winners)} of 40 codes were claimed; contention outlasted retries"
    participants = list(Participant.query(campaign["campaign_id"]))
    assert sum(p.points for p in participants) == granted_points == 7 * len(claims)
    assert sum(p.entries for p in participants) == 2 * len(claims)
    assert sum(p.claims for p in participants) == len(claims)
    for participant in participants:
        mine = [c for c in claims if c.shopper_id == participant.shopper_id]
        assert participant.points == sum(c.points for c in mine)


def test_a_pool_of_five_under_200_concurrent_winning_scans_awards_exactly_five(running, generous_limits):
    prizes = [{"name": "Motorbike", "quantity": 5, "odds_per_million": 1_000_000}]
    campaign, _, codes_ = running(quantity=200, rules={"points_per_scan": 1}, prizes=prizes)
    with ThreadPoolExecutor(max_workers=48) as pool:
        outcomes = list(pool.map(lambda i: _attempt(f"shp_{i:03d}", codes_[i]), range(200)))
    granted = [body for result, body in outcomes if result == "granted"]
    assert len(granted) == 200, "every scan grants its points, prize or not"
    assert sum(1 for body in granted if body["prize"]) == 5
    assert sum(1 for c in CodeState.scan() if c.prize_id) == 5


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def _fake(request, status: int, error_type: str, extra: dict | None = None):
    import json

    from botocore.awsrequest import AWSResponse

    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", "message": error_type, **(extra or {})}
    return AWSResponse(
        request.url, status, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(json.dumps(body).encode())
    )


def every_third_transaction_fails(fault: str, calls: dict):
    """A botocore before-send hook that fails every third TransactWriteItems with `fault`.

    `calls` counts requests (`n`) and faults (`faults`); for timeout_after_commit the
    request really reaches DynamoDB first and its status lands in `calls["committed"]`.
    """
    import requests
    from botocore.exceptions import ReadTimeoutError

    calls.update(n=0, faults=0, committed=[])

    def inject(request, **_):
        calls["n"] += 1
        if calls["n"] % 3:
            return None
        calls["faults"] += 1
        if fault == "conflict":
            return _fake(
                request,
                400,
                "TransactionCanceledException",
                {"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
            )
        if fault == "throttle":
            return _fake(request, 400, "ThrottlingException")
        # The write reaches DynamoDB and commits; only the answer is lost on the way back.
        committed = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
        calls["committed"].append(committed.status_code)
        raise ReadTimeoutError(endpoint_url=request.url)

    return inject


@pytest.mark.parametrize("fault", ["conflict", "throttle", "timeout_after_commit"])
def test_faults_on_every_third_transaction_lose_and_double_nothing(running, generous_limits, fault):
    from chalicelib.adapters.dynamo import transaction_connection

    campaign, _, codes_ = running(quantity=60, rules={"points_per_scan": 5, "entries_per_scan": 1})
    client = transaction_connection().client
    calls: dict = {}
    inject = every_third_transaction_fails(fault, calls)

    client.meta.events.register("before-send.dynamodb.TransactWriteItems", inject)
    try:
        shoppers = [f"shp_{i % 7}" for i in range(60)]
        results = [scans.claim_code(shopper, "192.0.2.1", {"code": code}) for shopper, code in zip(shoppers, codes_)]
    finally:
        client.meta.events.unregister("before-send.dynamodb.TransactWriteItems", inject)
    assert calls["faults"] >= 15
    if fault == "timeout_after_commit":
        assert calls["committed"] == [200] * calls["faults"], "the injected timeouts must follow real commits"
        print("replays after a lost answer:", sum(r["replay"] for r in results))
    assert all(r["result"] == "granted" for r in results)
    claims = [c for c in CodeState.scan() if c.state == "claimed"]
    assert len(claims) == 60
    assert sorted(c.shopper_id for c in claims) == sorted(shoppers)
    participants = {p.shopper_id: p for p in Participant.query(campaign["campaign_id"])}
    for shopper in set(shoppers):
        mine = shoppers.count(shopper)
        assert (participants[shopper].points, participants[shopper].entries, participants[shopper].claims) == (
            5 * mine,
            mine,
            mine,
        ), f"{shopper}: balance differs from the sum of its claims under {fault}"
    # The answer each shopper saw matches what was stored.
    final = {s: max(r["balance"]["points"] for r, sh in zip(results, shoppers) if sh == s) for s in set(shoppers)}
    assert final == {s: participants[s].points for s in set(shoppers)}
