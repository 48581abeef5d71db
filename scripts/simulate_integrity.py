"""Pack integrity by simulation: a synthetic national campaign in Vietnam replayed through the real scan
path and stream handler, with planted patterns among honest traffic; prints each signal's precision and recall.

Planted: one claimed code printed on 500 counterfeit packs sold in another province; a pallet of a
northern batch scanned in the south; a farm of 20 accounts; a guessing network (many accounts on
one network, each below the per-shopper lockout). Honest traffic has its own noise: scans placed at a
mobile carrier's gateway instead of home, scans with no place, a household member scanning a code
already claimed, mistyped codes. Targets: every planted pattern found, and fewer than 1% of honest
shoppers named as suspects (a farm or a guessing network). Runs on DynamoDB Local (a new one in memory,
or --endpoint), on simulated time.

    .venv/bin/python scripts/simulate_integrity.py [--shoppers 1000] [--seed 7] [--endpoint URL]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from scripts.dynamodb_local import add_endpoint_option, engine, local_aws_env

os.environ.update(local_aws_env())
os.environ["STAGE"] = "local"

from chalicelib.adapters import models, records, tables
from chalicelib.adapters.secrets import get_keyring, get_phone_hash_pepper
from chalicelib.config import Settings
from chalicelib.domain import clock, codes
from chalicelib.domain.errors import DomainError
from chalicelib.domain.phones import brand_shopper_id
from chalicelib.domain.places import network_pseudonym, place_of
from chalicelib.services import batches, campaigns, scans
from chalicelib.views.integrity import campaign_signals
from scripts.stats_worker import feeder_for

BRAND = "brand-sim"
NORTH = ("HN", "HP", "56", "66", "18", "13", "68", "69", "21", "22")  # CloudFront's region codes (VN-…)
SOUTH = ("SG", "39", "37", "CT", "49", "45", "44", "59", "35")
GATEWAY = {"north": "HN", "south": "SG"}  # where a mobile carrier's addresses are placed
DAYS = 3


@dataclass(frozen=True)
class Size:
    """How big each planted pattern is (the brief's figures by default; the test suite runs a small one)."""

    counterfeit: int = 500  # packs carrying one copied code
    pallet: int = 300  # packs of a northern batch sold in the south
    farm: int = 20  # accounts
    farm_claims: int = 30  # each, within 50 minutes
    guessers: int = 40  # accounts on one network
    guesses: int = 8  # each (the lockout is at 11 an hour)


@dataclass
class Shopper:
    shopper_id: str
    region: str
    home: str
    ip: str
    honest: bool = True


@dataclass
class World:
    """The campaign, its batches' codes handed out in order, and what was planted."""

    campaign_id: str
    batch_ids: dict[str, str]
    numbers: dict[str, int]
    next_serial: dict[str, int] = field(default_factory=dict)
    events: list[tuple[float, int, Shopper, str, str | None]] = field(default_factory=list)
    planted: dict[str, set[str]] = field(default_factory=dict)
    claimed: dict[str, list[str]] = field(default_factory=dict)  # honest shoppers' codes, for their households

    def take(self, batch: str) -> str:
        serial = self.next_serial.get(batch, 0)
        self.next_serial[batch] = serial + 1
        return codes.mint_code(get_keyring(), self.numbers[batch], serial)

    def at(self, seconds: float, shopper: Shopper, code: str, region: str | None) -> None:
        self.events.append((seconds, len(self.events), shopper, code, region))


def _campaign() -> World:
    now = clock.now()
    body = {
        "name": "Tết integrity simulation",
        "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        "timezone": "Asia/Ho_Chi_Minh",
        "rules": {"points_per_scan": 10, "entries_per_scan": 1},
    }
    campaign = campaigns.create_campaign(BRAND, "sim", body)
    campaigns.change_campaign_status(BRAND, campaign["campaign_id"], "sim", {"status": "active"})
    ids, numbers = {}, {}
    for name, region in (("N1", NORTH), ("N2", NORTH), ("S1", SOUTH), ("S2", SOUTH)):
        market = {"country": "VN", "places": [f"VN-{r}" for r in region]}
        made = batches.mint_batch(
            BRAND, campaign["campaign_id"], "sim", {"sku": f"NOODLE-{name}", "quantity": 50_000, "market": market}
        )
        batches.change_batch_status(BRAND, made["batch_id"], "sim", {"status": "active"})
        ids[name], numbers[name] = made["batch_id"], made["batch_number"]
    return World(campaign["campaign_id"], ids, numbers)


def _honest(world: World, rng: random.Random, count: int) -> list[Shopper]:
    """Shoppers buying in their own region, with the noise honest traffic has."""
    people = []
    for i in range(count):
        region = "north" if i % 2 == 0 else "south"
        home = rng.choice(NORTH if region == "north" else SOUTH)
        shopper = Shopper(f"shp_h{i:06d}", region, home, f"10.{i // 250}.{i % 250}.{rng.randrange(1, 250)}")
        people.append(shopper)
        for _ in range(rng.randint(1, 6)):
            batch = rng.choice(("N1", "N2") if region == "north" else ("S1", "S2"))
            where: str | None = home
            roll = rng.random()
            if roll < 0.03:
                where = GATEWAY[region]  # on mobile data: placed at the carrier's gateway
            elif roll < 0.04:
                where = None  # no place at all
            if rng.random() < 0.02:  # a mistyped code first
                typo = world.take(batch)
                world.at(
                    rng.uniform(0, DAYS * 86400),
                    shopper,
                    typo[:-3] + ("0" if typo[-3] != "0" else "1") + typo[-2:],
                    where,
                )
            code = world.take(batch)
            world.claimed.setdefault(shopper.shopper_id, []).append(code)
            world.at(rng.uniform(0, DAYS * 86400), shopper, code, where)
    # A household: now and then someone scans a pack another member already claimed.
    for shopper in rng.sample(people, max(1, count // 50)):
        other = rng.choice(people)
        world.at(DAYS * 86400 + 60, shopper, rng.choice(world.claimed[other.shopper_id]), shopper.home)
    return people


def _plant(world: World, rng: random.Random, size: Size) -> list[Shopper]:
    """The four planted patterns; returns the people they involve (victims included)."""
    people: list[Shopper] = []
    # 1. One claimed code, copied onto 500 counterfeit packs sold in Cần Thơ.
    owner = Shopper("shp_copy_owner", "north", "HN", "10.250.0.1")
    copied = world.take("N1")
    world.at(1800, owner, copied, "HN")
    world.planted["copied_code"] = {copied}
    for i in range(size.counterfeit):
        buyer = Shopper(f"shp_cf{i:04d}", "south", "CT", f"10.251.{i // 250}.{i % 250 + 1}")
        world.at(rng.uniform(3600, DAYS * 86400), buyer, copied, "CT")
        people.append(buyer)
    # 2. A pallet of the northern batch N1 (300 packs) sold in the south.
    for i in range(size.pallet):
        buyer = Shopper(f"shp_pl{i:04d}", "south", rng.choice(("SG", "39")), f"10.252.{i // 250}.{i % 250 + 1}")
        world.at(rng.uniform(0, DAYS * 86400), buyer, world.take("N1"), buyer.home)
        people.append(buyer)
    world.planted["diverted_batch"] = {world.batch_ids["N1"]}
    # 3. A farm: 20 accounts in Bắc Ninh each claiming 30 packs within 50 minutes on day two.
    farm = [Shopper(f"shp_farm{i:02d}", "north", "56", f"10.253.0.{i + 1}", honest=False) for i in range(size.farm)]
    for account in farm:
        for k in range(size.farm_claims):
            world.at(86400 + k * 100 + rng.uniform(0, 50), account, world.take("N2"), "56")
    world.planted["farm"] = {a.shopper_id for a in farm}
    # 4. A guessing network: 40 accounts on one /24, each 8 forged codes aimed at batch S1 (under the lockout).
    forger = codes.Keyring({get_keyring().current: b"f" * 32}, get_keyring().current)
    guessers = [
        Shopper(f"shp_guess{i:02d}", "south", "SG", f"203.0.113.{i + 1}", honest=False) for i in range(size.guessers)
    ]
    for account in guessers:
        for k in range(size.guesses):
            guess = codes.mint_code(forger, world.numbers["S1"], rng.randrange(50_000))
            world.at(2 * 86400 + k * 200 + rng.uniform(0, 100), account, guess, "SG")
    world.planted["guessing_network"] = {network_pseudonym("203.0.113.1", get_phone_hash_pepper()) or ""}
    world.planted["guessers"] = {a.shopper_id for a in guessers}
    return [owner, *people, *farm, *guessers]


def _replay(world: World, drain_every: int = 2_000) -> dict[str, int]:
    """Every scan in time order, through the real scan service at its simulated instant; the stream
    handler (scripts/stats_worker.py's feeder) folds what they wrote as it goes."""
    feeder = feeder_for()
    start = time.time()
    outcomes: dict[str, int] = {}
    sim = {"at": 0.0}
    with clock.replaced(lambda: start + sim["at"], steady=lambda: sim["at"]):
        for n, (at, _, shopper, code, region) in enumerate(sorted(world.events, key=lambda e: (e[0], e[1]))):
            sim["at"] = at
            place = place_of("VN", region) if region else place_of(None, None)
            try:
                outcome = scans.claim_code(shopper.shopper_id, shopper.ip, {"code": code}, place=place)["result"]
            except DomainError as refused:
                outcome = refused.code
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if n % drain_every == drain_every - 1:
                feeder.drain()
        feeder.drain()
    return outcomes


def _score(found: set[str], planted: set[str]) -> tuple[float, float]:
    hits = len(found & planted)
    return (hits / len(found) if found else 1.0), (hits / len(planted) if planted else 1.0)


def simulate(endpoint: str | None, shoppers: int = 1_000, seed: int = 7, size: Size | None = None) -> dict:
    """Run the simulation on the DynamoDB Local at `endpoint`, in tables of its own (None: on the tables
    the models are bound to now, a test's); returns its figures."""
    rng = random.Random(seed)
    if endpoint is not None:
        models.bind(Settings(table_prefix=f"sim{random.randrange(10**9)}", dynamodb_endpoint=endpoint))
        tables.create_tables()
    records.clear_cache()
    scans.LOCKS.clear()
    world = _campaign()
    honest = _honest(world, rng, shoppers)
    involved = _plant(world, rng, size or Size())
    outcomes = _replay(world)
    answer = campaign_signals(BRAND, world.campaign_id)
    pepper = get_phone_hash_pepper()
    alias = {brand_shopper_id(pepper, BRAND, s.shopper_id): s for s in [*honest, *involved]}
    by_kind: dict[str, list[dict]] = {}
    for signal in answer["signals"]:
        by_kind.setdefault(signal["kind"], []).append(signal)
    figures: dict[str, dict] = {}
    subjects = {
        "copied_code": {s["subject"] for s in by_kind.get("copied_code", [])},
        "diverted_batch": {s["subject"] for s in by_kind.get("diverted_batch", [])},
        "farm": {alias[s["subject"]].shopper_id for s in by_kind.get("farm", []) if s["subject"] in alias},
        "guessing_network": {s["subject"] for s in by_kind.get("guessing_network", [])},
    }
    for kind, found in subjects.items():
        precision, recall = _score(found, world.planted[kind])
        figures[kind] = {
            "raised": len(found),
            "planted": len(world.planted[kind]),
            "precision": precision,
            "recall": recall,
        }
    suspects = {
        alias[p].shopper_id
        for kind in ("farm", "guessing_network")
        for s in by_kind.get(kind, [])
        for p in [*s["shoppers"], s["subject"]]
        if p in alias
    }
    honest_people = {s.shopper_id for s in [*honest, *involved] if s.honest}
    named = suspects & honest_people
    guessers = {alias[p].shopper_id for s in by_kind.get("guessing_network", []) for p in s["shoppers"] if p in alias}
    return {
        "signals": figures,
        "scans": sum(outcomes.values()),
        "outcomes": outcomes,
        "honest_shoppers": len(honest_people),
        "honest_named": len(named),
        "false_positive_rate": len(named) / len(honest_people),
        "guessers_named": len(guessers & world.planted["guessers"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=1_000, help="honest shoppers (besides the planted patterns)")
    parser.add_argument("--seed", type=int, default=7)
    add_endpoint_option(parser)
    args = parser.parse_args()
    started = time.perf_counter()
    with engine(args.endpoint) as ddb:
        result = simulate(ddb.endpoint, args.shoppers, args.seed)
    print(f"{result['scans']:,} scans replayed in {time.perf_counter() - started:.0f} s: {result['outcomes']}")
    print(f"{'signal':<18} {'raised':>7} {'planted':>8} {'precision':>10} {'recall':>7}  target")
    for kind, row in result["signals"].items():
        print(
            f"{kind:<18} {row['raised']:>7} {row['planted']:>8} {row['precision']:>10.2f} {row['recall']:>7.2f}  recall 1.00"
        )
    rate = result["false_positive_rate"]
    print(
        f"honest shoppers named as suspects: {result['honest_named']} of {result['honest_shoppers']:,} "
        f"({rate:.2%}; target under 1%); guessing accounts named: {result['guessers_named']}"
    )
    met = all(row["recall"] == 1.0 for row in result["signals"].values()) and rate < 0.01
    print("targets met" if met else "targets MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
