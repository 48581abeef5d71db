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


def _earned(running, shopper: str, scans_: int) -> None:
    _, _, codes_ = running(quantity=scans_, rules={"points_per_scan": EARNED, "entries_per_scan": 0})
    for code in codes_:
        scans.claim_code(shopper, IP, {"code": code})
    records.clear_cache()


def test_one_key_sent_at_once_with_two_bodies_makes_one_redemption_and_refuses_the_other_body(running, generous_limits):
    # Fails on main: every copy was answered with whichever redemption the key made first.
    shopper = "shp_onekey"
    _earned(running, shopper, 3)
    rewards_ = []
    for name in ("Coffee", "Tea"):
        reward = rewards.create_reward(BRAND, "op", {"name": name, "kind": "voucher", "cost": COST})
        rewards.upload_vouchers(BRAND, reward["reward_id"], "op", f"{name.upper()}-0001\n".encode())
        rewards_.append(reward["reward_id"])
    tasks = [rewards_[i % 2] for i in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda reward_id: (reward_id, _redeem(shopper, reward_id, "one-key")), tasks))
    (stored,) = list(Redemption.scan())
    for reward_id, (result, body) in outcomes:
        if reward_id == stored.reward_id:
            assert result == "redeemed" and body is not None and body["redemption_id"] == stored.redemption_id
        else:
            assert result == "idempotency_key_reused", result
    assert read_member(BRAND, shopper).balance == 3 * EARNED - COST  # type: ignore[union-attr]
    other = next(r for r in rewards_ if r != stored.reward_id)
    assert int(Reward.get(other, consistent_read=True).issued) == 0, "the refused body took nothing"


def test_cancels_racing_for_a_redemption_made_before_a_limit_was_set_refund_it_once(running, generous_limits):
    # Fails on main: every cancel answered 409 (it gave back an allowance the redemption never took).
    shopper = "shp_prelimit"
    _earned(running, shopper, 1)
    reward = rewards.create_reward(BRAND, "op", {"name": "Mug", "kind": "gift", "cost": COST, "stock": 5})
    delivery = {"name": "Lan", "phone": "0912 345 678", "address": "1 Le Loi, Hanoi"}
    made = redemptions.redeem(shopper, {"reward_id": reward["reward_id"], "delivery": delivery})
    rewards.update_reward(BRAND, reward["reward_id"], "op", {"per_shopper_limit": 1})
    records.clear_cache()

    def cancel(_: int) -> str:
        for _ in range(20):
            try:
                return redemptions.cancel(BRAND, made["redemption_id"], "op", {})["status"]
            except ServiceBusy:
                continue
        return "busy"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(cancel, range(8)))
    assert answers == ["cancelled"] * 8
    member = read_member(BRAND, shopper)
    assert member is not None and member.balance == EARNED and member.spent == 0, "refunded exactly once"
    assert int(Reward.get(reward["reward_id"], consistent_read=True).issued) == 0, "back in stock once"
