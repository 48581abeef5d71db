"""Members' points with a brand, low-level: the month lots and earnings the model does not declare.

A member item (models.Member) also holds `l#YYYY-MM`, the points still unspent from each
month they were earned in, and `e#YYYY-MM`, the points earned in each month. Claims add to
both (and to `balance`) inside their transaction; a redemption takes from the oldest lots
with a condition on each; the loyalty job removes expired lots and old earnings. Every
change is an ADD or a condition on the values read, so concurrent claims never undo it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from chalicelib.adapters import counters, dynamo
from chalicelib.adapters.models import Member

__all__ = [
    "LOT",
    "EARNED",
    "REVIEW_SHARDS",
    "MemberState",
    "read_member",
    "members_of",
    "review_shard",
    "claim_update",
    "spend_update",
    "refund_update",
    "review_update",
    "due_for_review",
    "save_review",
    "forfeit",
]

LOT, EARNED = "l#", "e#"
REVIEW_SHARDS = 8
_N, _S = "N", "S"


@dataclass
class MemberState:
    """A member as read: balances, tier, and the month attributes."""

    brand_id: str
    shopper_id: str
    balance: int = 0
    earned_total: int = 0
    spent: int = 0
    expired: int = 0
    tier: str | None = None
    review_at: str | None = None
    lots: dict[str, int] = field(default_factory=dict)
    earned: dict[str, int] = field(default_factory=dict)


def _int(item: Mapping[str, dict], name: str) -> int:
    value = item.get(name)
    return int(value[_N]) if value else 0


def from_item(item: Mapping[str, dict]) -> MemberState:
    state = MemberState(
        brand_id=item["brand_id"][_S],
        shopper_id=item["shopper_id"][_S],
        balance=_int(item, "balance"),
        earned_total=_int(item, "earned"),
        spent=_int(item, "spent"),
        expired=_int(item, "expired"),
        tier=item["tier"][_S] if "tier" in item else None,
        review_at=item["review_at"][_S] if "review_at" in item else None,
    )
    for name, value in item.items():
        if name.startswith(LOT):
            state.lots[name[len(LOT) :]] = int(value[_N])
        elif name.startswith(EARNED):
            state.earned[name[len(EARNED) :]] = int(value[_N])
    return state


def _key(brand_id: str, shopper_id: str) -> dict:
    return {"brand_id": {_S: brand_id}, "shopper_id": {_S: shopper_id}}


def read_member(brand_id: str, shopper_id: str) -> MemberState | None:
    """The member's current record (a consistent read), or None before their first points."""
    found = dynamo.client().get_item(
        TableName=Member.Meta.table_name, Key=_key(brand_id, shopper_id), ConsistentRead=True
    )
    return from_item(found["Item"]) if "Item" in found else None


