"""Retention's requests: a brand's settings with their audit event, the due-day indexes, and each removal with its count."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, erasure_store
from chalicelib.adapters.models import AuditEvent, BrandSettings, Counter, Redemption, ShopperAccount, Win
from chalicelib.adapters.shopper_store import expiry_actions, expiry_removed
from chalicelib.domain import retention
from chalicelib.domain.lifecycle import RedemptionStatus

__all__ = [
    "KINDS",
    "settings_record",
    "save_settings",
    "removed_counts",
    "due_redemptions",
    "due_wins",
    "due_accounts",
    "redemption",
    "win",
    "purge_redemption",
    "purge_win",
    "purge_actions",
    "start_inactive",
    "drop_expiry",
    "unlisted_redemptions",
    "unlisted_wins",
    "unlisted_accounts",
    "list_redemption",
    "list_win",
    "list_account",
]

KINDS = ("deliveries", "wins", "accounts")
"""What the job counts per brand: gifts' delivery details, closed wins' details, inactive accounts deleted."""

_BUSY = "Many changes at once; please try again."


def _counter(brand_id: str, kind: str) -> str:
    return f"retention:{brand_id}:{kind}"


def settings_record(brand_id: str) -> BrandSettings | None:
    """The brand's stored settings (a consistent read), or None: the defaults apply."""
    try:
        return BrandSettings.get(brand_id, consistent_read=True)
    except BrandSettings.DoesNotExist:
        return None


def save_settings(record: BrandSettings, event: AuditEvent) -> bool:
    """The settings and their audit event in one transaction, on condition the version is still the one read
    (False: changed meanwhile, nothing written)."""

    def items(tx: TransactWrite) -> None:
        tx.save(record)
        tx.save(event, condition=AuditEvent.event_key.does_not_exist())

    return dynamo.write_together(items, _BUSY)


def removed_counts(brand_id: str) -> dict[str, int]:
    """How many of each kind the retention job removed for the brand so far (one BatchGet)."""
    names = {_counter(brand_id, kind): kind for kind in KINDS}
    counts = dict.fromkeys(KINDS, 0)
    for item in Counter.batch_get(list(names)):
        counts[names[item.name]] = int(item.value or 0)
    return counts


def _shards() -> list[str]:
    # Every key of a due-day index: a Query each, never a scan.
    return [retention.shard_key(number) for number in range(retention.SHARDS)]


def due_redemptions(day: str) -> Iterator[str]:
    """The ids of the redemptions whose delivery details are due on or before `day`."""
    for shard in _shards():
        for key in Redemption.by_purge.query(shard, Redemption.purge_on <= day):
            yield key.redemption_id


def due_wins(day: str) -> Iterator[tuple[str, int]]:
    """(draw id, pick) of the closed wins whose details are due on or before `day`."""
    for shard in _shards():
        for key in Win.by_purge.query(shard, Win.purge_on <= day):
            yield key.draw_id, int(key.pick)


def due_accounts(day: str) -> Iterator[str]:
    """The shoppers whose accounts are due for deletion (no sign-in) on or before `day`."""
    for shard in _shards():
        for key in ShopperAccount.by_expiry.query(shard, ShopperAccount.expires_on <= day):
            yield key.shopper_id


def redemption(redemption_id: str) -> Redemption | None:
    """A redemption as it is now (a consistent read: the index lags), or None."""
    try:
        return Redemption.get(redemption_id, consistent_read=True)
    except Redemption.DoesNotExist:
        return None


def win(draw_id: str, pick: int) -> Win | None:
    """A win as it is now (a consistent read: the index lags), or None."""
    try:
        return Win.get(draw_id, pick, consistent_read=True)
    except Win.DoesNotExist:
        return None


def purge_actions(model: type[Redemption] | type[Win], key: str, day: str) -> list[Action]:
    """What a move that starts the clock adds to its own update: the record on its index at `day`."""
    return [model.purge_shard.set(retention.shard(key)), model.purge_on.set(day)]


def _strip_counted(
    item: Redemption | Win, actions: list[Action], condition: Condition, brand_id: str, kind: str
) -> bool:
    """The record's removal and one more on the brand's count, in one transaction: counted exactly once. False
    when the condition refused it (moved, or done by an earlier run): nothing written."""
    counter = Counter(_counter(brand_id, kind))

    def items(tx: TransactWrite) -> None:
        tx.update(item, actions=actions, condition=condition)
        tx.update(counter, actions=[Counter.value.add(1)])

    return dynamo.write_together(items, _BUSY)


