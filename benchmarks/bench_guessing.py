"""Guessing at full size, on DynamoDB Local: 1,000,000 codes that are not genuine through the scan
path, and sprays at the sign-in endpoints, with every AWS request counted by operation.

Printed beside its baseline from the same run (a genuine granted scan): the codes accepted
(0), the DynamoDB reads they cost (0), the requests per guess once the lockout has engaged,
and the guesses per second one process refuses. Then the sign-in sprays: one address asking
codes for 10,000 numbers, and 1,000 guesses at one number's code from rotating addresses.

    .venv/bin/python benchmarks/bench_guessing.py [--codes 1000000] [--shoppers 1000] [--numbers 10000] [--code-guesses 1000]
"""

from __future__ import annotations

import argparse
import os
import time

from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"
os.environ["SMS_SENDER"] = "memory"  # codes are counted, not written to the outbox

from benchmarks.report import print_table
from chalicelib.adapters import models, sms, tables
from chalicelib.config import Settings, get_settings
from chalicelib.domain import claims
from chalicelib.domain.errors import InvalidInput, LimitReached
from chalicelib.services import shoppers
from tests.guessing import AwsCalls, guess_codes
from tests.stats_scale import active_campaign
from tests.support import CONSENT


def genuine_scan(genuine: list[str]) -> AwsCalls:
    """The baseline: what one granted scan of a genuine code costs in requests."""
    from chalicelib.services import scans

    scans.claim_code("shp_warm", "192.0.2.1", {"code": genuine[0]})  # the container's lookup, once
    with AwsCalls() as calls:
        scans.claim_code("shp_honest", "192.0.2.1", {"code": genuine[1]})
    return calls


def spray_numbers(count: int) -> tuple[int, int, int]:
    """One address asks a code for `count` different numbers: (sent, refused, messages sent)."""
    sender = sms.memory_sender()
    before = len(sender.messages)
    sent = refused = 0
    for i in range(count):
        try:
            shoppers.request_otp({"phone": f"09{12_000_000 + i:08d}"}, "203.0.113.50", get_settings())
            sent += 1
        except LimitReached:
            refused += 1
    return sent, refused, len(sender.messages) - before


def spray_guesses(count: int) -> tuple[int, int, int]:
    """Guesses at one number's code from a new address each time, the owner having asked for one:
    (accepted, refused, tries the number's code actually took)."""
    from chalicelib.adapters.models import OtpChallenge
    from chalicelib.adapters.secrets import get_phone_hash_pepper
    from chalicelib.domain import phones

    phone = "0987 654 321"
    shoppers.request_otp({"phone": phone}, "198.51.100.1", get_settings())
    accepted = refused = 0
    for i in range(count):
        try:
            shoppers.create_session({"phone": phone, "otp": f"{i:06d}", "consent": CONSENT}, get_settings())
            accepted += 1
        except (InvalidInput, LimitReached):
            refused += 1
    e164 = phones.normalise_phone(phone, get_settings().phone_regions).e164
    tries = OtpChallenge.get(phones.phone_hash(e164, get_phone_hash_pepper())).tries
    return accepted, refused, int(tries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes", type=int, default=1_000_000, help="codes guessed")
    parser.add_argument("--shoppers", type=int, default=1_000, help="signed-in shoppers doing the guessing")
    parser.add_argument("--numbers", type=int, default=10_000, help="numbers one address asks a sign-in code for")
    parser.add_argument("--code-guesses", type=int, default=1_000, help="guesses at one number's sign-in code")
    add_endpoint_option(parser)
    args = parser.parse_args()

    with engine(args.endpoint) as ddb:
        models.bind(Settings(table_prefix="bench-guess", dynamodb_endpoint=ddb.endpoint))
        tables.create_tables()
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        _, batch = active_campaign(
            "bench-brand", start=now - timedelta(days=1), end=now + timedelta(days=30), quantity=100, prizes=[]
        )
        from chalicelib.adapters.secrets import get_keyring
        from chalicelib.domain import codes

        genuine = [codes.mint_code(get_keyring(), batch["batch_number"], s) for s in range(100)]
        baseline = genuine_scan(genuine)

        shoppers_ = [f"shp_guess{i:05d}" for i in range(args.shoppers)]
        with AwsCalls() as calls:
            result = guess_codes(genuine[2:], args.codes, shoppers_)
        limit = claims.LIMITS.invalid_per_hour
        started = time.perf_counter()
        numbers = spray_numbers(args.numbers)
        guesses = spray_guesses(args.code_guesses)
        sprays_seconds = time.perf_counter() - started

    print(f"Guessing codes: {result.codes:,} codes (half random, half one symbol off a genuine code),")
    print(f"{args.shoppers:,} shoppers in turn, one address, DynamoDB Local, one process.\n")
    print_table(
        ("figure", "a genuine scan (baseline)", "the guesses", "target"),
        [
            ("codes accepted", "1 of 1", f"{result.granted:,} of {result.codes:,}", "0"),
            ("DynamoDB reads", f"{baseline.reads} per scan", f"{calls.reads:,} in all", "0"),
            (
                "AWS requests",
                f"{baseline.total} per scan ({', '.join(sorted(baseline.by_operation))})",
                f"{calls.total:,} in all, {calls.total / result.codes:.4f} per guess",
                "",
            ),
            ("  by operation", "", ", ".join(f"{op} {n:,}" for op, n in sorted(calls.by_operation.items())), ""),
            ("answered invalid (counted)", "", f"{result.invalid:,} ({limit} per shopper)", ""),
            ("answered locked", "", f"{result.locked:,}", ""),
            ("shoppers locked out", "", f"{len(result.locked_shoppers):,} of {args.shoppers:,}", "all"),
            ("guesses refused per second", "", f"{result.codes / result.seconds:,.0f} ({result.seconds:.1f} s)", ""),
        ],
    )
    sent, refused, messages = numbers
    accepted, wrong, tries = guesses
    print("\nSign-in sprays:\n")
    print_table(
        ("spray", "asked", "answered", "SMS sent / code tries spent"),
        [
            (
                f"one address, {args.numbers:,} numbers",
                f"{args.numbers:,}",
                f"{sent:,} sent, {refused:,} refused (429)",
                f"{messages:,} SMS",
            ),
            (
                f"{args.code_guesses:,} guesses at one number's code",
                f"{args.code_guesses:,}",
                f"{accepted} accepted, {wrong:,} refused alike",
                f"{tries} tries of its code",
            ),
        ],
    )
    print(f"\n(sprays took {sprays_seconds:.1f} s)")
    ok = result.granted == 0 and calls.reads == 0 and len(result.locked_shoppers) == args.shoppers and accepted == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
