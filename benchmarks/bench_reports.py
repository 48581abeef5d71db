"""The regulator's results report (CSV and PDF) for 1,000 winners of draws over 10^6 participants, beside the
same rows written as plain CSV: wall time against the 60 s target and peak memory against 512 MB."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.report import print_table

ROOT = Path(__file__).resolve().parents[1]
BRAND = "brand-bench"
TIME_TARGET_S = 60.0
MEMORY_TARGET_MB = 512.0
PER_DRAW = 100  # winners per draw: 1,000 winners are ten draws of one line


def _seed(winners: int, participants: int) -> str:
    """A Vietnamese campaign with one registered draw line and draws that awarded `winners` prizes in all,
    each draw's snapshot holding `participants` participants (recorded on the draw, as the runner does).
    The participants table is left empty: the report never reads it (counted below)."""
    from chalicelib.adapters.models import Draw, DrawWinner
    from chalicelib.domain.lifecycle import DrawStatus
    from chalicelib.services import campaigns, draw_schedule

    now = datetime.now(UTC).replace(microsecond=0)
    line = {
        "kind": "draw",
        "name": "Xe máy (motorbike)",
        "quantity": winners + 250,
        "unit_value": 40_000_000,
        "registration": "1234/SCT-QLTM",
    }
    campaign = campaigns.create_campaign(
        BRAND,
        "bench",
        {
            "name": "Khuyến mại Tết — bench",
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "timezone": "Asia/Ho_Chi_Minh",
            "market": "VN",
            "rules": {"points_per_scan": 1, "entries_per_scan": 1},
            "prizes": [line],
        },
    )
    prize_id = campaign["prizes"][0]["prize_id"]
    rank_base = 0
    while rank_base < winners:
        count = min(PER_DRAW, winners - rank_base)
        body = {
            "name": f"Đợt {rank_base // PER_DRAW + 1}",
            "prize_id": prize_id,
            "winners": count,
            "draw_at": (now + timedelta(days=2)).isoformat(),
            "entries_until": (now + timedelta(days=1)).isoformat(),
            "one_win_per_participant": True,
        }
        scheduled = draw_schedule.create_draw(BRAND, campaign["campaign_id"], "bench", body)
        draw = Draw.get(scheduled["draw_id"])
        draw.status = DrawStatus.DRAWN
        draw.drawn_at = draw.frozen_at = now + timedelta(days=2)
        draw.snapshot_sha256, draw.seed = "0" * 64, "1" * 64
        draw.entries_total, draw.participants, draw.snapshot_pages = participants * 10, participants, 250
        draw.winners = [
            DrawWinner(
                rank=r + 1,
                participant_id=f"mbr_{rank_base + r:026d}",
                shopper_id=f"shp_{rank_base + r:026d}",
                entries=10,
                phone_masked=f"+84 ••• ••• {r:03d}",
            )
            for r in range(count)
        ]
        draw.save()
        _accepted_wins(draw, now + timedelta(days=2))
        rank_base += count
    return campaign["campaign_id"]


def _accepted_wins(draw, at: datetime) -> None:
    """Each winner's win, accepted with delivery details and an ID number (sealed), as claims leave them:
    the report reads and unseals every one."""
    from chalicelib.adapters import win_store
    from chalicelib.adapters.models import Win
    from chalicelib.domain.lifecycle import WinStatus
    from chalicelib.services import wins

    claim_days = wins.prize_terms(draw).claim_days
    with Win.batch_write() as writer:
        for row in draw.winners:
            win = wins.new_win(draw, row, int(row.rank), at, claim_days)
            win.status = WinStatus.ACCEPTED
            delivery = {"name": "Nguyễn Thị Ánh", "phone": "0912 345 678", "address": "12 Lê Lợi, Quận 1, TP.HCM"}
            win.delivery_sealed, win.id_number_sealed = win_store.sealed_details(
                delivery, f"0792030{int(row.rank):05d}"
            )
            writer.save(win)


def _count_requests(counts: Counter) -> None:
    """Counts each DynamoDB request by operation and table, on the container's one client."""
    from chalicelib.adapters import dynamo

    def count(params: dict, model, **kwargs) -> None:
        for table in params.get("RequestItems") or [params.get("TableName", "")]:
            counts[(model.name, table.removeprefix("bench-"))] += 1

    dynamo.client().meta.events.register("provide-client-params.dynamodb", count)


