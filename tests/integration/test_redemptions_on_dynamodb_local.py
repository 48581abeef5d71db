"""Redemptions exactly once on DynamoDB Local: a crowd racing for a little stock, and for their own points."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters import records
from chalicelib.adapters.members import read_member
from chalicelib.adapters.models import Redemption, Reward, Voucher
from chalicelib.domain.errors import Conflict, ServiceBusy
from chalicelib.services import redemptions, rewards, scans
from tests.functional.test_scans import BRAND, IP, running  # noqa: F401 - fixture
from tests.integration.test_scans_on_dynamodb_local import generous_limits  # noqa: F401 - fixture

SHOPPERS = [f"shp_race{i:03d}" for i in range(100)]
UNITS, COST, EARNED = 10, 30, 40  # each shopper can afford one unit, never two


def _redeem(shopper: str, reward_id: str, key: str) -> tuple[str, dict | None]:
    # A phone that is told "busy" sends the same request again, as the API's 503 asks.
    for _ in range(20):
        try:
            return "redeemed", redemptions.redeem(shopper, {"reward_id": reward_id}, key)
        except ServiceBusy:
            continue
        except Conflict as refused:
            return refused.code, None
    return "busy", None


@pytest.fixture
def crowd(running, generous_limits):
    """100 shoppers with 40 points each, and a voucher reward of 30 points with 10 codes."""
    _, _, codes_ = running(quantity=len(SHOPPERS), rules={"points_per_scan": EARNED, "entries_per_scan": 0})
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda pair: scans.claim_code(pair[0], IP, {"code": pair[1]}), zip(SHOPPERS, codes_)))
    reward = rewards.create_reward(BRAND, "op", {"name": "Coffee", "kind": "voucher", "cost": COST})
    pool_codes = [f"COFFEE-{n:04d}" for n in range(UNITS)]
    rewards.upload_vouchers(BRAND, reward["reward_id"], "op", ("\n".join(pool_codes) + "\n").encode())
    records.clear_cache()
    return reward["reward_id"], pool_codes


def test_100_shoppers_racing_for_10_units_get_exactly_10_and_spend_exactly_what_they_got(crowd):
    reward_id, pool_codes = crowd
    before = {s: read_member(BRAND, s) for s in SHOPPERS}
    assert all(m is not None and m.balance == EARNED for m in before.values())
    # Every shopper asks once; a third of them also ask a second time at once with another
    # key, racing their own balance (40 points buy one 30-point reward, not two).
    tasks = [(s, f"first-{s}") for s in SHOPPERS] + [(s, f"second-{s}") for s in SHOPPERS[::3]]
    random.Random(7).shuffle(tasks)
    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(lambda task: (task, _redeem(task[0], reward_id, task[1])), tasks))

    made = [(task, body) for task, (result, body) in outcomes if result == "redeemed"]
    refusals = {result for _, (result, _) in outcomes if result != "redeemed"}
    assert len(made) == UNITS, f"{len(made)} redemptions for {UNITS} units"
    assert refusals <= {"out_of_stock", "not_enough_points"}, refusals
    # No voucher code went to two redemptions, and every code given is one of the pool's.
    given = [body["voucher_code"] for _, body in made]
    assert sorted(given) == sorted(pool_codes)
    assert len({shopper for (shopper, _), _ in made}) == UNITS, "a shopper redeemed twice on 40 points"

    stored = list(Redemption.scan())
    assert len(stored) == UNITS and {r.redemption_id for r in stored} == {b["redemption_id"] for _, b in made}
    reward = Reward.get(reward_id, consistent_read=True)
    assert (int(reward.issued), int(reward.stock)) == (UNITS, UNITS)
    vouchers = list(Voucher.query(reward_id, consistent_read=True))
    assert sorted(v.redemption_id for v in vouchers) == sorted(r.redemption_id for r in stored)

    after = {s: read_member(BRAND, s) for s in SHOPPERS}
    assert all(m is not None and m.balance >= 0 for m in after.values()), "a balance went below zero"
    drop = sum(before[s].balance - after[s].balance for s in SHOPPERS)  # type: ignore[union-attr]
    assert drop == sum(int(r.cost) for r in stored) == UNITS * COST
    for shopper in SHOPPERS:
        mine = sum(int(r.cost) for r in stored if r.shopper_id == shopper)
        assert after[shopper].spent == mine  # type: ignore[union-attr]
        assert sum(after[shopper].lots.values()) == after[shopper].balance  # type: ignore[union-attr]

    # A request sent again (its answer lost, say) gets the original redemption back, spends nothing.
    (shopper, key), original = made[0]
    result, again = _redeem(shopper, reward_id, key)
    assert result == "redeemed" and again is not None and again["replay"] is True
    assert (again["redemption_id"], again["voucher_code"]) == (original["redemption_id"], original["voucher_code"])
    assert read_member(BRAND, shopper).balance == after[shopper].balance  # type: ignore[union-attr]
    assert len(list(Redemption.scan())) == UNITS
