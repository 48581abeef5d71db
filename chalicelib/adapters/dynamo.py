"""The one small DynamoDB helper: the shared low-level client, condition failures, jittered retries."""

from __future__ import annotations

import random
import time

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

from chalicelib.adapters.models import Campaign

__all__ = ["transaction_connection", "client", "condition_failed", "cancellation_codes", "backoff"]

_CONDITION_FAILED = "ConditionalCheckFailedException"
_connection_cache: dict[tuple, Connection] = {}


def transaction_connection() -> Connection:
    """A PynamoDB connection to the bound endpoint, for TransactWrite (one per binding)."""
    key = (Campaign.Meta.region, Campaign.Meta.host, Campaign.Meta.max_retry_attempts)
    if key not in _connection_cache:
        _connection_cache[key] = Connection(region=key[0], host=key[1], max_retry_attempts=key[2])
    return _connection_cache[key]


def client():
    """The low-level botocore DynamoDB client of the bound endpoint (counters, transactions)."""
    return transaction_connection().client


def condition_failed(exc: BaseException) -> bool:
    """Whether a write was refused by its condition (PynamoDB's errors or botocore's)."""
    if isinstance(exc, PynamoDBException):
        # A cause without an answer (a timeout, a dropped connection) is no condition failure.
        return isinstance(exc.cause, ClientError) and condition_failed(exc.cause)
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED
    return False


def cancellation_codes(exc: ClientError) -> list[str] | None:
    """The per-item reasons of a cancelled TransactWriteItems ("None" for items that passed), else None."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons") or []]


def backoff(attempt: int, base_seconds: float = 0.02) -> None:
    """Sleep before retry `attempt` (1, 2, ...) with full jitter.

    botocore does not retry a transaction cancelled for TransactionConflict: the caller
    does, after this pause, so racing writers spread out instead of meeting again.
    """
    time.sleep(random.uniform(0, base_seconds * 2**attempt))
