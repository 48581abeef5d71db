"""Every README command runs as printed: each benchmark at its smallest size, and every other command's
file and options (parsed by its own argparse, or checked by --dry-run) without its long run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ".venv/bin/python"  # as the README prints it, from the repository's root
README = ROOT / "README.md"


@dataclass(frozen=True)
class Smoke:
    """A benchmark's smallest honest run: its arguments, the first cells of its table's header, and the
    rows whose target is a timing ratio (a busy machine may miss it at this size; no timing is asserted)."""

    args: tuple[str, ...]
    header: tuple[str, ...]
    timed: tuple[str, ...] = ()
    # "worker": on this test worker's DynamoDB Local (--endpoint) instead of starting one; "own": starts its own.
    dynamodb: str = ""
    package: bool = False  # cold-starts the package the session built (--package) instead of packaging again


SMOKES = {
    "bench_codes": Smoke(
        ("--codes", "200", "--csv", "2000", "--qr", "20"), ("figure", "baseline (same run)"), ("QR SVG",)
    ),
    "bench_qr": Smoke(("--n", "40", "--sample", "5", "--rounds", "1"), ("format",)),
    "bench_exports": Smoke(("--n", "2000"), ("path", "sink")),
    "sim_national": Smoke(
        ("--rate", "50", "--seconds", "2", "--shoppers", "100", "--batches", "2", "--containers", "4"),
        ("figure", "DynamoDB's limit (baseline)"),
    ),
    "bench_guessing": Smoke(
        ("--codes", "40", "--shoppers", "3", "--numbers", "32", "--code-guesses", "8"),
        ("figure", "a genuine scan (baseline)"),
        dynamodb="worker",
    ),
    "bench_scans": Smoke(
        ("--scans", "5", "--cpu", "20", "--rounds", "1"),
        ("figure", "baseline (same run)"),
        ("CPU per scan request",),
        dynamodb="worker",
    ),
    "bench_stats": Smoke(("--sizes", "100", "--repeat", "1"), ("claims", "call"), dynamodb="worker"),
    "bench_draws": Smoke(
        ("--sizes", "200", "--ddb-sizes", "200", "--baseline-max", "200"),
        ("participants", "entries"),
        dynamodb="worker",
    ),
    # At 300 codes the request publishes the file itself; the job's path runs at the default 20,000.
    "bench_voucher_file": Smoke(("--codes", "300"), ("figure", "baseline (same run)"), dynamodb="worker"),
    "bench_erasure": Smoke(("--sizes", "3,30", "--others", "50"), ("claims", "path"), dynamodb="worker"),
    # Counts must hold at any size; the rate and the p99 are timings a busy machine may miss at this size.
    "bench_webhooks": Smoke(
        ("--rate", "10", "--seconds", "2", "--senders", "2"),
        ("figure", "baseline: posted directly (same run)"),
        ("events delivered per second", "commit-to-delivery p99"),
        dynamodb="worker",
    ),
    "bench_reports": Smoke(("--winners", "20", "--participants", "1000"), ("figure", "baseline (same run)")),
    # The whole local stack (chalice local, the stats worker, its own DynamoDB Local), for 4 s.
    "load_scans": Smoke(
        ("--seconds", "4", "--concurrency", "6", "--shoppers", "30", "--codes", "600"),
        ("figure", "GET /health (baseline)"),
        dynamodb="own",
    ),
}
LIBRARIES = {"report"}  # benchmarks/report.py: the table format the others print, not a command
# Run by hand, not in the suite: even at one run of each kind, bench_coldstart unpacks the package three
# times and starts fresh processes (45-75 s on one worker, the suite's longest test, which kept the clean
# clone's test command over its 8 minutes). Its README command's options are still checked below, and
# `.venv/bin/python benchmarks/bench_coldstart.py --runs 1 --package <zip>` is its smallest run.
BY_HAND = {"bench_coldstart"}


def _environment(tmp_path: Path) -> dict[str, str]:
    # A developer's shell, not the test session's: no test credentials or stage; SMS to a scratch outbox.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "JAVA_HOME", "TMPDIR")
    return {**{name: os.environ[name] for name in keep if name in os.environ}, "OUTBOX_DIR": str(tmp_path)}


def _run(command: list[str], tmp_path: Path, timeout: float, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**_environment(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _has_table(stdout: str, header: tuple[str, ...]) -> bool:
    """A header row starting with `header`'s cells, ruled off by a line of dashes under it."""
    lines = stdout.splitlines()
    return any(
        _cells(line)[: len(header)] == list(header) and re.fullmatch(r"[- ]*-[- ]*", below.strip() or "x")
        for line, below in zip(lines, lines[1:], strict=False)
    )


