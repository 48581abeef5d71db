"""Functional suite: the API over moto's in-process DynamoDB."""

from __future__ import annotations

import pytest
from moto import mock_aws

from chalicelib.adapters import models, tables
from chalicelib.config import Settings


@pytest.fixture
def store():
    with mock_aws():
        # moto gives every test an empty backend, so one table prefix serves all tests
        # and the models keep their botocore clients from one test to the next.
        # The binding is left in place afterwards: rebinding would rebuild the clients,
        # and a test that reaches DynamoDB without a store fails either way.
        settings = Settings(table_prefix="fn")
        models.bind(settings)
        tables.create_tables()
        yield settings
