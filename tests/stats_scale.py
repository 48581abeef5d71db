"""Put a campaign on DynamoDB into the state N real claims leave, fast: the statistics' scale tests and benchmark.

`load_claims(campaign, batch, 100_000)` takes about 20-25 s on DynamoDB Local (2 CPUs),
most of it writing the 20,000 participant items; a hundred thousand real scans and their
stream aggregation would take tens of minutes. It writes exactly what the readers
of chalicelib/stats.py read, built the way the real path builds it:

* every claim is generated in memory as the `CodeState` record `scans.claim_code` would
  write (state, campaign, batch, sku, points, entries, prize, time zone, and the
  participant's `nth`, `active_days`, `first_claim_at` and `prev_claim_at` exactly as
  `scans._participant_fields` gives them when the participant's claims come in time
  order, and the place a scan without the edge's viewer headers gets), then folded with `stats_aggregator.counters_of`, the aggregator's own fold, and written with
  `adapters.counters.counter_update`, its own update. As the aggregator picks a random claim shard per
  group, each claim goes to a random one of `statistics.CLAIM_SHARDS` shards (a low-traffic
  stream delivers one claim per group); the readers sum all shards;
* refused scans, as the aggregator counts the refusals `stats_aggregator.record_refusal` records:
  `statistics.refusal_increments` of each on a random one of the `statistics.CLAIM_SHARDS`
  refusal shards (`#r<n>`), in the totals and in the local day with its hour;
* one `Participant` per shopper with the balances the claim transactions leave (points,
  entries, claims, first and last claim, active days, `rank_shard`), and the shopper's
  `ShopperAccount` (read for the phone numbers of the leaderboard; by default only for
  the participants the leaderboard can show, the only accounts the readers read);
* the prize pool counters (`Counter prize:<campaign>:<prize>`) the claim transactions
  move, prizes being drawn as `scans._prize_for` draws them (the batch's secret
  allocation first, then per-scan odds, from a seeded generator) and never beyond a
  pool's quantity.

Not written: the claim records themselves (`code_states`), unless `store_claims=True`.
No statistics reader touches them (they are what the stream aggregator and the
reconciliation read), and a hundred thousand of them would cost more time than
everything else together. Also not written: the per-minute rate counters, the daily cap
counters and the points-budget counters, which no statistics reader reads either.

The caps of the campaign's rules are respected (claims per participant, per participant
per local day, points budget), so the state is one real scans could have left.
"""

from __future__ import annotations

import hashlib
import random
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import counters as counter_store
from chalicelib.adapters import records
from chalicelib.adapters.dynamo import transaction_connection
from chalicelib.adapters.models import Batch, Campaign, CodeState, Counter, Participant, ShopperAccount
from chalicelib.adapters.secrets import get_keyring
from chalicelib.domain import places, statistics
from chalicelib.domain.instant_win import winning_prize
from chalicelib.services import batches, campaigns, stats_aggregator
from tests.support import synthetic_shopper_id

__all__ = ["load_claims", "plan_claims", "write_plan", "LoadPlan", "PlannedClaim", "REFUSAL_MIX", "ReadMeter"]

# How refused scans split by kind when none is given: mostly second scans of a claimed code.
REFUSAL_MIX: dict[str, float] = {
    "duplicate": 0.5,
    "invalid": 0.1,
    "refused_cap": 0.2,
    "refused_rate": 0.15,
    "refused_inactive": 0.05,
}
_FOLD_CHUNK = 5_000
_WRITERS = 4


@dataclass(slots=True)
class PlannedClaim:
    """One generated claim; `code_state()` of the plan turns it into the record scans would write."""

    shopper_id: str
    at: datetime
    batch_index: int
    serial: int
    nth: int = 1
    active_days: int = 1
    first_at: datetime | None = None
    prev_at: datetime | None = None
    prize_id: str | None = None
    prize_name: str | None = None
    shard: int = 0


