"""Load on the local stack over HTTP: concurrent shoppers scanning for a bounded time, then the invariants.

Starts its own stack: DynamoDB Local in memory, `chalice local` (the dev server, one
process, a thread per request) and the statistics worker reading the stream, as
`scripts/dev.sh` runs them. Seeds one active campaign (10 points and 1 entry a scan, a
points budget, a prize pool won on one scan in 50) with one batch of codes, signs in
`--shoppers` shoppers, and lets `--concurrency` threads scan for `--seconds`: most
scans claim a new code, some scan a code another shopper holds (409), some their own
again (a replay), some a mistyped code (404). A 503 is sent again with the same
Idempotency-Key, as the shopper page does.

Printed: claims per second, requests per second, p50/p95/p99 latency and the answers by
status (target: no 5xx but the 503s that were resent), beside the same server's bare
GET /health under the same concurrency (the baseline of this run); then, once the stream
is counted, the invariant check, each figure exact: granted claims (as the shoppers were
told) = claim records = participants' claims = the statistics' granted; points and
entries likewise, and = the budget spent; prizes told = prize records = the pool's
counter; duplicate answers = the statistics' duplicates. Exit 1 on any difference or 5xx.

    .venv/bin/python benchmarks/load_scans.py [--seconds 30] [--concurrency 16] [--shoppers 400]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scripts.dynamodb_local import HOST, free_port, port_accepts_connections, spawn, start, stop_group

POINTS, ENTRIES = 10, 1
PRIZE_ODDS = 20_000  # per million: one scan in 50
PRIZE_QUANTITY = 40


@dataclass
class Tally:
    """What the shoppers were told, across all threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    resent_503: int = 0
    granted: dict[str, tuple[int, int, str | None]] = field(default_factory=dict)  # code -> points, entries, prize
    duplicates: int = 0
    replays: int = 0

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _environment(ddb_endpoint: str, port: int) -> dict[str, str]:
    from scripts.dev import stack_environ

    env = {
        **os.environ,
        **stack_environ(ddb_endpoint, port),
        # One address for every shopper (chalice local knows no other): the per-address
        # limit is raised as a national launch would; the per-shopper one stays.
        "SCAN_PER_IP_PER_MINUTE": str(10**7),
        "SMS_SENDER": "memory",
    }
    return env


def _seed(codes_wanted: int) -> tuple[dict, list[str], str]:
    from chalicelib.adapters.secrets import get_keyring
    from chalicelib.domain import codes
    from tests.stats_scale import active_campaign

    now = datetime.now(UTC)
    campaign, batch = active_campaign(
        "load-brand",
        start=now - timedelta(days=1),
        end=now + timedelta(days=30),
        quantity=codes_wanted,
        prizes=[{"name": "Motorbike", "quantity": PRIZE_QUANTITY, "odds_per_million": PRIZE_ODDS}],
        rules={
            "points_per_scan": POINTS,
            "entries_per_scan": ENTRIES,
            "max_claims_per_participant_per_day": 10_000,
            "budget_points": POINTS * codes_wanted,
        },
    )
    genuine = [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(codes_wanted)]
    return campaign, genuine, batch["batch_id"]


def _tokens(count: int) -> list[str]:
    from chalicelib.config import get_settings
    from chalicelib.services import auth
    from tests.support import synthetic_shopper_id

    settings = get_settings()
    tokens = []
    for i in range(count):
        shopper = synthetic_shopper_id(f"{i:064x}")
        tokens.append(auth.issue_shopper_token(settings, auth.Shopper(shopper, "+84 ••• ••• 000"))[0])
    return tokens


def _health(url: str, seconds: float, concurrency: int) -> Tally:
    import requests

    tally = Tally()
    deadline = time.monotonic() + seconds

    def work() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = session.get(f"{url}/health", timeout=30).status_code
            tally.add(status, time.perf_counter() - started)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


