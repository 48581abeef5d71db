"""Integration suite: one DynamoDB Local per test session (`ddb_local`, tests/conftest.py), fresh tables per module or test."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters import dynamo, models, tables
from chalicelib.config import Settings

# The browser tests' fixtures: chalice local on DynamoDB Local with the stage's own tables.
from tests.integration.browser import server, stage_tables  # noqa: F401

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/integration needs the engine: `-m "not integration"` skips it.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _settings(endpoint: str, label: str) -> Settings:
    # A unique prefix per module or test: tables of one never leak into another, and a
    # rerun against a long-lived engine never meets leftovers.
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[-40:] or "t"
    return Settings.from_environ(
        {
            "STAGE": "local",
            "TABLE_PREFIX": f"it-{slug}-{uuid.uuid4().hex[:8]}",
            "DYNAMODB_ENDPOINT": endpoint,
            "AWS_REGION": "us-east-1",
        }
    )


@contextlib.contextmanager
def _tables_of(settings: Settings, only: list | None = None) -> Iterator[Settings]:
    """Bind the models to `settings` with their tables (or `only` those models') created; afterwards drop
    them and restore whatever binding was there before (another suite's, or the process default)."""
    saved = [(model, dict(vars(model.Meta))) for model in models.ALL_MODELS]
    saved_binding = dynamo.binding()
    models.bind(settings)
    chosen = only if only is not None else list(models.ALL_MODELS)
    try:
        tables.create_tables(chosen)
        yield settings
    finally:
        try:
            tables.delete_tables(chosen)
        finally:
            for model, meta in saved:
                for name in set(vars(model.Meta)) - set(meta):
                    if not name.startswith("__"):
                        delattr(model.Meta, name)
                for name, value in meta.items():
                    if not name.startswith("__"):
                        setattr(model.Meta, name, value)
                model._connection = None
            dynamo.bind(*saved_binding)


@pytest.fixture(scope="module")
def ddb_settings(ddb_local: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for DynamoDB Local with this module's own tables, created and bound."""
    with _tables_of(_settings(ddb_local, request.module.__name__)) as settings:
        yield settings


@pytest.fixture
def store(ddb_local: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """The integration suite's store for the shared `api` fixture: fresh tables per test,
    as the functional suite's moto store gives, so the same tests run unchanged."""
    with _tables_of(_settings(ddb_local, request.node.name)) as settings:
        yield settings
