"""Write each Lambda function's IAM policy for each stage (.chalice/policy-<stage>-<function>.json) from its one source, infra/policies/<function>.json.

A source is the policy with `{stage}` where the stage's name goes (tables `qrc-{stage}-...`,
the log group, the queue, the bucket, the SSM parameters). `chalice package` reads the
written files, so scripts/package_stage.py writes them into the copy it packages (deploy.sh
and the package tests package through it), and scripts/setup.sh writes them into the
checkout for a `chalice package` by hand; they are build output and not committed.
`--check` only says whether they are current (exit 1 when not); `--root DIR` works on
another copy of the project.
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


def policy(stage: str, function: str, root: Path = REPO_ROOT) -> dict:
    """The IAM policy document of `function` in `stage`."""
    text = (root / "infra" / "policies" / f"{function}.json").read_text()
    return json.loads(text.replace(PLACEHOLDER, stage))


def target(stage: str, function: str, root: Path = REPO_ROOT) -> Path:
    """The file chalice reads (`lambda_functions.<function>.iam_policy_file` of the stage)."""
    return root / ".chalice" / f"policy-{stage}-{function}.json"


def rendered(stage: str, function: str, root: Path = REPO_ROOT) -> str:
    return json.dumps(policy(stage, function, root), indent=2) + "\n"


def stale(root: Path = REPO_ROOT) -> list[tuple[str, str]]:
    """(stage, function) of each policy file missing or different from what its source makes."""
    functions = sorted(path.stem for path in (root / "infra" / "policies").glob("*.json"))
    return [
        (stage, function)
        for stage in STAGES
        for function in functions
        if not target(stage, function, root).is_file()
        or target(stage, function, root).read_text() != rendered(stage, function, root)
    ]


def write(root: Path = REPO_ROOT) -> list[Path]:
    """Write every stale policy file; returns those written. Each is replaced whole (rename), so a
    concurrent `chalice package` reads the old file or the new, never half of one."""
    written = []
    for stage, function in stale(root):
        path = target(stage, function, root)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(rendered(stage, function, root))
        partial.replace(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the policy files are current")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the project's directory (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        behind = stale(root)
        for stage, function in behind:
            print(
                f"policies: .chalice/policy-{stage}-{function}.json is not what infra/policies/ makes", file=sys.stderr
            )
        return 1 if behind else 0
    for path in write(root):
        print(f"policies: wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
