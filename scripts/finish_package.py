"""Finish the deployment package: its bytecode, and botocore's data for the services it calls.

First it refuses (exit 1, naming the files) a package that carries boto3 or botocore: they
come from the Lambda runtime (requirements-runtime.txt), and a zip that holds them was built
without PIP_NO_DEPS=1 or reused from such a build (scripts/package_stage.py prevents both).

`chalice package` leaves two costs on every cold start, which this removes by rewriting
`<build dir>/deployment.zip` (benchmarks/bench_coldstart.py measures both):

- **Bytecode.** Lambda unpacks the package into /var/task, which is read-only: Python
  cannot write the bytecode it compiles there, so without it every cold start compiles
  chalice, PynamoDB and chalicelib from source again. Each module gets an unchecked-hash
  .pyc (PEP 552) compiled by this interpreter: Python loads it without looking at the
  source's modification time, which a zip does not keep. Stale .pyc files (chalice copies
  the working tree's __pycache__) are dropped first. The interpreter must be the
  functions' runtime (the template's `Runtime`, which chalice takes from the Python that
  packages), or the bytecode would be ignored.
- **botocore's data.** The runtime's botocore finds a service's model by listing the
  directories of all its four hundred or so services, and parses the 1.2 MB
  endpoints.json that describes every one of them, for the first client a container
  makes. `botocore_data/` holds what the clients of `aws.SERVICES` load: each one's
  newest API version (no examples, which are documentation), and botocore's shared files,
  endpoints.json cut to those services. The files come from the botocore this runs with,
  which requirements-dev.txt pins to the runtime's. `chalicelib/adapters/aws.py` loads
  from the directory when it is there, which is only ever in the package.

    python scripts/finish_package.py build/dev
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import pathlib
import py_compile
import sys
import tempfile
import zipfile
from dataclasses import dataclass

__all__ = ["finish_package", "runtime_sdk_files", "service_data", "Finished"]

from chalicelib.adapters.aws import DATA_DIR, SERVICES

ROOT = pathlib.Path(__file__).resolve().parents[1]

TASK_ROOT = "/var/task"  # where Lambda unpacks the package: the file names tracebacks show
# What the Lambda runtime provides (requirements-runtime.txt) and a package must not carry:
# a copy would shadow the runtime's, differ from the version the tests ran, and add 16 MB.
RUNTIME_SDK = ("boto3", "botocore")


@dataclass(frozen=True)
class Finished:
    compiled: int  # modules given bytecode
    dropped: int  # stale .pyc files left out
    data_files: int  # files under botocore_data/
    data_bytes: int


def _runtimes(template: dict) -> set[str]:
    resources = template.get("Resources", {}).values()
    return {r["Properties"]["Runtime"] for r in resources if r.get("Type") == "AWS::Serverless::Function"}


def runtime_sdk_files(names: list[str]) -> list[str]:
    """The entries of a package that belong to the runtime's SDK: boto3/, botocore/ and their dist-info."""
    return [name for name in names if _distribution(name.split("/", 1)[0]) in RUNTIME_SDK]


def _distribution(top: str) -> str:
    # "botocore" for botocore/ and for botocore-1.44.5.dist-info/ alike.
    return top.removesuffix(".dist-info").rsplit("-", 1)[0].lower() if top.endswith(".dist-info") else top


def _refuse_runtime_sdk(archive: pathlib.Path) -> None:
    with zipfile.ZipFile(archive) as package:
        found = runtime_sdk_files(package.namelist())
    if found:
        tops = sorted({name.split("/", 1)[0] + "/" for name in found})
        raise SystemExit(
            f"finish_package: {archive} carries the Lambda runtime's SDK ({', '.join(tops)}: {len(found)} files, "
            f"{', '.join(found[:5])}{', ...' if len(found) > 5 else ''}); it must come from the runtime. "
            "Package with scripts/package_stage.py (PIP_NO_DEPS=1, no cached build in .chalice/deployments/)"
        )


