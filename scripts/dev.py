"""The local stack in one command: DynamoDB Local, S3 and SQS on moto, tables, demo data, a token,
chalice local and the export workers."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from scripts.dynamodb_local import (
    AWS_ENV_TO_CLEAR,
    HOST,
    REPO_ROOT,
    DynamoDBLocal,
    DynamoDBLocalError,
    local_aws_env,
    port_accepts_connections,
    port_is_free,
    spawn,
    start,
    stop_group,
)

DATA_DIR = REPO_ROOT / ".local" / "dynamodb"
TABLE_PREFIX = "qrc-local"
MOTO_LOG = REPO_ROOT / ".local" / "logs" / "moto.log"
# The export bucket and queue (and the queue's dead-letter queue) on moto's server; the
# same names are in .chalice/config.json's local stage.
EXPORT_BUCKET = EXPORT_QUEUE = "qrc-local-exports"
# Like the worker's Lambda timeout: a message a worker took comes back after this long if
# the worker vanished; a worker stopped by Ctrl-C or a code change hands it back at once.
_LOCAL_VISIBILITY_SECONDS = 900
# The webhook queue as infra/<stage>.json has it: a message is one delivery (one 10 s POST).
WEBHOOK_VISIBILITY_SECONDS = 180
WEBHOOK_RECEIVES = 5
# What `chalice local` serves from: a change here restarts it. chalice's own reloader
# is off because it watches the whole project tree, .venv and .local/dynamodb included,
# so every write to the database file would restart the server mid-request.
_WATCHED = ("app.py", "chalicelib", ".chalice/config.json")


class _Stop(Exception):
    """Raised from the signal handler to unwind main() through its cleanup."""


def _say(message: str) -> None:
    print(f"dev: {message}", flush=True)


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"dev: {name}={raw!r} is not a TCP port number")
    return int(raw)


def _workers_from_env(default: int) -> int:
    raw = os.environ.get("EXPORT_WORKERS", "")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 32:
        raise SystemExit(f"dev: EXPORT_WORKERS={raw!r} is not a number of workers from 1 to 32")
    return int(raw)


def stack_environ(ddb_endpoint: str, api_port: int, aws_endpoint: str | None = None) -> dict[str, str]:
    """The environment the app runs with locally (chalice's stage config adds its own)."""
    environ = {
        "STAGE": "local",
        "TABLE_PREFIX": TABLE_PREFIX,
        "DYNAMODB_ENDPOINT": ddb_endpoint,
        "PUBLIC_BASE_URL": f"http://{HOST}:{api_port}",
        **local_aws_env(),
    }
    if aws_endpoint:
        environ.update(
            {
                "S3_ENDPOINT": aws_endpoint,
                "SQS_ENDPOINT": aws_endpoint,
                "EXPORT_BUCKET": EXPORT_BUCKET,
                "EXPORT_QUEUE_NAME": EXPORT_QUEUE,
            }
        )
    return environ


# Page sources (templates, CSS, JavaScript, translations): a change rebuilds the pages first.
_PAGE_SOURCES = ("*.py", "*.html", "*.css", "*.js", "*.json")


def _code_signature() -> tuple:
    stamps = []
    for name in _WATCHED:
        path = REPO_ROOT / name
        files = (
            sorted(
                f for pattern in _PAGE_SOURCES for f in path.rglob(pattern) if "build" not in f.relative_to(path).parts
            )
            if path.is_dir()
            else [path]
        )
        for file in files:
            try:
                stamps.append((str(file), file.stat().st_mtime_ns))
            except FileNotFoundError:
                pass
    return tuple(stamps)


def chalice_command(api_port: int) -> list[str]:
    # chalice's own `local` command through scripts/local_api.py, which only raises the listen
    # backlog; as a module of this interpreter, so the venv's chalice is the one that runs.
    return [
        sys.executable,
        "-m",
        "scripts.local_api",
        "local",
        "--stage",
        "local",
        "--host",
        HOST,
        "--port",
        str(api_port),
        "--no-autoreload",
    ]


def _start_chalice(api_port: int) -> subprocess.Popen:
    # One process (no chalice reloader): the parent-death signal leaves nothing orphaned.
    return spawn(chalice_command(api_port))


def _start_moto(port: int) -> subprocess.Popen:
    """moto's server for S3 and SQS on 127.0.0.1, in memory: exports last as long as the stack."""
    moto = Path(sys.executable).parent / "moto_server"
    if not moto.exists():
        raise SystemExit("dev: moto_server not found: run `bash scripts/setup.sh` (moto[server])")
    MOTO_LOG.parent.mkdir(parents=True, exist_ok=True)
    # No CORS headers: a web page open in the developer's browser must not be able to
    # read print files (live codes) from the local bucket.
    env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "true"}
    with open(MOTO_LOG, "ab") as log:
        process = spawn([str(moto), "-H", HOST, "-p", str(port)], env=env, log=log)
    deadline = time.monotonic() + 30
    while not port_accepts_connections(port):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_group(process, "moto server")
            raise SystemExit(f"dev: moto server did not start on {HOST}:{port}; see {MOTO_LOG}")
        time.sleep(0.1)
    return process


