"""Every AWS call the app makes in the tests, recorded under the Lambda function whose entry point made it and checked against that function's IAM policy."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from scripts import policies

# Which Lambda function is running, and which route of it: (function, route or "").
_RUNNING: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("lambda_function", default=None)

# The account in the ARNs the calls are checked as (the policies name none).
ACCOUNT = "123456789012"

# The settings that name an SSM parameter -> the stage's environment variable holding its name.
PARAMETER_SETTINGS = {
    "code_keyring_parameter": "CODE_KEYRING_PARAMETER",
    "shopper_jwt_secret_parameter": "SHOPPER_JWT_SECRET_PARAMETER",
    "phone_hash_pepper_parameter": "PHONE_HASH_PEPPER_PARAMETER",
}

# The IAM action of each operation whose name is not its action (the rest are "<service>:<Operation>").
_ACTION_OF = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "UploadPartCopy"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("ssm", "GetParameters"): "ssm:GetParameter",
}
# Calls made only where a setting is absent that every AWS stage sets: recorded, never checked.
LOCAL_ONLY = {
    # The functions get EXPORT_QUEUE_URL from the template; only the local stack, which knows
    # the queue by name, looks its URL up.
    "sqs:GetQueueUrl",
}

# A transaction has no IAM action of its own: each of its items is authorised as its single-item action.
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


@dataclass(frozen=True)
class Call:
    """One IAM request of one AWS call: the function that made it, and what the call names."""

    function: str
    route: str
    operation: str  # the API operation, e.g. "dynamodb:TransactWriteItems"
    action: str  # the IAM action it needs, e.g. "dynamodb:PutItem"
    kind: str  # "table", "bucket", "queue", "parameter", "phone", "topic"
    name: str  # the test's name of the resource (a table's logical name, the bucket, ...)
    detail: str = ""  # an index name, or an object key

    def label(self) -> str:
        where = f"{self.function} ({self.route})" if self.route else self.function
        detail = f" index {self.detail}" if self.kind == "table" and self.detail else ""
        return f"{where}: {self.operation} needs {self.action} on {self.kind} {self.name}{detail}"


class Recorder:
    """Calls seen since the last `take`, and every call of the session for the summary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Call] = []
        self.session: dict[Call, int] = {}
        self.table_names: Callable[[], dict[str, str]] = dict  # the test's table name -> its logical name
        self.stand_ins: Callable[[], dict[tuple[str, str], str]] = dict  # (kind, test's name) -> logical name

    def add(self, calls: list[Call]) -> None:
        with self._lock:
            self._pending.extend(calls)
            for call in calls:
                self.session[call] = self.session.get(call, 0) + 1

    def take(self) -> list[Call]:
        with self._lock:
            taken, self._pending = self._pending, []
        return taken

    def on_call(self, params: dict, model: Any, **_: Any) -> None:
        """botocore's before-parameter-build: once per API call (not per retry), presigned URLs included."""
        running = _RUNNING.get()
        if running is None:  # a fixture seeding data, or a test reading what the app wrote
            return
        service = model.service_model.service_name
        self.add(
            [
                Call(running[0], running[1], f"{service}:{model.name}", *rest)
                for rest in self._requests(service, model.name, params)
            ]
        )

    def _requests(self, service: str, operation: str, params: dict) -> list[tuple[str, str, str, str]]:
        """(action, kind, name, detail) of each resource the call touches."""
        action = _ACTION_OF.get((service, operation), f"{service}:{operation}")
        if service == "dynamodb":
            return self._tables(action, operation, params)
        if service == "s3":
            written = (action, "bucket", self._stand_in("bucket", params.get("Bucket", "")), params.get("Key", ""))
            return [written, *self._copied_from(params.get("CopySource"))]
        if service == "sqs":
            queue = params.get("QueueName") or unquote(urlparse(params.get("QueueUrl", "")).path).rsplit("/", 1)[-1]
            return [(action, "queue", self._stand_in("queue", queue), "")]
        if service == "ssm":
            names = params.get("Names") or [params.get("Name", "")]
            return [(action, "parameter", self._stand_in("parameter", name), "") for name in names]
        if service == "sns" and params.get("TopicArn"):
            return [(action, "topic", params["TopicArn"], "")]
        if service == "sns":
            return [(action, "phone", "*", "")]
        return [(action, service, "?", "")]

    def _copied_from(self, source: Any) -> list[tuple[str, str, str, str]]:
        # A copy (UploadPartCopy, CopyObject) also reads its source with the caller's role.
        if isinstance(source, str):
            bucket, _, key = unquote(source.lstrip("/")).partition("/")
            source = {"Bucket": bucket, "Key": key.split("?versionId=", 1)[0]}
        if not isinstance(source, dict):
            return []
        return [("s3:GetObject", "bucket", self._stand_in("bucket", source.get("Bucket", "")), source.get("Key", ""))]

    def _tables(self, action: str, operation: str, params: dict) -> list[tuple[str, str, str, str]]:
        if operation in ("TransactWriteItems", "TransactGetItems"):
            return [
                (_TRANSACT_ACTIONS[kind], "table", self._table(request["TableName"]), "")
                for item in params.get("TransactItems", ())
                for kind, request in item.items()
            ]
        if "RequestItems" in params:  # BatchGetItem, BatchWriteItem: each table of the batch
            return [(action, "table", self._table(name), "") for name in params["RequestItems"]]
        return [(action, "table", self._table(params.get("TableName", "")), params.get("IndexName", ""))]

    def _table(self, name: str) -> str:
        return self.table_names().get(name, name)

    def _stand_in(self, kind: str, name: str) -> str:
        return self.stand_ins().get((kind, name), name)


