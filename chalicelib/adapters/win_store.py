"""The wins of lucky draws: one per winner and promoted alternate, each move a conditional transaction with its audit event."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo, sms_ledger
from chalicelib.adapters.models import AuditEvent, Draw, Win
from chalicelib.adapters.secrets import get_phone_hash_pepper
from chalicelib.domain.lifecycle import WinStatus
from chalicelib.domain.phones import seal_text, unseal_text

__all__ = [
    "Promotion",
    "make",
    "read",
    "of_draw",
    "of_shopper",
    "draws",
    "move",
    "due_wins",
    "due_text",
    "on_list",
    "set_due",
    "text_ledger",
    "mark_wins_made",
    "seal_details",
    "sealed_details",
    "given_details",
]

_DUE = "due"  # the one shard of the by_due index: every offered win with something still to do
_ATTEMPTS = 6
_BUSY = "Many changes to this draw's wins at once; please try again."
_SHOPPER_WINS = 100  # the most a wallet lists: a shopper wins far fewer


@dataclass(frozen=True)
class Promotion:
    """What passing a prize on writes with the final move: the draw's `promoted` count as read, and
    the alternate's new win (None when no alternate is left: the prize is unclaimed)."""

    promoted: int
    win: Win | None


def due_text(at: datetime) -> str:
    return Win.offered_at.serialize(at)  # by_due's sort key: the instant as stored, compared as text


def on_list(win: Win, at: datetime) -> Win:
    """A new (unsaved) win put on the runner's list at `at`."""
    win.due_shard, win.due_at = _DUE, due_text(at)
    return win


def make(win: Win) -> bool:
    """Save a new win unless its pick has one already (then False: made before, by this run or another)."""
    try:
        win.save(condition=Win.draw_id.does_not_exist())
    except PutError as exc:
        if dynamo.condition_failed(exc):
            return False
        raise
    return True


def mark_wins_made(draw_id: str, at: datetime) -> None:
    """Record on a draw that every winner's win is made, once."""
    try:
        Draw(draw_id).update(actions=[Draw.wins_made_at.set(at)], condition=Draw.wins_made_at.does_not_exist())
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise


def read(draw_id: str, pick: int) -> Win | None:
    """A win as it is now (a consistent read), or None."""
    try:
        return Win.get(draw_id, pick, consistent_read=True)
    except Win.DoesNotExist:
        return None


def of_draw(draw_id: str) -> list[Win]:
    """Every win of a draw, by pick: one Query."""
    return list(Win.query(draw_id, consistent_read=True))


def of_shopper(shopper_id: str) -> list[Win]:
    """A shopper's wins, newest offer first."""
    return list(Win.by_shopper.query(shopper_id, scan_index_forward=False, limit=_SHOPPER_WINS))


def draws(draw_ids: Sequence[str]) -> dict[str, Draw]:
    """These draws by id: one BatchGet per 100."""
    wanted = sorted(set(draw_ids))
    return {d.draw_id: d for d in Draw.batch_get(wanted)} if wanted else {}


def _counted(promotion: Promotion) -> tuple[list[Action], Condition]:
    """The draw's side of passing a prize on: one more promoted (or unclaimed), if its count is still as read."""
    counted = Draw.promoted == promotion.promoted if promotion.promoted else Draw.promoted.does_not_exist()
    if promotion.win is None:
        return [Draw.unclaimed.add(1)], counted
    return [Draw.promoted.set(promotion.promoted + 1)], counted


def move(
    win: Win, actions: list[Action], event: AuditEvent, promotion: Promotion | None = None, *, leaves_offer: bool
) -> bool:
    """Move a win from the status it was read with, with its audit event and, for a final move, the
    promotion of the next alternate (or the prize recorded unclaimed), in one transaction: all or
    nothing. False when the win or the draw's count changed since they were read (read again)."""
    if leaves_offer:
        actions = [*actions, Win.due_shard.remove(), Win.due_at.remove()]
    for _ in dynamo.attempts(_ATTEMPTS, _BUSY):
        try:
            with TransactWrite(
                connection=dynamo.transaction_connection(), client_request_token=dynamo.request_token()
            ) as tx:
                tx.update(Win(win.draw_id, win.pick), actions=actions, condition=Win.status == win.status)
                tx.save(event, condition=AuditEvent.event_key.does_not_exist())
                if promotion is not None:
                    draw_actions, counted = _counted(promotion)
                    tx.update(Draw(win.draw_id), actions=draw_actions, condition=counted)
                    alternate: Win | None = promotion.win
                    if alternate is not None:
                        tx.save(alternate, condition=Win.draw_id.does_not_exist())
        except TransactWriteError as exc:
            if dynamo.transient(exc):
                continue
            if any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons or []):
                return False
            raise
        return True
    return False  # never reached: attempts raises ServiceBusy after the last try


def due_wins(now: datetime) -> Iterator[tuple[str, int]]:
    """(draw id, pick) of the offered wins with a reminder, an SMS or a deadline due at `now`."""
    for key in Win.by_due.query(_DUE, Win.due_at <= due_text(now)):
        yield key.draw_id, int(key.pick)


def set_due(draw_id: str, pick: int, at: datetime | None) -> None:
    """Put an offered win on the runner's list at `at`, or (None, or no longer offered) take it off."""
    item = Win(draw_id, pick)
    try:
        if at is None:
            item.update(actions=[Win.due_shard.remove(), Win.due_at.remove()], condition=Win.draw_id.exists())
        else:
            item.update(
                actions=[Win.due_shard.set(_DUE), Win.due_at.set(due_text(at))],
                condition=Win.status == WinStatus.OFFERED,
            )
    except UpdateError as exc:
        if not dynamo.condition_failed(exc):
            raise


def text_ledger(draw_id: str, pick: int, kind: str) -> sms_ledger.Ledger:
    """Where one of a win's SMS is kept (`kind`: "offer", "d7", "d1")."""
    return sms_ledger.Ledger(
        functools.partial(Win, draw_id, pick), Win.text_claims, Win.text_tries, Win.text_sent, kind
    )


_DELIVERY, _ID_NUMBER = "delivery", "win-id-number"  # what each sealed value is sealed for


def sealed_details(delivery: dict, id_number: str | None) -> tuple[str, str | None]:
    """A winner's delivery details and ID number as kept on the win: sealed (AES-GCM under the pepper)."""
    pepper = get_phone_hash_pepper()
    sealed = seal_text(json.dumps(delivery, ensure_ascii=False), pepper, _DELIVERY)
    return sealed, seal_text(id_number, pepper, _ID_NUMBER) if id_number is not None else None


def seal_details(delivery: dict, id_number: str | None) -> list[Action]:
    """The actions that keep a winner's delivery details (and ID number, if given) on the win, sealed."""
    sealed, sealed_id = sealed_details(delivery, id_number)
    actions: list[Action] = [Win.delivery_sealed.set(sealed)]
    if sealed_id is not None:
        actions.append(Win.id_number_sealed.set(sealed_id))
    return actions


def given_details(win: Win) -> tuple[dict | None, str | None]:
    """What the winner gave, unsealed: the delivery details (name, phone, address) and the ID number."""
    if not win.delivery_sealed:
        return None, None
    pepper = get_phone_hash_pepper()
    delivery = json.loads(unseal_text(win.delivery_sealed, pepper, _DELIVERY))
    id_number = unseal_text(win.id_number_sealed, pepper, _ID_NUMBER) if win.id_number_sealed else None
    return delivery, id_number
