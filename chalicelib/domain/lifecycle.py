"""Status lifecycles of campaigns and batches: allowed moves, applied with a condition."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Mapping

from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.domain.errors import Conflict, InvalidTransition

__all__ = ["move_status"]


def move_status(item: Model, target: str, transitions: Mapping[str, frozenset[str]], noun: str,
                check: Callable[[], None] | None = None) -> None:
    """Move `item` to `target` if its lifecycle allows it; asking for the current status is a no-op.

    The write is conditional on the status read, so of two racing changes one wins and
    the other gets 409 instead of silently undoing it.
    """
    current = item.status
    if target == current:
        return
    if target not in transitions[current]:
        raise InvalidTransition(f"status: A {noun} that is {current} cannot become {target}.", field="status")
    if check is not None:
        check()
    model = type(item)
    try:
        item.update(actions=[model.status.set(target), model.updated_at.set(datetime.now(timezone.utc))],
                    condition=model.status == current)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"The {noun} was changed by someone else; read it again and retry.") from None
        raise