def test_every_benchmark_has_a_smoke_run():
    scripts = {path.stem for path in (ROOT / "benchmarks").glob("*.py") if path.stem != "__init__"}
    assert scripts - LIBRARIES - BY_HAND == set(SMOKES)


def _marks(smoke: Smoke) -> list[pytest.MarkDecorator]:
    # Each run is its own test, so the suite's workers share them out.
    return [pytest.mark.slow, *([pytest.mark.integration] if smoke.dynamodb else [])]


@pytest.mark.parametrize("name", [pytest.param(name, marks=_marks(smoke)) for name, smoke in SMOKES.items()])
@pytest.mark.timeout(280)
def test_a_benchmark_runs_as_printed_at_its_smallest_size(name, tmp_path, request):
    smoke = SMOKES[name]
    extra = []
    if smoke.dynamodb == "worker":
        extra += ["--endpoint", request.getfixturevalue("ddb_local")]
    if smoke.package:
        extra += ["--package", str(request.getfixturevalue("packages")["dev"] / "deployment.zip")]
    run = _run([PYTHON, f"benchmarks/{name}.py", *smoke.args, *extra], tmp_path, timeout=270)
    report = f"exit {run.returncode}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert "Traceback" not in run.stderr, report
    assert _has_table(run.stdout, smoke.header), report
    # A script exits 1 on a target MISSED; at this size only a timing ratio may miss, never a count.
    missed = [line for line in run.stdout.splitlines() if "MISSED" in line]
    assert all(line.strip().startswith(smoke.timed) for line in missed), report
    assert run.returncode == (1 if missed else 0), report
    if name == "load_scans":
        _check_load_invariants(run.stdout)


def _check_load_invariants(stdout: str) -> None:
    # The short load run keeps every invariant exact: granted = records = balances = counters, no 5xx.
    invariants = stdout.split("Invariants")[1]
    rows = [
        line
        for line in invariants.splitlines()
        if line.startswith(("granted", "points", "entries", "prizes", "duplicates"))
    ]
    assert len(rows) == 5 and all(line.rstrip().endswith("yes") for line in rows), invariants
    (five_xx,) = [line for line in stdout.splitlines() if line.startswith("5xx other than 503")]
    assert five_xx.split()[-1] == "0", five_xx


# --- every command line the README prints --------------------------------------------------------

_COMMAND = re.compile(r"^(?:\.venv/bin/python|python3|bash) \S")
# Placeholders the README asks the reader to fill in, filled with values of the right shape.
_PLACEHOLDERS = {
    "<campaign_id>": "cmp_01JREADME0000000000000000",
    "$COMMITMENT": "0" * 64,
    "<an S3 bucket for code packages>": "qrc-readme-artifacts",
}


def readme_commands() -> list[str]:
    """Every command line the README prints: in shell blocks (continuations joined, comments cut) and in
    inline code spans."""
    text = README.read_text(encoding="utf-8")
    lines: list[str] = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S):
        lines += block.replace("\\\n", " ").splitlines()
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    commands = []
    for line in lines:
        line = re.sub(r"\s+#.*$", "", line).strip()
        # `scripts/<name>.py` is the form of every script (tests/unit/test_tooling.py), not a command.
        if _COMMAND.match(line) and "<name>" not in line and line not in commands:
            commands.append(line)
    return commands


