"""CSV export of 1,000,000 codes through the export worker's chunk writer and S3 join, beside the naive
in-memory file: wall time against the 10 s target and peak memory against the 100 MB target."""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import pathlib
import resource
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from types import SimpleNamespace

from botocore.response import StreamingBody

from chalicelib.adapters.s3 import MIN_PART_BYTES

ROOT = pathlib.Path(__file__).resolve().parents[1]

BATCH_NUMBER = 4242
TIME_TARGET_S = 10.0
MEMORY_TARGET_MB = 100.0


class NullS3:
    """An S3 client that keeps only what may be read back: it counts and hashes what would be stored.

    Chunks are rendered in order, so the running hash over the chunks' bytes is the hash of
    the joined file. The join copies each chunk inside S3, except one below S3's smallest
    part (a last chunk, or a batch of one small chunk), which it reads back and uploads to
    the joined file: such objects are kept to be read, and what reaches `joined_key` is
    counted but not hashed again (its bytes were hashed as chunks).
    """

    def __init__(self, joined_key: str | None = None) -> None:
        self.digest = hashlib.sha256()
        self.uploaded = self.copied = self.requests = 0
        self.joined_key = joined_key
        self.small: dict[str, bytes] = {}

    def _take(self, key: str, body: bytes) -> None:
        self.requests += 1
        self.uploaded += len(body)
        if key != self.joined_key:
            self.digest.update(body)

    def put_object(self, Key: str, Body: bytes, **kwargs) -> dict:
        self._take(Key, Body)
        if len(Body) < MIN_PART_BYTES:
            self.small[Key] = Body
        return {}

    def get_object(self, Key: str, Range: str | None = None, **kwargs) -> dict:
        self.requests += 1
        data = self.small[Key]  # the writer reads back only objects below a part's floor
        if Range:
            start, stop = map(int, Range.removeprefix("bytes=").split("-"))
            data = data[start : stop + 1]
        return {"Body": StreamingBody(io.BytesIO(data), len(data))}

    def create_multipart_upload(self, **kwargs) -> dict:
        self.requests += 1
        return {"UploadId": "null"}

    def upload_part(self, Key: str, Body: bytes, PartNumber: int, **kwargs) -> dict:
        self._take(Key, Body)
        return {"ETag": f'"{PartNumber}"'}

    def upload_part_copy(self, CopySourceRange: str, PartNumber: int, **kwargs) -> dict:
        self.requests += 1
        start, stop = map(int, CopySourceRange.removeprefix("bytes=").split("-"))
        self.copied += stop - start + 1
        return {"CopyPartResult": {"ETag": f'"{PartNumber}"'}}

    def complete_multipart_upload(self, **kwargs) -> dict:
        self.requests += 1
        return {}

    def abort_multipart_upload(self, **kwargs) -> dict:
        return {}


