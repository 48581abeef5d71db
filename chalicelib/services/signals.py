"""Pack integrity signals raised off the scan's path, from the code_states stream (claims and refusals)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.adapters import integrity_store
from chalicelib.adapters.models import CodeState
from chalicelib.domain import clock
from chalicelib.domain import integrity as rules
from chalicelib.domain.lifecycle import CodeStatus
from chalicelib.domain.places import UNKNOWN
from chalicelib.services import webhook_events
from chalicelib.services.webhook_events import publish as publish_events

__all__ = ["observe", "brand_thresholds"]


@dataclass
class _Seen:
    """What one stream batch saw of one state item: the string sets to add, and where it belongs."""

    campaign_id: str
    brand_id: str
    sets: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def brand_thresholds(brand_id: str) -> rules.Thresholds:
    return rules.thresholds_from(integrity_store.thresholds(brand_id))


def observe(items: list[CodeState]) -> int:
    """Fold new claims and refusals into the integrity state and raise the signals they cross; returns
    how many signals were raised or added to. Off the scan's path (the stream handler); every write adds
    to string sets, so a batch delivered again changes nothing.

    A shopper's first claim writes nothing here: two claims far apart, and a new account's burst, are
    seen from the claim record alone (its previous claim's place and time, its claim number and first
    claim); only later claims are gathered by window."""
    limits: dict[str, rules.Thresholds] = {}
    seen: dict[str, _Seen] = {}
    fresh: list[webhook_events.Change] = []
    raised = 0
    for item in items:
        brand = item.brand_id
        if brand not in limits:
            limits[brand] = brand_thresholds(brand)
        raised += _far_apart(item, limits[brand], fresh)
        _note(item, limits[brand], seen)
    for key, found in seen.items():
        state = integrity_store.observe(found.campaign_id, key, found.sets)
        part = integrity_store.partition(found.campaign_id)
        raised += _raise(_Target(found.brand_id, found.campaign_id, part, fresh), key, state, limits[found.brand_id])
    # Each signal goes to the brand's feed once, when first raised; a batch delivered again raises nothing
    # new, and a publish that failed fails the batch, which is delivered again with the same event ids.
    publish_events(fresh)  # imported by name: the static IAM reader takes `x.publish()` for SNS's
    return raised


@dataclass(frozen=True)
class _Target:
    """Where a signal is raised: its brand and campaign, their partition, and the new signals' events."""

    brand_id: str
    campaign_id: str
    part: str
    fresh: list[webhook_events.Change]

    def signal(self, key: str, facts: dict[str, str | int], sets: dict[str, set[str]]) -> None:
        if integrity_store.raise_signal(self.part, key, facts, sets):
            self.fresh.append(webhook_events.signal_event(self.brand_id, self.campaign_id, key, facts, sets))


def _far_apart(item: CodeState, limits: rules.Thresholds, fresh: list[webhook_events.Change]) -> int:
    """A farm signal from the claim record alone: the shopper's previous claim placed too far away too
    soon, or a new account past a farm's limit within one window of its first claim."""
    if item.state != CodeStatus.CLAIMED:
        return 0
    place, previous, since = item.place or UNKNOWN, item.prev_place, item.prev_claim_at
    if (
        previous
        and since is not None
        and rules.too_far(previous, place, (item.changed_at - since).total_seconds(), limits)
    ):
        reason, claims, places = "distance", 2, {previous, place}
    elif rules.too_many(int(item.nth or 1), limits) and rules.within_window(
        item.first_claim_at or item.changed_at, item.changed_at, limits
    ):
        reason, claims, places = "claims", int(item.nth), {place}
    else:
        return 0
    shopper = str(item.shopper_id)
    facts: dict[str, str | int] = {"reason": reason, "claims": claims, "updated_at": _now()}
    sets = {"shoppers": {shopper}, "codes": {item.code_key}, "places": places, "batches": {item.batch_id}}
    campaign_id = str(item.campaign_id)
    target = _Target(item.brand_id, campaign_id, integrity_store.partition(campaign_id), fresh)
    target.signal(f"sig#farm#{shopper}", facts, sets)
    return 1


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


def _note(item: CodeState, limits: rules.Thresholds, seen: dict[str, _Seen]) -> None:
    """Where one claim or refusal adds to the integrity state, keyed by state item."""
    place = item.place or UNKNOWN
    shopper = item.shopper_id or item.changed_by
    if item.state == CodeStatus.CLAIMED:
        if int(item.nth or 1) < 2:
            return  # a first claim: _far_apart's new-account rule counts it (claims since the first)
        window = rules.window_of(item.changed_at.timestamp(), limits.farm_minutes)
        key = f"shop#{shopper}#{limits.farm_minutes}#{window}"
        values = {"codes": {item.code_key}, "places": {place}, "batches": {item.batch_id}}
    elif item.kind == "duplicate" and item.code:
        # Another shopper's scan of a claimed code (a shopper's own second scan records no code).
        key = f"code#{item.code}"
        values = {"shoppers": {shopper}, "places": {place}, "batches": {item.batch_id}}
    elif item.kind == "invalid" and item.network:
        # Two 24-hour windows half a day apart: a night's guessing across midnight falls whole in one.
        values = {"tries": {item.code_key}, "shoppers": {shopper}, "places": {place}, "batches": {item.batch_id}}
        for key in rules.day_windows(item.changed_at):
            _add(seen, f"net#{item.network}#{key}", item, values)
        return
    else:
        return
    _add(seen, key, item, values)


def _add(seen: dict[str, _Seen], key: str, item: CodeState, values: dict[str, set[str]]) -> None:
    found = seen.setdefault(key, _Seen(str(item.campaign_id), item.brand_id))
    for name, elements in values.items():
        found.sets[name] |= elements


def _raise(target: _Target, key: str, state: dict[str, set[str]], limits: rules.Thresholds) -> int:
    """Raise (or add to) the signal one state item now crosses, if any."""
    kind, subject = key.split("#")[0], key.split("#")[1]
    if kind == "code" and rules.copied(len(state.get("shoppers", ())), limits):
        facts: dict[str, str | int] = {"tries": len(state["shoppers"]), "updated_at": _now()}
        sets = {"shoppers": state["shoppers"], "places": state.get("places", set()), "codes": {subject}}
        target.signal(f"sig#copied_code#{subject}", facts, {**sets, "batches": state.get("batches", set())})
        return 1
    if kind == "shop" and rules.too_many(len(state.get("codes", ())), limits):
        facts = {"reason": "claims", "claims": len(state["codes"]), "updated_at": _now()}
        sets = {"shoppers": {subject}, "codes": state["codes"], "places": state["places"], "batches": state["batches"]}
        target.signal(f"sig#farm#{subject}", facts, sets)
        return 1
    if kind == "net" and rules.guessing(len(state.get("tries", ())), limits):
        facts = {"invalid": len(state["tries"]), "updated_at": _now()}
        sets = {"shoppers": state["shoppers"], "places": state["places"], "batches": state["batches"]}
        target.signal(f"sig#guessing_network#{subject}", facts, sets)
        return 1
    return 0
