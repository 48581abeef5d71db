"""The developer tooling people expect: no script shadows the standard library, lint and types configured."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_script_shadows_a_standard_library_module():
    # `python scripts/x.py` puts scripts/ first on sys.path: a scripts/token.py would be
    # imported by everything that imports the standard library's token module.
    names = {path.stem for path in (ROOT / "scripts").glob("*.py")} | {
        path.name for path in (ROOT / "scripts").iterdir() if path.is_dir()
    }
    assert not names & set(sys.stdlib_module_names), sorted(names & set(sys.stdlib_module_names))


def test_the_test_command_lints_formats_and_type_checks_first():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"ruff", "mypy"} <= set(config["tool"])
    assert config["tool"]["mypy"]["files"] == ["app.py", "chalicelib", "scripts"]
    lines = (ROOT / "scripts" / "test.sh").read_text().splitlines()
    steps = [line.removeprefix("exec ") for line in lines if line.removeprefix("exec ").startswith(".venv/")]
    assert steps[:3] == [
        ".venv/bin/ruff check --quiet .",
        ".venv/bin/ruff format --check --quiet .",
        ".venv/bin/mypy --no-error-summary",
    ]
    assert steps[-1].startswith(".venv/bin/python -m pytest")


def test_lint_bounds_complexity_and_types_cover_what_deploys():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert {"C90", "PLR0915", "RUF100"} <= set(lint["select"])
    assert lint["mccabe"]["max-complexity"] <= 10
    assert lint["pylint"]["max-statements"] <= 50
    strict = [o for o in config["tool"]["mypy"]["overrides"] if o.get("disallow_untyped_defs")]
    assert {"app", "chalicelib.*"} <= {m for o in strict for m in o["module"]}


def test_tests_run_on_the_sdk_the_lambda_runtime_provides_and_the_package_leaves_it_out():
    from importlib import metadata

    from tests.support import requirement_pins

    runtime = requirement_pins("requirements-runtime.txt")
    assert set(runtime) == {"boto3", "botocore"}
    assert "-r requirements-runtime.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert {name: metadata.version(name) for name in runtime} == runtime, "the venv is not on the runtime's SDK"
    assert not {"boto3", "botocore"} & set(requirement_pins("requirements.txt")), "the runtime's SDK would be packaged"


def test_the_suite_never_writes_into_the_developers_local_state():
    # The dev stack reads sign-in codes from .local/outbox; a test run must not add its own
    # messages there (the local stage's default) or anywhere else in the checkout.
    import os

    from chalicelib.config import Settings

    outbox = Path(Settings.from_environ(os.environ).outbox_dir).resolve()
    assert not outbox.is_relative_to(ROOT), outbox


def test_no_script_or_benchmark_edits_sys_path():
    # The README says `.venv/bin/python scripts/<name>.py` works through the venv's path file.
    edits = [
        str(path.relative_to(ROOT))
        for folder in ("scripts", "benchmarks")
        for path in (ROOT / folder).glob("*.py")
        if "sys.path.insert" in path.read_text(encoding="utf-8")
        or "sys.path.append" in path.read_text(encoding="utf-8")
    ]
    assert edits == []