RECORDER = Recorder()


@contextlib.contextmanager
def running(function: str, route: str = "") -> Iterator[None]:
    """Calls made inside count as `function`'s (the api_handler's with the route)."""
    token = _RUNNING.set((function, route))
    try:
        yield
    finally:
        _RUNNING.reset(token)


def _as(function: str, route: str, target: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(target)
    def entry(*args: Any, **kwargs: Any) -> Any:
        with running(function, route):
            return target(*args, **kwargs)

    entry.__dict__["_iam_entry"] = (function, route)
    return entry


def wrap_entry_points(app_module: Any) -> None:
    """Each route view runs as api_handler with its route, each event handler as its own function."""
    app = app_module.app
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if not hasattr(entry.view_function, "_iam_entry"):
                entry.view_function = _as("api_handler", f"{method} {path}", entry.view_function)
    for source in app.event_sources:
        handler = getattr(app_module, source.handler_string.split(".", 1)[1])
        if not hasattr(handler.func, "_iam_entry"):
            handler.func = _as(source.name, "", handler.func)
            handler.handler = None  # chalice builds its middleware chain from func on the next call


def _submit_in_context(submit: Callable[..., Any]) -> Callable[..., Any]:
    # A pool thread does not inherit the submitter's context variables; in a Lambda function
    # its threads make their calls with the function's role, so here they carry its name.
    @functools.wraps(submit)
    def in_context(self: futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    return in_context


def _start_in_context(start: Callable[..., Any]) -> Callable[..., Any]:
    # The same for a thread started with a target (dynamo's parallel readers).
    @functools.wraps(start)
    def in_context(self: threading.Thread) -> Any:
        target = getattr(self, "_target", None)
        if target is not None:
            self._target = functools.partial(contextvars.copy_context().run, target)  # type: ignore[attr-defined]
        return start(self)

    return in_context


def install(aws: Any) -> None:
    """Record every call of every client the app's `aws.create_client` builds from now on (one
    for DynamoDB Local, moto's server or moto in process alike), and let pool threads keep their function.

    Per client rather than on the session: moto hooks into sessions made after it is imported."""
    create = aws.create_client
    if hasattr(create, "__wrapped__"):
        return

    @functools.wraps(create)
    def create_client(*args: Any, **kwargs: Any) -> Any:
        client = create(*args, **kwargs)
        client.meta.events.register("before-parameter-build", RECORDER.on_call, unique_id="iam-recorder")
        return client

    aws.create_client = create_client
    futures.ThreadPoolExecutor.submit = _submit_in_context(futures.ThreadPoolExecutor.submit)  # type: ignore[method-assign]
    threading.Thread.start = _start_in_context(threading.Thread.start)  # type: ignore[method-assign]


# --- the check: each call against the function's policy in each stage ---


def _pattern(text: str) -> re.Pattern[str]:
    # IAM's wildcards: * any run of characters (across "/" and ":"), ? one character.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text))


@functools.cache
def _grants(stage: str, function: str) -> list[tuple[list[re.Pattern[str]], list[re.Pattern[str]]]]:
    document = policies.policy(stage, function)
    return [
        ([_pattern(a) for a in _as_list(s["Action"])], [_pattern(r) for r in _as_list(s["Resource"])])
        for s in document["Statement"]
        if s["Effect"] == "Allow"
    ]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@functools.cache
def stage_names(stage: str) -> dict[str, Any]:
    """The stage's names of what the tests name otherwise, from .chalice/config.json and infra/<stage>.json's
    rules: its table prefix, its export bucket (`qrc-<stage>-exports-<account>`), its queue and parameters."""
    config = json.loads((policies.CHALICE_DIR / "config.json").read_text())
    variables = {**config.get("environment_variables", {}), **config["stages"][stage]["environment_variables"]}
    return {
        "table_prefix": variables["TABLE_PREFIX"],
        "export_bucket_prefix": f"qrc-{stage}-exports",
        "export_queue": variables["EXPORT_QUEUE_NAME"],
        "webhook_queue": variables["WEBHOOK_QUEUE_NAME"],
        "parameters": {key: value for key, value in variables.items() if key.endswith("_PARAMETER")},
    }


def resource_arn(call: Call, stage: str) -> str:
    """The ARN in `stage` of what the call names, the test's names mapped onto the stage's."""
    names = stage_names(stage)
    if call.kind == "table":
        table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{names['table_prefix']}-{call.name}"
        return f"{table}/index/{call.detail}" if call.detail else table
    if call.kind == "bucket":
        bucket = f"{names['export_bucket_prefix']}-{ACCOUNT}" if call.name == "export_bucket" else call.name
        return f"arn:aws:s3:::{bucket}/{call.detail}"
    if call.kind == "queue":
        queue = names[call.name] if call.name in ("export_queue", "webhook_queue") else call.name
        return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"
    if call.kind == "parameter":
        name = names["parameters"].get(call.name, call.name)
        return f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{'' if name.startswith('/') else '/'}{name}"
    return call.name  # a phone number is no ARN ("*"); a topic's ARN is itself


def allowed(call: Call, stage: str) -> bool:
    arn = resource_arn(call, stage)
    return any(
        any(a.fullmatch(call.action) for a in actions) and any(r.fullmatch(arn) for r in resources)
        for actions, resources in _grants(stage, call.function)
    )


def violations(calls: list[Call]) -> list[str]:
    """One line per distinct call some stage's policy of its function does not allow."""
    found: dict[str, None] = {}
    for call in calls:
        if call.operation in LOCAL_ONLY:
            continue
        for stage in policies.STAGES:
            if call.function not in policies.FUNCTIONS:
                found[f"{call.label()}: {call.function} has no policy source in infra/policies/"] = None
            elif not allowed(call, stage):
                source = policies.SOURCES.relative_to(policies.REPO_ROOT) / f"{call.function}.json"
                found[f"{call.label()} ({resource_arn(call, stage)}), which {source} does not allow in {stage}"] = None
    return list(found)


def summary() -> dict[str, list[dict[str, Any]]]:
    """Per function, each distinct call the session recorded with its count."""
    by_function: dict[str, list[dict[str, Any]]] = {}
    for call, count in sorted(RECORDER.session.items(), key=lambda item: (item[0].function, item[0].label())):
        row = {"route": call.route, "operation": call.operation, "action": call.action, "kind": call.kind}
        # An object's key only by its first folder: the policies grant by prefix, and keys are per test.
        detail = call.detail if call.kind == "table" else call.detail.split("/", 1)[0] + "/*" if call.detail else ""
        row |= {"name": call.name, "detail": detail, "count": count}
        by_function.setdefault(call.function, []).append(row)
    return by_function


def _merge(parts: list[dict[str, list[dict[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    counts: dict[tuple[str, str], int] = {}
    for part in parts:
        for function, rows in part.items():
            for row in rows:
                key = (function, json.dumps({k: v for k, v in row.items() if k != "count"}, sort_keys=True))
                counts[key] = counts.get(key, 0) + row["count"]
    merged: dict[str, list[dict[str, Any]]] = {}
    for (function, row), count in sorted(counts.items()):
        merged.setdefault(function, []).append({**json.loads(row), "count": count})
    return merged


SUMMARY = "iam-calls.json"


def finish(config: Any) -> Path | None:
    """Write the session's calls per function under pytest's base temporary directory; with
    xdist, each worker writes its own and the controller merges them all into one."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return None
    base = Path(factory.getbasetemp())
    own = summary()
    if hasattr(config, "workerinput"):  # an xdist worker: its basetemp is inside the controller's
        (base / SUMMARY).write_text(json.dumps(own, indent=1, sort_keys=True) + "\n")
        return base / SUMMARY
    workers = [json.loads(path.read_text()) for path in base.glob(f"popen-*/{SUMMARY}")]
    merged = _merge([own, *workers])
    report = {"calls": merged, "granted_but_not_called": unused_grants(merged)}
    (base / SUMMARY).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return base / SUMMARY


def unused_grants(merged: dict[str, list[dict[str, Any]]], stage: str = "dev") -> dict[str, list[str]]:
    """Per function, each action on each resource its policy grants that no recorded call used (the
    log grants, Lambda's own, left out). After a whole run: what only the call reader's grants cover."""
    unused: dict[str, list[str]] = {}
    for function in policies.FUNCTIONS:
        calls = [
            Call(function, r["route"], r["operation"], r["action"], r["kind"], r["name"], r["detail"])
            for r in merged.get(function, ())
        ]
        arns = [(call.action, resource_arn(call, stage)) for call in calls]
        for statement in policies.policy(stage, function)["Statement"]:
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    pattern = _pattern(resource)
                    if action.startswith("logs:") or any(a == action and pattern.fullmatch(r) for a, r in arns):
                        continue
                    unused.setdefault(function, []).append(f"{action} {resource}")
    return unused