def members_of(shopper_id: str) -> list[MemberState]:
    """Every brand the shopper has points with (the wallet): a query of the by_shopper index."""
    items: list[dict] = []
    kwargs: dict = {
        "TableName": Member.Meta.table_name,
        "IndexName": "by_shopper",
        "KeyConditionExpression": "shopper_id = :s",
        "ExpressionAttributeValues": {":s": {_S: shopper_id}},
    }
    while True:
        page = dynamo.client().query(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return [from_item(item) for item in items]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def review_shard(shopper_id: str) -> str:
    """The loyalty job's index partition a member is filed under (one of a few)."""
    return f"rev#{zlib.crc32(shopper_id.encode()) % REVIEW_SHARDS}"


def claim_update(
    brand_id: str,
    shopper_id: str,
    *,
    points: int,
    month: str,
    review_at: str,
    tier_change: tuple[str | None, str] | None,
) -> dict:
    """The claim transaction's member item: add the scan's points to the balance, this month's lot
    and earnings; set the tier when the scan moves it, on condition it is still the tier read."""
    names = {
        "#b": "balance",
        "#t": "earned",
        "#l": LOT + month,
        "#e": EARNED + month,
        "#r": "review_at",
        "#h": "review_shard",
    }
    values = {
        ":p": {_N: str(points)},
        ":r": {_S: review_at},
        ":h": {_S: review_shard(shopper_id)},
    }
    update = "ADD #b :p, #t :p, #l :p, #e :p SET #r = if_not_exists(#r, :r), #h = if_not_exists(#h, :h)"
    request: dict = {"TableName": Member.Meta.table_name, "Key": _key(brand_id, shopper_id)}
    if tier_change is not None:
        before, after = tier_change
        names["#tier"] = "tier"
        values[":tier"] = {_S: after}
        update += ", #tier = :tier"
        if before is None:
            request["ConditionExpression"] = "attribute_not_exists(#tier)"
        else:
            values[":was"] = {_S: before}
            request["ConditionExpression"] = "#tier = :was"
    request.update(UpdateExpression=update, ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    return {"Update": request}


def spend_update(brand_id: str, shopper_id: str, taken: Mapping[str, int], cost: int) -> dict:
    """A redemption's member item: take `cost` from the balance and `taken` from each lot, on
    condition the balance and every lot still hold at least that."""
    names: dict[str, str] = {"#b": "balance", "#s": "spent"}
    values: dict[str, dict] = {":cost": {_N: str(cost)}, ":less": {_N: str(-cost)}}
    adds, conditions = ["#b :less", "#s :cost"], ["#b >= :cost"]
    for i, (month, points) in enumerate(sorted(taken.items())):
        names[f"#l{i}"] = LOT + month
        values[f":t{i}"], values[f":m{i}"] = {_N: str(points)}, {_N: str(-points)}
        adds.append(f"#l{i} :m{i}")
        conditions.append(f"#l{i} >= :t{i}")
    return _adding(brand_id, shopper_id, adds, " AND ".join(conditions), names, values)


def refund_update(brand_id: str, shopper_id: str, lots: Mapping[str, int], cost: int) -> dict:
    """A cancelled redemption's member item: its points back, into the lots they came from."""
    names: dict[str, str] = {"#b": "balance", "#s": "spent"}
    values: dict[str, dict] = {":cost": {_N: str(cost)}, ":less": {_N: str(-cost)}}
    adds = ["#b :cost", "#s :less"]
    for i, (month, points) in enumerate(sorted(lots.items())):
        names[f"#l{i}"] = LOT + month
        values[f":t{i}"] = {_N: str(points)}
        adds.append(f"#l{i} :t{i}")
    return _adding(brand_id, shopper_id, adds, "attribute_exists(#b)", names, values)


def _adding(brand_id: str, shopper_id: str, adds: list[str], condition: str, names: dict, values: dict) -> dict:
    """A transaction item that ADDs to a member's counters under a condition."""
    return {
        "Update": {
            "TableName": Member.Meta.table_name,
            "Key": _key(brand_id, shopper_id),
            "UpdateExpression": "ADD " + ", ".join(adds),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


@dataclass
class _Update:
    """An UpdateItem request's parts, as its clauses are added."""

    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict] = field(default_factory=dict)
    sets: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    def member_item(self, key: dict) -> dict:
        """The member's Update, as an item of a transaction."""
        clauses = (("SET", self.sets), ("ADD", self.adds), ("REMOVE", self.removes))
        values = {"ExpressionAttributeValues": self.values} if self.values else {}
        return {
            "Update": {
                "TableName": Member.Meta.table_name,
                "Key": key,
                "UpdateExpression": " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses if parts),
                "ConditionExpression": " AND ".join(self.conditions),
                "ExpressionAttributeNames": self.names,
                **values,
            }
        }


def _expire(update: _Update, expired_lots: Mapping[str, int], old_months: list[str]) -> None:
    # Expired lots leave the balance, each on condition it still holds what was read.
    total = sum(expired_lots.values())
    if total:
        update.names["#x"] = "expired"
        update.values[":gone"], update.values[":less"] = {_N: str(total)}, {_N: str(-total)}
        update.adds += ["#b :less", "#x :gone"]
    for i, (month, points) in enumerate(sorted(expired_lots.items())):
        update.names[f"#l{i}"] = LOT + month
        update.values[f":l{i}"] = {_N: str(points)}
        update.conditions.append(f"#l{i} = :l{i}")
        update.removes.append(f"#l{i}")
    for i, month in enumerate(old_months):
        update.names[f"#e{i}"] = EARNED + month
        update.removes.append(f"#e{i}")


def _set_tier(update: _Update, was: str | None, tier: str | None) -> None:
    # The tier moves only from the one read.
    update.names["#tier"] = "tier"
    if was is None:
        update.conditions.append("attribute_not_exists(#tier)")
    else:
        update.values[":was"] = {_S: was}
        update.conditions.append("#tier = :was")
    if tier is not None:
        update.values[":tier"] = {_S: tier}
        update.sets.append("#tier = :tier")
    elif was is not None:
        update.removes.append("#tier")


def review_update(
    state: MemberState,
    *,
    expired_lots: Mapping[str, int],
    old_months: list[str],
    tier: str | None,
    next_review: str | None,
) -> dict:
    """The loyalty job's member item: expired lots out of the balance, earnings older than the
    tier window dropped, the tier set, the next review month; on condition that every lot it
    expires and the tier are still what was read (a concurrent change makes it read again)."""
    update = _Update(names={"#b": "balance", "#r": "review_at"}, conditions=["attribute_exists(#b)"])
    _expire(update, expired_lots, old_months)
    _set_tier(update, state.tier, tier)
    if next_review is not None:
        update.values[":r"] = {_S: next_review}
        update.sets.append("#r = :r")
    else:
        update.names["#h"] = "review_shard"
        update.removes += ["#r", "#h"]
    return update.member_item(_key(state.brand_id, state.shopper_id))


def due_for_review(month: str) -> Iterator[tuple[str, str, str]]:
    """Members whose review month is `month` or before, shard by shard: (brand, shopper, review month)."""
    for shard in range(REVIEW_SHARDS):
        kwargs: dict = {
            "TableName": Member.Meta.table_name,
            "IndexName": "by_review",
            "KeyConditionExpression": "review_shard = :s AND review_at <= :m",
            "ExpressionAttributeValues": {":s": {_S: f"rev#{shard}"}, ":m": {_S: month}},
        }
        while True:
            page = dynamo.client().query(**kwargs)
            for item in page.get("Items", []):
                yield item["brand_id"][_S], item["shopper_id"][_S], item["review_at"][_S]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _write(items: list[dict]) -> bool:
    """One transaction of member items (and the brand's figures); False when a condition refused it."""
    try:
        # Raw, as the member's month attributes are not the model's (see above).
        dynamo.client().transact_write_items(TransactItems=items, ClientRequestToken=dynamo.request_token())
    except ClientError as error:
        if dynamo.cancellation_codes(error) is None:
            raise
        return False
    return True


def save_review(
    state: MemberState,
    *,
    expired_lots: Mapping[str, int],
    old_months: list[str],
    tier: str | None,
    next_review: str | None,
    brand_counts: Mapping[str, int],
) -> bool:
    """Write a member's review (`review_update`) with what it adds to the brand's figures, in one
    transaction; False when the member changed since `state` was read (nothing was written)."""
    items = [review_update(state, expired_lots=expired_lots, old_months=old_months, tier=tier, next_review=next_review)]
    if brand_counts:
        items.append(counters.brand_item(state.brand_id, brand_counts))
    return _write(items)


def forfeit(state: MemberState) -> bool:
    """Forfeit every unspent point of a member as read (a deleted account): each lot leaves the balance
    on condition it still holds what was read, the total kept as the member's and the brand's
    `forfeited` (not `expired`: the brand's expiry figures stay what expiry did), in one transaction;
    False when the member changed since (nothing was written; read again)."""
    update = _Update(names={"#b": "balance"}, conditions=["attribute_exists(#b)"])
    _expire(update, state.lots, [])
    total = sum(state.lots.values())
    if not update.removes:
        return True
    if total:
        update.names["#x"] = "forfeited"
    items = [update.member_item(_key(state.brand_id, state.shopper_id))]
    if total:
        items.append(counters.brand_item(state.brand_id, {"forfeited": total}))
    return _write(items)
