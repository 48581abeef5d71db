"""Reconciliation: every claim counter of a campaign recomputed from its claim records and compared."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.adapters import claim_store, counters
from chalicelib.domain.statistics import add_counts, claim_increments
from chalicelib.services.stats_aggregator import count_claims

__all__ = ["Reconciliation", "reconcile"]


@dataclass
class Reconciliation:
    """Counters recomputed from claim records, compared with the stored ones."""

    campaign_id: str
    claims: int = 0
    pending: int = 0
    differences: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _stored(campaign_id: str) -> dict[str, dict[str, int]]:
    """Stored claim counters summed over shards, by counter item (refusal shards left out)."""
    shards: dict[str, list[dict[str, int]]] = defaultdict(list)
    for stat_key, counts in counters.items(campaign_id, "a", "zz"):
        item_name, _, shard = stat_key.rpartition("#")
        if not shard.startswith("r"):
            shards[item_name].append(counts)
    return {item_name: counters.summed(found) for item_name, found in shards.items()}


def reconcile(campaign_id: str, *, count_pending: bool = False, fix: bool = False) -> Reconciliation:
    """Recompute every claim counter of a campaign from its claim records and compare.

    Claims not yet counted (the stream is behind, or a handler died) are reported as
    pending and left out of the comparison; `count_pending` counts them now (exactly once,
    like the aggregator). `fix` adds the differences to shard 0 so the sums match again;
    run it when the stream is caught up.
    """
    report = Reconciliation(campaign_id)
    claims = claim_store.campaign_claims(campaign_id)
    pending = [c for c in claims if not c.counted]
    if count_pending and pending:
        count_claims(pending)
        claims = claim_store.campaign_claims(campaign_id)
        pending = [c for c in claims if not c.counted]
    report.claims, report.pending = len(claims), len(pending)
    expected: dict[str, dict[str, int]] = {}
    for claim in claims:
        if claim.counted:
            add_counts(expected, claim_increments(claim))
    stored = _stored(campaign_id)
    for item in sorted(set(expected) | set(stored)):
        want, have = expected.get(item, {}), stored.get(item, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name, 0) != have.get(name, 0):
                report.differences.append((item, name, want.get(name, 0), have.get(name, 0)))
    if fix and report.differences:
        corrections: dict[str, dict[str, int]] = defaultdict(dict)
        for item, name, wanted, stored_value in report.differences:
            corrections[item][name] = wanted - stored_value
        for item, counts in corrections.items():
            counters.add(campaign_id, f"{item}#0", counts)
    return report
