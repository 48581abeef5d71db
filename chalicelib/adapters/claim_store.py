"""The scan's DynamoDB requests, low-level: the participant read and the claim's one transaction.

The one place that knows each item the claim touches, its key and its condition. Names,
types and value formats come from the models (chalicelib/adapters/models.py); the
requests are plain dicts for the shared client, because building them through PynamoDB's
expression objects cost more CPU than the whole rest of a warm scan.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import CodeState, Counter, Participant, RateCounter

__all__ = ["Standing", "ClaimTransaction", "Cancelled", "read_participant", "serialize", "deserialize"]

_N = "N"
_S = "S"


def serialize(model: type[Model], values: Mapping[str, Any]) -> dict[str, dict]:
    """`values` (attribute name -> Python value, None left out) as a DynamoDB item of `model`."""
    attributes = model.get_attributes()
    item = {}
    for name, value in values.items():
        if value is not None:
            attribute = attributes[name]
            if isinstance(attribute, UTCDateTimeAttribute):
                item[attribute.attr_name] = _instant(value)
            else:
                item[attribute.attr_name] = {attribute.attr_type: attribute.serialize(value)}
    return item


def deserialize(model: type[Model], item: Mapping[str, dict]) -> dict[str, Any]:
    """A DynamoDB item of `model` as attribute name -> Python value (attributes it lacks left out)."""
    values = {}
    for name, attribute in model.get_attributes().items():
        found = item.get(attribute.attr_name)
        if found is not None:
            values[name] = attribute.deserialize(found[attribute.attr_type])
    return values


@dataclass(frozen=True)
class Standing:
    """A participant as read before a claim: balances and what the claim's history needs."""

    points: int
    entries: int
    claims: int
    active_days: int | None
    first_claim_at: datetime | None
    last_claim_at: datetime | None


_STANDING = ("points", "entries", "claims", "active_days", "first_claim_at", "last_claim_at")


def read_participant(campaign_id: str, shopper_id: str) -> Standing | None:
    """The participant's current record (a consistent read), or None before their first claim."""
    found = dynamo.client().get_item(
        TableName=Participant.Meta.table_name,
        Key={Participant.campaign_id.attr_name: {_S: campaign_id}, Participant.shopper_id.attr_name: {_S: shopper_id}},
        ConsistentRead=True,
    )
    item = found.get("Item")
    if not item:
        return None
    values = deserialize(Participant, item)
    return Standing(
        points=values.get("points", 0),
        entries=values.get("entries", 0),
        claims=values.get("claims", 0),
        active_days=values.get("active_days"),
        first_claim_at=values.get("first_claim_at"),
        last_claim_at=values.get("last_claim_at"),
    )


class Cancelled(Exception):
    """DynamoDB did not apply the claim: its per-item reasons in request order ("None" for items that
    passed, [] when it gave none)."""

    def __init__(self, codes: list[str], items: list[dict | None]) -> None:
        super().__init__(codes)
        self.codes = codes
        self._items = items

    def item(self, index: int) -> dict | None:
        """The record DynamoDB returned for item `index` when its condition failed (ALL_OLD), if any."""
        return self._items[index] if index < len(self._items) else None


def _n(value: int) -> dict[str, str]:
    return {_N: str(value)}


def _epoch(instant: datetime) -> dict[str, str]:
    # TTLAttribute's form: whole seconds since the epoch.
    return {_N: str(int(instant.timestamp()))}


def _instant(value: datetime) -> dict[str, str]:
    return {_S: _instant_text(value)}


@functools.lru_cache(maxsize=16)
def _instant_text(value: datetime) -> str:
    # UTCDateTimeAttribute's form; one claim writes the same instant three or four times.
    return _WHEN.serialize(value)


_TTL = RateCounter.expires_at
_WHEN = Participant.last_claim_at


