"""Guessing on DynamoDB Local: codes that are not genuine are refused without a single read,
and a shopper who keeps guessing is locked out and then costs no request at all.

The same attack at full size (1,000,000 codes) is `benchmarks/bench_guessing.py`.
"""

from __future__ import annotations

import pytest

from chalicelib.adapters.models import CodeState, Participant
from chalicelib.domain import claims
from chalicelib.domain.errors import LimitReached
from chalicelib.services import scans
from tests.functional.test_scans import BRAND, running  # noqa: F401 - fixture
from tests.guessing import AwsCalls, guess_codes

SHOPPERS = [f"shp_guess{i:02d}" for i in range(20)]


def test_ten_thousand_guesses_are_refused_without_a_read_and_lock_every_guesser_out(running):
    _, _, genuine = running(quantity=50)
    with AwsCalls() as calls:
        result = guess_codes(genuine, 10_000, SHOPPERS)
    assert result.granted == 0 and not result.other
    assert calls.reads == 0, calls.by_operation
    # Each shopper: ten invalid codes counted, the eleventh locks; after that the container
    # knows the lock and answers with no request.
    limit = claims.LIMITS.invalid_per_hour
    assert result.invalid == limit * len(SHOPPERS)
    assert result.locked == 10_000 - limit * len(SHOPPERS)
    assert result.locked_shoppers == set(SHOPPERS)
    assert calls.total == (limit + 2) * len(SHOPPERS), calls.by_operation
    assert list(Participant.scan()) == [] and not [c for c in CodeState.scan() if c.state == "claimed"]
    # A genuine code is refused to a locked shopper, and the answer says for how long.
    with pytest.raises(LimitReached) as refusal:
        scans.claim_code(SHOPPERS[0], "198.51.100.7", {"code": genuine[0]})
    assert "locked" in refusal.value.message and refusal.value.retry_after > 3000
    assert scans.claim_code("shp_honest", "198.51.100.8", {"code": genuine[0]})["result"] == "granted"
