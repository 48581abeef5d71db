"""The local stack in one command: DynamoDB Local, tables, demo data, a token, chalice local."""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a file, Python puts scripts/ first on sys.path, where scripts/token.py would
# shadow the standard library's token module; the repo root goes there instead.
if __name__ == "__main__" and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import fcntl
import os
import shutil
import signal
import subprocess
import time
from types import FrameType

from scripts.dynamodb_local import (
    AWS_ENV_TO_CLEAR,
    HOST,
    REPO_ROOT,
    DynamoDBLocal,
    DynamoDBLocalError,
    local_aws_env,
    parent_death_hook,
    port_accepts_connections,
    port_is_free,
    start,
)

DATA_DIR = REPO_ROOT / ".local" / "dynamodb"
TABLE_PREFIX = "qrc-local"
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


def stack_environ(ddb_endpoint: str, api_port: int) -> dict[str, str]:
    """The environment the app runs with locally (chalice's stage config adds its own)."""
    return {
        "STAGE": "local",
        "TABLE_PREFIX": TABLE_PREFIX,
        "DYNAMODB_ENDPOINT": ddb_endpoint,
        "PUBLIC_BASE_URL": f"http://{HOST}:{api_port}",
        **local_aws_env(),
    }


def _code_signature() -> tuple:
    stamps = []
    for name in _WATCHED:
        path = REPO_ROOT / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            try:
                stamps.append((str(file), file.stat().st_mtime_ns))
            except FileNotFoundError:
                pass
    return tuple(stamps)


def _chalice_command(api_port: int) -> list[str]:
    # The venv's console script, beside this interpreter: `python -m chalice` has no
    # __main__ in every version.
    chalice = Path(sys.executable).parent / "chalice"
    executable = str(chalice) if chalice.exists() else shutil.which("chalice")
    if executable is None:
        raise SystemExit("dev: chalice not found: run `bash scripts/setup.sh`")
    return [executable, "local", "--stage", "local", "--host", HOST, "--port", str(api_port), "--no-autoreload"]


def _start_chalice(api_port: int) -> subprocess.Popen:
    # Its own process group: a Ctrl-C reaches dev.py only, which then stops chalice
    # and DynamoDB Local in order, and one signal to the group reaches all of chalice.
    # No stdin: chalice imports a prompt library that queries a terminal on stdin and
    # waits for the answer, and outside the foreground group it would steal keystrokes.
    return subprocess.Popen(
        _chalice_command(api_port),
        cwd=str(REPO_ROOT),
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=parent_death_hook(),  # one process (no chalice reloader): nothing orphaned
    )


def _stop_group(process: subprocess.Popen, name: str) -> None:
    """SIGINT (chalice's clean exit), then SIGTERM, then SIGKILL to the process group."""
    for sig, wait in ((signal.SIGINT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            _say(f"{name} still running after {signal.Signals(sig).name}")


def _banner(token: str, api_port: int, ddb: DynamoDBLocal) -> str:
    api = f"http://{HOST}:{api_port}"
    return f"""
  API              {api}   (chalice local, stage local)
  DynamoDB Local   {ddb.endpoint}   tables {TABLE_PREFIX}-*, data in {DATA_DIR.relative_to(REPO_ROOT)}/
  Owner token for demo-brand (8 h; another: .venv/bin/python scripts/token.py --help):

export TOKEN={token}
curl -H "Authorization: Bearer $TOKEN" {api}/v1/campaigns

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


def main() -> int:
    """Run the stack in the foreground until Ctrl-C, SIGTERM or chalice exits."""
    ddb_port = _port_from_env("DDB_PORT", 8001)
    api_port = _port_from_env("API_PORT", 8000)
    if ddb_port == api_port:
        raise SystemExit("dev: DDB_PORT and API_PORT must differ")
    _lock_data_dir()
    for name, port in (("API_PORT", api_port), ("DDB_PORT", ddb_port)):
        if not port_is_free(port):
            raise SystemExit(
                f"dev: {HOST}:{port} is already in use (`ss -ltnp 'sport = :{port}'` shows who); "
                f"set {name} to use another port"
            )
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    ddb: DynamoDBLocal | None = None
    chalice: subprocess.Popen | None = None
    try:
        _say(f"starting DynamoDB Local on {HOST}:{ddb_port} (data in {DATA_DIR.relative_to(REPO_ROOT)}/)")
        ddb = start(port=ddb_port, db_path=DATA_DIR)
        for name in AWS_ENV_TO_CLEAR:
            os.environ.pop(name, None)
        os.environ.update(stack_environ(ddb.endpoint, api_port))

        # Imported only now: chalicelib reads its settings from the environment at import.
        from chalicelib import config, models
        from chalicelib.auth import issue_operator_token
        from scripts.seed import DEMO_BRAND, seed_demo

        config.get_settings.cache_clear()
        settings = config.get_settings()
        models.bind(settings)
        created = models.create_tables()
        _say(f"tables created: {', '.join(created)}" if created else "tables present")
        campaign = seed_demo(DEMO_BRAND)
        _say(f"seeded {DEMO_BRAND}: {campaign['name']}" if campaign else f"{DEMO_BRAND} already seeded")
        token = issue_operator_token(settings, sub="dev@demo-brand.local", brand=DEMO_BRAND, role="owner")

        _say(f"starting chalice local on {HOST}:{api_port}")
        chalice = _start_chalice(api_port)
        signature = _code_signature()
        shown = waiting = False
        while True:
            if not ddb.is_running():
                _say(f"DynamoDB Local exited ({ddb.process.returncode}); see {ddb.log_path}")
                return 1
            if chalice.poll() is None:
                if not shown and port_accepts_connections(api_port):
                    print(_banner(token, api_port, ddb), flush=True)
                    shown = True
            elif not waiting:
                # Like any dev server: a broken save should not take the database down.
                _say(f"chalice local exited ({chalice.returncode}); fix the code and save to restart, Ctrl-C stops")
                waiting = True
            current = _code_signature()
            if current != signature:
                signature = current
                _say("code changed: restarting chalice local")
                _stop_group(chalice, "chalice local")
                chalice = _start_chalice(api_port)
                waiting = False
            time.sleep(0.3)
    except _Stop as stop:
        _say(f"{stop} received: stopping")
        return 0
    except DynamoDBLocalError as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if chalice is not None:
            _stop_group(chalice, "chalice local")
        if ddb is not None:
            ddb.stop()
        if chalice is not None or ddb is not None:
            _say("stopped chalice local and DynamoDB Local")


if __name__ == "__main__":
    sys.exit(main())
