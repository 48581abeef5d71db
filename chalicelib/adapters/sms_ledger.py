"""One SMS sent once: its claim (a lease that counts a try), its next try and how it ended, kept in three maps of a draw or a win."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError
from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.adapters import dynamo
from chalicelib.adapters.models import Draw, Win

__all__ = ["Ledger", "claim", "defer", "mark", "update_if"]

_MARK_ATTEMPTS = 6


@dataclass(frozen=True)
class Ledger:
    """Where one SMS is kept: the item (made fresh for each write, its key set), the maps of claims,
    tries and outcomes, and the SMS's key in them (a winner's rank, a reminder's kind)."""

    item: Callable[[], Draw | Win]
    claims: MapAttribute
    tries: MapAttribute
    sent: MapAttribute
    key: str


def update_if(item: Draw | Win, actions: list[Action], condition: Condition) -> bool:
    """One conditional update of a draw or a win; False when its condition did not hold."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if dynamo.condition_failed(exc):
            return False
        raise
    return True


def claim(ledger: Ledger, until: int, now: int) -> int:
    """Hold the SMS until `until` and count a try, unless it ended or is held (or waits for its next
    try) past `now`: the tries with this one, 0 when it was not claimed."""
    held, tries = ledger.claims[ledger.key], ledger.tries[ledger.key]
    item: Draw | Win = ledger.item()
    condition = ledger.sent[ledger.key].does_not_exist() & (held.does_not_exist() | (held < now))
    if not update_if(item, [held.set(until), tries.add(1)], condition):
        return 0
    counted = getattr(item, ledger.tries.attr_name, None)
    return int((counted.as_dict() if counted else {}).get(ledger.key, 1))


def defer(ledger: Ledger, held: int, next_try: int, *, refund: bool = False) -> None:
    """Let go of the SMS this sender holds (till `held`) until `next_try`; `refund` gives back its try
    (the SMS budgets were spent, not the recipient's tries)."""
    claimed = ledger.claims[ledger.key]
    actions = [claimed.set(next_try)]
    if refund:
        actions.append(ledger.tries[ledger.key].add(-1))
    item: Draw | Win = ledger.item()
    update_if(item, actions, (claimed == held) & ledger.sent[ledger.key].does_not_exist())


def mark(ledger: Ledger, outcome: str) -> None:
    """Record how the SMS ended (`outcome`: what happened and when), once.

    Sent again after a throttle, a conflict or a lost answer (a second write changes nothing):
    a mark that does not land after the SMS went is what would let a later run send it twice.
    """
    sent = ledger.sent[ledger.key]
    for _ in dynamo.attempts(_MARK_ATTEMPTS, "The SMS went but could not be recorded yet."):
        try:
            item: Draw | Win = ledger.item()
            update_if(item, [sent.set(outcome)], sent.does_not_exist())
        except UpdateError as exc:
            if dynamo.transient(exc) or isinstance(exc.cause, BotoCoreError):
                continue
            raise
        return