class _Shoppers:
    """The scanning shoppers of one run: what they may scan next, and what they were told."""

    def __init__(self, url: str, tokens: list[str], genuine: list[str], seconds: float) -> None:
        from tests.guessing import mutated

        self._mutated = mutated
        self.url, self.tokens, self.genuine = url, tokens, genuine
        self.tally = Tally()
        self._fresh = iter(genuine)
        self._fresh_lock = threading.Lock()
        self._mine: dict[int, list[str]] = {i: [] for i in range(len(tokens))}
        self.deadline = time.monotonic() + seconds

    def _next_code(self) -> str | None:
        with self._fresh_lock:
            return next(self._fresh, None)

    def _pick(self, rng: random.Random, who: int) -> str | None:
        """Mostly a new code; some another's, some the shopper's own again, some a typo. None: all claimed."""
        roll = rng.random()
        with self.tally.lock:
            claimed = list(self.tally.granted)
        if roll < 0.08 and claimed:
            return rng.choice(claimed)  # usually somebody else's
        if roll < 0.12 and self._mine[who]:
            return rng.choice(self._mine[who])  # their own again
        if roll < 0.15:
            return self._mutated(rng.choice(self.genuine), rng)  # a typo
        return self._next_code()

    def _send(self, session: Any, rng: random.Random, who: int, code: str) -> Any:
        """POST the scan, sending it again with the same Idempotency-Key after a 503 (up to 5 tries)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": uuid.uuid4().hex}
        for _ in range(5):
            started = time.perf_counter()
            answer = session.post(f"{self.url}/v1/scans", json={"code": code}, headers=headers, timeout=30)
            self.tally.add(answer.status_code, time.perf_counter() - started)
            if answer.status_code != 503:
                break
            with self.tally.lock:
                self.tally.resent_503 += 1
            time.sleep(float(answer.headers.get("Retry-After", "1")) * rng.random())
        return answer

    def _record(self, answer: Any, who: int, code: str) -> None:
        body = answer.json()
        tally = self.tally
        with tally.lock:
            if answer.status_code == 200 and not body["replay"]:
                prize = (body.get("prize") or {}).get("prize_id")
                tally.granted[code] = (body["points"], body["entries"], prize)
                self._mine[who].append(code)
            elif answer.status_code == 200:
                tally.replays += 1
            elif answer.status_code == 409 and body["error"]["code"] == "code_already_claimed":
                tally.duplicates += 1

    def work(self, seed: int) -> None:
        import requests

        rng = random.Random(seed)
        session = requests.Session()
        while time.monotonic() < self.deadline:
            who = rng.randrange(len(self.tokens))
            code = self._pick(rng, who)
            if code is None:
                return  # every code is claimed
            self._record(self._send(session, rng, who, code), who, code)


def _scan_load(url: str, tokens: list[str], genuine: list[str], seconds: float, concurrency: int) -> Tally:
    shoppers = _Shoppers(url, tokens, genuine, seconds)
    threads = [threading.Thread(target=shoppers.work, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return shoppers.tally


def _stats(campaign_id: str) -> dict:
    from chalicelib.views import stats

    return stats.campaign_stats("load-brand", campaign_id)


def _settle(campaign_id: str, granted: int, timeout: float = 120.0) -> dict:
    """The statistics once the worker has counted every claim (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        totals = _stats(campaign_id)
        if totals["scans"]["granted"] >= granted or time.monotonic() > deadline:
            time.sleep(2)  # the refusals' records trail the claims' by a poll or so
            return _stats(campaign_id)
        time.sleep(0.5)


def _invariants(campaign: dict, tally: Tally, totals: dict) -> list[tuple[str, object, object, bool]]:
    from chalicelib.adapters.models import CodeState, Counter, Participant

    campaign_id = campaign["campaign_id"]
    records = [c for c in CodeState.scan(CodeState.campaign_id == campaign_id) if c.state == "claimed"]
    participants = list(Participant.query(campaign_id))
    told = tally.granted.values()
    budget = sum(int(c.value or 0) for c in Counter.scan(Counter.name.startswith(f"budget:{campaign_id}:")))
    prize_id = campaign["prizes"][0]["prize_id"]
    try:
        pool = int(Counter.get(f"prize:{campaign_id}:{prize_id}").value)
    except Counter.DoesNotExist:
        pool = 0
    rows = []

    def row(name: str, *values: object) -> None:
        rows.append(
            (
                name,
                values[0],
                " = ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in values),
                len(set(values)) == 1,
            )
        )

    row(
        "granted: told = records = participants = statistics",
        len(tally.granted),
        len(records),
        sum(int(p.claims) for p in participants),
        totals["scans"]["granted"],
    )
    row(
        "points: told = records = participants = statistics = budget spent",
        sum(p for p, _, _ in told),
        sum(int(c.points or 0) for c in records),
        sum(int(p.points) for p in participants),
        totals["points_issued"],
        budget,
    )
    row(
        "entries: told = records = participants = statistics",
        sum(e for _, e, _ in told),
        sum(int(c.entries or 0) for c in records),
        sum(int(p.entries) for p in participants),
        totals["entries_issued"],
    )
    row(
        "prizes: told = records = pool counter = statistics",
        sum(1 for _, _, prize in told if prize),
        sum(1 for c in records if c.prize_id),
        pool,
        totals["prizes"][0]["awarded"],
    )
    row(
        "duplicates: told (409 and replays) = statistics",
        tally.duplicates + tally.replays,
        totals["scans"]["duplicate"],
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="how long the shoppers scan")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--shoppers", type=int, default=400, help="signed-in shoppers")
    parser.add_argument("--codes", type=int, default=20_000, help="codes in the batch")
    args = parser.parse_args()

    from benchmarks.report import print_table

    with start() as ddb:
        port = free_port()
        env = _environment(ddb.endpoint, port)
        os.environ.update(env)  # this process seeds and checks the same tables the server uses
        from chalicelib.adapters import models, tables
        from chalicelib.config import get_settings
        from scripts.dev import chalice_command

        get_settings.cache_clear()
        models.bind(get_settings())
        tables.create_tables()
        campaign, genuine, _ = _seed(args.codes)
        tokens = _tokens(args.shoppers)
        logs = pathlib.Path(".local/logs")
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "load-chalice.log", "wb") as chalice_log, open(logs / "load-stats.log", "wb") as stats_log:
            server = spawn(chalice_command(port), env=env, log=chalice_log)
            worker = spawn([sys.executable, "-m", "scripts.stats_worker", "--interval", "0.2"], env=env, log=stats_log)
            try:
                deadline = time.monotonic() + 60
                while not port_accepts_connections(port):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"load: chalice local did not start; see {logs / 'load-chalice.log'}")
                    time.sleep(0.2)
                url = f"http://{HOST}:{port}"
                bare = _health(url, min(10.0, args.seconds / 3), args.concurrency)
                started = time.monotonic()
                tally = _scan_load(url, tokens, genuine, args.seconds, args.concurrency)
                elapsed = time.monotonic() - started
                totals = _settle(campaign["campaign_id"], len(tally.granted))
                checks = _invariants(campaign, tally, totals)
            finally:
                stop_group(worker)
                stop_group(server)

    requests_ = sum(tally.statuses.values())
    bare_requests = sum(bare.statuses.values())
    five_xx = sum(n for status, n in tally.statuses.items() if status >= 500 and status != 503)
    print(
        f"Load: {args.concurrency} requests in flight, {args.shoppers} shoppers, {elapsed:.0f} s, on chalice local "
        "(one process) with DynamoDB Local and the stats worker.\n"
    )
    print_table(
        ("figure", "GET /health (baseline)", "POST /v1/scans"),
        [
            ("claims per second", "-", f"{len(tally.granted) / elapsed:,.1f}"),
            (
                "requests per second",
                f"{bare_requests / (min(10.0, args.seconds / 3)):,.1f}",
                f"{requests_ / elapsed:,.1f}",
            ),
            (
                "latency p50",
                f"{_percentile(bare.latencies, 0.50) * 1000:,.1f} ms",
                f"{_percentile(tally.latencies, 0.50) * 1000:,.1f} ms",
            ),
            (
                "latency p95",
                f"{_percentile(bare.latencies, 0.95) * 1000:,.1f} ms",
                f"{_percentile(tally.latencies, 0.95) * 1000:,.1f} ms",
            ),
            (
                "latency p99",
                f"{_percentile(bare.latencies, 0.99) * 1000:,.1f} ms",
                f"{_percentile(tally.latencies, 0.99) * 1000:,.1f} ms",
            ),
            (
                "mean latency",
                f"{statistics.fmean(bare.latencies) * 1000:,.1f} ms",
                f"{statistics.fmean(tally.latencies) * 1000:,.1f} ms",
            ),
            (
                "answers by status",
                ", ".join(f"{s}: {n:,}" for s, n in sorted(bare.statuses.items())),
                ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items())),
            ),
            ("503s sent again (same key)", "-", f"{tally.resent_503:,}"),
            ("5xx other than 503 (target 0)", "-", f"{five_xx:,}"),
        ],
    )
    print("\nInvariants, once the stream is counted:\n")
    print_table(
        ("invariant", "value", "each figure", "exact"),
        [(n, f"{v:,}", each, "yes" if ok else "NO") for n, v, each, ok in checks],
    )
    return 0 if five_xx == 0 and all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
