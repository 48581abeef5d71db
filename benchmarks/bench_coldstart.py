"""Cold start and package size: a fresh process's first granted scan, from the package scripts/deploy.sh ships.

Package: `chalice package --stage dev` (with PIP_NO_DEPS=1, from a fresh copy of the project
with no cached build: scripts/package_stage.py), then finished by
scripts/finish_package.py (its bytecode and its botocore data), as scripts/deploy.sh
packages; its zipped and unpacked sizes, the margins to Lambda's limits and the biggest
entries inside.

Cold start: the package is unpacked, and a directory stands in for the Lambda runtime's
own (the runtime's SDK, botocore and boto3 with their dependencies, from the venv).
N fresh Python processes with only those two on their path (no site-packages, as in
Lambda) import `app` and hand its Lambda handler the API Gateway event of a first granted
scan, against DynamoDB Local, with the local stage's environment; beside them, taken in
turn, N fresh processes of a bare Chalice app whose route makes one DynamoDB GetItem, on
the same path; and N of ours from the package without its botocore data (the runtime's
full data instead), and N without that nor its bytecode (what `chalice package` alone
ships). No process can write bytecode (PYTHONDONTWRITEBYTECODE), as in Lambda's
read-only /var/task. Each process times itself from its first line (before any import)
to the handler's answer, which is what a cold start adds to the runtime's own start.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter

from benchmarks.report import compared_row, print_table, ratio_rows
from chalicelib.adapters.aws import DATA_DIR
from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env
from scripts.finish_package import finish_package
from scripts.package_stage import package_stages

ROOT = pathlib.Path(__file__).resolve().parents[1]

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024
LAMBDA_UNPACKED_LIMIT = 250 * 1024 * 1024
ZIPPED_TARGET = 15 * 1024 * 1024
# What the Lambda runtime puts on the path besides the function's own code.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py")

# The API Gateway (REST, proxy) event and a context, as Lambda hands them to the handler.
_INVOKE = """
import json, os, types
event = {
    "resource": "/v1/scans", "path": "/v1/scans", "httpMethod": "POST",
    "headers": HEADERS, "multiValueHeaders": {k: [v] for k, v in HEADERS.items()},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
    "requestContext": {
        "resourcePath": "/v1/scans", "httpMethod": "POST", "path": "/api/v1/scans", "stage": "api",
        "requestId": "cold-start", "identity": {"sourceIp": "192.0.2.80"},
    },
    "body": json.dumps({"code": os.environ.get("BENCH_CODE", "x")}),
}
context = types.SimpleNamespace(
    aws_request_id="cold-start", function_name="qr-campaigns", memory_limit_in_mb=512,
    get_remaining_time_in_millis=lambda: 30000,
)
response = HANDLER(event, context)
elapsed = time.perf_counter() - started
"""

_OURS = (
    """
import time
started = time.perf_counter()
import os
import app
HANDLER = app.app
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]}
"""
    + _INVOKE
    + """
assert response["statusCode"] == 200 and json.loads(response["body"])["result"] == "granted", response
print(json.dumps({"seconds": elapsed}))
"""
)

_BARE = (
    """
import time
started = time.perf_counter()
import json, os
import botocore.session
from chalice import Chalice
bare = Chalice("bare")
@bare.route("/v1/scans", methods=["POST"])
def scan():
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["DYNAMODB_ENDPOINT"]
    )
    code = json.loads(bare.current_request.raw_body)["code"]
    client.get_item(TableName=os.environ["BENCH_TABLE"], Key={"batch_id": {"S": code}})
    return {"code": code}
HANDLER = bare
HEADERS = {"Content-Type": "application/json"}
"""
    + _INVOKE
    + """
