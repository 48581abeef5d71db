"""A national launch, simulated: scans at a set rate through the real scan path and the real stream
aggregator, with every DynamoDB call recorded, not sent, and charged to the partition key it touches.

What the code sends is what it would send in AWS: `botocore.client.BaseClient._make_api_call`
is replaced by `Recorder`, which keeps the tables in memory (so reads find what earlier
writes left, and item sizes grow as they would), answers each call as DynamoDB would when
every condition holds, and charges its capacity units to each item's key in the second of
simulated time the call falls in:

* a write: ceil(item size / 1 KB) WCU, twice that in a transaction, the size being the
  larger of the item before and after;
* a consistent read (GetItem): ceil(size / 4 KB) RCU; an index query half that (eventually
  consistent, all the items it returns); a transaction's condition check: twice a read.

Item sizes follow DynamoDB's rules closely enough for the per-key peaks (attribute names
plus values; numbers by their digits). Conditions are not evaluated (every write succeeds),
so the figures are those of a launch where nothing is refused by a race.

The workload: `rate` scans a second for `seconds`, each by one of `shoppers` shoppers
(uniformly), from one of `containers` warm Lambda containers (each with its own batch and
campaign lookup), on codes of `batches` batches of one campaign; 30% of scans come from 20
carrier addresses (NAT), the rest from addresses of their own; one scan in 20 is of a code
already claimed (a duplicate, recorded as a refusal). The stream is read by `stream_shards`
aggregator invocations each second, in batches of up to 100 records, as Lambda would.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.client

WRITE_KB, READ_KB = 1024, 4096
PARTITION_WCU, PARTITION_RCU = 1000, 3000  # DynamoDB's per-partition limits, per second


def _number_size(text: str) -> int:
    digits = len(text.lstrip("-").replace(".", "").lstrip("0")) or 1
    return (digits + 1) // 2 + 1


def _value_size(value: dict) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    raise ValueError(kind)


def item_size(item: dict) -> int:
    """An item's size as DynamoDB counts it: every attribute's name and value, in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


_CLAUSE = re.compile(r"\b(SET|ADD|REMOVE|DELETE)\b")


def _split_top(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _add_numbers(a: dict | None, b: dict) -> dict:
    if a is None:
        return b
    return {"N": str(Decimal(a["N"]) + Decimal(b["N"]))}


def apply_update(item: dict, expression: str, names: dict, values: dict) -> dict:
    """The item after an UpdateExpression (the forms this code writes: SET, ADD, REMOVE)."""
    item = dict(item)
    pieces = _CLAUSE.split(expression)
    for i in range(1, len(pieces), 2):
        verb, body = pieces[i], pieces[i + 1]
        for action in _split_top(body):
            if verb == "ADD":
                name, operand = action.split()
                attribute = names.get(name, name)
                value = values[operand]
                if "N" in value:
                    item[attribute] = _add_numbers(item.get(attribute), value)
                else:
                    ((kind, members),) = value.items()
                    old = item.get(attribute, {kind: []})[kind]
                    item[attribute] = {kind: sorted(set(old) | set(members))}
            elif verb == "SET":
                target, _, source = (s.strip() for s in action.partition("="))
                attribute = names.get(target, target)
                item[attribute] = _evaluate(source, item, names, values)
            elif verb == "REMOVE":
                item.pop(names.get(action, action), None)
    return item


def _evaluate(source: str, item: dict, names: dict, values: dict) -> dict:
    source = source.strip()
    if source.startswith("if_not_exists("):
        inner = _split_top(source[len("if_not_exists(") : -1])
        existing = item.get(names.get(inner[0], inner[0]))
        return existing if existing is not None else _evaluate(inner[1], item, names, values)
    if " + " in source:
        left, right = source.split(" + ", 1)
        return _add_numbers(_evaluate(left, item, names, values), _evaluate(right, item, names, values))
    if " - " in source:
        left, right = source.split(" - ", 1)
        negated = {"N": str(-Decimal(_evaluate(right, item, names, values)["N"]))}
        return _add_numbers(_evaluate(left, item, names, values), negated)
    if source.startswith(":"):
        return values[source]
    return item.get(names.get(source, source), {"NULL": True})


def _client_error(code: str, operation: str, reasons: list[dict] | None = None):
    from botocore.exceptions import ClientError

    response: dict = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, operation)  # type: ignore[arg-type]


