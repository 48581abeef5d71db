"""Write each Lambda function's IAM policy for each stage (.chalice/policy-<stage>-<function>.json) from its one source, infra/policies/<function>.json.

A source is the policy with `{stage}` where the stage's name goes (tables `qrc-{stage}-...`,
the log group, the queue, the bucket, the SSM parameters). `chalice package` reads the
written files, so scripts/deploy.sh runs this first, as do scripts/setup.sh and the package
test; the written files are build output and not committed. `--check` only says whether
they are current (exit 1 when not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = REPO_ROOT / "infra" / "policies"
CHALICE_DIR = REPO_ROOT / ".chalice"
PLACEHOLDER = "{stage}"

STAGES = ("dev", "prod")
"""The deployed stages: each has infra/<stage>.json and a policy file per function."""

FUNCTIONS = tuple(sorted(path.stem for path in SOURCES.glob("*.json")))
"""Chalice's name of each Lambda function (api_handler for every route) that has a policy source."""


def policy(stage: str, function: str) -> dict:
    """The IAM policy document of `function` in `stage`."""
    text = (SOURCES / f"{function}.json").read_text()
    return json.loads(text.replace(PLACEHOLDER, stage))


def target(stage: str, function: str) -> Path:
    """The file chalice reads (`lambda_functions.<function>.iam_policy_file` of the stage)."""
    return CHALICE_DIR / f"policy-{stage}-{function}.json"


def rendered(stage: str, function: str) -> str:
    return json.dumps(policy(stage, function), indent=2) + "\n"


def stale() -> list[Path]:
    """Policy files missing or different from what their sources make."""
    return [
        target(stage, function)
        for stage in STAGES
        for function in FUNCTIONS
        if not target(stage, function).is_file() or target(stage, function).read_text() != rendered(stage, function)
    ]


def write() -> list[Path]:
    """Write every stale policy file; returns those written. Each is replaced whole (rename), so a
    concurrent `chalice package` reads the old file or the new, never half of one."""
    written = []
    for path in stale():
        stage, function = path.stem.removeprefix("policy-").split("-", 1)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(rendered(stage, function))
        partial.replace(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the policy files are current")
    args = parser.parse_args(argv)
    if args.check:
        behind = stale()
        for path in behind:
            print(f"policies: {path.relative_to(REPO_ROOT)} is not what infra/policies/ makes", file=sys.stderr)
        return 1 if behind else 0
    for path in write():
        print(f"policies: wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