def finish_package(build_dir: pathlib.Path, *, runtime_sdk_ok: bool = False) -> Finished:
    """Add bytecode and botocore's data to build_dir/deployment.zip, in place.

    Refuses (SystemExit, nothing changed) a package that carries boto3 or botocore, unless
    `runtime_sdk_ok` (the cold-start benchmark measuring a checkout that packaged them).
    """
    archive = build_dir / "deployment.zip"
    if not runtime_sdk_ok:
        _refuse_runtime_sdk(archive)
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = _runtimes(json.loads((build_dir / "sam.json").read_text()))
    if runtimes != {ours}:
        raise SystemExit(
            f"finish_package: the functions run {', '.join(sorted(runtimes)) or 'no runtime'}, this is {ours}: "
            "package with the runtime's Python, or its bytecode would be ignored"
        )
    compiled = dropped = 0
    data = service_data()
    with tempfile.TemporaryDirectory(dir=build_dir) as scratch:
        work = pathlib.Path(scratch)
        rewritten = work / "deployment.zip"
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename.endswith(".pyc") or info.filename.startswith(f"{DATA_DIR}/"):
                    dropped += info.filename.endswith(".pyc")
                    continue
                content = source.read(info)
                target.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
                if info.filename.endswith(".py") and not info.is_dir():
                    pyc = _bytecode(work, info.filename, content)
                    if pyc is not None:
                        _add(target, importlib.util.cache_from_source(info.filename), pyc, info.date_time)
                        compiled += 1
            for name, content in sorted(data.items()):
                _add(target, f"{DATA_DIR}/{name}", content, (1980, 1, 1, 0, 0, 0))
        os.replace(rewritten, archive)
    return Finished(compiled, dropped, len(data), sum(map(len, data.values())))


def _add(target: zipfile.ZipFile, name: str, content: bytes, date_time: tuple) -> None:
    entry = zipfile.ZipInfo(name, date_time)
    entry.external_attr = 0o644 << 16
    target.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED)


def service_data(services: tuple[str, ...] = SERVICES) -> dict[str, bytes]:
    """botocore's data for `services`, by path under botocore_data/: what their clients load.

    Each service's newest API version, as botocore itself picks it, without its examples;
    botocore's shared files beside them, endpoints.json holding only `services`. Gzipped
    files are written out plain (the zip compresses them anyway; a cold start then has
    nothing to unpack). Nothing is changed but that cut.
    """
    import botocore
    from botocore.loaders import Loader

    source = pathlib.Path(botocore.__file__).resolve().parent / "data"
    loader = Loader(extra_search_paths=[str(source)], include_default_search_paths=False)
    files: dict[str, bytes] = {}
    for shared in sorted(p for p in source.iterdir() if p.is_file()):
        files[shared.name.removesuffix(".gz")] = _plain(shared)
    endpoints = json.loads(files["endpoints.json"])
    for partition in endpoints["partitions"]:
        partition["services"] = {name: v for name, v in partition["services"].items() if name in services}
    files["endpoints.json"] = json.dumps(endpoints, separators=(",", ":")).encode()
    for service in services:
        version = loader.determine_latest_version(service, "service-2")
        for path in sorted((source / service / version).iterdir()):
            if not path.name.startswith("examples-"):
                files[f"{service}/{version}/{path.name.removesuffix('.gz')}"] = _plain(path)
    return files


def _plain(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


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
    done = finish_package(args.build_dir)
    after = (args.build_dir / "deployment.zip").stat().st_size
    print(
        f"finish_package: {done.compiled} modules compiled into {args.build_dir / 'deployment.zip'} "
        f"({done.dropped} stale .pyc dropped), botocore data for {', '.join(SERVICES)} added "
        f"({done.data_files} files, {done.data_bytes / 2**20:.1f} MiB); {before / 2**20:.1f} -> {after / 2**20:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
