"""What a stats call costs on DynamoDB Local: items read do not grow with the number of claims.

Campaign A holds 1,000 claims, campaign B 20,000 (same rules, prizes, single batch and
window), both put in place by tests/stats_scale.py's loader, whose output is checked
against real claims in `test_the_loader_leaves_what_real_claims_leave`. Items read are
counted per call by an after-call hook on the application's DynamoDB clients.

/stats, /stats/batches and /stats/participants read exactly the same items for A and B.
The time series reads one counter item per local day and shard of the range asked for,
so at most days x 2 CLAIM_SHARDS (claim and refusal shards) whatever the number of claims; a small
campaign whose days have not yet touched every shard reads fewer (A <= B, not A == B).

A brand's loyalty figures (/v1/loyalty/stats) read the brand's counter shards and its program:
the same items after real claims and redemptions, and after what a hundred times as many leave.
"""

from __future__ import annotations

import random
import time
import zoneinfo
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta

from chalicelib.adapters import counters as counter_store
from chalicelib.adapters import dynamo, models
from chalicelib.adapters.models import Campaign, CodeState, Participant
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import clock, codes, statistics
from chalicelib.domain.ids import new_id
from chalicelib.services import loyalty, reconcile, redemptions, rewards, scans, stats_aggregator
from chalicelib.views import stats
from scripts.stats_worker import drain
from tests.stats_scale import ReadMeter, active_campaign, load_claims, plan_claims

BRAND = "brand-a"
# Per-scan odds, so both campaigns have awarded from both pools: the same two prize counters to read.
PRIZES = [
    {"name": "Motorbike", "quantity": 3, "odds_per_million": 5_000},
    {"name": "Phone", "quantity": 20, "odds_per_million": 20_000},
]
# With this seed each of A's 8 leaderboard shards holds at least statistics.TOP participants (the
# test checks it), so the leaderboard reads TOP items per shard in A as in B. A campaign with
# fewer participants reads fewer: the cost is capped, not fixed.
SEED = 2
STAT_KEYS_PER_DAY = 2 * statistics.CLAIM_SHARDS  # `#<n>` and `#r<n>`


def _make_campaign(*, start: datetime, quantity: int, prizes: list | None = None, rules: dict | None = None):
    """An active campaign of brand-a running from `start` to 30 days from now, with one active batch."""
    return active_campaign(
        BRAND,
        start=start,
        end=datetime.now(UTC) + timedelta(days=30),
        quantity=quantity,
        prizes=PRIZES if prizes is None else prizes,
        rules=rules,
    )


def _measure(api, meter: ReadMeter, path: str, expect: int = 200) -> tuple[int, int, dict]:
    """Items read from the stats table, items read in all, and calls, for one GET of `path`."""
    meter.reset()
    api.json("GET", path, expect=expect, role="viewer")
    assert meter.unseen == 0, "a DynamoDB call went through a client the meter does not watch"
    return meter.items_by_table.get(models.StatShard.Meta.table_name, 0), meter.items, dict(meter.calls)