_CLOSED = (RedemptionStatus.SHIPPED, RedemptionStatus.CANCELLED)


def purge_redemption(record: Redemption, day: str) -> bool:
    """A closed gift's delivery details (and its request's digest) removed, and counted, if still due."""
    return _strip_counted(
        Redemption(record.redemption_id),
        [
            Redemption.delivery_sealed.remove(),
            Redemption.request_digest.remove(),
            Redemption.purge_shard.remove(),
            Redemption.purge_on.remove(),
        ],
        (Redemption.purge_on <= day) & Redemption.status.is_in(*_CLOSED),
        record.brand_id,
        "deliveries",
    )


def purge_win(record: Win, day: str, closed: Sequence[str]) -> bool:
    """A closed win's delivery details and ID number removed, and counted, if still due and still closed."""
    return _strip_counted(
        Win(record.draw_id, record.pick),
        [
            Win.delivery_sealed.remove(),
            Win.id_number_sealed.remove(),
            Win.purge_shard.remove(),
            Win.purge_on.remove(),
        ],
        (Win.purge_on <= day) & Win.status.is_in(*closed),
        record.brand_id,
        "wins",
    )


def start_inactive(shopper_id: str, at: datetime, day: str, brand_ids: Sequence[str]) -> bool:
    """Record the deletion of an account due for it (as erasure_store.start does), on condition it is still due
    by `day` (a sign-in since moved it on), counted for each of its brands in the same transaction."""
    counted = [_counter(brand_id, "accounts") for brand_id in sorted(set(brand_ids))]
    return erasure_store.start(
        shopper_id, at, due_by=ShopperAccount.expires_on <= day, counted=counted, extra=expiry_removed()
    )


def drop_expiry(shopper_id: str, day: str) -> None:
    """An account found due but not to delete (already deleted, or deleting) taken off the index, if still due."""
    try:
        ShopperAccount(shopper_id).update(actions=expiry_removed(), condition=ShopperAccount.expires_on <= day)
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise


# --- the one-time backfill (scripts/retention_backfill.py): records whose clock started before the indexes ---


def unlisted_redemptions() -> Iterator[Redemption]:
    """Closed gifts still holding details but on no due day: one scan of the table, once (never the job's way)."""
    return Redemption.scan(
        Redemption.status.is_in(*_CLOSED)
        & Redemption.purge_on.does_not_exist()
        & (Redemption.delivery_sealed.exists() | Redemption.request_digest.exists())
    )


def unlisted_wins(closed: Sequence[str]) -> Iterator[Win]:
    """Closed wins still holding details but on no due day: one scan of the table, once."""
    return Win.scan(
        Win.status.is_in(*closed)
        & Win.purge_on.does_not_exist()
        & (Win.delivery_sealed.exists() | Win.id_number_sealed.exists())
    )


def unlisted_accounts() -> Iterator[ShopperAccount]:
    """Live accounts on no expiry day (last signed in before the index): one scan of the table, once."""
    return ShopperAccount.scan(ShopperAccount.phone_hash.exists() & ShopperAccount.expires_on.does_not_exist())


def _listed(item: Redemption | Win | ShopperAccount, actions: list[Action], condition: Condition) -> bool:
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if dynamo.condition_failed(exc):
            return False  # listed meanwhile (a move, a sign-in) or changed: left as it is
        raise
    return True


def list_redemption(record: Redemption, day: str) -> bool:
    """A closed gift put on its due day, unless it is on one already."""
    actions = purge_actions(Redemption, record.redemption_id, day)
    return _listed(Redemption(record.redemption_id), actions, Redemption.purge_on.does_not_exist())


def list_win(record: Win, day: str) -> bool:
    """A closed win put on its due day, unless it is on one already."""
    actions = purge_actions(Win, f"{record.draw_id}#{record.pick}", day)
    return _listed(Win(record.draw_id, record.pick), actions, Win.purge_on.does_not_exist())


def list_account(account: ShopperAccount, day: str) -> bool:
    """A live account put on its expiry day, unless a sign-in put it on one meanwhile."""
    condition = ShopperAccount.expires_on.does_not_exist() & ShopperAccount.phone_hash.exists()
    return _listed(ShopperAccount(account.shopper_id), expiry_actions(account.shopper_id, day), condition)