def _export(quantity: int):
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.services import exports

    chunk_size = exports.FORMATS["csv"].chunk_size
    return SimpleNamespace(
        export_id="exp_BENCH",
        batch_id="bat_BENCH",
        format="csv",
        file_name="bench.csv",
        batch_number=BATCH_NUMBER,
        key_version=get_keyring().current,
        base_url="http://127.0.0.1:8000",
        quantity=quantity,
        chunk_size=chunk_size,
        chunks_total=-(-quantity // chunk_size),
        created_at=datetime.now(UTC),
        part_sizes={},
    )


def run_ours(quantity: int) -> dict:
    """The worker's path: each chunk streamed to its part object in 8 MiB parts, then the
    finisher's join (server-side part copies). Chunks run one after another on one core;
    DynamoDB bookkeeping (two small writes per chunk) is left out."""
    from chalicelib.services import exports

    export = _export(quantity)
    for index in range(export.chunks_total):
        export.part_sizes[str(index)] = exports._render_chunk(export, index)
    _, size = exports._assemble(export)
    return {"bytes": size}


def run_naive(quantity: int) -> dict:
    """Baseline: the whole file built in memory with csv.writer, then one PutObject."""
    from chalicelib.adapters import s3
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["serial", "code", "url"])
    base = "http://127.0.0.1:8000"
    for serial, code in codes.iter_codes(get_keyring(), BATCH_NUMBER, 0, quantity):
        writer.writerow([serial, code, codes.code_url(base, code)])
    data = buffer.getvalue().encode()
    s3.client("s3").put_object(Bucket="bench", Key="naive.csv", Body=data, ContentType="text/csv")
    return {"bytes": len(data)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(variant: str, sink: str, quantity: int, trace: bool) -> dict:
    """One measurement in this fresh process; prints a JSON line."""
    from chalicelib.adapters import s3
    from chalicelib.services import exports  # imported before the clock starts

    null = NullS3(exports._file_key(_export(0)) if variant == "ours" else None)
    if sink == "null":
        s3.client = lambda service: null

    run = run_ours if variant == "ours" else run_naive
    rss_before = _rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = run(quantity)
    seconds = time.perf_counter() - started
    if trace:
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result.update(seconds=seconds, rss_delta_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before)
    if sink == "null":
        result.update(sha256=null.digest.hexdigest(), copied=null.copied, uploaded=null.uploaded)
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server():
    """moto's S3 in its own process, so its memory and CPU are not this process's."""
    port = _free_port()
    moto = shutil.which("moto_server", path=str(pathlib.Path(sys.executable).parent)) or "moto_server"
    process = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("moto_server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def measure(variant: str, sink: str, quantity: int, trace: bool, endpoint: str | None) -> dict:
    env = {
        **os.environ,
        "STAGE": "local",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "EXPORT_BUCKET": "bench",
    }
    if endpoint:
        env["S3_ENDPOINT"] = endpoint
    command = [sys.executable, __file__, "--child", variant, "--sink", sink, "--n", str(quantity)]
    if trace:
        command.append("--trace")
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="codes in the batch (default 1,000,000)")
    parser.add_argument("--no-moto", action="store_true", help="skip the row through moto's S3 server")
    parser.add_argument("--child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--sink", default="null", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.sink, args.n, args.trace)))
        return

    from chalicelib.adapters import s3
    from chalicelib.services import exports

    print(f"CSV export of {args.n:,} codes, one core, python {sys.version.split()[0]}, {os.cpu_count()} CPUs seen")
    print(
        f"chunks of {exports.FORMATS['csv'].chunk_size:,} codes, S3 parts of {s3.PART_BYTES // 2**20} MiB; "
        "each figure from a fresh process"
    )
    print(
        "time: wall clock, untraced; memory: peak RSS (ru_maxrss) minus RSS at start of the same untraced run, "
        "and for our null-sink path also the tracemalloc peak of a second, traced run"
    )
    print()
    rows = []
    plans = [
        ("naive: csv.writer in memory, one PutObject", "naive", "null"),
        ("ours: chunk writer + S3 join", "ours", "null"),
    ]
    if not args.no_moto:
        plans.append(("ours: chunk writer + S3 join", "ours", "moto"))
    results = {}
    for label, variant, sink in plans:
        with moto_server() if sink == "moto" else contextlib.nullcontext() as endpoint:
            if endpoint:
                import boto3

                boto3.client(
                    "s3",
                    endpoint_url=endpoint,
                    region_name="us-east-1",
                    aws_access_key_id="bench",
                    aws_secret_access_key="bench",
                ).create_bucket(Bucket="bench")
            timed = measure(variant, sink, args.n, False, endpoint)
            # Tracing the naive run's millions of small objects takes minutes; its RSS says enough.
            traced = measure(variant, sink, args.n, True, endpoint) if (variant, sink) == ("ours", "null") else None
        results[(variant, sink)] = timed
        rows.append((label, "null multipart sink" if sink == "null" else "moto S3 server", timed, traced))

    header = (
        f"{'path':<44}{'sink':<21}{'MB':>7}{'wall s':>8}{'codes/s':>11}{'< 10 s':>8}"
        f"{'traced MB':>11}{'RSS +MB':>9}{'< 100 MB':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, sink, timed, traced in rows:
        peak = traced["traced_peak_mb"] if traced else 0.0
        print(
            f"{label:<44}{sink:<21}{timed['bytes'] / 1e6:>7.1f}{timed['seconds']:>8.2f}"
            f"{args.n / timed['seconds']:>11,.0f}{'met' if timed['seconds'] < TIME_TARGET_S else 'MISSED':>8}"
            f"{f'{peak:.1f}' if traced else '-':>11}{timed['rss_delta_mb']:>9.1f}"
            f"{'met' if max(peak, timed['rss_delta_mb']) < MEMORY_TARGET_MB else 'MISSED':>10}"
        )
    naive, ours = results[("naive", "null")], results[("ours", "null")]
    print()
    print(
        f"ours vs naive (null sink): {naive['seconds'] / ours['seconds']:.2f}x the rate; "
        f"same bytes: {'yes' if ours['sha256'] == naive['sha256'] else 'NO'} "
        f"({ours['uploaded'] / 1e6:.1f} MB uploaded in parts, {ours['copied'] / 1e6:.1f} MB joined by part copies)"
    )
    sys.exit(0 if ours["sha256"] == naive["sha256"] else 1)


if __name__ == "__main__":
    main()