def test_items_read_per_stats_endpoint_do_not_grow_with_claims(api):
    now = datetime.now(UTC)
    start = now - timedelta(days=29)
    small, small_batch = _make_campaign(start=start, quantity=200_000)
    big, big_batch = _make_campaign(start=start, quantity=200_000)
    load_claims(small, small_batch, 1_000, seed=SEED, now=now)
    # 20 times A's claims: enough to tell growth from none (benchmarks/bench_stats.py goes to 100,000).
    load_claims(big, big_batch, 20_000, seed=SEED, now=now)

    # The loads are what they say, and A is past the point where every read is at its cap.
    for campaign, claims in ((small, 1_000), (big, 20_000)):
        totals = stats.campaign_stats(BRAND, campaign["campaign_id"])
        assert totals["scans"]["granted"] == claims
        assert totals["participants"]["unique"] == claims // 5
        assert all(p["awarded"] > 0 for p in totals["prizes"]), "both prize counters exist"
        histogram = stats.participant_stats(BRAND, campaign["campaign_id"])["histogram"]
        assert sum(row["participants"] for row in histogram) == claims // 5
    shard_sizes = Tally(p.rank_shard for p in Participant.query(small["campaign_id"]))
    assert len(shard_sizes) == statistics.RANK_SHARDS and min(shard_sizes.values()) >= statistics.TOP, shard_sizes

    today = now.astimezone(zoneinfo.ZoneInfo(Campaign.get(BRAND, small["campaign_id"]).timezone)).date()
    # Whole local days only (the first and the current day of the load are partial).
    full = f"from={today - timedelta(days=27)}&to={today - timedelta(days=1)}"
    week = f"from={today - timedelta(days=7)}&to={today - timedelta(days=1)}"
    paths = {
        "stats": "/stats",
        "batches": "/stats/batches",
        "participants": "/stats/participants",
        "timeseries day, 27 days": f"/stats/timeseries?granularity=day&{full}",
        "timeseries day, 7 days": f"/stats/timeseries?granularity=day&{week}",
        "timeseries hour, last 48 h": "/stats/timeseries?granularity=hour",
    }
    cost: dict[tuple[str, str], tuple[int, int, dict]] = {}
    with ReadMeter() as meter:
        for name, path in paths.items():
            for label, campaign in (("A", small), ("B", big)):
                cost[name, label] = _measure(api, meter, f"/v1/campaigns/{campaign['campaign_id']}{path}")

    # Totals, batches and participants read the same items at 1,000 and at 20,000 claims.
    for name in ("stats", "batches", "participants"):
        assert cost[name, "A"][1] == cost[name, "B"][1], (name, cost[name, "A"], cost[name, "B"])
        assert cost[name, "A"][2] == cost[name, "B"][2], (name, cost[name, "A"], cost[name, "B"])
    # Each reads the campaign, the 12 total shards, and (participants) TOP per rank shard and TOP accounts.
    assert cost["stats", "B"][0] == STAT_KEYS_PER_DAY
    assert (
        cost["participants", "B"][1] == 1 + STAT_KEYS_PER_DAY + statistics.RANK_SHARDS * statistics.TOP + statistics.TOP
    )

    # The time series reads one item per day and shard of the range: at most days x 12 at any
    # number of claims, fewer for fewer days. B has every shard of every whole day; A, with
    # ~4 refusals a day spread over 8 refusal shards, has not all of them yet.
    for label in ("A", "B"):
        assert cost["timeseries day, 7 days", label][0] < cost["timeseries day, 27 days", label][0]
        assert cost["timeseries day, 27 days", label][0] <= 27 * STAT_KEYS_PER_DAY
        assert cost["timeseries day, 7 days", label][0] <= 7 * STAT_KEYS_PER_DAY
        assert cost["timeseries hour, last 48 h", label][0] <= 3 * STAT_KEYS_PER_DAY  # 48 h touch 3 local days
    assert cost["timeseries day, 27 days", "B"][0] == 27 * STAT_KEYS_PER_DAY
    assert cost["timeseries day, 7 days", "B"][0] == 7 * STAT_KEYS_PER_DAY
    for name in ("timeseries day, 27 days", "timeseries day, 7 days", "timeseries hour, last 48 h"):
        assert cost[name, "A"][0] <= cost[name, "B"][0]
        assert cost[name, "A"][2] == cost[name, "B"][2], "one query page either way"

    # A range beyond the caps is refused before any counter is read.
    with ReadMeter() as meter:
        for query in (
            f"granularity=hour&from={today - timedelta(days=367)}&to={today}",
            f"granularity=day&from={today - timedelta(days=5 * 365 + 3)}&to={today}",
        ):
            meter.reset()
            response = api.call("GET", f"/v1/campaigns/{big['campaign_id']}/stats/timeseries?{query}", role="viewer")
            assert response.status_code == 400 and '"to"' in response.body.decode(), response.body
            assert meter.items_by_table.get(models.StatShard.Meta.table_name, 0) == 0
            assert meter.calls.get("Query", 0) == 0