@dataclass
class LoadPlan:
    """Everything `write_plan` writes, generated up front (claims in time order)."""

    campaign_id: str
    timezone: str
    points: int
    entries: int
    batches: list[Batch]
    claims: list[PlannedClaim]
    refusals: list[tuple[str, datetime, int]]  # kind, instant, refusal shard
    awarded: dict[str, int] = field(default_factory=dict)

    def code_state(self, claim: PlannedClaim, *, counted: bool | None = None) -> CodeState:
        """The claim record `scans._write` would have written for this claim."""
        batch = self.batches[claim.batch_index]
        # The claim's own fields, then where it stands in the participant's history.
        fields = {
            "changed_at": claim.at,
            "changed_by": claim.shopper_id,
            "shopper_id": claim.shopper_id,
            "prize_id": claim.prize_id,
            "prize_name": claim.prize_name,
        }
        history = {
            "nth": claim.nth,
            "active_days": claim.active_days,
            "first_claim_at": claim.first_at,
            "prev_claim_at": claim.prev_at,
            # A scan without the edge's viewer headers is placed "unknown", and so was the one before it.
            "place": places.UNKNOWN,
            "prev_place": places.UNKNOWN if claim.nth > 1 else None,
        }
        request_id = hashlib.sha256(f"{claim.shopper_id}:{claim.serial}".encode()).hexdigest()[:32]
        return CodeState(
            CodeState.key_for(int(batch.batch_number), claim.serial),
            state="claimed",
            batch_id=batch.batch_id,
            brand_id=batch.brand_id,
            campaign_id=self.campaign_id,
            sku=batch.sku,
            points=self.points,
            entries=self.entries,
            request_id=request_id,
            timezone=self.timezone,
            counted=counted,
            **fields,
            **history,
        )

    def code_states(self, *, counted: bool | None = None) -> Iterator[CodeState]:
        for claim in self.claims:
            yield self.code_state(claim, counted=counted)

    def participants(self) -> list[Participant]:
        """The participant items the claims leave: balances are the sums of their claims."""
        last: dict[str, PlannedClaim] = {}
        for claim in self.claims:  # time order: the last one seen is the latest
            last[claim.shopper_id] = claim
        return [
            Participant(
                self.campaign_id,
                shopper_id,
                points=c.nth * self.points,
                entries=c.nth * self.entries,
                claims=c.nth,
                first_claim_at=c.first_at,
                last_claim_at=c.at,
                active_days=c.active_days,
                rank_shard=statistics.rank_shard(self.campaign_id, shopper_id),
                last_place=places.UNKNOWN,
            )
            for shopper_id, c in last.items()
        ]


def _shopper(seed: int, index: int) -> str:
    # Shaped like a real id (`shp_` + 26 Crockford characters), fixed by seed and index.
    return synthetic_shopper_id(hashlib.sha256(f"stats-scale:{seed}:{index}".encode()).hexdigest())


def _claims_per_participant(rng: random.Random, claims: int, participants: int, cap: int | None) -> list[int]:
    """How many claims each participant makes: everyone at least one, a long tail of regulars, none over `cap`."""
    if cap is not None and claims > participants * cap:
        raise ValueError(f"{claims} claims cannot be made by {participants} participants of at most {cap} claims each")
    counts = [1] * participants
    weights = [rng.paretovariate(1.1) for _ in range(participants)]
    for index in rng.choices(range(participants), weights=weights, k=claims - participants):
        counts[index] += 1
    if cap is not None:
        overflow = sum(max(0, c - cap) for c in counts)
        counts = [min(c, cap) for c in counts]
        open_ = [i for i, c in enumerate(counts) if c < cap]
        while overflow:
            i = rng.choice(open_)
            counts[i] += 1
            overflow -= 1
            if counts[i] == cap:
                open_.remove(i)
    return counts


def _times(
    rng: random.Random, k: int, start: datetime, span: float, tz: zoneinfo.ZoneInfo, daily_cap: int | None
) -> list[datetime]:
    """`k` claim instants in [start, start + span), at most `daily_cap` on any local day, sorted."""
    times = [start + timedelta(seconds=rng.random() * span) for _ in range(k)]
    if daily_cap:
        for _ in range(1000):
            per_day: dict = defaultdict(list)
            for i, t in enumerate(times):
                per_day[t.astimezone(tz).date()].append(i)
            excess = [i for idx in per_day.values() if len(idx) > daily_cap for i in idx[daily_cap:]]
            if not excess:
                break
            for i in excess:
                times[i] = start + timedelta(seconds=rng.random() * span)
        else:
            raise ValueError(f"cannot fit {k} claims under a daily cap of {daily_cap} in the window")
    return sorted(times)


