"""Pack integrity by simulation, a small run of scripts/simulate_integrity.py: every planted pattern is
found and no honest shopper is named as a suspect."""

from __future__ import annotations

from scripts.simulate_integrity import Size, simulate


def test_every_planted_pattern_is_found_among_honest_traffic(store):
    size = Size(counterfeit=12, pallet=25, farm=3, farm_claims=22, guessers=8, guesses=4)
    result = simulate(None, shoppers=60, seed=11, size=size)
    for kind, row in result["signals"].items():
        assert row["recall"] == 1.0, (kind, row)
        assert row["precision"] == 1.0, (kind, row)
    assert result["honest_named"] == 0, result
    assert result["guessers_named"] == 8
    assert result["outcomes"]["granted"] > 200
