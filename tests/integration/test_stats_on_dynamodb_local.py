"""Statistics on DynamoDB Local: counters equal a recount of the claims, under concurrency and faults."""

from __future__ import annotations

import random
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters import counters
from chalicelib.adapters.dynamo import transaction_connection
from chalicelib.adapters.models import CodeState, Participant
from chalicelib.domain.errors import AlreadyClaimed, CodeInvalid, LimitReached, ServiceBusy
from chalicelib.services import reconcile, scans, stats_aggregator
from chalicelib.views import stats
from scripts.stats_worker import drain, feeder_for
from tests.functional.test_scans import BRAND, running  # noqa: F401 - fixture
from tests.integration.test_scans_on_dynamodb_local import every_third_transaction_fails, generous_limits  # noqa: F401

RULES = {"points_per_scan": 5, "entries_per_scan": 1, "max_claims_per_participant": 11}


def _scan(shopper: str, code: str) -> str:
    try:
        body = scans.claim_code(shopper, "198.51.100.9", {"code": code})
    except AlreadyClaimed:
        return "duplicate"
    except CodeInvalid:
        return "invalid"
    except LimitReached:
        return "refused_cap"
    except ServiceBusy:
        return "busy"
    return "duplicate" if body["replay"] else "granted"


def _concurrent_run(codes_: list[str], shoppers: int = 16, scans_per_shopper: int = 24, seed: int = 5) -> Tally:
    rng = random.Random(seed)
    tasks = [(f"shp_{i:02d}", rng.choice(codes_)) for i in range(shoppers) for _ in range(scans_per_shopper)]
    rng.shuffle(tasks)
    with ThreadPoolExecutor(max_workers=32) as pool:
        return Tally(pool.map(lambda task: _scan(*task), tasks))


def _assert_counters_match_claims(campaign_id: str, outcomes: Tally, *, answers_lost: bool = False) -> dict:
    report = reconcile.reconcile(campaign_id)
    assert report.pending == 0, "claims left uncounted after the stream drained"
    assert report.clean, report.differences[:10]
    claims = [c for c in CodeState.scan() if c.state == "claimed"]
    assert report.claims == len(claims) > 0
    # A grant whose answer was lost comes back to the shopper as a replay (and is counted
    # as the duplicate scan it looks like); otherwise what shoppers saw is what was stored.
    assert outcomes["granted"] <= len(claims) if answers_lost else outcomes["granted"] == len(claims)
    totals = stats.campaign_stats(BRAND, campaign_id)
    assert totals["scans"]["granted"] == len(claims)
    assert totals["scans"]["duplicate"] == outcomes["duplicate"]
    assert totals["scans"]["refused_cap"] == outcomes["refused_cap"]
    assert totals["points_issued"] == sum(int(c.points) for c in claims)
    participants = list(Participant.query(campaign_id))
    assert totals["participants"]["unique"] == len(participants)
    people = stats.participant_stats(BRAND, campaign_id)
    assert sum(row["participants"] for row in people["histogram"]) == len(participants)
    for row in people["histogram"]:
        low = int(row["claims"].rstrip("+").split("-")[0])
        high = int(row["claims"].split("-")[1]) if "-" in row["claims"] else (10**9 if "+" in row["claims"] else low)
        assert row["participants"] == sum(1 for p in participants if low <= p.claims <= high), row
    assert [t["claims"] for t in people["top"]] == sorted((int(p.claims) for p in participants), reverse=True)[:20]
    return totals


def test_concurrent_scans_leave_counters_equal_to_a_recount(running, generous_limits):
    campaign, _, codes_ = running(quantity=200, rules=RULES)
    outcomes = _concurrent_run(codes_)
    assert outcomes["duplicate"] and outcomes["granted"] and outcomes["refused_cap"]
    drain()
    totals = _assert_counters_match_claims(campaign["campaign_id"], outcomes)
    bins = {
        row["claims"]: row["participants"]
        for row in stats.participant_stats(BRAND, campaign["campaign_id"])["histogram"]
    }
    assert bins["6-10"] and bins["11-20"], "the run must move participants within and across the wide bins"
    assert totals["participants"]["unique"] == 16


def test_a_stream_delivered_twice_counts_each_claim_once(running, generous_limits):
    campaign, _, codes_ = running(quantity=40, rules=RULES)
    outcomes = Tally(_scan(f"shp_{i % 9}", code) for i, code in enumerate(codes_))
    assert drain() > 0
    # A second reader from the start of the stream: every batch arrives again.
    assert feeder_for().drain() > 0
    _assert_counters_match_claims(campaign["campaign_id"], outcomes)


