"""A fault at every step, on DynamoDB Local: whatever AWS call fails, and however, the end
state is the fault-free run's, with nothing lost and nothing doubled (see tests/faults.py).

For a scan (five scans by two shoppers: grants, an instant win, duplicates) and a stats
batch (their claims and refusals, one per transaction), every call with every kind of
fault that applies to it; for an export (30 codes in three chunks, joined from parts),
every call with the kinds taken in turn, and every pair with `FAULTS=all .venv/bin/pytest
tests/integration/test_faults_on_dynamodb_local.py`. Each test prints how many calls the
fault-free run made and how many faulty runs it compared. And a message that keeps
failing reaches the dead-letter queue after as many receives as in AWS.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from app import export_worker
from app import stats_aggregator as stats_handler
from chalicelib.adapters import batch_store, dynamo, models, records, reward_store
from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
from chalicelib.domain import clock, codes
from chalicelib.domain.phones import unseal_text
from chalicelib.services import batches, campaigns, rewards, stats_aggregator
from scripts.stats_worker import feeder_for
from tests.faults import KINDS, Crash, Injector, prove
from tests.support import VALID_CAMPAIGN, shopper_id, shopper_token

pytestmark = pytest.mark.timeout(600)
BRAND = "brand-a"
FULL = os.environ.get("FAULTS") == "all"
# Made afresh by each run: generated ids, request ids, an audit event's random suffix.
_RANDOM = [
    (re.compile(r"\b[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<request>"),
    (re.compile(r"(\+00:00)#[0-9a-f]{8}$"), r"\1#<n>"),
]
_SHARD = re.compile(r"#r?[0-9]+$")
_BATCH_KEY = re.compile(r"^[0-9]+:([0-9]+)$")
BATCH_COUNTER = batch_store._BATCH_COUNTER


@pytest.fixture
def injector():
    with Injector().installed() as injector:
        yield injector


@pytest.fixture
def frozen():
    """One instant at the start of every run, so timestamps written in two runs can be
    compared; a driver moves it on (`frozen[0] += ...`) where real time would pass."""
    instant = [0.0]
    start = datetime.now(UTC).replace(microsecond=0).timestamp()

    def reset() -> None:
        instant[0] = start

    reset()
    with clock.replaced(lambda: instant[0], steady=time.monotonic):
        yield instant, reset


def _empty_tables() -> None:
    """Every item gone but the batch number counter: each run mints new batch numbers, so no
    two runs write the same keys (a request token DynamoDB remembers for ten minutes
    would otherwise meet another run's request)."""
    client = dynamo.client()
    doomed: list[tuple[str, dict]] = []
    for model in models.ALL_MODELS:
        keys = [model._hash_keyname, *([model._range_keyname] if model._range_keyname else [])]
        for page in client.get_paginator("scan").paginate(TableName=model.Meta.table_name):
            for item in page["Items"]:
                if model is models.Counter and item["name"]["S"] == BATCH_COUNTER:
                    continue
                doomed.append((model.Meta.table_name, {k: item[k] for k in keys}))
    # 25 deletes a request instead of one each: a proof empties the tables before each of its
    # dozens of runs, and a request to DynamoDB Local costs milliseconds of both processes' CPU.
    for start in range(0, len(doomed), 25):
        pending: dict | None = {}
        for table, key in doomed[start : start + 25]:
            pending.setdefault(table, []).append({"DeleteRequest": {"Key": key}})
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None
    records.clear_cache()


def _names(value: Any, names: dict[str, str]) -> Any:
    """`value` with the run's known ids by name and every other generated id as <id>."""
    if isinstance(value, str):
        for real, name in names.items():
            value = value.replace(real, name)
        for pattern, placeholder in _RANDOM:
            value = pattern.sub(placeholder, value)
        return value
    if isinstance(value, dict):
        return {_names(k, names): _names(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_names(v, names) for v in value]
    return value


def _tables(names: dict[str, str]) -> dict[str, list[str]]:
    """Every item of every table, as sorted JSON, with counters summed over their shards.

    Rate-limit windows count requests, and a retried request is a request: they are left out.
    """
    client = dynamo.client()
    plain = TypeDeserializer()
    dump: dict[str, list[str]] = {}
    for model in models.ALL_MODELS:
        if model is models.RateCounter:
            continue
        items = []
        for page in client.get_paginator("scan").paginate(TableName=model.Meta.table_name):
            items += [{k: plain.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        if model is models.Counter:
            items = [i for i in items if i["name"] != BATCH_COUNTER]
        if model is models.CodeState:  # keyed by batch number, new in each run
            items = [{**i, "code_key": _BATCH_KEY.sub(r"B:\1", i["code_key"])} for i in items]
            items = [{**i, "code": _BATCH_KEY.sub(r"B:\1", i["code"])} if "code" in i else i for i in items]
        if model is models.StatShard:  # the integrity signals' state names codes by batch number too
            items = [_codes_by_serial(i) for i in items]
        if model is models.Batch:
            items = [{**i, "batch_number": "B"} for i in items]
        if model in (models.StatShard, models.Counter):
            items = _sum_shards(model, items)
        # A shopper's shards (ranking, loyalty review, account expiry) follow from its id, which is random
        # and new in each run: which shard is not the outcome, that there is one is.
        items = [{k: _SHARD.sub("#*", str(v)) if k.endswith("_shard") else v for k, v in i.items()} for i in items]
        # A sealed value has a random nonce: two seals of one number differ, the number sealed does not.
        items = [{k: "<sealed>" if k.endswith("_sealed") and v else v for k, v in i.items()} for i in items]
        dump[model.__name__] = sorted(json.dumps(_names(i, names), sort_keys=True, default=str) for i in items)
    return dump


def _codes_by_serial(item: dict) -> dict:
    """An integrity state or signal item with its codes (`<batch number>:<serial>`) named by serial only."""
    item = {**item, "campaign_id": re.sub(r"code#[0-9]+:", "code#B:", str(item["campaign_id"]))}
    for name in ("codes", "tries"):
        if isinstance(item.get(name), (list, set)):
            item[name] = sorted(_BATCH_KEY.sub(r"B:\1", str(code)) for code in item[name])
    return item


def _sum_shards(model, items: list[dict]) -> list[dict]:
    key = model._range_keyname or model._hash_keyname
    merged: dict[tuple, dict] = {}
    for item in items:
        item = dict(item, **{key: _SHARD.sub("#*", str(item[key]))})
        ident = (item.get(model._hash_keyname), item[key])
        into = merged.setdefault(ident, {k: v for k, v in item.items() if not _is_number(v)})
        for name, value in item.items():
            if _is_number(value):
                into[name] = into.get(name, 0) + value
    return list(merged.values())


def _is_number(value: Any) -> bool:
    from decimal import Decimal

    return isinstance(value, int | Decimal) and not isinstance(value, bool)


# --- scans ----------------------------------------------------------------------------


def _scan_world() -> dict:
    now = clock.now()
    body = {
        **VALID_CAMPAIGN,
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "rules": {"points_per_scan": 10, "entries_per_scan": 1, "budget_points": 1_000},
        # Won by the first claim, whichever serial it is (batch numbers differ between runs).
        "prizes": [{"name": "Phone", "quantity": 1, "odds_per_million": 1_000_000}],
    }
    campaign = campaigns.create_campaign(BRAND, "op", body)
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "op", {"status": "active"})
    prize_id = campaigns.get_campaign(BRAND, campaign["campaign_id"])["prizes"][0]["prize_id"]
    batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": 3})
    batches.change_batch_status(BRAND, batch["batch_id"], "op", {"status": "active"})
    records.clear_cache()
    code_list = [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(3)]
    phones = ["+84912345678", "+84912345679"]
    run = uuid.uuid4().hex[:8]
    return {
        "run": run,
        "codes": code_list,
        "tokens": [shopper_token(p) for p in phones],
        "names": {
            campaign["campaign_id"]: "CAMPAIGN",
            batch["batch_id"]: "BATCH",
            prize_id: "PRIZE",
            **{shopper_id(p): f"SHOPPER{i}" for i, p in enumerate(phones)},
            f"-{run}": "",
            **{code: f"CODE{i}" for i, code in enumerate(code_list)},
        },
    }


def _send(api, injector: Injector, token: str, code: str, key: str, attempts: int = 4) -> tuple[int, dict]:
    """A phone's scan: on 503 or a dropped connection it sends the same request again.

    Any other 5xx is an answer: a fault must be told as "try again", never as a crash.
    """
    for _ in range(attempts):
        try:
            response = api.call("POST", "/v1/scans", {"code": code}, token=token, headers={"Idempotency-Key": key})
        except Crash:
            injector.revive()  # the connection dropped with the function; a new one answers
            continue
        if response.status_code != 503:
            return response.status_code, json.loads(response.body)
    raise AssertionError(f"the scan of {code} never got an answer")


def _scans(api, injector: Injector):
    def run(world: dict) -> list:
        a, b = world["tokens"]
        plays = [(a, 0), (b, 0), (a, 1), (b, 2), (a, 2)]
        told = []
        for n, (token, serial) in enumerate(plays):
            status, body = _send(api, injector, token, world["codes"][serial], f"scan-{n}-{world['run']}")
            body.pop("replay", None)  # a resend that finds its own claim says so
            told.append((status, body))
        return told

    return run


def test_a_fault_at_any_call_of_a_scan_changes_nothing(api, injector, frozen):
    feeder = feeder_for()
    reset_clock = frozen[1]

    def state(world: dict, told: list) -> dict:
        feeder.drain()  # the statistics, once the stream has been counted
        return {"told": _names(told, world["names"]), "tables": _tables(world["names"])}

    proof = prove(
        injector,
        reset=lambda: (_empty_tables(), reset_clock()),
        setup=_scan_world,
        run=_scans(api, injector),
        state=state,
    )
    print(f"scans: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert {kind for kind, _, _ in proof.runs} == set(KINDS)


# --- redemptions ------------------------------------------------------------------------


def _redemption_world() -> dict:
    """Two shoppers with points (earned outside the count) and a voucher reward of two codes."""
    world = _scan_world()
    plays = [(0, 0), (1, 1), (1, 2)]  # 10 points each scan: shopper 0 has 10, shopper 1 has 20
    for n, (who, serial) in enumerate(plays):
        status, _ = _send_quiet(world, who, serial, n)
        assert status == 200
    reward = rewards.create_reward(BRAND, "op", {"name": "Coffee", "kind": "voucher", "cost": 10})
    rewards.upload_vouchers(BRAND, reward["reward_id"], "op", b"COFFEE-1\nCOFFEE-2\n")
    records.clear_cache()
    world["reward_id"] = reward["reward_id"]
    world["names"][reward["reward_id"]] = "REWARD"
    return world


def _send_quiet(world: dict, who: int, serial: int, n: int) -> tuple[int, dict]:
    from chalicelib.services import scans

    shopper = [s for s, name in world["names"].items() if name == f"SHOPPER{who}"][0]
    return 200, scans.claim_code(shopper, "203.0.113.9", {"code": world["codes"][serial]}, f"earn-{n}")


def _with_resends(injector: Injector, send, attempts: int = 4) -> tuple[int, dict]:
    """A caller that sends the same request again on 503 or a dropped connection."""
    for _ in range(attempts):
        try:
            response = send()
        except Crash:
            injector.revive()
            continue
        if response.status_code != 503:
            return response.status_code, json.loads(response.body)
    raise AssertionError("the request never got an answer")


def _redemptions(api, injector: Injector):
    def run(world: dict) -> list:
        a, b = world["tokens"]
        told = []
        # Shopper 0 redeems; shopper 1 redeems twice, the second finding no stock; then the operator cancels shopper 0's, giving the points back once.
        body = {"reward_id": world["reward_id"]}
        for n, token in enumerate((a, b, b)):
            headers = {"Idempotency-Key": f"redeem-{n}-{world['run']}"}
            send = functools.partial(api.call, "POST", "/v1/me/redemptions", body, token=token, headers=headers)
            told.append(_with_resends(injector, send))
        first = told[0][1]["redemption_id"]
        told.append(
            _with_resends(injector, lambda: api.call("POST", f"/v1/redemptions/{first}/cancel", {"note": "mistake"}))
        )
        for _, answer in told:
            answer.pop("replay", None)
        # Two vouchers for three requests, and the cancel: what every run, faulty or not, is told.
        assert [status for status, _ in told] == [201, 201, 409, 200], told
        return told

    return run


def _sealed_out(dump: dict[str, list[str]]) -> dict[str, list[str]]:
    # Sealed fields are encrypted with a fresh nonce each time (what they hold is in the
    # answers), and a voucher's pool entry and a redemption's request digest are hashes with
    # the run's reward id.
    sealed = re.compile(r'("(?:[a-z_]*_sealed|request_digest)": )"[^"]*"')
    pooled = re.compile(r"code#[0-9a-f]{64}")
    return {
        table: sorted(pooled.sub("code#<hash>", sealed.sub(r'\1"<sealed>"', row)) for row in rows)
        for table, rows in dump.items()
    }


def test_a_fault_at_any_call_of_a_redemption_changes_nothing(api, injector, frozen):
    feeder = feeder_for()

    def state(world: dict, told: list) -> dict:
        feeder.drain()
        return {"told": _names(told, world["names"]), "tables": _sealed_out(_tables(world["names"]))}

    proof = prove(
        injector,
        reset=lambda: (_empty_tables(), frozen[1]()),
        setup=_redemption_world,
        run=_redemptions(api, injector),
        state=state,
        # The suite takes the kinds in turn over the calls; FAULTS=all runs every pair.
        choose=(lambda k, kind: True) if FULL else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
    )
    print(f"redemptions: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert proof.runs


# --- a voucher file ---------------------------------------------------------------------

_POOL = [f"POOL-{n:03d}" for n in range(100)]  # three transactions of codes


def _voucher_world() -> dict:
    reward = rewards.create_reward(BRAND, "op", {"name": "Coffee", "kind": "voucher", "cost": 10})
    records.clear_cache()
    return {"reward_id": reward["reward_id"], "names": {reward["reward_id"]: "REWARD"}}


def _pool_state(world: dict, told: list) -> dict:
    """What a shopper can get: the code of every unit in stock (each unit a written code, each code once),
    and what holds them, with the file's audit event."""
    reward_id = world["reward_id"]
    reward = models.Reward.get(reward_id, consistent_read=True)
    vouchers = {int(v.seq): v for v in models.Voucher.query(reward_id, consistent_read=True)}
    units = [reward_store.voucher_seq(reward, n) for n in range(1, int(reward.stock) + 1)]
    pepper = get_phone_hash_pepper()
    given = [unseal_text(vouchers[seq].code_sealed, pepper, "voucher") if seq in vouchers else None for seq in units]
    items = list(models.VoucherUpload.query(reward_id, consistent_read=True))
    return {
        "told": told,
        "stock": (int(reward.stock), int(reward.issued)),
        "units": sorted(given, key=str),
        "distinct_units": len(set(units)),
        "unclaimed": all(vouchers[seq].redemption_id is None for seq in units if seq in vouchers),
        "vouchers": len(vouchers),
        "code_items": sum(1 for i in items if i.upload_id.startswith("code#")),
        "files": [(i.status, i.written, i.count) for i in items if i.upload_id.startswith("file#")],
        "events": sorted(e.action for e in models.AuditEvent.query(BRAND)),
    }


def test_a_fault_at_any_call_of_a_voucher_upload_adds_every_code_once(api, injector, frozen):
    raw = "\n".join(_POOL) + "\n"

    def run(world: dict) -> list:
        path = f"/v1/rewards/{world['reward_id']}/vouchers"
        # The operator sends the same file again after an error or a dropped connection.
        send = functools.partial(api.call, "POST", path, raw=raw, headers={"Content-Type": "text/csv"})
        for _ in range(4):
            try:
                response = send()
            except Crash:
                injector.revive()
                continue
            if response.status_code < 500:
                answer = json.loads(response.body)
                return [response.status_code, answer["reward"]["stock"], answer["added"] + answer["already_added"]]
        raise AssertionError("the file never got an answer")

    worlds: list[dict] = []

    def setup() -> dict:
        worlds.append(_voucher_world())
        return worlds[-1]

    proof = prove(
        injector,
        reset=lambda: (_empty_tables(), frozen[1]()),
        setup=setup,
        run=run,
        state=_pool_state,
        # The suite takes the kinds in turn over the calls; FAULTS=all runs every pair.
        choose=(lambda k, kind: True) if FULL else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
    )
    print(f"voucher upload: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert {kind for kind, _, _ in proof.runs} == set(KINDS)
    # Every run ended as the fault-free one; and that one is right: each code once, in stock, audited once.
    with injector.quiet():
        final = _pool_state(worlds[-1], [201, 100, 100])
    assert final["units"] == _POOL and final["distinct_units"] == 100 and final["unclaimed"]
    assert (final["stock"], final["vouchers"], final["code_items"]) == ((100, 0), 100, 100)
    assert final["files"] == [("published", 100, 100)]
    assert final["events"].count("vouchers_uploaded") == 1


def test_a_fault_at_any_call_of_a_voucher_job_adds_every_code_once(export_queue, injector, frozen, monkeypatch):
    """A file too long for its request: the API writes what it can, queues the rest, and the worker's job
    finishes and publishes it. Whatever call fails, the operator sending the file again and SQS delivering
    the job again end as the fault-free run: each code once, in stock whole, audited once."""
    monkeypatch.setattr(rewards, "WRITE_SECONDS", 0.0)  # the request writes one transaction of codes
    pool = _POOL[:60]  # two transactions: one in the request, one in the job
    raw = "\n".join(pool) + "\n"
    clock_now, reset_clock = frozen

    def run(world: dict) -> list:
        for _ in range(4):  # the operator sends the file again after an error or a dropped connection
            try:
                with injector.counted():
                    answer = rewards.upload_vouchers(BRAND, world["reward_id"], "op", raw.encode())
            except (Exception, Crash):  # noqa: BLE001 - a 5xx or a dropped connection: sent again
                injector.revive()
                continue
            with injector.quiet():
                _deliver_all(export_queue, injector, clock_now)
            # Whether the file was all written by its request depends on where a fault fell; after the job,
            # what it says of itself must not.
            with injector.quiet():
                return [answer["upload_id"], rewards.voucher_file(BRAND, world["reward_id"], answer["upload_id"])]
        raise AssertionError("the file never got an answer")

    worlds: list[dict] = []

    def setup() -> dict:
        from chalicelib.adapters import sqs

        sqs.export_queue_url()  # looked up once a process: every run, the first too, finds it known
        worlds.append(_voucher_world())
        return worlds[-1]

    def reset() -> None:
        from tests.support import empty_queue

        _empty_tables()
        empty_queue(export_queue["queue"])
        reset_clock()

    proof = prove(
        injector,
        reset=reset,
        setup=setup,
        run=run,
        state=_pool_state,
        choose=(lambda k, kind: True) if FULL else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
    )
    print(f"voucher job: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    with injector.quiet():
        final = _pool_state(worlds[-1], [])
    assert final["units"] == pool and final["distinct_units"] == 60 and final["unclaimed"]
    assert (final["stock"], final["vouchers"], final["code_items"]) == ((60, 0), 60, 60)
    assert final["files"] == [("published", 60, 60)]
    assert final["events"].count("vouchers_uploaded") == 1


# --- a stats batch --------------------------------------------------------------------


def test_a_fault_at_any_call_of_a_stats_batch_changes_nothing(api, injector, frozen, monkeypatch):
    """The aggregator's batch of claims and refusals, delivered again after any failure as
    Lambda's stream source does, in transactions of a few items so a crash can fall
    between two of them."""
    monkeypatch.setattr(stats_aggregator, "TX_ITEMS", 3)  # one claim or refusal per transaction
    reset_clock = frozen[1]

    def counted_handler(event, context):
        with injector.counted():
            return stats_handler(event, context)

    feeder = feeder_for(counted_handler)

    def setup() -> dict:
        world = _scan_world()
        _scans(api, injector)(world)  # the claims and refusals the batch will count
        return world

    def run(world: dict) -> None:
        with injector.quiet():  # the event source's own calls are not the function's
            for _ in range(4):
                try:
                    feeder.drain()
                    return
                except Crash:
                    injector.revive()  # the batch is delivered again to a new container

    proof = prove(
        injector,
        reset=lambda: (_empty_tables(), reset_clock()),
        setup=setup,
        run=run,
        state=lambda world, _: _tables(world["names"]),
    )
    print(f"stats batch: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert sum(1 for call in proof.baseline_calls if call.operation == "TransactWriteItems") >= 3
    assert {kind for kind, _, _ in proof.runs} == set(KINDS)


# --- an export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_server():
    """S3 and SQS on a moto server on 127.0.0.1 (DynamoDB stays DynamoDB Local)."""
    from moto.server import ThreadedMotoServer

    from scripts.dynamodb_local import HOST, free_port

    server = ThreadedMotoServer(ip_address=HOST, port=free_port(), verbose=False)
    server.start()
    try:
        yield "http://{}:{}".format(*server.get_host_and_port())
    finally:
        server.stop()


@pytest.fixture
def export_queue(moto_server, store, monkeypatch):
    """The export bucket, and the queue with its dead-letter queue as dev.py and AWS have them."""
    from chalicelib.adapters import s3, sqs
    from chalicelib.config import get_settings
    from chalicelib.services.exports import MAX_RECEIVES
    from scripts.dev import create_export_resources

    monkeypatch.setenv("S3_ENDPOINT", moto_server)
    monkeypatch.setenv("SQS_ENDPOINT", moto_server)
    get_settings.cache_clear()
    sqs._queue_url.cache_clear()
    settings = get_settings()
    name = f"exp-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EXPORT_BUCKET", name)
    monkeypatch.setenv("EXPORT_QUEUE_NAME", name)
    get_settings.cache_clear()
    queue_url, dlq_url = create_export_resources(moto_server, MAX_RECEIVES, bucket=name, queue=name)
    # Small parts, so a batch of 30 codes is three chunks joined from several parts.
    monkeypatch.setattr(s3, "MIN_PART_BYTES", 1024)
    monkeypatch.setattr(s3, "PART_BYTES", 2048)
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)
    yield {"queue": queue_url, "dlq": dlq_url, "bucket": name, "region": settings.region}
    get_settings.cache_clear()
    sqs._queue_url.cache_clear()


def _deliver_all(queue: dict, injector: Injector, clock_now: list, limit: int = 200) -> int:
    """SQS and Lambda's event source, by hand: each message to the worker until the queue is
    empty; a failed delivery comes back after its visibility timeout (time moves on)."""
    from chalicelib.adapters import aws
    from scripts.export_worker import lambda_event

    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue["queue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deliveries = 0
    while deliveries < limit:
        got = sqs.receive_message(QueueUrl=queue["queue"], MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"])
        if not got.get("Messages"):
            attributes = sqs.get_queue_attributes(QueueUrl=queue["queue"], AttributeNames=["All"])["Attributes"]
            if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
                return deliveries
            continue
        message = got["Messages"][0]
        deliveries += 1
        try:
            with injector.counted():
                export_worker(lambda_event(message, arn, queue["region"]), None)
        except (Exception, Crash):  # noqa: BLE001 - like Lambda: any failure leaves the message for redelivery
            injector.revive()
            clock_now[0] += 2 * 3600  # past the visibility timeout and any finisher's lease
            sqs.change_message_visibility(
                QueueUrl=queue["queue"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
            continue
        sqs.delete_message(QueueUrl=queue["queue"], ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the export queue never emptied")


def _export_state(world: dict, queue: dict) -> dict:
    """What the brand gets and what is left behind: the export's record (its times aside:
    a failed delivery makes a run take longer), whether the file is exactly the batch's
    codes, every object left in the bucket, the queues, and the brand's export slots."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.models import Batch, Counter, Export

    export = Export.get(world["export_id"], consistent_read=True)
    plain = TypeDeserializer()
    record = {
        name: sorted(value) if isinstance(value, set) else value
        for name, value in ((k, plain.deserialize(v)) for k, v in export.serialize().items())
        if name not in ("created_at", "updated_at", "finished_at", "expires_at", "finish_started_at", "batch_number")
    }
    s3 = aws.client("s3")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=queue["bucket"])
        for item in page.get("Contents", [])
    ]
    expected = "".join(batches.csv_lines(Batch.get(export.batch_id), 0, export.quantity)).encode()
    file_ok = export.s3_key is not None and (
        s3.get_object(Bucket=queue["bucket"], Key=export.s3_key)["Body"].read() == expected
    )
    sqs = aws.client("sqs")
    waiting = {
        name: sqs.get_queue_attributes(QueueUrl=queue[name], AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        for name in ("queue", "dlq")
    }
    slots = [plain.deserialize(c.serialize()["slots"]) for c in Counter.scan() if "slots" in c.serialize()]
    state = {
        "export": record,
        "file_is_the_batch": file_ok,
        "objects": sorted(keys),
        "waiting": waiting,
        "slots": slots,
    }
    return _names(state, world["names"])


def test_a_fault_at_any_call_of_an_export_changes_nothing(export_queue, injector, frozen, monkeypatch):
    from chalicelib.services import exports

    monkeypatch.setitem(exports.FORMATS, "csv", exports.ExportFormat("csv", "csv", "text/csv; charset=utf-8", 10))
    clock_now, reset_clock = frozen

    def setup() -> dict:
        now = clock.now()
        body = {**VALID_CAMPAIGN, "starts_at": (now - timedelta(days=1)).isoformat()}
        campaign = campaigns.create_campaign(BRAND, "op", body)
        batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": 30})
        export = exports.request_export(BRAND, batch["batch_id"], "op", {"format": "csv"})
        names = {campaign["campaign_id"]: "CAMPAIGN", batch["batch_id"]: "BATCH", export["export_id"]: "EXPORT"}
        return {"export_id": export["export_id"], "names": names}

    def reset() -> None:
        _empty_tables()
        from tests.support import empty_queue

        empty_queue(export_queue["queue"])
        empty_queue(export_queue["dlq"])
        from chalicelib.adapters import aws

        s3 = aws.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=export_queue["bucket"]):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=export_queue["bucket"], Key=item["Key"])
        reset_clock()

    def run(world: dict) -> int:
        with injector.quiet():
            return _deliver_all(export_queue, injector, clock_now)

    every = FULL or None
    proof = prove(
        injector,
        reset=reset,
        setup=setup,
        run=run,
        state=lambda world, _: _export_state(world, export_queue),
        # The suite takes the kinds in turn over the calls; FAULTS=all runs every pair.
        choose=(lambda k, kind: True) if every else (lambda k, kind: KINDS.index(kind) == k % len(KINDS)),
    )
    assert _export_state_done(proof)
    print(f"export: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")


def _export_state_done(proof) -> bool:
    return bool(proof.runs) and any(call.service == "s3" for call in proof.baseline_calls)


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(export_queue, injector, monkeypatch):
    """As in AWS: the queue's redrive policy moves a message received MAX_RECEIVES times to
    the dead-letter queue; the worker has marked its export failed by then."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.models import Export
    from chalicelib.services import exports
    from scripts.export_worker import lambda_event

    campaign = campaigns.create_campaign(BRAND, "op", VALID_CAMPAIGN)
    batch = batches.mint_batch(BRAND, campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": 5})
    export_id = exports.request_export(BRAND, batch["batch_id"], "op", {"format": "csv"})["export_id"]

    def broken(*_):
        raise RuntimeError("the renderer is broken")

    monkeypatch.setattr(exports, "_plan", broken)
    sqs = aws.client("sqs")
    queue = export_queue["queue"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    receives = 0
    while got := sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["All"]).get("Messages"):
        receives += 1
        assert receives <= exports.MAX_RECEIVES, "received more often than the redrive policy allows"
        with pytest.raises(RuntimeError):
            export_worker(lambda_event(got[0], arn, "us-east-1"), None)
        # The retry delay the worker asked for runs out at once.
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    assert receives == exports.MAX_RECEIVES
    (dead,) = sqs.receive_message(QueueUrl=export_queue["dlq"], MessageSystemAttributeNames=["All"])["Messages"]
    assert json.loads(dead["Body"])["export_id"] == export_id
    assert Export.get(export_id).status == "failed"