def create_export_resources(
    endpoint: str, max_receives: int, *, bucket: str = EXPORT_BUCKET, queue: str = EXPORT_QUEUE
) -> tuple[str, str]:
    """The bucket, and the queue with a dead-letter queue, as infra/<stage>.json has them.

    Returns the queue's URL and its dead-letter queue's (the tests use the same setup).
    """
    import boto3

    region = local_aws_env()["AWS_REGION"]
    boto3.client("s3", region_name=region, endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return create_queue(endpoint, queue, max_receives, _LOCAL_VISIBILITY_SECONDS)


def create_queue(endpoint: str, queue: str, max_receives: int, visibility_seconds: int) -> tuple[str, str]:
    """A queue with its dead-letter queue, as infra/<stage>.json has them: (its URL, the dead-letter queue's)."""
    import boto3

    sqs = boto3.client("sqs", region_name=local_aws_env()["AWS_REGION"], endpoint_url=endpoint)
    dlq = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=queue,
        Attributes={
            "VisibilityTimeout": str(visibility_seconds),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        },
    )["QueueUrl"]
    return url, dlq


def _start_workers(count: int) -> list[subprocess.Popen]:
    # Separate processes, like separate Lambda containers: chunks really run side by side.
    return [spawn([sys.executable, "-m", "scripts.export_worker"]) for _ in range(count)]


def _start_stats_worker() -> subprocess.Popen:
    # Lambda's stream event source, locally: code_states' stream into app.stats_aggregator.
    return spawn([sys.executable, "-m", "scripts.stats_worker"])


def _start_webhook_worker() -> subprocess.Popen:
    # The webhook functions' event sources, locally: the audit stream into webhook_outbox and the
    # delivery queue into webhook_deliverer (scripts/webhook_worker.py).
    return spawn([sys.executable, "-m", "scripts.webhook_worker"])


def _start_scheduler() -> subprocess.Popen:
    # EventBridge's schedules, locally: every @app.schedule on its rate (scripts/scheduler.py).
    return spawn([sys.executable, "-m", "scripts.scheduler"])


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        _stop_group(worker, "worker")


def _stop_group(process: subprocess.Popen, name: str) -> None:
    stop_group(process, still_running=lambda after: _say(f"{name} still running after {after}"))


def _banner(
    token: str,
    api_port: int,
    ddb: DynamoDBLocal,
    aws_endpoint: str,
    workers: int,
    scan_url: str | None,
    campaign_id: str | None = None,
) -> str:
    api = f"http://{HOST}:{api_port}"
    results = f"{api}/results/{campaign_id}" if campaign_id else "(no demo campaign)"
    return f"""
  API              {api}   (chalice local, stage local)
  DynamoDB Local   {ddb.endpoint}   tables {TABLE_PREFIX}-*, data in {DATA_DIR.relative_to(REPO_ROOT)}/
  S3 + SQS (moto)  {aws_endpoint}   bucket and queue {EXPORT_BUCKET} (in memory)
  Export workers   {workers} processes polling {EXPORT_QUEUE} (scripts/export_worker.py)
  Stats worker     code_states' stream into the statistics counters (scripts/stats_worker.py)
  Webhook worker   the audit stream into the outbox, deliveries posted (scripts/webhook_worker.py)
  Scheduler        every @app.schedule on its rate (scripts/scheduler.py --list)
  Dashboard        {api}/dashboard   (paste the token below)
  Draw results     {results}   (public; the demo draw runs a few minutes after seeding)
  Owner token for demo-brand (8 h; another: .venv/bin/python scripts/issue_token.py --help):

export TOKEN={token}
curl -H "Authorization: Bearer $TOKEN" {api}/v1/campaigns

  A pack to scan (the shopper page; the one-time code lands in .local/outbox/sms.jsonl):

{scan_url or "(no unclaimed demo code left: mint a batch with scripts/print_batch.py)"}

  Ctrl-C stops everything.
"""


