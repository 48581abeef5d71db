"""Functional suite: the API over moto's in-process DynamoDB."""
from __future__ import annotations

import uuid

import pytest
from moto import mock_aws

from chalicelib import models
from chalicelib.config import Settings, get_settings


@pytest.fixture
def store():
    with mock_aws():
        settings = Settings(table_prefix=f"fn-{uuid.uuid4().hex[:8]}")
        models.bind(settings)
        models.create_tables()
        try:
            yield settings
        finally:
            models.bind(get_settings())
