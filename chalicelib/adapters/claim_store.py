"""The scan's DynamoDB requests, low-level: the participant read and the claim's one transaction.

The one place that knows each item the claim touches, its key and its condition. Names
come from the models (chalicelib/adapters/models.py), looked up once, and every value is
in the form its attribute stores (tests/unit/test_claim_store.py compares the claim record
with PynamoDB's own). The requests are plain dicts for the shared client, because building
them through PynamoDB's expression objects cost more CPU than the whole rest of a warm scan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import CodeState, Counter, Participant, RateCounter
from chalicelib.domain.lifecycle import CodeStatus

_CLAIMED = CodeStatus.CLAIMED.value  # a global: an enum lookup on every scan costs more

__all__ = [
    "Standing",
    "ClaimTransaction",
    "Cancelled",
    "read_participant",
    "deserialize",
    "code_record",
    "record_refusal",
    "campaign_claims",
]

_N = "N"
_S = "S"


@dataclass(frozen=True)
class _Field:
    """How one model attribute is stored: its name in the item, its type, how its value is read back."""

    name: str
    type: str
    deserialize: Callable[[Any], Any]


@functools.cache
def _fields(model: type[Model]) -> dict[str, _Field]:
    return {name: _Field(a.attr_name, a.attr_type, a.deserialize) for name, a in model.get_attributes().items()}


def deserialize(model: type[Model], item: Mapping[str, dict], names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A DynamoDB item of `model` as attribute name -> Python value (attributes it lacks left out).

    `names` limits it to those attributes.
    """
    fields = _fields(model)
    values = {}
    for name in fields if names is None else names:
        field = fields[name]
        found = item.get(field.name)
        if found is not None:
            values[name] = field.deserialize(found[field.type])
    return values


def _instant(value: datetime) -> dict[str, str]:
    return {_S: _instant_text(value)}


@functools.lru_cache(maxsize=16)
def _instant_text(value: datetime) -> str:
    # UTCDateTimeAttribute's form; one claim writes the same instant three or four times.
    return Participant.last_claim_at.serialize(value)


# Attribute names, looked up once (each lookup through a model class is a descriptor call).
_PARTICIPANT_KEY = (Participant.campaign_id.attr_name, Participant.shopper_id.attr_name)
_PARTICIPANT_NAMES = {
    "#p": Participant.points.attr_name,
    "#e": Participant.entries.attr_name,
    "#c": Participant.claims.attr_name,
    "#f": Participant.first_claim_at.attr_name,
    "#l": Participant.last_claim_at.attr_name,
    "#d": Participant.active_days.attr_name,
    "#r": Participant.rank_shard.attr_name,
}
_LAST_PLACE = Participant.last_place.attr_name
_CLAIM_NAMES = {name: attribute.attr_name for name, attribute in CodeState.get_attributes().items()}
_RATE_KEY, _RATE_COUNT, _RATE_EXPIRES = (
    RateCounter.counter_key.attr_name,
    RateCounter.count.attr_name,
    RateCounter.expires_at.attr_name,
)
_COUNTER_KEY, _COUNTER_VALUE = Counter.name.attr_name, Counter.value.attr_name
_PARTICIPANT_UPDATE = "ADD #p :p, #e :e, #c :one SET #f = :f, #l = :l, #d = :d, #r = :r"
_PARTICIPANT_UPDATE_PLACED = _PARTICIPANT_UPDATE + ", #pl = :pl"


@dataclass(slots=True)
class Standing:
    """A participant as read before a claim: balances and what the claim's history needs."""

    points: int
    entries: int
    claims: int
    active_days: int | None
    first_claim_at: datetime | None
    last_claim_at: datetime | None
    last_place: str | None = None


_POINTS, _ENTRIES, _CLAIMS, _DAYS, _FIRST, _LAST = (
    getattr(Participant, name).attr_name
    for name in ("points", "entries", "claims", "active_days", "first_claim_at", "last_claim_at")
)
_NUMBER, _INSTANT = Participant.points.deserialize, Participant.last_claim_at.deserialize