def _lock_data_dir() -> int:
    """Hold an exclusive lock on the data directory for the life of this process.

    Two JVMs on one SQLite file can corrupt it; a second dev stack is refused instead.
    The kernel drops the lock when the process exits, however it exits.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(DATA_DIR / ".dev.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        raise SystemExit(f"dev: another dev stack (pid {holder}) is using {DATA_DIR}; stop it first") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Later signals during cleanup are ignored: cleanup is bounded, and a second
    # Ctrl-C must not cut it short and leave a JVM behind.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _check_ports(ddb_port: int, api_port: int, moto_port: int) -> None:
    if len({ddb_port, api_port, moto_port}) < 3:
        raise SystemExit("dev: DDB_PORT, API_PORT and MOTO_PORT must differ")
    _lock_data_dir()
    for name, port in (("API_PORT", api_port), ("DDB_PORT", ddb_port), ("MOTO_PORT", moto_port)):
        if not port_is_free(port):
            raise SystemExit(
                f"dev: {HOST}:{port} is already in use (`ss -ltnp 'sport = :{port}'` shows who); "
                f"set {name} to use another port"
            )


class _Stack:
    """The stack's processes, each None (or no workers) until it is started, so a stop at any
    moment stops exactly what runs."""

    def __init__(self, ddb_port: int, api_port: int, moto_port: int, worker_count: int) -> None:
        self.ddb_port, self.api_port, self.moto_port, self.worker_count = ddb_port, api_port, moto_port, worker_count
        self.aws_endpoint = f"http://{HOST}:{moto_port}"
        self.ddb: DynamoDBLocal | None = None
        self.moto: subprocess.Popen | None = None
        self.chalice: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def start_storage(self) -> tuple[DynamoDBLocal, subprocess.Popen]:
        """DynamoDB Local and moto's server, and the app's environment pointing at them."""
        _say(f"starting DynamoDB Local on {HOST}:{self.ddb_port} (data in {DATA_DIR.relative_to(REPO_ROOT)}/)")
        self.ddb = ddb = start(port=self.ddb_port, db_path=DATA_DIR)
        for name in AWS_ENV_TO_CLEAR:
            os.environ.pop(name, None)
        _say(f"starting moto server (S3, SQS) on {HOST}:{self.moto_port}")
        self.moto = moto = _start_moto(self.moto_port)
        os.environ.update(stack_environ(ddb.endpoint, self.api_port, self.aws_endpoint))
        return ddb, moto

    def prepare_data(self) -> tuple[str, str | None, str | None]:
        """Tables, demo data and the export bucket and queues; the owner token, a scan URL and the demo
        campaign's id to show."""
        # Imported only now: chalicelib reads its settings from the environment at import.
        from chalicelib import config
        from chalicelib.adapters import models, tables
        from chalicelib.services.auth import issue_operator_token
        from chalicelib.services.exports import MAX_RECEIVES
        from scripts.seed import DEMO_BRAND, demo_campaign_id, sample_scan_url, seed_demo

        config.get_settings.cache_clear()
        settings = config.get_settings()
        models.bind(settings)
        created = tables.create_tables()
        _say(f"tables created: {', '.join(created)}" if created else "tables present")
        campaign = seed_demo(DEMO_BRAND)
        _say(f"seeded {DEMO_BRAND}: {campaign['name']}" if campaign else f"{DEMO_BRAND} already seeded")
        token = issue_operator_token(settings, sub="dev@demo-brand.local", brand=DEMO_BRAND, role="owner")
        scan_url = sample_scan_url(DEMO_BRAND)
        create_export_resources(self.aws_endpoint, MAX_RECEIVES)
        create_queue(self.aws_endpoint, settings.webhook_queue_name, WEBHOOK_RECEIVES, WEBHOOK_VISIBILITY_SECONDS)
        return token, scan_url, demo_campaign_id(DEMO_BRAND)

    def start_code(self) -> subprocess.Popen:
        """chalice local, the export workers, the stats worker and the scheduler."""
        self.chalice = chalice = _start_chalice(self.api_port)
        self.workers = _start_workers(self.worker_count) + [
            _start_stats_worker(),
            _start_webhook_worker(),
            _start_scheduler(),
        ]
        return chalice

    def restart_code(self) -> subprocess.Popen:
        _say("code changed: rebuilding the pages, restarting chalice local and the workers")
        subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "build_pages.py")], cwd=str(REPO_ROOT))
        _stop_workers(self.workers)
        if self.chalice is not None:
            _stop_group(self.chalice, "chalice local")
        return self.start_code()

    def stop(self) -> None:
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _stop_workers(self.workers)
        if self.chalice is not None:
            _stop_group(self.chalice, "chalice local")
        if self.moto is not None:
            _stop_group(self.moto, "moto server")
        if self.ddb is not None:
            self.ddb.stop()
        if self.chalice is not None or self.ddb is not None or self.moto is not None:
            _say("stopped the workers, chalice local, moto server and DynamoDB Local")


