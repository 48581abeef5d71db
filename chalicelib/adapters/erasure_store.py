"""An account's deletion, its requests: the deletion record on the account, and each step's writes, by the shopper's own items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, limits
from chalicelib.adapters.models import (
    Counter,
    Draw,
    DrawWinner,
    OtpChallenge,
    RateCounter,
    Redemption,
    ShopperAccount,
    ShopperPhone,
    Win,
)
from chalicelib.adapters.shopper_store import phone_key
from chalicelib.domain.lifecycle import DrawStatus, ErasureStatus

__all__ = [
    "RUNNING_LIST",
    "account",
    "start",
    "mark_step",
    "finish",
    "running",
    "wins_of",
    "redemptions_of",
    "draws_of_campaign",
    "strip_win",
    "strip_redemption",
    "clear_masked",
    "forget_code",
    "forget_rate_windows",
]

RUNNING_LIST = "erasures:running"
"""The counter item whose `members` are the shoppers whose deletion is running: the scheduler's list (one read)."""


def account(shopper_id: str) -> ShopperAccount | None:
    """The shopper's account as it is now (a consistent read), or None."""
    try:
        return ShopperAccount.get(shopper_id, consistent_read=True)
    except ShopperAccount.DoesNotExist:
        return None


_BUSY = "Many changes to this account at once; please try again."


def _account_and_list(
    shopper_id: str, actions: list[Action], condition: Condition, listed: Action, phone_hash: str | None = None
) -> bool:
    """The account's change and the running list's (and the removal of the number's ShopperPhone item,
    when given), in one transaction tried again while DynamoDB is busy; False when the account's
    condition refused it (nothing written)."""

    def items(tx: TransactWrite) -> None:
        tx.update(ShopperAccount(shopper_id), actions=actions, condition=condition)
        tx.update(Counter(RUNNING_LIST), actions=[listed])
        if phone_hash:
            tx.delete(ShopperPhone(phone_key(phone_hash)))

    return dynamo.write_together(items, _BUSY)


def start(shopper_id: str, at: datetime) -> bool:
    """Record the confirmed deletion (running) and put it on the scheduler's list, in one transaction;
    False if the account has no phone any more or a deletion is already running (nothing written)."""
    return _account_and_list(
        shopper_id,
        [
            ShopperAccount.erasure_status.set(ErasureStatus.RUNNING),
            ShopperAccount.erasure_started_at.set(at),
            ShopperAccount.erasure_steps.remove(),
            ShopperAccount.erased_at.remove(),
        ],
        ShopperAccount.phone_hash.exists()
        & (ShopperAccount.erasure_status.does_not_exist() | (ShopperAccount.erasure_status != ErasureStatus.RUNNING)),
        Counter.members.add({shopper_id}),
    )


def mark_step(shopper_id: str, step: str) -> None:
    """One more step of a running deletion done (adding to a set: twice is once)."""
    ShopperAccount(shopper_id).update(
        actions=[ShopperAccount.erasure_steps.add({step})],
        condition=ShopperAccount.erasure_status == ErasureStatus.RUNNING,
    )


def finish(shopper_id: str, phone_hash: str | None, at: datetime) -> None:
    """The last step: the number no longer finds the account (its ShopperPhone item goes), the account
    keeps nothing that identifies the person, and the deletion is done and off the scheduler's list,
    in one transaction (a repeat after it finds it done and writes nothing)."""
    _account_and_list(
        shopper_id,
        [
            ShopperAccount.phone_hash.remove(),
            ShopperAccount.phone_masked.remove(),
            ShopperAccount.phone_sealed.remove(),
            ShopperAccount.created_at.remove(),
            ShopperAccount.last_sign_in_at.remove(),
            # Nobody is to be marketed to in its name (participants.csv says no) nor held to a brand's own
            # purpose; the logs of what was granted and withdrawn, and the notices accepted, stay under the
            # pseudonym as proof.
            ShopperAccount.marketing_brands.remove(),
            ShopperAccount.purpose_grants.remove(),
            ShopperAccount.erasure_status.set(ErasureStatus.DONE),
            ShopperAccount.erased_at.set(at),
        ],
        ShopperAccount.erasure_status == ErasureStatus.RUNNING,
        Counter.members.delete({shopper_id}),
        phone_hash,
    )


def running() -> list[str]:
    """The shoppers whose deletion is running (after a crash, still)."""
    try:
        return sorted(Counter.get(RUNNING_LIST, consistent_read=True).members or ())
    except Counter.DoesNotExist:
        return []


def wins_of(shopper_id: str) -> Iterator[Win]:
    """Every win of the shopper (the by_shopper index, every page)."""
    return Win.by_shopper.query(shopper_id)


def redemptions_of(shopper_id: str) -> Iterator[Redemption]:
    """Every redemption of the shopper (the by_shopper index, every page)."""
    return Redemption.by_shopper.query(shopper_id)


def draws_of_campaign(campaign_id: str) -> Iterator[Draw]:
    """Every draw of a campaign (the by_campaign index)."""
    return Draw.by_campaign.query(campaign_id)


def strip_win(win: Win) -> None:
    """A win's delivery details and ID number removed, while its status is still the one read."""
    try:
        win.update(
            actions=[Win.delivery_sealed.remove(), Win.id_number_sealed.remove()], condition=Win.status == win.status
        )
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise


def strip_redemption(record: Redemption) -> None:
    """A redemption's delivery details and its request's digest removed, while its status is the one read."""
    try:
        record.update(
            actions=[Redemption.delivery_sealed.remove(), Redemption.request_digest.remove()],
            condition=Redemption.status == record.status,
        )
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise


def _cleared(rows: list[DrawWinner] | None, shopper_id: str) -> list[DrawWinner]:
    rows = list(rows or [])
    for row in rows:
        if row.shopper_id == shopper_id:
            row.phone_masked = None
    return rows


def clear_masked(draw: Draw, shopper_id: str) -> None:
    """The shopper's masked phone taken off a drawn draw's winners and alternates (their pseudonyms,
    entries and the snapshot stay: the draw's proof does not rest on them). Winners are written once,
    so rewriting the lists of the drawn draw changes nothing else."""
    draw.update(
        actions=[
            Draw.winners.set(_cleared(draw.winners, shopper_id)),
            Draw.alternates.set(_cleared(draw.alternates, shopper_id)),
        ],
        condition=Draw.status == DrawStatus.DRAWN,
    )


def forget_code(key: str) -> None:
    """A pending one-time code deleted (none: nothing to do)."""
    try:
        OtpChallenge(key).delete()
    except DeleteError as exc:
        if not dynamo.condition_failed(exc):
            raise


def forget_rate_windows(name: str, subject: str, window_seconds: int, windows: int, now: float) -> int:
    """Delete the counters of the last `windows` windows of one rate limit (their keys are known:
    no read); returns how many keys were deleted (deleting a missing key is no error)."""
    keys = [limits.window_key(name, subject, window_seconds, now - i * window_seconds)[0] for i in range(windows)]
    with RateCounter.batch_write() as batch:
        for key in keys:
            batch.delete(RateCounter(key, expires_at=datetime.fromtimestamp(now, UTC)))
    return len(keys)