@pytest.mark.parametrize("fault", ["conflict", "throttle", "timeout_after_commit", "handler_crash"])
def test_faults_in_claims_and_in_the_aggregator_change_no_count(running, generous_limits, fault):
    campaign, _, codes_ = running(quantity=120, rules=RULES)
    client = transaction_connection().client
    calls: dict = {}
    inject = every_third_transaction_fails(fault, calls)

    if fault == "handler_crash":
        # The aggregator dies after counting part of each batch: the batch comes again.
        real = stats_aggregator._count_group
        seen = {"groups": 0, "crashes": 0}

        def crash_after_some(group):
            counted = real(group[: len(group) // 2 + 1])
            seen["groups"] += 1
            if seen["groups"] % 2 and seen["crashes"] < 5:
                seen["crashes"] += 1
                raise RuntimeError("the handler died mid-batch")
            return counted + real(group)

        stats_aggregator._count_group = crash_after_some
        stats_aggregator.TX_ITEMS, saved_limit = 12, stats_aggregator.TX_ITEMS
    else:
        client.meta.events.register("before-send.dynamodb.TransactWriteItems", inject)
    try:
        outcomes = _concurrent_run(codes_, shoppers=12, scans_per_shopper=10, seed=11)
        feeder = feeder_for()
        feeder.drain()
    finally:
        if fault == "handler_crash":
            stats_aggregator._count_group, stats_aggregator.TX_ITEMS = real, saved_limit
        else:
            client.meta.events.unregister("before-send.dynamodb.TransactWriteItems", inject)
    if fault == "handler_crash":
        assert feeder.failures > 0, "no batch was cut short"
    else:
        assert calls["faults"] >= 10
        if fault == "timeout_after_commit":
            # Refused scans are cancelled transactions (400); the granted ones really committed.
            assert calls["committed"].count(200) >= 10, "the injected timeouts must follow real commits"
    _assert_counters_match_claims(campaign["campaign_id"], outcomes, answers_lost=fault == "timeout_after_commit")


def test_reconcile_counts_claims_the_stream_has_not_delivered_yet(running, generous_limits):
    campaign, _, codes_ = running(quantity=20, rules=RULES)
    outcomes = Tally(_scan(f"shp_{i % 4}", code) for i, code in enumerate(codes_))
    before = reconcile.reconcile(campaign["campaign_id"])
    assert (before.pending, before.claims, before.clean) == (20, 20, True)
    assert stats.campaign_stats(BRAND, campaign["campaign_id"])["scans"]["granted"] == 0
    after = reconcile.reconcile(campaign["campaign_id"], count_pending=True)
    assert (after.pending, after.claims, after.clean) == (0, 20, True)
    drain()  # the stream's late delivery finds every claim counted
    _assert_counters_match_claims(campaign["campaign_id"], outcomes)


def test_reconcile_reports_and_fixes_a_drifted_counter(running, generous_limits):
    campaign, _, codes_ = running(quantity=10, rules=RULES)
    outcomes = Tally(_scan("shp_a" if i % 2 else "shp_b", code) for i, code in enumerate(codes_[:6]))
    drain()
    transaction_connection().client.update_item(
        **counters.counter_update(campaign["campaign_id"], "total#3", {"granted": 2, "points": -5})
    )
    report = reconcile.reconcile(campaign["campaign_id"])
    assert sorted((item, name) for item, name, _, _ in report.differences) == [
        ("total", "granted"),
        ("total", "points"),
    ]
    assert reconcile.reconcile(campaign["campaign_id"], fix=True).differences
    _assert_counters_match_claims(campaign["campaign_id"], outcomes)


def test_tables_kept_from_before_statistics_gain_the_stream_and_the_rank_index(ddb_local):
    """A dev stack's data directory from an earlier version is brought up to the models."""
    from chalicelib.adapters import tables
    from chalicelib.adapters.models import Participant
    from tests.integration.conftest import _settings, _tables_of

    settings = _settings(ddb_local, "upgrade")
    # Only the two tables that changed: with every table of today beside them (streams on code_states and
    # audit), DynamoDB Local leaves an index added by UpdateTable CREATING for ever, which AWS does not.
    upgraded = [CodeState, Participant]
    with _tables_of(settings, upgraded):
        client = transaction_connection().client
        for model in upgraded:
            name = model.Meta.table_name
            client.delete_table(TableName=name)
            schema = model._get_schema()
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=schema["key_schema"],
                AttributeDefinitions=[
                    a
                    for a in schema["attribute_definitions"]
                    if a["AttributeName"] in {k["AttributeName"] for k in schema["key_schema"]}
                ],
            )
        tables.create_tables(upgraded)
        code_states = client.describe_table(TableName=CodeState.Meta.table_name)["Table"]
        assert code_states["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        participants = client.describe_table(TableName=Participant.Meta.table_name)["Table"]
        assert {"by_rank", "by_shopper"} <= {i["IndexName"] for i in participants["GlobalSecondaryIndexes"]}
        assert tables.create_tables(upgraded) == []  # a second run changes nothing


def test_the_reconcile_command_reports_zero_difference_and_exit_codes(running, generous_limits, capsys):
    from scripts import reconcile_stats

    campaign, _, codes_ = running(quantity=8, rules=RULES)
    for i, code in enumerate(codes_):
        _scan(f"shp_{i % 3}", code)
    drain()
    assert reconcile_stats.main(["--campaign", campaign["campaign_id"]]) == 0
    assert "no difference" in capsys.readouterr().out
    transaction_connection().client.update_item(
        **counters.counter_update(campaign["campaign_id"], "total#1", {"entries": 1})
    )
    assert reconcile_stats.main(["--campaign", campaign["campaign_id"]]) == 1
    assert "entries" in capsys.readouterr().out
    assert reconcile_stats.main(["--campaign", campaign["campaign_id"], "--fix"]) == 0
    assert reconcile_stats.main(["--campaign", campaign["campaign_id"]]) == 0