class SimClock:
    """Simulated seconds since the launch began; `at` is moved by the simulation."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


@dataclass
class Recorder:
    """DynamoDB in memory, answering every call as if its conditions held, charging units per key and second."""

    key_names: dict[str, tuple[str, ...]]  # table -> its key attributes
    indexes: dict[tuple[str, str], tuple[str, ...]]  # (table, index) -> its key attributes
    now: SimClock
    tables: dict[str, dict[tuple, dict]] = field(default_factory=lambda: defaultdict(dict))
    wcu: dict[tuple[str, str, int], float] = field(default_factory=lambda: defaultdict(float))
    rcu: dict[tuple[str, str, int], float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stream: list[dict] = field(default_factory=list)
    stream_table: str = ""
    _real: Any = None

    def install(self) -> None:
        self._real = real = botocore.client.BaseClient._make_api_call
        recorder = self

        def make_api_call(client, operation, params):
            if client.meta.service_model.service_name != "dynamodb":
                return real(client, operation, params)
            recorder.calls[operation] += 1
            return getattr(recorder, f"_{operation}")(params)

        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._real  # type: ignore[method-assign]

    # --- the store ------------------------------------------------------------------

    def _key(self, table: str, key_or_item: dict) -> tuple:
        return tuple(json.dumps(key_or_item[name], sort_keys=True) for name in self.key_names[table])

    def _label(self, table: str, key: tuple) -> str:
        return f"{table.split('-', 2)[-1]}:" + "/".join(json.loads(part).popitem()[1] for part in key)

    def load(self, table: str, items: list[dict]) -> None:
        for item in items:
            self.tables[table][self._key(table, item)] = item

    def _second(self) -> int:
        return int(self.now())

    def _charge_write(self, table: str, key: tuple, before: dict | None, after: dict | None, factor: int) -> None:
        size = max(item_size(before or {}), item_size(after or {}))
        self.wcu[(table, self._label(table, key), self._second())] += factor * math.ceil(max(size, 1) / WRITE_KB)

    def _charge_read(self, table: str, label: str, size: int, factor: float) -> None:
        self.rcu[(table, label, self._second())] += factor * math.ceil(max(size, 1) / READ_KB)

    def _write(self, table: str, key: tuple, after: dict | None, factor: int) -> None:
        before = self.tables[table].get(key)
        self._charge_write(table, key, before, after, factor)
        if after is None:
            self.tables[table].pop(key, None)
        else:
            self.tables[table][key] = after
            if table == self.stream_table and before is None:
                self.stream.append({"eventName": "INSERT", "dynamodb": {"NewImage": after}, "second": self._second()})

    def _put(self, params: dict, factor: int) -> None:
        table = params["TableName"]
        self._write(table, self._key(table, params["Item"]), params["Item"], factor)

    def _exists_already(self, params: dict) -> dict | None:
        """The item a Put conditioned on its key not existing would meet (the one condition
        this recorder checks: a code claimed twice, a refusal recorded twice)."""
        condition = params.get("ConditionExpression") or ""
        if not condition.startswith("attribute_not_exists("):
            return None
        table = params["TableName"]
        return self.tables[table].get(self._key(table, params["Item"]))

    def _update(self, params: dict, factor: int) -> dict:
        table = params["TableName"]
        key = self._key(table, params["Key"])
        before = self.tables[table].get(key) or dict(params["Key"])
        after = apply_update(
            before,
            params["UpdateExpression"],
            params.get("ExpressionAttributeNames") or {},
            params.get("ExpressionAttributeValues") or {},
        )
        self._write(table, key, after, factor)
        return after

    # --- the operations the code calls ------------------------------------------------

    def _GetItem(self, params: dict) -> dict:
        table = params["TableName"]
        key = self._key(table, params["Key"])
        item = self.tables[table].get(key)
        self._charge_read(
            table, self._label(table, key), item_size(item or {}), 1 if params.get("ConsistentRead") else 0.5
        )
        return {"Item": item} if item else {}

    def _BatchGetItem(self, params: dict) -> dict:
        """Each key read as its own GetItem would be (BatchGetItem charges per item), all processed."""
        responses: dict[str, list[dict]] = {}
        for table, request in params["RequestItems"].items():
            for key in request["Keys"]:
                found = self._GetItem({"TableName": table, "Key": key, "ConsistentRead": request.get("ConsistentRead")})
                if found:
                    responses.setdefault(table, []).append(found["Item"])
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _Query(self, params: dict) -> dict:
        table, index = params["TableName"], params.get("IndexName")
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        condition = params["KeyConditionExpression"]
        name, placeholder = (s.strip() for s in condition.split("=", 1))
        attribute, wanted = names.get(name, name), values[placeholder.split()[0]]
        found = [item for item in self.tables[table].values() if item.get(attribute) == wanted]
        found = found[: params.get("Limit") or len(found)]
        label = f"{table.split('-', 2)[-1]}/{index}:{next(iter(wanted.values()))}"
        self._charge_read(table, label, sum(item_size(i) for i in found), 0.5)
        return {"Items": found, "Count": len(found), "ScannedCount": len(found)}

    def _PutItem(self, params: dict) -> dict:
        if self._exists_already(params) is not None:
            self._charge_write(
                params["TableName"], self._key(params["TableName"], params["Item"]), None, params["Item"], 1
            )
            raise _client_error("ConditionalCheckFailedException", "PutItem")
        self._put(params, 1)
        return {}

    def _UpdateItem(self, params: dict) -> dict:
        after = self._update(params, 1)
        return {"Attributes": after} if params.get("ReturnValues") in ("ALL_NEW", "UPDATED_NEW") else {}

    def _DeleteItem(self, params: dict) -> dict:
        table = params["TableName"]
        self._write(table, self._key(table, params["Key"]), None, 1)
        return {}

    def _TransactWriteItems(self, params: dict) -> dict:
        reasons: list[dict] = []
        for action in params["TransactItems"]:
            ((kind, request),) = action.items()
            old = self._exists_already(request) if kind == "Put" else None
            reasons.append({"Code": "ConditionalCheckFailed", "Item": old} if old is not None else {"Code": "None"})
        if any(r["Code"] != "None" for r in reasons):
            # Cancelled: charged as written (DynamoDB charges a refused transaction), nothing applied.
            for action in params["TransactItems"]:
                ((kind, request),) = action.items()
                if kind != "ConditionCheck":
                    table = request["TableName"]
                    key = self._key(table, request.get("Item") or request["Key"])
                    self._charge_write(table, key, self.tables[table].get(key), request.get("Item"), 2)
            raise _client_error("TransactionCanceledException", "TransactWriteItems", reasons)
        for action in params["TransactItems"]:
            ((kind, request),) = action.items()
            if kind == "Put":
                self._put(request, 2)
            elif kind == "Update":
                self._update(request, 2)
            elif kind == "Delete":
                self._write(request["TableName"], self._key(request["TableName"], request["Key"]), None, 2)
            else:  # ConditionCheck: a transactional read of the item
                table = request["TableName"]
                key = self._key(table, request["Key"])
                self._charge_read(table, self._label(table, key), item_size(self.tables[table].get(key) or {}), 2)
        return {}

    # --- what the run cost -------------------------------------------------------------

    def peaks(self, units: dict[tuple[str, str, int], float], top: int = 5) -> list[tuple[str, float, int]]:
        """The keys with the highest units in any one second: (key, units, second), highest first."""
        best: dict[str, tuple[float, int]] = {}
        for (_, label, second), value in units.items():
            if value > best.get(label, (0.0, 0))[0]:
                best[label] = (value, second)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:top]
        return [(label, value, second) for label, (value, second) in ranked]


@dataclass
class Launch:
    scans: int
    seconds: int
    wcu_total: float
    rcu_total: float
    write_peaks: list[tuple[str, float, int]]
    read_peaks: list[tuple[str, float, int]]
    granted: int
    refused: int
    calls: dict[str, int]


def simulate(
    *,
    rate: int = 5_000,
    seconds: int = 10,
    shoppers: int = 1_000_000,
    containers: int = 1_000,
    stream_shards: int = 8,
    seed: int = 11,
    batch_list: list[dict],
    recorder: Recorder,
) -> Launch:
    """Run the launch through scans.claim_code and the stream handler, on `batch_list` (the batches,
    made beforehand and loaded into `recorder`, which is installed). The clock must read `recorder.now`."""
    from chalicelib.adapters.records import LookupCache
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes
    from chalicelib.domain.errors import DomainError
    from chalicelib.services import scans
    from chalicelib.services.stats_aggregator import handle_stream_records
    from tests.support import synthetic_shopper_id

    rng = random.Random(seed)
    keyring = get_keyring()
    lookups = [LookupCache() for _ in range(containers)]
    nat = [f"100.64.{i}.1" for i in range(20)]
    used: list[str] = []
    next_serial = [0] * len(batch_list)
    granted = refused = 0
    consumed = 0
    sim_clock = recorder.now
    assert isinstance(sim_clock, SimClock)
    total = rate * seconds
    for n in range(total):
        recorder_time = n / rate
        sim_clock.at = recorder_time
        shopper = synthetic_shopper_id(f"{rng.randrange(shoppers):064x}")
        ip = rng.choice(nat) if rng.random() < 0.3 else f"10.{n % 250}.{n // 250 % 250}.{n % 7}"
        if used and rng.random() < 0.05:
            code = rng.choice(used)
        else:
            b = rng.randrange(len(batch_list))
            serial = next_serial[b]
            next_serial[b] += 1
            code = codes.mint_code(keyring, int(batch_list[b]["batch_number"]), serial)
            used.append(code)
        try:
            scans.claim_code(shopper, ip, {"code": code}, f"k{n}", lookups=lookups[rng.randrange(containers)])
            granted += 1
        except DomainError:
            refused += 1
        # Each second, the stream's shards hand their new records to the aggregator.
        second = int(recorder_time)
        if n + 1 == total or int((n + 1) / rate) > second:
            pending = recorder.stream[consumed:]
            consumed = len(recorder.stream)
            by_shard: dict[int, list[dict]] = defaultdict(list)
            for record in pending:
                key = record["dynamodb"]["NewImage"]["code_key"]["S"]
                by_shard[hash(key) % stream_shards].append(record)
            for shard_records in by_shard.values():
                for start in range(0, len(shard_records), 100):
                    handle_stream_records(shard_records[start : start + 100])
    wcu_total = sum(recorder.wcu.values())
    rcu_total = sum(recorder.rcu.values())
    return Launch(
        scans=total,
        seconds=seconds,
        wcu_total=wcu_total,
        rcu_total=rcu_total,
        write_peaks=recorder.peaks(recorder.wcu),
        read_peaks=recorder.peaks(recorder.rcu),
        granted=granted,
        refused=refused,
        calls=dict(recorder.calls),
    )


def prepared(batches: int, codes_per_batch: int, sim_clock: SimClock) -> tuple[Recorder, list[dict]]:
    """One active campaign with `batches` active batches, made in moto, then loaded into a Recorder."""
    from datetime import UTC, datetime, timedelta

    from moto import mock_aws

    from chalicelib.adapters import dynamo, models, tables
    from chalicelib.config import Settings
    from chalicelib.services import batches as batch_service
    from tests.stats_scale import active_campaign

    now = datetime.now(UTC)
    with mock_aws():
        models.bind(Settings(table_prefix="national"))
        tables.create_tables()
        campaign, first = active_campaign(
            "national-brand",
            start=now - timedelta(days=1),
            end=now + timedelta(days=30),
            quantity=codes_per_batch,
            prizes=[{"name": "Phone", "quantity": 1_000_000, "odds_per_million": 20_000}],
            rules={"points_per_scan": 10, "entries_per_scan": 1, "budget_points": 10**9},
        )
        made = [first]
        for _ in range(batches - 1):
            batch = batch_service.mint_batch(
                "national-brand", campaign["campaign_id"], "op", {"sku": "NOODLE", "quantity": codes_per_batch}
            )
            batch_service.change_batch_status("national-brand", batch["batch_id"], "op", {"status": "active"})
            made.append(batch)
        client = dynamo.client()
        dumps = {
            model.Meta.table_name: [
                item
                for page in client.get_paginator("scan").paginate(TableName=model.Meta.table_name)
                for item in page["Items"]
            ]
            for model in models.ALL_MODELS
        }
        key_names = {
            model.Meta.table_name: (model._hash_keyname, *([model._range_keyname] if model._range_keyname else []))
            for model in models.ALL_MODELS
        }
    recorder = Recorder(key_names, {}, sim_clock)
    for table, items in dumps.items():
        recorder.load(table, items)
    recorder.stream_table = models.CodeState.Meta.table_name
    return recorder, made
