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
    to string sets, so a batch delivered again changes nothing."""
    limits: dict[str, rules.Thresholds] = {}
    seen: dict[str, _Seen] = {}
    for item in items:
        brand = item.brand_id
        if brand not in limits:
            limits[brand] = brand_thresholds(brand)
        _note(item, limits[brand], seen)
    raised = 0
    for key, found in seen.items():
        part = integrity_store.partition(found.campaign_id)
        state = integrity_store.observe(part, key, found.sets)
        raised += _raise(part, key, state, limits[found.brand_id])
    return raised


def _note(item: CodeState, limits: rules.Thresholds, seen: dict[str, _Seen]) -> None:
    """Where one claim or refusal adds to the integrity state, keyed by state item."""
    place = item.place or UNKNOWN
    shopper = item.shopper_id or item.changed_by
    if item.state == CodeStatus.CLAIMED:
        window = rules.window_of(item.changed_at.timestamp(), limits.farm_minutes)
        key = f"shop#{shopper}#{limits.farm_minutes}#{window}"
        values = {"codes": {item.code_key}, "places": {place}, "batches": {item.batch_id}}
    elif item.kind == "duplicate" and item.code:
        # Another shopper's scan of a claimed code (a shopper's own second scan records no code).
        key = f"code#{item.code}"
        values = {"shoppers": {shopper}, "places": {place}, "batches": {item.batch_id}}
    elif item.kind == "invalid" and item.network:
        key = f"net#{item.network}#{item.changed_at.date().isoformat()}"
        values = {"tries": {item.code_key}, "shoppers": {shopper}, "places": {place}, "batches": {item.batch_id}}
    else:
        return
    found = seen.setdefault(key, _Seen(str(item.campaign_id), item.brand_id))
    for name, elements in values.items():
        found.sets[name] |= elements


def _raise(part: str, key: str, state: dict[str, set[str]], limits: rules.Thresholds) -> int:
    """Raise (or add to) the signal one state item now crosses, if any."""
    kind, subject = key.split("#")[0], key.split("#")[1]
    now = clock.now().isoformat(timespec="seconds")
    if kind == "code" and rules.copied(len(state.get("shoppers", ())), limits):
        facts: dict[str, str | int] = {"tries": len(state["shoppers"]), "updated_at": now}
        sets = {"shoppers": state["shoppers"], "places": state.get("places", set()), "codes": {subject}}
        integrity_store.raise_signal(
            part, f"sig#copied_code#{subject}", facts, {**sets, "batches": state.get("batches", set())}
        )
        return 1
    if kind == "shop":
        reason = rules.farm_reason(len(state.get("codes", ())), state.get("places", ()), limits)
        if reason is None:
            return 0
        facts = {"reason": reason, "claims": len(state["codes"]), "updated_at": now}
        sets = {"shoppers": {subject}, "codes": state["codes"], "places": state["places"], "batches": state["batches"]}
        integrity_store.raise_signal(part, f"sig#farm#{subject}", facts, sets)
        return 1
    if kind == "net" and rules.guessing(len(state.get("tries", ())), limits):
        facts = {"invalid": len(state["tries"]), "updated_at": now}
        sets = {"shoppers": state["shoppers"], "places": state["places"], "batches": state["batches"]}
        integrity_store.raise_signal(part, f"sig#guessing_network#{subject}", facts, sets)
        return 1
    return 0