class ClaimTransaction:
    """The items of one claim's TransactWriteItems, in request order, each named for reading reasons back."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.names: list[str] = []

    def _add(self, name: str, kind: str, request: dict) -> None:
        self.items.append({kind: request})
        self.names.append(name)

    def unlocked(self, key: str, now: datetime) -> None:
        """Check that the shopper is not locked out: their lock item is absent or has run out."""
        self._add(
            "lock",
            "ConditionCheck",
            {
                "TableName": RateCounter.Meta.table_name,
                "Key": {RateCounter.counter_key.attr_name: {_S: key}},
                "ConditionExpression": "attribute_not_exists(#x) OR #x < :now",
                "ExpressionAttributeNames": {"#x": _TTL.attr_name},
                "ExpressionAttributeValues": {":now": _epoch(now)},
            },
        )

    def claim(self, values: Mapping[str, Any]) -> None:
        """Write the code's claim record, only if the code has none (claimed or voided): the old one comes back."""
        self._add(
            "claim",
            "Put",
            {
                "TableName": CodeState.Meta.table_name,
                "Item": serialize(CodeState, values),
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": CodeState.code_key.attr_name},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )

    def participant(
        self,
        campaign_id: str,
        shopper_id: str,
        *,
        seen: int,
        points: int,
        entries: int,
        first_claim_at: datetime,
        now: datetime,
        active_days: int,
        rank_shard: str,
    ) -> None:
        """Add the claim to the participant, only if their claim count is still `seen` (0: no record yet)."""
        p = Participant
        self._add(
            "participant",
            "Update",
            {
                "TableName": p.Meta.table_name,
                "Key": {p.campaign_id.attr_name: {_S: campaign_id}, p.shopper_id.attr_name: {_S: shopper_id}},
                "UpdateExpression": "ADD #p :p, #e :e, #c :one SET #f = :f, #l = :l, #d = :d, #r = :r",
                "ConditionExpression": "attribute_not_exists(#c)" if seen == 0 else "#c = :seen",
                "ExpressionAttributeNames": {
                    "#p": p.points.attr_name,
                    "#e": p.entries.attr_name,
                    "#c": p.claims.attr_name,
                    "#f": p.first_claim_at.attr_name,
                    "#l": p.last_claim_at.attr_name,
                    "#d": p.active_days.attr_name,
                    "#r": p.rank_shard.attr_name,
                },
                "ExpressionAttributeValues": {
                    ":p": _n(points),
                    ":e": _n(entries),
                    ":one": _n(1),
                    ":f": _instant(first_claim_at),
                    ":l": _instant(now),
                    ":d": _n(active_days),
                    ":r": {_S: rank_shard},
                    **({":seen": _n(seen)} if seen else {}),
                },
            },
        )

    def window(self, name: str, key: str, limit: int, expires_at: datetime) -> None:
        """Count one more in a rate or cap window, only while it holds fewer than `limit`."""
        c = RateCounter
        self._capped(
            name, c.Meta.table_name, {c.counter_key.attr_name: {_S: key}}, c.count.attr_name, 1, limit, expires_at
        )

    def spend(self, name: str, key: str, amount: int, most: int) -> None:
        """Add `amount` to a pool's counter (budget, prize), only if it then holds at most `most`."""
        c = Counter
        self._capped(
            name, c.Meta.table_name, {c.name.attr_name: {_S: key}}, c.value.attr_name, amount, most - amount + 1
        )

    def _capped(
        self,
        name: str,
        table: str,
        key: dict,
        counter: str,
        amount: int,
        below: int,
        expires_at: datetime | None = None,
    ) -> None:
        # One shape for every capped counter: add `amount` only while the count is below `below`.
        names = {"#n": counter}
        values = {":amount": _n(amount), ":below": _n(below)}
        update = "ADD #n :amount"
        if expires_at is not None:
            names["#x"], values[":x"] = _TTL.attr_name, _epoch(expires_at)
            update += " SET #x = :x"
        self._add(
            name,
            "Update",
            {
                "TableName": table,
                "Key": key,
                "UpdateExpression": update,
                "ConditionExpression": "attribute_not_exists(#n) OR #n < :below",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            },
        )

    def send(self, token: str) -> None:
        """Write every item or none; raises Cancelled with DynamoDB's reasons when it wrote none.

        `token` makes botocore's own resend of a timed-out request apply once. Any other
        failure (throttled or timed out after the client's retries) is a Cancelled with no
        reasons: the caller cannot know what DynamoDB did, and a retry finds the claim.
        """
        try:
            dynamo.client().transact_write_items(
                TransactItems=self.items, ClientRequestToken=token, ReturnConsumedCapacity="TOTAL"
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            raise Cancelled(dynamo.cancellation_codes(exc) or [], [r.get("Item") for r in reasons]) from exc
        except BotoCoreError as exc:
            raise Cancelled([], []) from exc
