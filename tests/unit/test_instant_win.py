"""Secret instant wins are exact in count, spread out, key-dependent; odds are fair."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.domain.instant_win import KeyedPermutation, roll_odds, winning_prize

KEY = b"k" * 32


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 1000, 4097])
def test_permutation_is_a_bijection(size):
    permutation = KeyedPermutation(KEY, size)
    assert sorted(permutation.permute(i) for i in range(size)) == list(range(size))


def test_allocations_award_exact_counts_per_batch():
    allocations = [("prz_car", 3), ("prz_phone", 40), ("prz_cap", 200)]
    for batch_number in (1, 2, 77):
        won = Counter(winning_prize(KEY, batch_number, 10_000, s, allocations) for s in range(10_000))
        assert won["prz_car"] == 3 and won["prz_phone"] == 40 and won["prz_cap"] == 200
        assert won[None] == 10_000 - 243


def test_winners_depend_on_key_and_batch_and_are_not_the_first_serials():
    allocations = [("prz", 50)]

    def winners(key, batch):
        return {s for s in range(5000) if winning_prize(key, batch, 5000, s, allocations)}

    base = winners(KEY, 1)
    assert base != set(range(50))
    assert winners(b"x" * 32, 1) != base
    assert winners(KEY, 2) != base
    assert max(base) > 2500, "winners spread across the batch"


def test_odds_are_roughly_fair():
    wins = sum(roll_odds(250_000) for _ in range(20_000))
    assert 4_400 < wins < 5_600
    assert not any(roll_odds(0) for _ in range(1000))
    assert all(roll_odds(1_000_000) for _ in range(1000))