def read_participant(campaign_id: str, shopper_id: str) -> Standing | None:
    """The participant's current record (a consistent read), or None before their first claim.

    Read as PynamoDB's model reads it (tests/unit/test_claim_store.py holds the two equal).
    """
    found = dynamo.client().get_item(
        TableName=Participant.Meta.table_name,
        Key={_PARTICIPANT_KEY[0]: {_S: campaign_id}, _PARTICIPANT_KEY[1]: {_S: shopper_id}},
        ConsistentRead=True,
    )
    item = found.get("Item")
    if not item:
        return None
    days, first, last = item.get(_DAYS), item.get(_FIRST), item.get(_LAST)
    return Standing(
        points=_NUMBER(item[_POINTS][_N]) if _POINTS in item else 0,
        entries=_NUMBER(item[_ENTRIES][_N]) if _ENTRIES in item else 0,
        claims=_NUMBER(item[_CLAIMS][_N]) if _CLAIMS in item else 0,
        active_days=_NUMBER(days[_N]) if days else None,
        first_claim_at=_INSTANT(first[_S]) if first else None,
        last_claim_at=_INSTANT(last[_S]) if last else None,
        last_place=item[_LAST_PLACE][_S] if _LAST_PLACE in item else None,
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


class ClaimTransaction:
    """The items of one claim's TransactWriteItems at `now`, in request order, each named for reading
    reasons back."""

    def __init__(self, now: datetime) -> None:
        self.items: list[dict] = []
        self.names: list[str] = []
        self._now_text = _instant_text(now)
        self.now_epoch = int(now.timestamp())
        """`now` in whole seconds since the epoch (TTLAttribute's form)."""

    def unlocked(self, key: str) -> None:
        """Check that the shopper is not locked out: their lock item is absent or has run out."""
        self.names.append("lock")
        self.items.append(
            {
                "ConditionCheck": {
                    "TableName": RateCounter.Meta.table_name,
                    "Key": {_RATE_KEY: {_S: key}},
                    "ConditionExpression": "attribute_not_exists(#x) OR #x < :now",
                    "ExpressionAttributeNames": {"#x": _RATE_EXPIRES},
                    "ExpressionAttributeValues": {":now": {_N: str(self.now_epoch)}},
                    # A lock in force comes back with the refusal: its end is known without a read.
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )

    def claim(
        self,
        code_key: str,
        *,
        batch_id: str,
        brand_id: str,
        shopper_id: str,
        campaign_id: str,
        sku: str,
        points: int,
        entries: int,
        request_id: str,
        request_key: str | None,
        prize_id: str | None,
        prize_name: str | None,
        timezone: str,
        nth: int,
        active_days: int,
        first_claim_at: datetime,
        prev_claim_at: datetime | None,
        tier: str | None = None,
        tier_change: tuple[str | None, str] | None = None,
        place: str | None = None,
        prev_place: str | None = None,
    ) -> None:
        """Write the code's claim record, only if the code has none (claimed or voided): the old one comes back.

        The record is the CodeState item PynamoDB would write for these values, built here
        directly (tests/unit/test_claim_store.py holds the two equal).
        """
        n = _CLAIM_NAMES
        item = {
            n["code_key"]: {_S: code_key},
            n["state"]: {_S: _CLAIMED},
            n["batch_id"]: {_S: batch_id},
            n["brand_id"]: {_S: brand_id},
            n["changed_at"]: {_S: self._now_text},
            n["changed_by"]: {_S: shopper_id},
            n["shopper_id"]: {_S: shopper_id},
            n["campaign_id"]: {_S: campaign_id},
            n["sku"]: {_S: sku},
            n["points"]: {_N: str(points)},
            n["entries"]: {_N: str(entries)},
            n["request_id"]: {_S: request_id},
            n["timezone"]: {_S: timezone},
            n["nth"]: {_N: str(nth)},
            n["active_days"]: {_N: str(active_days)},
            n["first_claim_at"]: _instant(first_claim_at),
        }
        if request_key is not None:
            item[n["request_key"]] = {_S: request_key}
        if place is not None:
            item[n["place"]] = {_S: place}
        if prev_place is not None:
            item[n["prev_place"]] = {_S: prev_place}
        if tier is not None:
            item[n["tier"]] = {_S: tier}
        if tier_change is not None:
            if tier_change[0] is not None:
                item[n["tier_from"]] = {_S: tier_change[0]}
            item[n["tier_to"]] = {_S: tier_change[1]}
        if prize_id is not None:
            item[n["prize_id"]] = {_S: prize_id}
        if prize_name is not None:
            item[n["prize_name"]] = {_S: prize_name}
        if prev_claim_at is not None:
            item[n["prev_claim_at"]] = _instant(prev_claim_at)
        self.names.append("claim")
        self.items.append(
            {
                "Put": {
                    "TableName": CodeState.Meta.table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#k)",
                    "ExpressionAttributeNames": {"#k": n["code_key"]},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
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
        active_days: int,
        rank_shard: str,
        place: str | None = None,
    ) -> None:
        """Add the claim to the participant, only if their claim count is still `seen` (0: no record yet);
        `place` becomes their last claim's place."""
        values = {
            ":p": {_N: str(points)},
            ":e": {_N: str(entries)},
            ":one": {_N: "1"},
            ":f": _instant(first_claim_at),
            ":l": {_S: self._now_text},
            ":d": {_N: str(active_days)},
            ":r": {_S: rank_shard},
        }
        if seen:
            values[":seen"] = {_N: str(seen)}
        names, update = dict(_PARTICIPANT_NAMES), _PARTICIPANT_UPDATE
        if place is not None:
            names["#pl"], values[":pl"], update = _LAST_PLACE, {_S: place}, _PARTICIPANT_UPDATE_PLACED
        self._update(
            "participant",
            Participant.Meta.table_name,
            {_PARTICIPANT_KEY[0]: {_S: campaign_id}, _PARTICIPANT_KEY[1]: {_S: shopper_id}},
            update,
            "#c = :seen" if seen else "attribute_not_exists(#c)",
            names,
            values,
        )

    def member(self, update: dict) -> None:
        """Add the claim's points to the shopper's points with the brand (adapters/members.claim_update)."""
        self.names.append("member")
        self.items.append(update)

    def window(self, name: str, key: str, limit: int, expires_at: int) -> None:
        """Count one more in a rate or cap window, only while it holds fewer than `limit`; TTL may
        tidy the item away from `expires_at` (whole seconds since the epoch, TTLAttribute's form)."""
        self._update(
            name,
            RateCounter.Meta.table_name,
            {_RATE_KEY: {_S: key}},
            "ADD #n :one SET #x = :x",
            "attribute_not_exists(#n) OR #n < :limit",
            {"#n": _RATE_COUNT, "#x": _RATE_EXPIRES},
            {":one": {_N: "1"}, ":x": {_N: str(expires_at)}, ":limit": {_N: str(limit)}},
        )

    def spend(self, name: str, key: str, amount: int, most: int) -> None:
        """Add `amount` to a pool's counter (budget, prize), only if it then holds at most `most`."""
        self._update(
            name,
            Counter.Meta.table_name,
            {_COUNTER_KEY: {_S: key}},
            "ADD #v :amount",
            "attribute_not_exists(#v) OR #v <= :room",
            {"#v": _COUNTER_VALUE},
            {":amount": {_N: str(amount)}, ":room": {_N: str(most - amount)}},
        )

    def _update(self, name: str, table: str, key: dict, update: str, condition: str, names: dict, values: dict) -> None:
        self.names.append(name)
        self.items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
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


# Off the scan's hot path, PynamoDB serves: the replay's read, a refusal's record, the audit's scan.


def code_record(batch_number: int, serial: int) -> dict | None:
    """The stored attributes of a code's record (its claim or void), or None if nobody claimed it."""
    try:
        record = CodeState.get(CodeState.key_for(batch_number, serial), consistent_read=True)
    except CodeState.DoesNotExist:
        return None
    return record.attribute_values


def record_refusal(refusal: CodeState) -> bool:
    """Write a refused scan's record once; False if an earlier copy of the request recorded it."""
    try:
        refusal.save(condition=CodeState.code_key.does_not_exist())
    except PutError as error:
        if not dynamo.condition_failed(error):
            raise
        return False
    return True


def campaign_claims(campaign_id: str, segments: int = 4) -> list[CodeState]:
    """Every claim record of a campaign (a parallel scan: this is an audit, its cost is the table)."""

    def segment(n: int) -> list[CodeState]:
        return list(
            CodeState.scan(
                (CodeState.campaign_id == campaign_id) & (CodeState.state == CodeStatus.CLAIMED),
                segment=n,
                total_segments=segments,
            )
        )

    with ThreadPoolExecutor(segments) as pool:
        return [claim for part in pool.map(segment, range(segments)) for claim in part]