def _plain_csv(campaign_id: str) -> bytes:
    """Baseline: the same winner rows (each win read and its details unsealed), read the same way, written by
    csv.writer with nothing else."""
    from chalicelib.adapters import draw_store, win_store

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["draw", "rank", "participant_id", "phone", "name", "address", "id_number"])
    for draw in draw_store.of_campaigns([campaign_id]):
        phones = {int(w.rank): w.phone_masked for w in draw.winners or []}
        for win in win_store.of_draw(draw.draw_id):
            delivery, id_number = win_store.given_details(win)
            given = delivery or {}
            row = [draw.name, int(win.pick), win.participant_id, phones.get(int(win.rank))]
            writer.writerow([*row, given.get("name"), given.get("address"), id_number])
    return buffer.getvalue().encode()


def child(variant: str, winners: int, participants: int) -> dict:
    """One measurement in this fresh process, on moto's in-process DynamoDB; prints a JSON line."""
    from moto import mock_aws

    from chalicelib.adapters import models, tables
    from chalicelib.config import Settings
    from chalicelib.services import reports  # imported before the clock starts, as a warm container has it

    with mock_aws():
        models.bind(Settings(table_prefix="bench"))
        tables.create_tables()
        campaign_id = _seed(winners, participants)
        counts: Counter = Counter()
        _count_requests(counts)
        rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        if variant == "ours":
            csv_body = reports.results_report(BRAND, "bench", "owner", campaign_id, "csv")[0]
            pdf_body = reports.results_report(BRAND, "bench", "owner", campaign_id, "pdf")[0]
            sizes = {"csv_bytes": len(csv_body), "pdf_bytes": len(pdf_body)}
        else:
            sizes = {"csv_bytes": len(_plain_csv(campaign_id)), "pdf_bytes": 0}
        seconds = time.perf_counter() - started
    reads = {f"{op} {table}": n for (op, table), n in counts.items()}
    return {
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_start_mb": rss_start,
        "requests": reads,
        **sizes,
    }


def measure(variant: str, winners: int, participants: int) -> dict:
    env = {
        **os.environ,
        "STAGE": "local",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
    }
    command = [sys.executable, __file__, "--child", variant, "--winners", str(winners)]
    command += ["--participants", str(participants)]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--winners", type=int, default=1_000, help="winners over the campaign's draws (1,000)")
    parser.add_argument("--participants", type=int, default=1_000_000, help="participants per draw (10^6)")
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.winners, args.participants)))
        return 0
    print(
        f"Results report (Vietnam) for {args.winners:,} winners in draws of {args.participants:,} participants; "
        f"python {sys.version.split()[0]}, one core, moto's in-process DynamoDB"
    )
    print(
        "each figure from a fresh process; time: the owner's CSV and PDF downloads (audit event included); "
        "memory: the process's peak RSS"
    )
    print()
    base = measure("baseline", args.winners, args.participants)
    ours = measure("ours", args.winners, args.participants)
    participant_reads = sum(n for name, n in ours["requests"].items() if name.endswith(("participants", "pages")))
    met_time = ours["seconds"] < TIME_TARGET_S
    met_memory = ours["peak_mb"] < MEMORY_TARGET_MB
    rows = [
        (
            "report time (CSV + PDF)",
            f"{base['seconds']:.2f} s (plain CSV of the same rows)",
            f"{ours['seconds']:.2f} s ({ours['seconds'] / base['seconds']:.0f}x)",
            f"< {TIME_TARGET_S:.0f} s",
            "met" if met_time else "MISSED",
        ),
        (
            "peak RSS",
            f"{base['peak_mb']:.0f} MB",
            f"{ours['peak_mb']:.0f} MB",
            f"< {MEMORY_TARGET_MB:.0f} MB",
            "met" if met_memory else "MISSED",
        ),
        (
            "participant or snapshot items read",
            "-",
            str(participant_reads),
            "0",
            "met" if participant_reads == 0 else "MISSED",
        ),
        ("DynamoDB requests per download", "-", _requests(ours["requests"], 2), "", ""),
        ("file sizes", f"{base['csv_bytes']:,} B", f"CSV {ours['csv_bytes']:,} B, PDF {ours['pdf_bytes']:,} B", "", ""),
    ]
    print_table(("figure", "baseline (same run)", "ours", "target", "result"), rows)
    return 0 if all(row[4] != "MISSED" for row in rows) else 1


def _requests(requests: dict, downloads: int) -> str:
    return ", ".join(f"{name} {n / downloads:g}" for name, n in sorted(requests.items()))


if __name__ == "__main__":
    sys.exit(main())
