"""Faults at the AWS SDK boundary: the k-th AWS call of a run fails, for every k.

Every call the code makes to DynamoDB, S3 or SQS, through any client (boto3's, PynamoDB's),
passes through `botocore.client.BaseClient._make_api_call`, above botocore's own retries.
`Injector` counts those calls and makes the k-th one fail in one of four ways:

- `throttle`: refused for capacity, after botocore's retries gave up
  (ProvisionedThroughputExceededException, S3's SlowDown, SQS's RequestThrottled);
- `conflict`: a DynamoDB write refused because a transaction holds the item
  (TransactionCanceledException with TransactionConflict for a transaction,
  TransactionConflictException for a single-item write); only DynamoDB writes;
- `timeout_after_commit`: the call reaches AWS and takes effect, then the answer is lost
  (ReadTimeoutError): the caller cannot tell whether it happened;
- `crash`: the call takes effect, then the process dies before the next line runs
  (`Crash`, a BaseException no `except Exception` stops, as a Lambda killed mid-run);
  until the caller starts it again (`revive`), every later call dies too, so no
  clean-up code gets to run as it would not in a killed Lambda.

`prove` runs a scenario once without faults, then once per (k, kind) that applies to
the k-th call, each on freshly emptied tables, and compares the final state with the
fault-free run's. A scenario retries as its real caller would: a phone resends the same
request (same Idempotency-Key) after an error or a dropped connection, SQS and the stream
deliver a message again after its handler failed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.client
from botocore.exceptions import ClientError, ReadTimeoutError

KINDS = ("throttle", "conflict", "timeout_after_commit", "crash")
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_THROTTLED = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "s3": ("SlowDown", 503),
    "sqs": ("RequestThrottled", 400),
}


class Crash(BaseException):
    """The process dies here: nothing in the app catches it, as with a Lambda that is killed."""


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    items: int  # a transaction's item count, else 1

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


def applies(kind: str, call: Call) -> bool:
    if kind == "conflict":
        return call.service == "dynamodb" and call.operation in _DYNAMODB_WRITES
    if kind == "throttle":
        return call.service in _THROTTLED
    return True


def _error(code: str, status: int, operation: str, extra: dict | None = None) -> ClientError:
    response = {"Error": {"Code": code, "Message": f"injected {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    response.update(extra or {})
    return ClientError(response, operation)  # type: ignore[arg-type]


@dataclass
class Injector:
    """Counts AWS calls and fails the `at`-th one with `kind` (install it with `installed`)."""

    kind: str | None = None
    at: int = 0
    calls: list[Call] = field(default_factory=list)
    fired: Call | None = None
    dead: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _quiet: threading.local = field(default_factory=threading.local)

    def arm(self, kind: str | None, at: int = 0) -> None:
        self.kind, self.at, self.calls, self.fired, self.dead = kind, at, [], None, False

    def revive(self) -> None:
        """The function starts again after a crash (a new invocation, a resent request)."""
        self.dead = False

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Calls made by the harness itself (setting up, delivering messages) are not counted."""
        saved = getattr(self._quiet, "on", False)
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = saved

    @contextlib.contextmanager
    def counted(self) -> Iterator[None]:
        """Within `quiet`, the calls of the code under test (a handler the harness invokes)."""
        saved = getattr(self._quiet, "on", False)
        self._quiet.on = False
        try:
            yield
        finally:
            self._quiet.on = saved

    @contextlib.contextmanager
    def installed(self) -> Iterator[Injector]:
        real = botocore.client.BaseClient._make_api_call
        injector = self

        def make_api_call(client: Any, operation: str, params: dict) -> Any:
            if getattr(injector._quiet, "on", False):
                return real(client, operation, params)
            if injector.dead:
                raise Crash("the process is dead")
            call = Call(client.meta.service_model.service_name, operation, len(params.get("TransactItems") or [1]))
            with injector._lock:
                injector.calls.append(call)
                hit = injector.kind is not None and len(injector.calls) == injector.at
                if hit:
                    injector.fired = call
            if not hit:
                return real(client, operation, params)
            return injector._fail(real, client, call, params)

        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]

    def _fail(self, real: Callable, client: Any, call: Call, params: dict) -> Any:
        if self.kind == "throttle":
            code, status = _THROTTLED[call.service]
            raise _error(code, status, call.operation)
        if self.kind == "conflict":
            if call.operation == "TransactWriteItems":
                reasons = [{"Code": "None"}] * (call.items - 1) + [{"Code": "TransactionConflict"}]
                raise _error("TransactionCanceledException", 400, call.operation, {"CancellationReasons": reasons})
            raise _error("TransactionConflictException", 400, call.operation)
        real(client, call.operation, params)  # it takes effect...
        if self.kind == "timeout_after_commit":
            raise ReadTimeoutError(endpoint_url=client.meta.endpoint_url)  # ...and its answer is lost
        self.dead = True
        raise Crash(f"killed after {call}")  # ...and the process dies


@dataclass
class Proof:
    """What `prove` ran: the fault-free run's calls and each faulty run's (kind, k, call)."""

    baseline_calls: list[Call]
    runs: list[tuple[str, int, Call]]


def prove(
    injector: Injector,
    *,
    reset: Callable[[], None],
    setup: Callable[[], Any],
    run: Callable[[Any], Any],
    state: Callable[[Any, Any], Any],
    kinds: tuple[str, ...] = KINDS,
    choose: Callable[[int, str], bool] = lambda k, kind: True,
) -> Proof:
    """Fault-free run, then one run per (k, kind) chosen; each must end in the fault-free state.

    `setup` builds the scenario's world (not counted) and returns its context; `run(ctx)`
    plays it, retrying as the real callers would, and returns what the callers were told;
    `state(ctx, told)` reads the final state in a form that does not depend on ids or
    shards chosen at random, so two runs can be compared.
    """
    reset()
    with injector.quiet():
        ctx = setup()
    injector.arm(None)
    told = run(ctx)
    with injector.quiet():
        expected = state(ctx, told)
    baseline = list(injector.calls)
    runs: list[tuple[str, int, Call]] = []
    failures: list[str] = []
    for k, call in enumerate(baseline, start=1):
        for kind in kinds:
            if not applies(kind, call) or not choose(k, kind):
                continue
            reset()
            with injector.quiet():
                ctx = setup()
            injector.arm(kind, k)
            told = run(ctx)
            with injector.quiet():
                got = state(ctx, told)
            if injector.fired is None:
                failures.append(f"{kind} at call {k} ({call}) never fired: the run took another path")
            elif got != expected:
                failures.append(f"{kind} at call {k} ({injector.fired}) changed the outcome:\n{_diff(expected, got)}")
            runs.append((kind, k, call))
    assert not failures, f"{len(failures)} of {len(runs)} faulty runs ended differently:\n\n" + "\n\n".join(failures)
    return Proof(baseline, runs)


def _diff(expected: Any, got: Any) -> str:
    import difflib
    import json

    a = json.dumps(expected, indent=1, sort_keys=True, default=str).splitlines()
    b = json.dumps(got, indent=1, sort_keys=True, default=str).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "fault-free", "with the fault", lineterm="", n=2))