class _Clock:
    """The instant the code under test sees as now, set by the test: real claims at a plan's instants."""

    at: datetime | None = None

    @classmethod
    def epoch(cls) -> float:
        return cls.at.timestamp()


def _without_ids(value, ids: dict[str, str]):
    """`value` with campaign, batch and prize ids replaced by their roles; `as_of` and batch numbers dropped."""
    if isinstance(value, dict):
        return {
            _without_ids(k, ids): _without_ids(v, ids) for k, v in value.items() if k not in ("as_of", "batch_number")
        }
    if isinstance(value, list):
        return [_without_ids(v, ids) for v in value]
    if isinstance(value, str):
        for old, new in ids.items():
            value = value.replace(old, new)
    return value


def test_the_loader_leaves_what_real_claims_leave(store, monkeypatch):
    """Same claims (shoppers, instants, codes) twice: through scans.claim_code and the stream
    aggregator on campaign R, through the loader on campaign L. Every claim record, participant,
    counter and stats answer must agree."""
    now = datetime.now(UTC)
    start = now - timedelta(days=8)
    # Odds of one in one: the first 3 claims win the motorbike, later ones find the pool empty.
    prizes = [{"name": "Motorbike", "quantity": 3, "odds_per_million": 1_000_000}, {"name": "Phone", "quantity": 20}]
    real, real_batch = _make_campaign(start=start, quantity=500, prizes=prizes)
    loaded, loaded_batch = _make_campaign(start=start, quantity=500, prizes=prizes)
    shape = {"participants": 12, "days": 7, "seed": 3, "refusals": 25, "now": now}
    plan = plan_claims(real, real_batch, 60, **shape)
    assert max(c.nth for c in plan.claims) > 5 and max(c.active_days for c in plan.claims) > 2
    assert sum(1 for c in plan.claims if c.prize_id) == 3

    _claim_through_the_real_path(real, real_batch, plan)
    # The loader, the same shape of claims on the other campaign.
    load_claims(loaded, loaded_batch, 60, **shape)

    _assert_claim_records_are_the_plans(real_batch, plan)
    assert _people(real["campaign_id"]) == _people(loaded["campaign_id"])
    ids = _roles_of_ids(real, real_batch, loaded, loaded_batch)
    assert _counters(real["campaign_id"], ids) == _counters(loaded["campaign_id"], ids)
    _assert_same_answers(real["campaign_id"], loaded["campaign_id"], ids, now)


def _claim_through_the_real_path(real: dict, real_batch: dict, plan) -> None:
    """The plan's claims through scans.claim_code at their instants, its refusals through the
    aggregator, then the stream drained and the campaign reconciled clean."""
    model = Campaign.get(BRAND, real["campaign_id"])
    with clock.replaced(_Clock.epoch, steady=time.monotonic):
        for claim in plan.claims:
            _Clock.at = claim.at
            code = codes.mint_code(get_keyring(), real_batch["batch_number"], claim.serial)
            answer = scans.claim_code(claim.shopper_id, "198.51.100.20", {"code": code})
            assert answer["result"] == "granted" and not answer["replay"]
    for kind, at, _ in plan.refusals:
        stats_aggregator.record_refusal(
            model, real_batch["batch_id"], kind, at, shopper_id="shp_refused", request_key=None
        )
    assert drain() >= 60
    report = reconcile.reconcile(real["campaign_id"])
    assert (report.claims, report.pending, report.clean) == (60, 0, True), report.differences[:5]