assert response["statusCode"] == 200, response
print(json.dumps({"seconds": elapsed}))
"""
)


def package(out: pathlib.Path, stage: str = "dev", project: pathlib.Path = ROOT, no_deps: bool = True) -> pathlib.Path:
    """Package `stage` of `project` into `out` as scripts/deploy.sh does (no cached build) and finish it; the deployment.zip."""
    package_stages({stage: out}, source=project, resolve_deps=not no_deps)
    # A checkout packaged with pip's dependencies carries botocore, which deploy.sh would refuse.
    finish_package(out, runtime_sdk_ok=not no_deps)
    return out / "deployment.zip"


def contents(archive: pathlib.Path) -> tuple[int, list[tuple[str, int, int]]]:
    """Unpacked bytes, and (top-level entry, unpacked, zipped) from the biggest."""
    unpacked, packed = Counter(), Counter()
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            top = info.filename.split("/")[0]
            unpacked[top] += info.file_size
            packed[top] += info.compress_size
    return sum(unpacked.values()), [(name, size, packed[name]) for name, size in unpacked.most_common(8)]


def _runtime(into: pathlib.Path) -> pathlib.Path:
    """A directory holding what the Lambda runtime provides (links into the venv's site-packages)."""
    import botocore

    site = pathlib.Path(botocore.__file__).resolve().parents[1]
    into.mkdir()
    for name in RUNTIME_PACKAGES:
        (into / name).symlink_to(site / name)
    return into


def _seed(prefix: str, endpoint: str, runs: int) -> tuple[list[str], list[str], str]:
    """An active campaign and batch in tables `prefix-*`: a code and a shopper token per run, the batches table."""
    from chalicelib.adapters import models, tables
    from chalicelib.config import Settings
    from chalicelib.services import auth
    from tests.support import active_batch, synthetic_shopper_id

    settings = Settings(table_prefix=prefix, dynamodb_endpoint=endpoint)
    models.bind(settings)
    tables.create_tables()
    _, _, scan_codes = active_batch("bench-brand", runs)
    # One shopper per run: each run is a first claim (no cap or rate limit reached).
    tokens = [
        auth.issue_shopper_token(
            settings, auth.Shopper(synthetic_shopper_id(f"{run:064x}"), phone_masked="+84 ••• ••• 678")
        )[0]
        for run in range(runs)
    ]
    return scan_codes, tokens, settings.table_name("batches")


def _stage_environment(project: pathlib.Path, stage: str = "local") -> dict[str, str]:
    """The variables Lambda would set for `stage` from .chalice/config.json (global, then the stage's)."""
    config = json.loads((project / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def _run(script: str, cwd: pathlib.Path, path: list[pathlib.Path], env: dict[str, str]) -> float:
    command = [sys.executable, "-S", "-c", script]
    full_env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in path), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"a cold process failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


# What each kind of cold process runs from: which of the finished package's entries it unpacks.
KINDS = {
    "ours": lambda name: True,
    "no data": lambda name: not name.startswith(f"{DATA_DIR}/"),
    "as chalice ships": lambda name: not name.startswith(f"{DATA_DIR}/") and not name.endswith(".pyc"),
}


def cold_starts(
    archive: pathlib.Path, work: pathlib.Path, runs: int, project: pathlib.Path, endpoint: str | None = None
) -> dict[str, list[float]]:
    """Seconds to the first answer of the bare app and of each kind of ours, taken in turn."""
    dirs = {kind: work / f"task-{index}" for index, kind in enumerate(KINDS)}
    with zipfile.ZipFile(archive) as zipped:
        for kind, keep in KINDS.items():
            zipped.extractall(dirs[kind], [name for name in zipped.namelist() if keep(name)])
    # As Lambda's /var/task, read-only: the processes run with PYTHONDONTWRITEBYTECODE, so a
    # module the package ships no bytecode for is compiled from source on every cold start.
    runtime = _runtime(work / "runtime")
    with engine(endpoint) as ddb:
        prefix = f"cold{os.getpid()}"
        scan_codes, tokens, batches_table = _seed(prefix, ddb.endpoint, len(KINDS) * runs)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/root"),
            **_stage_environment(project),
            **local_aws_env(),
            "TABLE_PREFIX": prefix,
            "DYNAMODB_ENDPOINT": ddb.endpoint,
            "BENCH_TABLE": batches_table,
        }
        seconds: dict[str, list[float]] = {"bare": [], **{kind: [] for kind in KINDS}}
        fresh = iter(zip(scan_codes, tokens))  # a first claim each: no cap or rate limit reached
        for _ in range(runs):
            seconds["bare"].append(_run(_BARE, dirs["ours"], [dirs["ours"], runtime], env))
            for kind, task in dirs.items():
                code, token = next(fresh)
                scan = {**env, "BENCH_CODE": code, "BENCH_TOKEN": token}
                seconds[kind].append(_run(_OURS, task, [task, runtime], scan))
        return seconds


def _mb(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes of each kind")
    parser.add_argument(
        "--project", type=pathlib.Path, default=ROOT, help="package another checkout (an earlier commit, to compare)"
    )
    parser.add_argument(
        "--resolve-deps",
        action="store_true",
        help="let pip add dependencies (how checkouts before PIP_NO_DEPS packaged)",
    )
    parser.add_argument(
        "--package",
        type=pathlib.Path,
        default=None,
        help="a deployment.zip already packaged and finished as deploy.sh does (default: package --project now)",
    )
    add_endpoint_option(parser)
    args = parser.parse_args()
    project = args.project.resolve()

    with tempfile.TemporaryDirectory() as scratch:
        work = pathlib.Path(scratch)
        archive = args.package or package(work / "package", project=project, no_deps=not args.resolve_deps)
        zipped = archive.stat().st_size
        unpacked, biggest = contents(archive)
        seconds = cold_starts(archive, work, args.runs, project, args.endpoint)
    rows = ratio_rows(
        "cold start to the first granted scan, from the package",
        "bare Chalice app, one GetItem",
        seconds["bare"],
        seconds["ours"],
        most=1.3,
        unit=" ms",
        scale=1000,
    )
    for kind, label, baseline in (
        ("no data", "  the same package without its botocore data", "the runtime's full botocore data"),
        ("as chalice ships", "  ... nor its bytecode", "as `chalice package` ships it"),
    ):
        rows.append(compared_row(label, baseline, seconds[kind], seconds["bare"], unit=" ms", scale=1000))
    rows += [
        (
            "`chalice package --stage dev`, finished, zipped",
            "Lambda's limit 50 MiB",
            _mb(zipped),
            "< 15 MiB",
            "met" if zipped < ZIPPED_TARGET else "MISSED",
        ),
        ("  margin to 50 MiB zipped", "-", _mb(LAMBDA_ZIPPED_LIMIT - zipped), "", ""),
        ("  unpacked", "Lambda's limit 250 MiB", _mb(unpacked), "", ""),
        ("  margin to 250 MiB unpacked", "-", _mb(LAMBDA_UNPACKED_LIMIT - unpacked), "", ""),
    ]
    print_table(("figure", "baseline (same run)", "ours", "target", "check"), rows)
    print("\nbiggest entries in deployment.zip (unpacked, zipped):")
    for name, size, packed in biggest:
        print(f"  {name:46s} {_mb(size):>9s} {_mb(packed):>9s}")
    return 0 if all(row[4] != "MISSED" for row in rows) else 1


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\n({time.perf_counter() - started:.0f} s)")
    sys.exit(code)