def plan_claims(
    campaign: dict,
    batch: dict | Sequence[dict],
    claims: int,
    *,
    participants: int | None = None,
    days: int = 28,
    seed: int = 1,
    refusals: int | None = None,
    refusal_mix: dict[str, float] | None = None,
    now: datetime | None = None,
) -> LoadPlan:
    """Generate `claims` claims and `refusals` refused scans of a campaign, as real scans would leave them.

    Claims fall uniformly over the `days` days before `now` (clipped to the campaign's
    window), by `participants` shoppers (default claims // 5) with a long-tailed number of
    claims each. Refusals default to one for every ten claims, split by `refusal_mix`.
    Reads the campaign and batch records; writes nothing.
    """
    rng = random.Random(seed)
    model = Campaign.get(campaign.get("brand_id") or _brand_of(batch), campaign["campaign_id"])
    batch_models = [Batch.get(b["batch_id"]) for b in ([batch] if isinstance(batch, dict) else batch)]
    tz = zoneinfo.ZoneInfo(model.timezone)
    rules = model.rules
    points, entries = int(rules.points_per_scan or 0), int(rules.entries_per_scan or 0)
    start, end = _window(model, now, days)
    _check_room(rules, points, claims, batch_models)
    participants = max(1, claims // 5) if participants is None else participants
    if not 0 < participants <= claims:
        raise ValueError("participants must be between 1 and the number of claims")

    cap, daily_cap = _caps(rules, start, end, tz)
    counts = _claims_per_participant(rng, claims, participants, cap)
    span = (end - start).total_seconds()
    planned = _claims_in_time(rng, seed, counts, start, span, tz, daily_cap)
    _assign_codes(rng, planned, batch_models, claims)
    awarded = _assign_prizes(rng, planned, model, batch_models)

    refusals = claims // 10 if refusals is None else refusals
    mix = refusal_mix or REFUSAL_MIX
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=refusals)
    refused = sorted(
        (
            (kind, start + timedelta(seconds=rng.random() * span), rng.randrange(statistics.CLAIM_SHARDS))
            for kind in kinds
        ),
        key=lambda r: r[1],
    )
    return LoadPlan(model.campaign_id, model.timezone, points, entries, batch_models, planned, refused, dict(awarded))


def _window(model: Campaign, now: datetime | None, days: int) -> tuple[datetime, datetime]:
    """The last `days` days before `now`, clipped to the campaign's window."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = min(now, model.ends_at)
    start = max(model.starts_at, end - timedelta(days=days))
    if end <= start:
        raise ValueError("the campaign's window holds none of the requested days")
    return start, end


def _check_room(rules: Any, points: int, claims: int, batch_models: list[Batch]) -> None:
    """The points budget and the batches' codes are enough for `claims` claims."""
    if rules.budget_points and points and claims * points > int(rules.budget_points):
        raise ValueError(f"{claims} claims of {points} points exceed the campaign's budget of {rules.budget_points}")
    quantity = sum(int(b.quantity) for b in batch_models)
    if claims > quantity:
        raise ValueError(f"{claims} claims need that many codes; the batches hold {quantity}")


def _caps(rules: Any, start: datetime, end: datetime, tz: zoneinfo.ZoneInfo) -> tuple[int | None, int | None]:
    """Claims one participant may make in the window, and on one local day (None: no limit)."""
    cap = int(rules.max_claims_per_participant) if rules.max_claims_per_participant else None
    daily_cap = int(rules.max_claims_per_participant_per_day) if rules.max_claims_per_participant_per_day else None
    if daily_cap:
        # The local days the window touches, less one for the partial days at its ends.
        local_days = (end.astimezone(tz).date() - start.astimezone(tz).date()).days
        cap = min(cap or daily_cap * local_days, daily_cap * max(1, local_days))
    return cap, daily_cap