def _argv(command: str) -> list[str]:
    for placeholder, value in _PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    return shlex.split(command)


# Runs a script (a path, or -m and a module) as its command line would, up to the moment its argparse has
# read the options: exit 0 then, 2 with argparse's message on a bad option, 3 if it never parsed any.
_PARSE_ONLY = """
import argparse, os, runpy, sys
class Parsed(BaseException):
    pass
original = argparse.ArgumentParser.parse_args
def parse_only(self, args=None, namespace=None):
    original(self, args, namespace)
    raise Parsed
argparse.ArgumentParser.parse_args = parse_only
target, args = sys.argv[1], sys.argv[2:]
try:
    if target == "-m":
        sys.argv = [args[0], *args[1:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(args[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *args]
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        runpy.run_path(target, run_name="__main__")
except Parsed:
    sys.exit(0)
sys.exit(3)
"""


def _script_of(argv: list[str]) -> tuple[Path, list[str]]:
    """The file a command runs, and the arguments it is given."""
    if argv[1] == "-m":
        return ROOT / (argv[2].replace(".", "/") + ".py"), argv[3:]
    return ROOT / argv[1], argv[2:]


def test_the_readme_prints_its_commands():
    commands = readme_commands()
    # The forms checked below; a command the README adds in a new form must be checked too.
    assert {c.split()[0] for c in commands} == {PYTHON, "python3", "bash"}, commands
    printed = {Path(c.split()[1]).stem for c in commands if c.startswith(f"{PYTHON} benchmarks/")}
    assert printed and printed <= set(SMOKES) | BY_HAND, printed


@pytest.mark.parametrize("command", readme_commands(), ids=str)
def test_a_readme_command_names_a_file_that_takes_its_options(command, tmp_path):
    argv = _argv(command)
    if argv[0] == "bash":
        _check_bash(argv, tmp_path)
        return
    if argv[1:3] == ["-m", "pytest"]:
        _check_pytest(argv, tmp_path)
        return
    script, args = _script_of(argv)
    assert script.is_file(), f"{command}: no {script.relative_to(ROOT)}"
    if script.parent.name == "benchmarks" and not args and script.stem not in BY_HAND:
        return  # run as printed, with only its size options added, by the smoke runs above
    target = ["-m", argv[2]] if argv[1] == "-m" else [argv[1]]
    run = _run([argv[0], "-c", _PARSE_ONLY, *target, *args], tmp_path, timeout=60)
    assert run.returncode == 0, f"{command}: exit {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"


def _check_bash(argv: list[str], tmp_path: Path) -> None:
    script = ROOT / argv[1]
    assert script.is_file(), f"no {argv[1]}"
    assert _run(["bash", "-n", argv[1]], tmp_path, timeout=30).returncode == 0
    if script.name == "deploy.sh":
        # --dry-run checks the stage and every option, with no AWS, and prints what it would run.
        run = _run([*argv, "--dry-run"], tmp_path, timeout=60, AWS_REGION="eu-west-1", QRC_ARTIFACT_BUCKET="qrc-readme")
        assert run.returncode == 0, run.stdout + run.stderr
    elif script.name == "test.sh":
        paths = [arg for arg in argv[2:] if not arg.startswith("-")]
        assert all((ROOT / path).exists() for path in paths), paths
    else:
        assert argv[2:] == [], f"{argv[1]} takes no arguments"


def _check_pytest(argv: list[str], tmp_path: Path) -> None:
    # What it would run is collected, not run: the selection must name at least one test.
    run = _run([*argv, "--collect-only"], tmp_path, timeout=120)
    assert run.returncode == 0 and re.search(r"^[1-9]\d*(/\d+)? tests? collected", run.stdout, re.M), (
        run.stdout[-2000:] + run.stderr[-2000:]
    )
