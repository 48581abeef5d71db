"""The one pair of cursor helpers every list uses: a page's cursor from DynamoDB's last key, and the key back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.validation import NOT_A_CURSOR, decode_cursor, encode_cursor

__all__ = ["Cursor", "page"]

_T = TypeVar("_T")
_SEPARATOR = "|"
_ANY = re.compile(r"(?s).+")


@dataclass(frozen=True)
class Cursor:
    """What one list's cursor carries: the key attributes of the page's last item that the query does not
    fix, each with the pattern a value of it must match.

    A cursor is opaque to clients (base64url of the values joined by "|"); one that does not
    decode to values of these shapes is a 400 naming `cursor`. The attributes the query fixes
    (the brand, the campaign) come from the request, never from a cursor, so a cursor cannot
    reach another brand's items.
    """

    fields: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def of(cls, **patterns: str) -> Cursor:
        """A cursor carrying these attributes, in this order, each matching its regular expression."""
        return cls(tuple((name, re.compile(pattern)) for name, pattern in patterns.items()))

    def values(self, cursor: str) -> tuple[str, ...]:
        """The values a cursor carries, checked against their patterns (InvalidInput naming `cursor`)."""
        parts = tuple(decode_cursor(cursor, _ANY).split(_SEPARATOR))
        if len(parts) != len(self.fields) or not all(p.fullmatch(v) for (_, p), v in zip(self.fields, parts)):
            raise InvalidInput(NOT_A_CURSOR, field="cursor")
        return parts

    def start_key(self, cursor: str | None, **fixed: str) -> dict[str, dict[str, str]] | None:
        """DynamoDB's ExclusiveStartKey for `cursor` (None: from the start), with the query's own key values."""
        if not cursor:
            return None
        carried = dict(zip((name for name, _ in self.fields), self.values(cursor)))
        return {name: {"S": value} for name, value in {**fixed, **carried}.items()}

    def newest_first(self, cursor: str | None, limit: int, **fixed: str) -> dict[str, Any]:
        """A PynamoDB query's arguments for one page of at most `limit` items, newest first, from `cursor`."""
        return {
            "scan_index_forward": False,
            "limit": limit,
            "page_size": limit,
            "last_evaluated_key": self.start_key(cursor, **fixed),
        }

    def forward(self, cursor: str | None, limit: int, **fixed: str) -> dict[str, Any]:
        """The same arguments, in key order (for lists whose keys are not times)."""
        return {**self.newest_first(cursor, limit, **fixed), "scan_index_forward": True}

    def after(self, last_key: Mapping[str, Any] | None, returned: int, limit: int) -> str | None:
        """The cursor of the page after one that returned `returned` of `limit` items and stopped at `last_key`.

        A short page is the last one and never carries a cursor, even where DynamoDB stopped
        early (a filter, its 1 MB page): the caller reads until the page is full.
        """
        if not last_key or returned < limit:
            return None
        return encode_cursor(_SEPARATOR.join(_plain(last_key[name]) for name, _ in self.fields))


def _plain(value: Any) -> str:
    # DynamoDB's wire form ({"S": "x"} or {"N": "1"}) or PynamoDB's plain value.
    if isinstance(value, Mapping):
        return str(next(iter(value.values())))
    return str(value)


def page(
    records: Iterable[_T],
    limit: int,
    render: Callable[[_T], dict],
    cursor: Cursor,
    last_key: Callable[[], Mapping[str, Any] | None],
) -> dict:
    """One page of a list as the API answers it: `{items, next_cursor}`.

    `records` yields at most `limit` records; `last_key` gives DynamoDB's LastEvaluatedKey once
    they are read (PynamoDB's `ResultIterator.last_evaluated_key`).
    """
    items = [render(record) for record in records]
    return {"items": items, "next_cursor": cursor.after(last_key(), len(items), limit)}