def _claims_in_time(
    rng: random.Random,
    seed: int,
    counts: list[int],
    start: datetime,
    span: float,
    tz: zoneinfo.ZoneInfo,
    daily_cap: int | None,
) -> list[PlannedClaim]:
    """Each participant's claims at their instants, in time order, without codes or prizes yet."""
    planned: list[PlannedClaim] = []
    for index, k in enumerate(counts):
        shopper_id = _shopper(seed, index)
        times = _times(rng, k, start, span, tz, daily_cap)
        # What scans._participant_fields gives each claim, the participant's claims in time order.
        days_active, previous = 0, None
        for nth, at in enumerate(times, start=1):
            if previous is None or previous.astimezone(tz).date() < at.astimezone(tz).date():
                days_active += 1
            planned.append(
                PlannedClaim(
                    shopper_id, at, 0, 0, nth=nth, active_days=days_active, first_at=times[0], prev_at=previous
                )
            )
            previous = at
    planned.sort(key=lambda c: c.at)
    return planned


def _assign_codes(rng: random.Random, planned: list[PlannedClaim], batch_models: list[Batch], claims: int) -> None:
    """Distinct serials over the batches' combined serial space, in claim order, and a claim shard each."""
    bounds, total = [], 0
    for b in batch_models:
        bounds.append(total)
        total += int(b.quantity)
    for claim, flat in zip(planned, rng.sample(range(total), claims)):
        claim.batch_index = max(i for i, low in enumerate(bounds) if low <= flat)
        claim.serial = flat - bounds[claim.batch_index]
        claim.shard = rng.randrange(statistics.CLAIM_SHARDS)


def _assign_prizes(
    rng: random.Random, planned: list[PlannedClaim], model: Campaign, batch_models: list[Batch]
) -> dict[str, int]:
    """Prizes as scans._prize_for draws them; a pool that ran out grants the scan without a prize."""
    prizes = {p.prize_id: p for p in model.prizes or []}
    awarded: dict[str, int] = defaultdict(int)
    keys = get_keyring().keys if any(b.allocations for b in batch_models) else {}
    for claim in planned:
        b = batch_models[claim.batch_index]
        prize = None
        if b.allocations:
            won = winning_prize(
                keys[int(b.key_version)],
                int(b.batch_number),
                int(b.quantity),
                claim.serial,
                [(a.prize_id, int(a.count)) for a in b.allocations],
            )
            prize = prizes.get(won)
        if prize is None:
            prize = _prize_by_odds(rng, model)
        if prize is not None and awarded[prize.prize_id] < int(prize.quantity):
            awarded[prize.prize_id] += 1
            claim.prize_id, claim.prize_name = prize.prize_id, prize.name
    return awarded


def _prize_by_odds(rng: random.Random, model: Campaign) -> Any:
    """The first of the campaign's prizes whose per-scan odds come up, or None."""
    for candidate in model.prizes or []:
        if candidate.odds_per_million and rng.randrange(1_000_000) < int(candidate.odds_per_million):
            return candidate
    return None


def _brand_of(batch: dict | Sequence[dict]) -> str:
    first = batch if isinstance(batch, dict) else batch[0]
    return Batch.get(first["batch_id"]).brand_id