def _assert_claim_records_are_the_plans(real_batch: dict, plan) -> None:
    """Claim records: what scans._participant_fields wrote is what the loader folded."""
    for claim in plan.claims:
        stored = CodeState.get(CodeState.key_for(real_batch["batch_number"], claim.serial))
        generated = plan.code_state(claim)
        for name in (
            "state",
            "shopper_id",
            "changed_at",
            "points",
            "entries",
            "timezone",
            "nth",
            "active_days",
            "first_claim_at",
            "prev_claim_at",
            "prize_id",
            "prize_name",
        ):
            assert getattr(stored, name) == getattr(generated, name), (name, claim)
        assert stored.counted is True


def _people(campaign_id: str) -> dict:
    return {
        p.shopper_id: (
            int(p.points),
            int(p.entries),
            int(p.claims),
            p.first_claim_at,
            p.last_claim_at,
            int(p.active_days),
            p.rank_shard.rsplit("#", 1)[1],
        )
        for p in Participant.query(campaign_id)
    }


def _roles_of_ids(real: dict, real_batch: dict, loaded: dict, loaded_batch: dict) -> dict[str, str]:
    """Each campaign, batch and prize id of the two campaigns -> the role it plays in both."""
    ids = {
        real["campaign_id"]: "CAMPAIGN",
        loaded["campaign_id"]: "CAMPAIGN",
        real_batch["batch_id"]: "BATCH",
        loaded_batch["batch_id"]: "BATCH",
    }
    for mine, theirs, role in zip(real["prizes"], loaded["prizes"], ("PRIZE1", "PRIZE2")):
        ids[mine["prize_id"]], ids[theirs["prize_id"]] = role, role
    return ids


def _counters(campaign_id: str, ids: dict[str, str]):
    """Every counter, summed over shards, claim and refusal counters alike."""
    summed: dict[str, dict[str, int]] = {}
    for stat_key, counts in counter_store.items(campaign_id, "a", "zz"):
        key = stat_key.rsplit("#", 1)[0]
        for name, value in counts.items():
            bucket = summed.setdefault(key, {})
            bucket[name] = bucket.get(name, 0) + value
    return _without_ids(summed, ids)


def _assert_same_answers(real_id: str, loaded_id: str, ids: dict[str, str], now: datetime) -> None:
    """And so every answer."""
    today = now.date()
    for read in (
        lambda c: stats.campaign_stats(BRAND, c),
        lambda c: stats.batch_stats(BRAND, c),
        lambda c: stats.participant_stats(BRAND, c, now=now),
        lambda c: stats.timeseries(BRAND, c, now=now),
        lambda c: stats.timeseries(
            BRAND, c, granularity="hour", start=str(today - timedelta(days=3)), end=str(today), now=now
        ),
    ):
        assert _without_ids(read(real_id), ids) == _without_ids(read(loaded_id), ids)


def test_histogram_counts_each_participant_once(store):
    # A range bin (6-10, 11-20, 21-50, 51+) once counted every claim inside it: 2 here.
    campaign, batch = _make_campaign(
        start=datetime.now(UTC) - timedelta(days=1), quantity=10, prizes=[], rules={"points_per_scan": 1}
    )
    for serial in range(7):
        scans.claim_code(
            "shp_regular", "198.51.100.21", {"code": codes.mint_code(get_keyring(), batch["batch_number"], serial)}
        )
    drain()
    histogram = {
        row["claims"]: row["participants"]
        for row in stats.participant_stats(BRAND, campaign["campaign_id"])["histogram"]
    }
    assert histogram["6-10"] == 1
    assert sum(histogram.values()) == 1


def _fold_into_brand(brand: str, events: list[dict[str, int]], rng: random.Random) -> None:
    """What `events` (each one claim's or redemption's brand counts) leave in the brand's counters: each on
    a random one of the CLAIM_SHARDS shards, as the stream fold and the redemption transaction put them,
    summed per shard and written with the aggregator's own update."""
    shards: dict[int, dict[str, int]] = {}
    for counts in events:
        statistics.add_counts(shards, {rng.randrange(statistics.CLAIM_SHARDS): counts})
    partition = stats_aggregator.brand_partition(brand)
    for shard, counts in shards.items():
        dynamo.client().update_item(**counter_store.counter_update(partition, f"total#{shard}", counts))


