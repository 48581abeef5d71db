"""Table creation for the local stack and tests, and upgrades of tables kept from older versions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from botocore.client import BaseClient
from pynamodb.models import Model

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import ALL_MODELS

__all__ = ["create_tables", "delete_tables"]


def create_tables(models: Iterable[type[Model]] = ALL_MODELS) -> list[str]:
    """Create the tables that do not exist yet, and bring older local ones up to the models.

    A table kept from an earlier version (the dev stack's data directory) gets the
    stream and the indexes its model has since gained; returns the names created.
    """
    models = list(models)
    existing = _existing(models)
    for model in models:
        if model.Meta.table_name in existing:
            _upgrade_table(model)
    missing = [model for model in models if model.Meta.table_name not in existing]
    # Asked for side by side and then each waited for: DynamoDB builds them in parallel,
    # which halves a fresh stack's start (and every test's fresh tables).
    _each(lambda model: model.create_table(wait=False, billing_mode="PAY_PER_REQUEST"), missing)
    _each(lambda model: _settled(dynamo.client(), model.Meta.table_name), missing)
    return [model.Meta.table_name for model in missing]


def _each(action: Callable[[type[Model]], object], models: list[type[Model]]) -> None:
    """`action` on every model, a few at a time (well under DynamoDB's limit on concurrent table changes)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(action, models))


def _existing(models: list[type[Model]]) -> set[str]:
    """Which of the models' tables exist: one ListTables walk instead of a DescribeTable each."""
    names, start = set(), None
    while True:
        page = dynamo.client().list_tables(**({"ExclusiveStartTableName": start} if start else {}))
        names.update(page["TableNames"])
        start = page.get("LastEvaluatedTableName")
        if not start:
            return names & {model.Meta.table_name for model in models}


def _settled(client: BaseClient, name: str, timeout: float = 60.0) -> dict:
    """The table once it and its indexes are ACTIVE: DynamoDB takes one change at a time."""
    deadline = time.monotonic() + timeout
    while True:
        table = client.describe_table(TableName=name)["Table"]
        busy = table["TableStatus"] != "ACTIVE" or any(
            index.get("IndexStatus") != "ACTIVE" for index in table.get("GlobalSecondaryIndexes") or []
        )
        if not busy:
            return table
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} is still changing after {timeout:.0f} s")
        time.sleep(0.2)


def _upgrade_table(model: type[Model]) -> None:
    client = dynamo.client()
    name = model.Meta.table_name
    table = _settled(client, name)
    view = getattr(model.Meta, "stream_view_type", None)
    if view and not (table.get("StreamSpecification") or {}).get("StreamEnabled"):
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        table = _settled(client, name)
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes") or []}
    schema = model._get_schema()
    for index in schema.get("global_secondary_indexes", []):
        if index["index_name"] in present:
            continue
        names = {key["AttributeName"] for key in index["key_schema"]}
        client.update_table(
            TableName=name,
            AttributeDefinitions=[a for a in schema["attribute_definitions"] if a["AttributeName"] in names],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index["index_name"],
                        "Projection": index["projection"],
                        "KeySchema": sorted(index["key_schema"], key=lambda key: key["KeyType"] != "HASH"),
                    }
                }
            ],
        )
        _settled(client, name)


def delete_tables(models: Iterable[type[Model]] = ALL_MODELS) -> None:
    """Drop the tables (tests and the dev reset command only)."""
    models = list(models)
    existing = _existing(models)
    _each(lambda model: model.delete_table(), [model for model in models if model.Meta.table_name in existing])
