"""Codes and print files: mint, verify, CSV export, QR SVG/PNG, each beside its baseline, one table."""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import hmac
import io
import os
import sys
import time
import tracemalloc
from types import SimpleNamespace

# The local stage's own code keys: secrets fail closed anywhere else, and this measures code
# handling on this machine, not a deployed stage.
os.environ["STAGE"] = "local"

from benchmarks import bench_qr
from benchmarks.report import print_table
from chalicelib.config import LOCAL_CODE_KEYRING
from chalicelib.domain import codes
from chalicelib.services import batches

KEYRING = codes.Keyring.from_config(LOCAL_CODE_KEYRING)
BATCH_NUMBER = 4242
BASE_URL = "http://127.0.0.1:8000"
PART_BYTES = 8 * 1024 * 1024  # the export worker uploads S3 multipart parts of this size


class _PartSink:
    """Stands in for an S3 multipart upload: buffers one part, then lets it go."""

    def __init__(self) -> None:
        self.parts, self.size, self._buffer, self._buffered = 0, 0, [], 0
        self.digest = hashlib.sha256()

    def write(self, text: str) -> None:
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= PART_BYTES:
            self.flush()

    def flush(self) -> None:
        data = "".join(self._buffer).encode()
        self.digest.update(data)
        self.size += len(data)
        self.parts += 1 if data else 0
        self._buffer, self._buffered = [], 0


def _batch(quantity: int):
    return SimpleNamespace(batch_number=BATCH_NUMBER, key_version=KEYRING.current, quantity=quantity)


def stream_csv(quantity: int) -> _PartSink:
    """Our path: the print-file line generator into part-sized uploads."""
    sink = _PartSink()
    for line in batches.csv_lines(_batch(quantity), 0, quantity):
        sink.write(line)
    sink.flush()
    return sink


def naive_csv(quantity: int) -> _PartSink:
    """Baseline: mint each code on its own and build the whole file in memory with csv.writer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["serial", "code", "url"])
    for serial in range(quantity):
        code = codes.mint_code(KEYRING, BATCH_NUMBER, serial)
        writer.writerow([serial, code, codes.code_url(BASE_URL, code)])
    sink = _PartSink()
    sink.write(buffer.getvalue())
    sink.flush()
    return sink


def _rate(fn, n: int) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = fn(n)
    return n / (time.perf_counter() - started), result


def _peak_mb(fn, n: int) -> float:
    gc.collect()
    tracemalloc.start()
    fn(n)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def mint_many(n: int) -> list[str]:
    return [code for _, code in codes.iter_codes(KEYRING, BATCH_NUMBER, 0, n)]


def mint_one_by_one(n: int) -> list[str]:
    return [codes.mint_code(KEYRING, BATCH_NUMBER, serial) for serial in range(n)]


def _decoded(name: str, outputs: list, urls: list[str], sample: int = 50) -> str:
    """Decode a spread sample with zxing-cpp and compare with qrcode's own symbol module by module."""
    picked = range(0, len(urls), max(1, len(urls) // sample))
    to_image = bench_qr.svg_image if name == "SVG" else (lambda data: bench_qr.Image.open(io.BytesIO(data)))
    good = sum(bench_qr.decodes_to(to_image(outputs[i]), urls[i]) and bench_qr.same_as_qrcode(urls[i]) for i in picked)
    return f"{good}/{len(picked)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=200_000, help="codes for the mint/verify rates")
    parser.add_argument("--csv", type=int, default=1_000_000, help="codes in the CSV export")
    parser.add_argument("--qr", type=int, default=1_000, help="symbols per QR format")
    args = parser.parse_args()
    rows = []

    mint_rate, minted = _rate(mint_many, args.codes)
    single_rate, singles = _rate(mint_one_by_one, args.codes)
    assert minted == singles, "batch minting must give the same codes as minting one by one"
    rows.append(
        (
            "mint: codes/s",
            f"{single_rate:,.0f} (mint_code each)",
            f"{mint_rate:,.0f}",
            f"{mint_rate / single_rate:.1f}x",
            "-",
            "same codes",
        )
    )

    sample = minted[: min(len(minted), 50_000)]
    key = KEYRING.keys[KEYRING.current]
    messages = [c.encode() for c in sample]
    started = time.perf_counter()
    for message in messages:
        hmac.compare_digest(hmac.new(key, message, "sha256").digest()[:5], b"\0" * 5)
    hmac_rate = len(messages) / (time.perf_counter() - started)
    started = time.perf_counter()
    for code in sample:
        codes.parse_code(code, KEYRING)
    verify_rate = len(sample) / (time.perf_counter() - started)
    rows.append(
        (
            "verify: codes/s",
            f"{hmac_rate:,.0f} (one bare HMAC)",
            f"{verify_rate:,.0f}",
            f"{verify_rate / hmac_rate:.2f}x",
            "-",
            f"{len(sample):,} parsed",
        )
    )

    csv_rate, sink = _rate(stream_csv, args.csv)
    naive_rate, naive_sink = _rate(naive_csv, args.csv)
    same = sink.digest.hexdigest() == naive_sink.digest.hexdigest()
    seconds = args.csv / csv_rate
    rows.append(
        (
            f"CSV export {args.csv:,} codes: s",
            f"{args.csv / naive_rate:.1f} (csv.writer, in memory)",
            f"{seconds:.1f}",
            f"{csv_rate / naive_rate:.1f}x",
            f"< 10 s: {'met' if seconds < 10 else 'MISSED'}",
            "byte-identical" if same else "DIFFERENT",
        )
    )

    peak = _peak_mb(stream_csv, args.csv)
    naive_peak = _peak_mb(naive_csv, args.csv)
    rows.append(
        (
            f"CSV export {args.csv:,} codes: peak MB",
            f"{naive_peak:,.0f} (in memory)",
            f"{peak:,.0f}",
            f"{naive_peak / peak:.0f}x less",
            f"< 100 MB: {'met' if peak < 100 else 'MISSED'}",
            f"{sink.parts} parts of 8 MB",
        )
    )

    urls = [codes.code_url(BASE_URL, c) for c in minted[: args.qr]]
    for name, baseline, ours in (
        ("SVG", bench_qr.baseline_svg, bench_qr.ours_svg),
        ("PNG", bench_qr.baseline_png, bench_qr.ours_png),
    ):
        spent_baseline, spent_ours, outputs = bench_qr.timed(baseline, ours, urls, rounds=10)
        decoded = _decoded(name, outputs, urls)
        ratio = spent_baseline / spent_ours
        rows.append(
            (
                f"QR {name}: symbols/s",
                f"{len(urls) / spent_baseline:,.0f} (qrcode.make)",
                f"{len(urls) / spent_ours:,.0f}",
                f"{ratio:.1f}x",
                f">= 10x: {'met' if ratio >= 10 else 'MISSED'}" if name == "SVG" else "-",
                f"decoded {decoded}",
            )
        )

    print_table(("figure", "baseline (same run)", "ours", "ratio", "target", "check"), rows)
    failed = (
        not same
        or any("MISSED" in str(r[4]) for r in rows)
        or any(
            "decoded" in str(r[5]) and str(r[5]).split()[-1].split("/")[0] != str(r[5]).split()[-1].split("/")[1]
            for r in rows
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
