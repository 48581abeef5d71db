"""How long personal data is kept: a brand's retention settings, their defaults and legal bounds, and due days (pure)."""

from __future__ import annotations

import calendar
import zlib
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.domain import markets

__all__ = [
    "INACTIVE_MONTHS",
    "SHARDS",
    "Retention",
    "DEFAULTS",
    "FIELDS",
    "bounds",
    "add_months",
    "due_day",
    "inactive_due_day",
    "shard",
    "shard_key",
    "day_text",
]

INACTIVE_MONTHS = 24
"""An account with no sign-in for this many months is deleted, as the shopper could delete it. A platform
setting, not a brand's: an account spans brands, and one brand's shorter setting would delete what others
still show their shoppers. It is the 24 months issue 24 names, and the shortest a shopper who enters a
yearly promotion once a year would keep their account for."""

SHARDS = 8
"""Each due-day index is spread over this many keys, so no key is hot (as members' review is)."""


@dataclass(frozen=True)
class Retention:
    """A brand's settings: months a gift's delivery details stay after it is shipped or cancelled, and months a
    closed win's details (delivery, ID number) stay; the inactivity period is the platform's (INACTIVE_MONTHS)."""

    delivery_months: int = 6
    prize_record_months: int = 16


DEFAULTS = Retention()
FIELDS = ("delivery_months", "prize_record_months")
_LEAST = 1  # a month at least: a return or a complaint about a gift shipped yesterday is still answered


def bounds(field: str) -> tuple[int, int]:
    """The least and most months `field` may be set to: the markets' law where it says (domain/markets.py),
    else a month at least and ten years at most."""
    least, most = markets.retention_bounds(field)
    return (least if least is not None else _LEAST), (most if most is not None else 120)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def day_text(day: date) -> str:
    """A due day as the indexes sort it (ISO, compared as text)."""
    return day.isoformat()


def due_day(closed_at: datetime, months: int) -> str:
    """The UTC day a record closed at `closed_at` is due for removal after `months`."""
    return day_text(add_months(closed_at.date(), months))


def inactive_due_day(signed_in: datetime) -> str:
    """The UTC day an account last signed in at `signed_in` is due for deletion."""
    return due_day(signed_in, INACTIVE_MONTHS)


def shard_key(number: int) -> str:
    """The index key of shard `number`."""
    return f"ret#{number}"


def shard(key: str) -> str:
    """The index key a record's due day is filed under."""
    return shard_key(zlib.crc32(key.encode()) % SHARDS)
