"""A fault at every step, on DynamoDB Local: whatever call fails, and however, the end state
is the fault-free run's, with nothing lost and nothing doubled (see tests/faults.py).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from chalicelib.adapters import dynamo, models, records
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import clock, codes
from chalicelib.services import batches, campaigns
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
BATCH_COUNTER = batches._BATCH_COUNTER


@pytest.fixture
def injector():
    with Injector().installed() as injector:
        yield injector


@pytest.fixture
def frozen():
    """One instant for every run, so timestamps written in two runs can be compared."""
    instant = datetime.now(UTC).replace(microsecond=0).timestamp()
    with clock.replaced(lambda: instant):
        yield instant


def _empty_tables() -> None:
    """Every item gone but the batch number counter: each run mints new batch numbers, so no
    two runs write the same keys (a request token DynamoDB remembers for ten minutes
    would otherwise meet another run's request)."""
    client = dynamo.client()
    for model in models.ALL_MODELS:
        keys = [model._hash_keyname, *([model._range_keyname] if model._range_keyname else [])]
        for page in client.get_paginator("scan").paginate(TableName=model.Meta.table_name):
            for item in page["Items"]:
                if model is models.Counter and item["name"]["S"] == BATCH_COUNTER:
                    continue
                client.delete_item(TableName=model.Meta.table_name, Key={k: item[k] for k in keys})
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
        if model is models.Batch:
            items = [{**i, "batch_number": "B"} for i in items]
        if model in (models.StatShard, models.Counter):
            items = _sum_shards(model, items)
        dump[model.__name__] = sorted(json.dumps(_names(i, names), sort_keys=True, default=str) for i in items)
    return dump


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


def _send(api, token: str, code: str, key: str, attempts: int = 4) -> tuple[int, dict]:
    """A phone's scan: on 503 or a dropped connection it sends the same request again.

    Any other 5xx is an answer: a fault must be told as "try again", never as a crash.
    """
    for _ in range(attempts):
        try:
            response = api.call("POST", "/v1/scans", {"code": code}, token=token, headers={"Idempotency-Key": key})
        except Crash:
            continue  # the connection dropped with the function
        if response.status_code != 503:
            return response.status_code, json.loads(response.body)
    raise AssertionError(f"the scan of {code} never got an answer")


def _scans(api):
    def run(world: dict) -> list:
        a, b = world["tokens"]
        plays = [(a, 0), (b, 0), (a, 1), (b, 2), (a, 2)]
        told = []
        for n, (token, serial) in enumerate(plays):
            status, body = _send(api, token, world["codes"][serial], f"scan-{n}-{world['run']}")
            body.pop("replay", None)  # a resend that finds its own claim says so
            told.append((status, body))
        return told

    return run


def _choose(k: int, kind: str) -> bool:
    return True


def test_a_fault_at_any_call_of_a_scan_changes_nothing(api, injector, frozen):
    feeder = feeder_for()

    def state(world: dict, told: list) -> dict:
        feeder.drain()  # the statistics, once the stream has been counted
        return {"told": _names(told, world["names"]), "tables": _tables(world["names"])}

    proof = prove(injector, reset=_empty_tables, setup=_scan_world, run=_scans(api), state=state, choose=_choose)
    print(f"scans: {len(proof.baseline_calls)} AWS calls, {len(proof.runs)} faulty runs")
    assert {kind for kind, _, _ in proof.runs} == set(KINDS)