def _batch_write(model, items: list, writers: int = _WRITERS) -> None:
    """Put `items` with BatchWriteItem from a few threads.

    The items are serialized by the model (`Model.serialize`, what `Model.batch_write`
    sends) and sent with the low-level call: PynamoDB's own batch writer costs twice the
    time here, and the point is only to get the same items into the table quickly.
    """
    if not items:
        return
    client = transaction_connection().client
    table = model.Meta.table_name
    raws = [item.serialize() for item in items]

    def put(part: list[dict]) -> None:
        for low in range(0, len(part), 25):
            pending = {table: [{"PutRequest": {"Item": raw}} for raw in part[low : low + 25]]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None

    size = -(-len(raws) // writers)
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(put, [raws[i : i + size] for i in range(0, len(raws), size)]))


def _leaders(people: list[Participant]) -> list[Participant]:
    """The participants the leaderboard can show: the top `statistics.TOP` of each rank shard, ties included."""
    shards: dict[str, list[Participant]] = defaultdict(list)
    for p in people:
        shards[p.rank_shard].append(p)
    chosen = []
    for members in shards.values():
        members.sort(key=lambda p: -int(p.claims))
        floor = int(members[min(statistics.TOP, len(members)) - 1].claims)
        chosen.extend(p for p in members if int(p.claims) >= floor)
    return chosen


def _claim_counters(plan: LoadPlan) -> dict[str, dict[str, int]]:
    """The claim counters by stat key (`<item>#<shard>`): `stats_aggregator.counters_of` per shard, in chunks."""
    sums: dict[str, dict[str, int]] = {}
    for shard in range(statistics.CLAIM_SHARDS):
        mine = [c for c in plan.claims if c.shard == shard]
        for low in range(0, len(mine), _FOLD_CHUNK):
            group = [plan.code_state(c) for c in mine[low : low + _FOLD_CHUNK]]
            for (partition, item, prefix), counts in stats_aggregator.counters_of(group).items():
                if partition == plan.campaign_id:  # the brand's loyalty figures are not the campaign's
                    statistics.add_counts(sums, {f"{item}#{prefix}{shard}": counts})
    return sums


def _refusal_counters(plan: LoadPlan) -> dict[str, dict[str, int]]:
    """The refusal counters by stat key, as the aggregator adds the recorded refusals."""
    tz = zoneinfo.ZoneInfo(plan.timezone)
    sums: dict[str, dict[str, int]] = {}
    for kind, at, shard in plan.refusals:
        moved = statistics.refusal_increments(kind, at, tz)
        statistics.add_counts(sums, {f"{item}#r{shard}": counts for item, counts in moved.items()})
    return sums


def write_plan(plan: LoadPlan, *, store_claims: bool = False, accounts: str = "leaders") -> None:
    """Write the counters, participants, shopper accounts and prize counters of `plan`.

    `accounts`: "leaders" writes the `ShopperAccount` of every participant the
    leaderboard can show (the top `statistics.TOP` of each rank shard, ties included: the only
    accounts a statistics endpoint reads), "all" one per participant, "none" none.
    `store_claims` also writes the claim records, marked `counted` as the aggregator
    leaves them (for a reconciliation, or a baseline that scans them).
    """
    if accounts not in ("leaders", "all", "none"):
        raise ValueError("accounts: leaders, all or none")
    client = transaction_connection().client
    counters = _claim_counters(plan)
    statistics.add_counts(counters, _refusal_counters(plan))

    def update(entry: tuple[str, dict[str, int]]) -> None:
        stat_key, counts = entry
        if counts:
            client.update_item(**counter_store.counter_update(plan.campaign_id, stat_key, counts))

    with ThreadPoolExecutor(_WRITERS) as pool:
        list(pool.map(update, sorted(counters.items())))
    for prize_id, value in plan.awarded.items():
        Counter(f"prize:{plan.campaign_id}:{prize_id}", value=value).save()
    people = plan.participants()
    _batch_write(Participant, people)
    if accounts != "none":
        created = datetime(2026, 1, 1, tzinfo=UTC)
        _batch_write(
            ShopperAccount,
            [
                ShopperAccount(
                    p.shopper_id,
                    phone_hash=hashlib.sha256(p.shopper_id.encode()).hexdigest(),
                    phone_masked=f"+84 90\u2022 \u2022\u2022\u2022 \u2022{int(p.shopper_id[-4:], 36) % 100:02d}",
                    created_at=created,
                )
                for p in (people if accounts == "all" else _leaders(people))
            ],
        )
    if store_claims:
        _batch_write(CodeState, list(plan.code_states(counted=True)))


def load_claims(
    campaign: dict,
    batch: dict | Sequence[dict],
    claims: int,
    *,
    store_claims: bool = False,
    accounts: str = "leaders",
    **shape: Any,
) -> None:
    """Put `campaign` on DynamoDB into the state `claims` real claims (and refusals) leave.

    `shape` is what `plan_claims` takes besides the campaign, batch and number of claims
    (participants, days, seed, refusals, now).

    `campaign` and `batch` are the dicts chalicelib.services.campaigns / chalicelib.services.batches return
    (`batch` may be a list of them: claims then spread over their codes). See the module
    docstring for what is written and what is not: the claim records are skipped unless
    `store_claims`, since no statistics reader reads them.
    """
    write_plan(
        plan_claims(campaign, batch, claims, **shape),
        store_claims=store_claims,
        accounts=accounts,
    )


# --- measuring reads ---------------------------------------------------------------------

_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")


class ReadMeter:
    """DynamoDB calls, items read and read capacity of whatever runs inside `with meter:`.

    An `after-call.dynamodb` hook on every client the application uses (each model's
    PynamoDB connection and `transaction_connection()`) reads each response:
    Query and Scan count the items DynamoDB evaluated (`ScannedCount`, which is `Count`
    when no filter drops any), GetItem one item when it found one, BatchGetItem and
    TransactGetItems the items returned. `capacity=True` also asks every read for
    `ReturnConsumedCapacity: TOTAL` and sums the read units reported.

    As a check that no client was missed, every DynamoDB call any botocore client makes
    is also counted (`all_calls`); `unseen` is the difference and should be zero.
    """

    def __init__(self, *, capacity: bool = False) -> None:
        self.capacity = capacity
        self._clients: list = []
        self._original_call = None
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, int] = defaultdict(int)
        self.items = 0
        self.items_by_table: dict[str, int] = defaultdict(int)
        self.read_units = 0.0
        self.units_reported = 0
        self.all_calls = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def unseen(self) -> int:
        return self.all_calls - self.total_calls

    @staticmethod
    def application_clients() -> list:
        from chalicelib.adapters import dynamo, models

        clients = {
            id(c): c
            for c in [m._get_connection().connection.client for m in models.ALL_MODELS]
            + [dynamo.transaction_connection().client]
        }
        return list(clients.values())

    def _parameters(self, params, model, context, **_) -> None:
        context["qrc_table"] = params.get("TableName")
        if self.capacity and model.name in _READS:
            params["ReturnConsumedCapacity"] = "TOTAL"

    def _after_call(self, http_response, parsed, model, context, **_) -> None:
        operation = model.name
        self.calls[operation] += 1
        table = context.get("qrc_table") or "?"
        if operation in ("Query", "Scan"):
            self.items_by_table[table] += int(parsed.get("ScannedCount", parsed.get("Count", 0)) or 0)
        elif operation == "GetItem":
            self.items_by_table[table] += 1 if parsed.get("Item") else 0
        elif operation == "BatchGetItem":
            for name, rows in (parsed.get("Responses") or {}).items():
                self.items_by_table[name] += len(rows)
        elif operation == "TransactGetItems":
            self.items_by_table["(transaction)"] += sum(1 for r in parsed.get("Responses") or [] if r.get("Item"))
        self.items = sum(self.items_by_table.values())
        consumed = parsed.get("ConsumedCapacity")
        if consumed and operation in _READS:
            for entry in consumed if isinstance(consumed, list) else [consumed]:
                self.read_units += float(entry.get("ReadCapacityUnits") or entry.get("CapacityUnits") or 0)
            self.units_reported += 1

    def __enter__(self) -> ReadMeter:
        from botocore.client import BaseClient

        self._clients = self.application_clients()
        for client in self._clients:
            client.meta.events.register("before-parameter-build.dynamodb", self._parameters)
            client.meta.events.register("after-call.dynamodb", self._after_call)
        self._original_call = original = BaseClient._make_api_call
        meter = self

        def counting(client, operation, params):
            if client.meta.service_model.service_name == "dynamodb":
                meter.all_calls += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counting
        return self

    def __exit__(self, *exc) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original_call
        for client in self._clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", self._parameters)
            client.meta.events.unregister("after-call.dynamodb", self._after_call)
        self._clients = []


def active_campaign(
    brand: str,
    *,
    start: datetime,
    end: datetime,
    quantity: int,
    prizes: list,
    rules: dict | None = None,
    sku: str = "NOODLE",
) -> tuple[dict, dict]:
    """An active campaign of `brand` from `start` to `end`, with one active batch of `quantity` codes."""
    import copy

    from tests.support import VALID_CAMPAIGN

    body = copy.deepcopy(VALID_CAMPAIGN)
    body.update(starts_at=start.isoformat(), ends_at=end.isoformat(), prizes=copy.deepcopy(prizes))
    if rules is not None:
        body["rules"] = rules
    campaign = campaigns.create_campaign(brand, "op", body)
    campaigns.change_campaign_status(brand, campaign["campaign_id"], "op", {"status": "active"})
    batch = batches.mint_batch(brand, campaign["campaign_id"], "op", {"sku": sku, "quantity": quantity})
    batches.change_batch_status(brand, batch["batch_id"], "op", {"status": "active"})
    records.clear_cache()
    return campaign, batch