class _Watch:
    """What the supervising loop has already said, so each event is said once."""

    def __init__(self) -> None:
        self.shown = self.waiting = self.workers_waiting = False
        self.signature = _code_signature()


def _supervise(stack: _Stack, ddb: DynamoDBLocal, moto: subprocess.Popen, banner: Callable[[], str]) -> int:
    """Until DynamoDB Local or moto exits: show the banner once the API answers, say when chalice
    or a worker exits, and restart chalice and the workers when the code changes."""
    chalice = stack.start_code()
    watch = _Watch()
    while True:
        if not ddb.is_running():
            _say(f"DynamoDB Local exited ({ddb.process.returncode}); see {ddb.log_path}")
            return 1
        if moto.poll() is not None:
            _say(f"moto server exited ({moto.returncode}); see {MOTO_LOG}")
            return 1
        _report_exits(stack, chalice, watch, banner)
        current = _code_signature()
        if current != watch.signature:
            watch.signature = current
            chalice = stack.restart_code()
            watch.waiting = watch.workers_waiting = False
        time.sleep(0.3)


def _report_exits(stack: _Stack, chalice: subprocess.Popen, watch: _Watch, banner: Callable[[], str]) -> None:
    if chalice.poll() is None:
        if not watch.shown and port_accepts_connections(stack.api_port):
            print(banner(), flush=True)
            watch.shown = True
    elif not watch.waiting:
        # Like any dev server: a broken save should not take the database down.
        _say(f"chalice local exited ({chalice.returncode}); fix the code and save to restart, Ctrl-C stops")
        watch.waiting = True
    if not watch.workers_waiting and any(worker.poll() is not None for worker in stack.workers):
        _say("a worker exited; fix the code and save to restart the workers, Ctrl-C stops")
        watch.workers_waiting = True


def main() -> int:
    """Run the stack in the foreground until Ctrl-C, SIGTERM or chalice exits."""
    ddb_port = _port_from_env("DDB_PORT", 8001)
    api_port = _port_from_env("API_PORT", 8000)
    moto_port = _port_from_env("MOTO_PORT", 8002)
    worker_count = _workers_from_env(min(4, os.cpu_count() or 1))
    _check_ports(ddb_port, api_port, moto_port)
    for sig in _SIGNALS:
        signal.signal(sig, _on_signal)

    stack = _Stack(ddb_port, api_port, moto_port, worker_count)
    try:
        ddb, moto = stack.start_storage()
        token, scan_url, campaign_id = stack.prepare_data()
        _say(f"starting chalice local on {HOST}:{api_port} and {worker_count} export worker(s)")
        return _supervise(
            stack,
            ddb,
            moto,
            lambda: _banner(token, api_port, ddb, stack.aws_endpoint, worker_count, scan_url, campaign_id),
        )
    except _Stop as stop:
        _say(f"{stop} received: stopping")
        return 0
    except DynamoDBLocalError as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
