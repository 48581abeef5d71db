"""Guessing codes and sign-in codes, as an attacker would: the driver of the guessing test and benchmark.

`guess_codes` sends random codes and one-character mutations of genuine ones through the
scan path (services.scans.claim_code, what POST /v1/scans calls) for a set of shoppers,
while `AwsCalls` counts every AWS request by operation through a botocore hook.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

import botocore.client

from chalicelib.domain.errors import CodeInvalid, LimitReached
from chalicelib.domain.ids import CROCKFORD
from chalicelib.services import scans

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


class AwsCalls:
    """Counts the AWS requests made while installed, by operation (a botocore hook on every client)."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()

    def __enter__(self) -> AwsCalls:
        self._real = real = botocore.client.BaseClient._make_api_call
        calls = self

        def counting(client, operation, params):
            calls.by_operation[operation] += 1
            return real(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *_) -> None:
        botocore.client.BaseClient._make_api_call = self._real  # type: ignore[method-assign]

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.by_operation.items() if op in READS)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


def random_code(rng: random.Random) -> str:
    """Twenty symbols of the code alphabet, dashed as printed codes are."""
    chars = "".join(rng.choice(CROCKFORD) for _ in range(20))
    return "-".join(chars[i : i + 5] for i in range(0, 20, 5))


def mutated(code: str, rng: random.Random) -> str:
    """A genuine code with one symbol changed to another of the alphabet (a typo, or a guess next door)."""
    positions = [i for i, ch in enumerate(code) if ch != "-"]
    at = rng.choice(positions)
    other = rng.choice([c for c in CROCKFORD if c != code[at]])
    return code[:at] + other + code[at + 1 :]


@dataclass
class Guessing:
    codes: int = 0
    granted: int = 0
    invalid: int = 0
    locked: int = 0
    other: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    locked_shoppers: set[str] = field(default_factory=set)


def guess_codes(genuine: list[str], count: int, shoppers: list[str], *, seed: int = 7) -> Guessing:
    """`count` guesses, alternately random and a one-symbol mutation of a genuine code, each by the
    next shopper in turn, all from one address."""
    rng = random.Random(seed)
    result = Guessing()
    started = time.perf_counter()
    for i in range(count):
        code = random_code(rng) if i % 2 else mutated(rng.choice(genuine), rng)
        shopper = shoppers[i % len(shoppers)]
        result.codes += 1
        try:
            scans.claim_code(shopper, "198.51.100.7", {"code": code})
            result.granted += 1
        except CodeInvalid:
            result.invalid += 1
        except LimitReached as refusal:
            if "locked" in refusal.message:
                result.locked += 1
                result.locked_shoppers.add(shopper)
            else:
                result.other[refusal.code] += 1
    result.seconds = time.perf_counter() - started
    return result
