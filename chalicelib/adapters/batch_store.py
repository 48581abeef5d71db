"""The mint's store: batch numbers, a brand's minted count, the mint transaction, and a code voided."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import condition_failed, transaction_connection
from chalicelib.adapters.models import Batch, CodeState, Counter
from chalicelib.domain import clock, codes
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import BatchStatus

__all__ = ["MintRefused", "take_batch_number", "minted_by", "mint", "void_code", "save_market"]

_BATCH_COUNTER = "batch_number"
_BRAND_BATCHES = "batches-minted"


@dataclass(frozen=True)
class MintRefused:
    """Why the mint transaction wrote nothing: the brand's quota was reached, or instant win
    number `win` would allocate more winning codes than its prize has left."""

    quota: bool = False
    win: int | None = None


def take_batch_number() -> int | None:
    """The next batch number, or None once they are exhausted.

    An atomic, conditional increment: two mints never get the same number. A retried call
    after a timeout may skip a number; a skipped number is harmless, a repeat is not.
    """
    counter = Counter(_BATCH_COUNTER)
    try:
        counter.update(
            actions=[Counter.value.add(1)],
            condition=Counter.value.does_not_exist() | (Counter.value < codes.BATCH_MAX),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return int(counter.value)


def minted_by(brand_id: str) -> int:
    """How many batches the brand has minted."""
    try:
        return int(Counter.get(f"{_BRAND_BATCHES}:{brand_id}", consistent_read=True).value)
    except Counter.DoesNotExist:
        return 0


def mint(batch: Batch, quota: int, wins: Sequence[tuple[str, int, int]]) -> MintRefused | None:
    """Write a new batch, one more of its brand's `quota` of batches, and its share of each prize
    (`wins`: prize id, winning codes, the prize's quantity) in one transaction; None once written.

    Written together, winning codes can never be allocated beyond a prize's quantity, across
    all batches of the campaign, and two mints racing for the brand's last batch mint one.
    """
    try:
        with TransactWrite(connection=transaction_connection()) as tx:
            tx.save(batch, condition=Batch.batch_id.does_not_exist())
            tx.update(
                Counter(f"{_BRAND_BATCHES}:{batch.brand_id}"),
                actions=[Counter.value.add(1)],
                condition=Counter.value.does_not_exist() | (Counter.value < quota),
            )
            for prize_id, count, quantity in wins:
                reserved = Counter(f"prize-allocated:{batch.campaign_id}:{prize_id}")
                tx.update(
                    reserved,
                    actions=[Counter.value.add(count)],
                    condition=Counter.value.does_not_exist() | (Counter.value <= quantity - count),
                )
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        if len(reasons) > 1 and reasons[1] is not None and reasons[1].code == "ConditionalCheckFailed":
            return MintRefused(quota=True)
        for index, reason in enumerate(reasons[2:]):
            if reason is not None and reason.code == "ConditionalCheckFailed":
                return MintRefused(win=index)
        raise
    return None


def void_code(state: CodeState) -> CodeState:
    """Write the void state of a code nobody has scanned; the code's state as it then stands:
    `state`, or the one written first (a claim, or an earlier void)."""
    try:
        state.save(condition=CodeState.code_key.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return CodeState.get(state.code_key, consistent_read=True)
    return state


def save_market(batch: Batch, country: str | None, places: list[str]) -> None:
    """Write a batch's market, only while it is still inactive (its codes not yet on shelves)."""
    actions: list[Action] = [Batch.updated_at.set(clock.now())]
    actions.append(Batch.market_country.set(country) if country else Batch.market_country.remove())
    actions.append(Batch.market_places.set(set(places)) if places else Batch.market_places.remove())
    try:
        batch.update(actions=actions, condition=Batch.status == BatchStatus.INACTIVE)
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("The batch is active: its market is set before activation.", field="market") from None
        raise
