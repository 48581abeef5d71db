"""The integrity signals' store: what the stream saw per code, shopper window and network, the signals raised,
each brand's thresholds, and a code quarantined or released.

Signal state lives in the statistics table under a partition of its own per campaign
(`integrity:<campaign_id>`); its attributes are string sets and numbers named by what they hold,
which the model cannot declare, so these are low-level requests, as in adapters/counters.py. A
string set grows by ADD, which adds an element once however often the stream delivers a record.
"""

from __future__ import annotations

from collections.abc import Mapping

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.adapters import counters, dynamo
from chalicelib.adapters.models import CodeState, StatShard
from chalicelib.domain.lifecycle import CodeStatus

__all__ = [
    "partition",
    "observe",
    "raise_signal",
    "signals",
    "thresholds",
    "save_thresholds",
    "quarantine_code",
    "release_code",
]

_THRESHOLDS_KEY = "integrity-thresholds"
# A signal lists at most this many shoppers, codes or places: enough to act on, and the item stays small.
MOST_LISTED = 500


def partition(campaign_id: str) -> str:
    """The statistics-table partition of a campaign's integrity state and signals."""
    return f"integrity:{campaign_id}"


def _key(part: str, key: str) -> dict:
    return {"campaign_id": {"S": part}, "stat_key": {"S": key}}


def observe(campaign_id: str, key: str, sets: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Add elements to the string sets of one state item; every set of the item as it now stands.

    Each state item is a partition of its own (`integrity:<campaign>:<key>`): under a flood of
    guesses or copies no one partition key takes the campaign's writes; only raised signals share one."""
    names, values, parts = {}, {}, []
    for i, (name, elements) in enumerate(sorted(sets.items())):
        if elements:
            names[f"#s{i}"], values[f":s{i}"] = name, {"SS": sorted(elements)}
            parts.append(f"#s{i} :s{i}")
    if not parts:
        return {}
    found = dynamo.client().update_item(
        TableName=StatShard.Meta.table_name,
        Key=_key(f"{partition(campaign_id)}:{key}", "state"),
        UpdateExpression="ADD " + ", ".join(parts),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return {name: set(value["SS"]) for name, value in found.get("Attributes", {}).items() if "SS" in value}


def raise_signal(part: str, key: str, facts: Mapping[str, str | int], sets: Mapping[str, set[str]]) -> bool:
    """Write or add to one raised signal: its facts set (the latest win), its lists added to (bounded);
    True when this write raised it (the item was not there: the update's old item says so)."""
    names: dict[str, str] = {}
    values: dict[str, dict] = {}
    sets_part, facts_part = [], []
    for i, (name, value) in enumerate(sorted(facts.items())):
        names[f"#f{i}"] = name
        values[f":f{i}"] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        facts_part.append(f"#f{i} = :f{i}")
    for i, (name, elements) in enumerate(sorted(sets.items())):
        if elements:
            names[f"#s{i}"], values[f":s{i}"] = name, {"SS": sorted(elements)[:MOST_LISTED]}
            sets_part.append(f"#s{i} :s{i}")
    update = "SET " + ", ".join(facts_part) + (" ADD " + ", ".join(sets_part) if sets_part else "")
    answer = dynamo.client().update_item(
        TableName=StatShard.Meta.table_name,
        Key=_key(part, key),
        UpdateExpression=update,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_OLD",
    )
    return not answer.get("Attributes")


def signals(part: str) -> list[tuple[str, dict]]:
    """Every signal raised in a partition (`sig#...` keys, all pages), each its key and its attributes."""
    # "sig$" sorts after every "sig#..." key.
    return counters.items(part, "sig#", "sig$", read=_plain)


def _plain(item: Mapping[str, dict]) -> dict:
    values: dict = {}
    for name, value in item.items():
        if "SS" in value:
            values[name] = sorted(value["SS"])
        elif "N" in value:
            values[name] = int(value["N"])
        elif "S" in value:
            values[name] = value["S"]
    return values


def thresholds(brand_id: str) -> dict[str, int]:
    """The thresholds a brand stored (names -> numbers); {} when it never changed the defaults."""
    found = dynamo.client().get_item(
        TableName=StatShard.Meta.table_name, Key=_key(f"brand:{brand_id}", _THRESHOLDS_KEY)
    )
    item = found.get("Item") or {}
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


def save_thresholds(brand_id: str, values: Mapping[str, int]) -> None:
    """Store a brand's thresholds, all of them (the last save wins)."""
    item = _key(f"brand:{brand_id}", _THRESHOLDS_KEY)
    item.update({name: {"N": str(value)} for name, value in values.items()})
    dynamo.client().put_item(TableName=StatShard.Meta.table_name, Item=item)


def quarantine_code(state: CodeState) -> str:
    """Quarantine a code: a record of its own when nobody claimed it (refused like a void), or a mark on
    its claim. The code's state as it then stands: quarantined, claimed (now marked) or void."""
    try:
        state.save(condition=CodeState.code_key.does_not_exist())
        return CodeStatus.QUARANTINED
    except PutError as exc:
        if not dynamo.condition_failed(exc):
            raise
    try:
        CodeState(state.code_key).update(
            actions=[CodeState.quarantined.set(True)], condition=CodeState.state == CodeStatus.CLAIMED
        )
        return CodeStatus.CLAIMED
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise
    return CodeState.get(state.code_key, consistent_read=True).state


def release_code(code_key: str) -> bool:
    """Lift a code's quarantine (its own record deleted, or the mark on its claim removed); False if it had none."""
    try:
        CodeState(code_key).delete(condition=CodeState.state == CodeStatus.QUARANTINED)
        return True
    except DeleteError as exc:
        if not dynamo.condition_failed(exc):
            raise
    try:
        CodeState(code_key).update(
            actions=[CodeState.quarantined.remove()],
            condition=CodeState.quarantined == True,  # noqa: E712
        )
        return True
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise
    return False
