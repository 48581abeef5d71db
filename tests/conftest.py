"""Session-wide test settings: no real AWS credentials are ever looked up."""

from __future__ import annotations

import os
import tempfile

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
