"""The one DynamoDB helper: the container's one client, shared by every model, condition failures, and the one
retry rule for conflicts and throttles (with its ClientRequestToken rule)."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PynamoDBException, TableError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import aws
from chalicelib.domain.errors import ServiceBusy

__all__ = [
    "bind",
    "binding",
    "client",
    "transaction_connection",
    "share_connection",
    "condition_failed",
    "cancellation_codes",
    "backoff",
    "attempts",
    "transient",
    "request_token",
    "write_together",
    "pages_side_by_side",
]

_CONDITION_FAILED = "ConditionalCheckFailedException"
# A Lambda container serves one request at a time; the local workers and the race tests
# call from dozens of threads, which would otherwise open and drop connections.
_POOL_CONNECTIONS = 64

_lock = threading.Lock()
_binding: tuple[str, str | None, int] = ("us-east-1", None, 5)
_clients: dict[tuple[str, str | None, int], object] = {}


def bind(region: str, endpoint: str | None, max_attempts: int) -> None:
    """Point the shared client at a region and endpoint (models.bind calls this with the settings)."""
    global _binding
    _binding = (region, endpoint, max_attempts)


def binding() -> tuple[str, str | None, int]:
    """The region, endpoint and attempt count the shared client is bound to."""
    return _binding


def client() -> BaseClient:
    """The container's one low-level DynamoDB client, built on first use from the one botocore session.

    Every PynamoDB model, every transaction and every low-level call goes through it.
    One client per binding: tests that move between moto and DynamoDB Local get one each.
    """
    key = _binding
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = _clients[key] = aws.create_client("dynamodb", key[0], key[1], _config(key[2]))
    return found


def _config(max_attempts: int) -> Config:
    # What PynamoDB configures for its own clients, with our timeouts and attempt count.
    # Parameter validation is off: every request is built by code, and validating the
    # request dict costs more CPU than the rest of a warm scan.
    return Config(
        parameter_validation=False,
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=_POOL_CONNECTIONS,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )


class _SharedConnection(Connection):
    """PynamoDB's connection over the shared client: one for every model's table connection."""

    @property
    def client(self) -> BaseClient:
        return client()


_connection = _SharedConnection()


def transaction_connection() -> Connection:
    """The PynamoDB connection that every model and every TransactWrite uses (its client is `client()`)."""
    return _connection


def share_connection(table: TableConnection) -> None:
    """Hand a model's PynamoDB table connection the shared connection, keeping its table schema.

    PynamoDB builds one TableConnection per model, each with a Connection (a botocore
    session and client) of its own; the schema moves to the shared connection instead.
    """
    if table.connection is not _connection:
        with _lock:
            try:
                # Seen before (a model rebound to the same table): one model per table name.
                _connection.get_meta_table(table.table_name)
            except TableError:
                _connection.add_meta_table(table.get_meta_table())
        table.connection = _connection


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


# What DynamoDB answers when it cannot take a request now, rather than because of the request:
# a whole request throttled past botocore's own retries, or a transaction item that met another
# transaction (botocore never retries a cancelled transaction).
_THROTTLED = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def transient(exc: BaseException) -> bool:
    """Whether a failed request may succeed if sent again unchanged: throttled, or in conflict with
    another transaction (a condition that failed is not: the caller must read again and decide)."""
    if isinstance(exc, PynamoDBException):
        return exc.cause is not None and transient(exc.cause)
    if not isinstance(exc, ClientError):
        return False
    reasons = cancellation_codes(exc)
    if reasons is not None:
        return bool(_TRANSIENT_REASONS.intersection(reasons)) and "ConditionalCheckFailed" not in reasons
    return exc.response.get("Error", {}).get("Code") in _THROTTLED


def attempts(count: int, busy: str, *, retry_after: int = 1, base_seconds: float = 0.02) -> Iterator[int]:
    """The numbers of up to `count` tries of one write (1, 2, ...), pausing with full jitter before each retry.

    The one retry loop for conflicts and throttles: the caller's body `continue`s to try
    again (after reading what moved, where it must) and returns or breaks once done. Past
    the last try this raises ServiceBusy(`busy`), a 503 with Retry-After.
    """
    for attempt in range(1, count + 1):
        if attempt > 1:
            backoff(min(attempt - 1, 6), base_seconds)
        yield attempt
    raise ServiceBusy(busy, retry_after=retry_after)


def write_together(items: Callable[[TransactWrite], None], busy: str, tries: int = 6) -> bool:
    """One PynamoDB transaction whose items `items` adds, tried again while DynamoDB is busy; False
    when an item's condition refused it (nothing written), ServiceBusy(`busy`) past the last try."""
    for _ in attempts(tries, busy):
        try:
            with TransactWrite(connection=transaction_connection(), client_request_token=request_token()) as tx:
                items(tx)
        except TransactWriteError as exc:
            if transient(exc):
                continue
            if isinstance(exc.cause, ClientError) and cancellation_codes(exc.cause) is not None:
                return False
            raise
        return True
    return False  # never reached: attempts raises ServiceBusy after the last try


def request_token() -> str:
    """The ClientRequestToken of one try of a transaction: new for every try, the same for botocore's resends.

    The one rule: botocore sends a timed-out request again with the same token, so DynamoDB
    applies it once; a try of ours is a new request (possibly with other items, which reusing
    a token would refuse as IdempotentParameterMismatch) and gets a new token. That a write
    made by an earlier try is not made twice is the items' conditions' business, never the
    token's. 128 random bits, as a UUID4 has, from the process's generator: the token guards
    nothing, so no system call for fresh entropy on every scan.
    """
    return f"{random.getrandbits(128):032x}"


def _put_page(pages: queue.Queue, stop: threading.Event, entry: tuple) -> bool:
    """Hand `entry` to the caller's thread, waiting for room; False once the caller has stopped."""
    while not stop.is_set():
        try:
            pages.put(entry, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _read_pages(
    index: int, reader: Callable[[dict | None], dict[str, Any]], pages: queue.Queue, stop: threading.Event
) -> None:
    """One thread of pages_side_by_side: every page of `reader`, then (index, None, the error or None)."""
    failure: BaseException | None = None
    try:
        start = None
        while True:
            page = reader(start)
            if not _put_page(pages, stop, (index, page, None)) or "LastEvaluatedKey" not in page:
                break
            start = page["LastEvaluatedKey"]
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
        failure = exc
    _put_page(pages, stop, (index, None, failure))


def pages_side_by_side(
    readers: Sequence[Callable[[dict | None], dict[str, Any]]],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every page of several paged Query reads, each paged through in a thread of its own, as they come.

    `readers[i](start_key)` sends one Query from `start_key` (None: from the start) and returns
    botocore's answer. Yields (i, the page): pages of one reader come in their order, pages of
    different readers interleaved. Most of a page's time is the wait for DynamoDB, so key
    ranges read side by side take about the time of the largest. At most two pages a reader
    wait to be taken; when the caller stops (or raises), the threads stop after the page
    they are reading, and an error in any thread is raised here.
    """
    pages: queue.Queue = queue.Queue(maxsize=2 * max(len(readers), 1))
    stop = threading.Event()
    threads = [
        threading.Thread(target=_read_pages, args=(i, r, pages, stop), daemon=True) for i, r in enumerate(readers)
    ]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            index, page, failure = pages.get()
            if page is not None:
                yield index, page
                continue
            running -= 1
            if failure is not None:
                raise failure
    finally:
        stop.set()
        for thread in threads:
            thread.join()
