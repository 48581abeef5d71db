"""Session-wide test settings: no real AWS credentials are ever looked up, and every AWS call an entry point makes is checked against its function's IAM policy."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# Set before any test module imports boto3 or the app.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "DYNAMODB_ENDPOINT"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "STAGE": "local",
        # The local stage's SMS go to an outbox file: never the developer's own .local/outbox.
        "OUTBOX_DIR": tempfile.mkdtemp(prefix="qrc-test-outbox-"),
    }
)


from chalicelib.adapters import aws  # noqa: E402  (after the environment above)
from tests import iam_recorder  # noqa: E402

# Before any client exists: every client the app builds from here on reports its calls.
iam_recorder.install(aws)


def _table_names() -> dict[str, str]:
    from chalicelib.adapters import models

    return {model.Meta.table_name: model.Meta.table_suffix for model in models.ALL_MODELS}


def _stand_ins() -> dict[tuple[str, str], str]:
    from chalicelib.config import get_settings

    settings = get_settings()
    names = {("bucket", settings.export_bucket): "export_bucket", ("queue", settings.export_queue_name): "export_queue"}
    if settings.export_queue_url:
        names[("queue", settings.export_queue_url.rstrip("/").rsplit("/", 1)[-1])] = "export_queue"
    names[("queue", settings.webhook_queue_name)] = "webhook_queue"
    if settings.webhook_queue_url:
        names[("queue", settings.webhook_queue_url.rstrip("/").rsplit("/", 1)[-1])] = "webhook_queue"
    for field, variable in iam_recorder.PARAMETER_SETTINGS.items():
        if getattr(settings, field):
            names[("parameter", getattr(settings, field))] = variable
    return names


iam_recorder.RECORDER.table_names = _table_names
iam_recorder.RECORDER.stand_ins = _stand_ins


def pytest_collection_finish(session: pytest.Session) -> None:
    # After collection the test modules have imported the app; importing it here covers the rest.
    import app

    iam_recorder.wrap_entry_points(app)


@pytest.fixture(autouse=True)
def _calls_within_policy():
    """A test fails when its entry points made an AWS call their function's policy does not allow.
    Checked after the test, so no `except` in the app or the test can swallow it."""
    iam_recorder.RECORDER.take()  # anything a previous test's stray thread made is not this test's
    yield
    problems = iam_recorder.violations(iam_recorder.RECORDER.take())
    if problems:
        pytest.fail("AWS calls the IAM policy does not allow:\n" + "\n".join(problems), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    iam_recorder.finish(session.config)


@pytest.fixture(scope="session")
def ddb_local() -> Iterator[str]:
    """The endpoint of a DynamoDB Local kept in memory on a free 127.0.0.1 port (the integration
    tests' engine, and the benchmarks' smoke runs'), started on first use."""
    from scripts import dynamodb_local

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # one engine per test worker, each its own log
    log_path = dynamodb_local.REPO_ROOT / ".local" / "logs" / f"dynamodb-local-pytest-{worker}.log"
    try:
        handle = dynamodb_local.start(db_path=None, log_path=log_path)
    except dynamodb_local.DynamoDBLocalError as exc:
        problem = str(exc)
    else:
        problem = None
    if problem:  # failed outside the except block, so the report is the message alone
        pytest.fail(f"DynamoDB Local is needed by this test: {problem}", pytrace=False)
    with handle:
        yield handle.endpoint


@pytest.fixture
def api(store):
    """The HTTP API over chalice's test client, bound to whichever `store` the suite provides."""
    from chalice.test import Client

    from app import app
    from tests.support import Api

    with Client(app) as client:
        yield Api(client)


@pytest.fixture
def campaign(api) -> dict:
    """A fresh draft campaign of brand-a, created through the API."""
    from tests.support import VALID_CAMPAIGN

    return api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)


@pytest.fixture(autouse=True)
def _forget_scan_locks():
    """Each test starts in a fresh container as far as remembered scan locks go."""
    yield
    from chalicelib.services import scans

    scans.LOCKS.clear()