def _volume(claims: int, redemptions_: int, reward_ids: list[str]) -> list[dict[str, int]]:
    """The brand counts of `claims` claims of 10 points (one in ten moving a member up a tier) and of
    `redemptions_` redemptions of 20 points spread over `reward_ids`."""
    events: list[dict[str, int]] = []
    for n in range(claims):
        counts = {"earned": 10}
        if n % 10 == 0:
            counts.update({"t#Silver": 1, "t#Member": -1} if n % 20 else {"t#Member": 1})
        events.append(counts)
    for n in range(redemptions_):
        events.append({"spent": 20, "redemptions": 1, f"r#{reward_ids[n % len(reward_ids)]}": 1})
    return events


def test_loyalty_figures_read_the_same_items_whatever_the_volume(api):
    brand = BRAND  # the brand of the `api` fixture's operator tokens
    ladder = [{"name": "Member", "min_points": 0}, {"name": "Silver", "min_points": 30}]
    loyalty.put_program(brand, "op", {"tiers": ladder, "points_expire_months": 12})
    campaign, batch = active_campaign(
        brand,
        start=datetime.now(UTC) - timedelta(days=1),
        end=datetime.now(UTC) + timedelta(days=30),
        quantity=20,
        prizes=[],
        rules={"points_per_scan": 10, "entries_per_scan": 0},
    )
    # Real activity first: 6 claims by two shoppers, counted by the stream fold; one voucher redeemed.
    for serial, shopper in enumerate(("shp_ann",) * 4 + ("shp_bao",) * 2):
        code = codes.mint_code(get_keyring(), batch["batch_number"], serial)
        assert scans.claim_code(shopper, "198.51.100.30", {"code": code})["result"] == "granted"
    voucher = rewards.create_reward(brand, "op", {"name": "Coffee", "kind": "voucher", "cost": 20})
    rewards.upload_vouchers(brand, voucher["reward_id"], "op", b"LOYAL-0001\nLOYAL-0002\n")
    redemptions.redeem("shp_ann", {"reward_id": voucher["reward_id"]}, "cost-1")
    drain()
    real = loyalty.loyalty_stats(brand)
    assert (real["points"]["earned"], real["points"]["spent"], real["redemptions"]["total"]) == (60, 20, 1)
    assert {t["tier"]: t["members"] for t in real["members_by_tier"]} == {"Member": 1, "Silver": 1}

    path = "/v1/loyalty/stats"
    reward_ids = [voucher["reward_id"]] + [new_id("rwd") for _ in range(19)]
    rng = random.Random(SEED)
    cost = {}
    with ReadMeter() as meter:
        cost["real"] = _measure(api, meter, path)
        _fold_into_brand(brand, _volume(1_000, 100, reward_ids), rng)
        cost["1k"] = _measure(api, meter, path)
        _fold_into_brand(brand, _volume(99_000, 9_900, reward_ids), rng)
        cost["100k"] = _measure(api, meter, path)

    figures = loyalty.loyalty_stats(brand)
    assert figures["points"]["earned"] == 60 + 100_000 * 10 and figures["redemptions"]["total"] == 1 + 10_000
    assert len(figures["redemptions"]["by_reward"]) == 20
    # The brand's counter shards and its program, at a thousand claims as at a hundred thousand.
    assert cost["1k"] == cost["100k"], cost
    assert cost["100k"][0] == statistics.CLAIM_SHARDS and cost["100k"][1] == statistics.CLAIM_SHARDS + 1, cost
    assert cost["real"][1] <= cost["100k"][1] and cost["real"][2] == cost["100k"][2]
