"""Run `chalice package` for a stage from a fresh copy of the project, so no earlier run's cached build is reused.

`chalice package` keeps the dependencies it builds in `.chalice/deployments/`, under a hash
of requirements.txt and the app's files, whatever pip flags built them: after one plain
`chalice package` (without PIP_NO_DEPS=1) every later package reused a zip carrying
botocore (30.5 MB instead of 12.4 MiB). This copies what chalice reads (app.py, chalicelib/,
requirements.txt, vendor/, infra/, the JSON files of .chalice/) into a temporary directory,
without .chalice/deployments/ or __pycache__, writes there each function's policy files from
infra/policies/ (scripts/policies.py), and packages there with PIP_NO_DEPS=1 (pip
must not add the runtime's botocore back as PynamoDB's dependency). The checkout's own
cache is neither read nor changed. scripts/finish_package.py then finishes the package,
and refuses it should it carry the runtime's SDK all the same.

    python scripts/package_stage.py dev build/dev [--chalice PATH]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping

__all__ = ["fresh_copy", "package_env", "package_stages"]

ROOT = pathlib.Path(__file__).resolve().parents[1]
COPIED = ("app.py", "requirements.txt", "chalicelib", "vendor", "infra")


def fresh_copy(source: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    """Copy what `chalice package` reads from `source` into `into`: no build cache, no bytecode."""
    into.mkdir(parents=True)
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.is_file():
            shutil.copy2(path, into / name)
    (into / ".chalice").mkdir()
    for path in (source / ".chalice").glob("*.json"):  # config.json (and an older checkout's policy files)
        shutil.copy2(path, into / ".chalice" / path.name)
    if (into / "infra" / "policies").is_dir():
        # The policy files chalice reads, written from their sources into the copy: whatever the
        # checkout's own files say, a package carries the policies its sources make.
        subprocess.run([sys.executable, str(ROOT / "scripts" / "policies.py"), "--root", str(into)], check=True)
    return into


def package_env() -> dict[str, str]:
    """This process's environment without AWS credentials or app settings: packaging calls no AWS."""
    # Kept: PATH and pip's proxy or index settings (chalice fetches Linux wheels from PyPI).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"STAGE", "TABLE_PREFIX", "DYNAMODB_ENDPOINT", "PIP_NO_DEPS"}
    }
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def _chalice() -> str:
    beside = pathlib.Path(sys.executable).parent / "chalice"
    return str(beside) if beside.exists() else shutil.which("chalice") or "chalice"


def package_stages(
    outputs: Mapping[str, pathlib.Path],
    *,
    source: pathlib.Path = ROOT,
    chalice: str | None = None,
    env: Mapping[str, str] | None = None,
    resolve_deps: bool = False,
) -> None:
    """`chalice package` each stage of `outputs` into its directory, from one fresh copy of `source`.

    The stages of one call share the build the first one makes (same requirements, same
    flags); nothing before the call is reused. `resolve_deps` lets pip add dependencies,
    as checkouts packaged before PIP_NO_DEPS (benchmarks only: such a package carries botocore).
    """
    environment = dict(package_env() if env is None else env)
    environment.pop("PIP_NO_DEPS", None)
    if not resolve_deps:
        environment["PIP_NO_DEPS"] = "1"
    with tempfile.TemporaryDirectory(prefix="qrc-package-") as scratch:
        project = fresh_copy(source.resolve(), pathlib.Path(scratch) / "project")
        for stage, out in outputs.items():
            command = [chalice or _chalice(), "--project-dir", str(project), "package", "--stage", stage]
            command += ["--merge-template", f"infra/{stage}.json", str(out.resolve())]
            result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise SystemExit(
                    f"package_stage: chalice package --stage {stage} failed:\n{result.stdout}{result.stderr}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", help="a stage of .chalice/config.json with an infra/<stage>.json")
    parser.add_argument(
        "build_dir", type=pathlib.Path, help="where `chalice package` writes sam.json and deployment.zip"
    )
    parser.add_argument("--chalice", help="the chalice executable (default: the one beside this Python, else PATH)")
    args = parser.parse_args()
    package_stages({args.stage: args.build_dir}, chalice=args.chalice)
    print(f"package_stage: {args.stage} packaged into {args.build_dir} from a fresh copy (no cached build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
