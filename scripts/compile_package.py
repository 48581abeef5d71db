"""Ship compiled bytecode in the deployment package, so a cold start does not compile every module.

Lambda unpacks the package into /var/task, which is read-only: Python cannot write the
bytecode it compiles there, so without it every cold start compiles chalice, PynamoDB
and chalicelib from source again (50-80 ms of a first scan, benchmarks/bench_coldstart.py).
`chalice package` ships sources only (and whatever stale __pycache__ the working tree
held, whose timestamps never match the unpacked sources).

This rewrites `<build dir>/deployment.zip` with, for each module, an unchecked-hash .pyc
(PEP 552) compiled by this interpreter: Python loads it without looking at the source's
modification time, which a zip does not keep. Stale .pyc files are dropped first. The
interpreter must be the functions' runtime (the template's `Runtime`, which chalice takes
from the Python that packages), or the bytecode would be ignored.

    python scripts/compile_package.py build/dev
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import py_compile
import sys
import tempfile
import zipfile

__all__ = ["compile_package"]

TASK_ROOT = "/var/task"  # where Lambda unpacks the package: the file names tracebacks show


def _runtimes(template: dict) -> set[str]:
    resources = template.get("Resources", {}).values()
    return {r["Properties"]["Runtime"] for r in resources if r.get("Type") == "AWS::Serverless::Function"}


def compile_package(build_dir: pathlib.Path) -> tuple[int, int]:
    """Add bytecode to build_dir/deployment.zip in place; (modules compiled, stale .pyc dropped)."""
    archive = build_dir / "deployment.zip"
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = _runtimes(json.loads((build_dir / "sam.json").read_text()))
    if runtimes != {ours}:
        raise SystemExit(
            f"compile_package: the functions run {', '.join(sorted(runtimes)) or 'no runtime'}, this is {ours}: "
            "package with the runtime's Python, or its bytecode would be ignored"
        )
    compiled = dropped = 0
    with tempfile.TemporaryDirectory(dir=build_dir) as scratch:
        work = pathlib.Path(scratch)
        rewritten = work / "deployment.zip"
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename.endswith(".pyc"):
                    dropped += 1
                    continue
                data = source.read(info)
                target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                if info.filename.endswith(".py") and not info.is_dir():
                    pyc = _bytecode(work, info.filename, data)
                    if pyc is not None:
                        entry = zipfile.ZipInfo(importlib.util.cache_from_source(info.filename), info.date_time)
                        entry.external_attr = 0o644 << 16
                        target.writestr(entry, pyc, compress_type=zipfile.ZIP_DEFLATED)
                        compiled += 1
        os.replace(rewritten, archive)
    return compiled, dropped


def _bytecode(work: pathlib.Path, name: str, source: bytes) -> bytes | None:
    """The unchecked-hash .pyc of one module, or None when it does not compile (it never imports either)."""
    path, compiled = work / "src.py", work / "out.pyc"
    path.write_bytes(source)
    try:
        py_compile.compile(
            str(path),
            cfile=str(compiled),
            dfile=f"{TASK_ROOT}/{name}",
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None
    return compiled.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build_dir", type=pathlib.Path, help="the directory `chalice package` wrote")
    args = parser.parse_args()
    before = (args.build_dir / "deployment.zip").stat().st_size
    compiled, dropped = compile_package(args.build_dir)
    after = (args.build_dir / "deployment.zip").stat().st_size
    print(
        f"compile_package: {compiled} modules compiled into {args.build_dir / 'deployment.zip'} "
        f"({dropped} stale .pyc dropped; {before / 2**20:.1f} -> {after / 2**20:.1f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
