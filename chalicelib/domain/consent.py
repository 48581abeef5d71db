"""What a shopper agrees to at sign-in: the notice's version, its purposes, and the languages it is shown in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "NOTICE_VERSION",
    "REQUIRED_PURPOSES",
    "NOTICE_LANGUAGES",
    "MARKETING",
    "Acceptance",
    "acceptance_key",
]

# The version of the sign-in notice (strings notice_* of the shopper pages and docs/privacy.md,
# "Consent"). Change it whenever the notice's words change what is collected or why: a shopper
# signing in afterwards accepts the new version, which adds a record to their account.
NOTICE_VERSION = "2026-12-07"
# The purposes every sign-in accepts: taking part in the promotion (claims, prizes, draws) and
# the brand's loyalty program (points, tiers, rewards).
REQUIRED_PURPOSES = ("promotion", "loyalty")
NOTICE_LANGUAGES = ("vi", "en", "fil")
# Marketing by a brand is never part of the notice: a separate, optional consent per brand.
MARKETING = "marketing"


@dataclass(frozen=True)
class Acceptance:
    """One acceptance of the notice: its version, the purposes accepted, the language it was read in, when."""

    notice: str
    purposes: tuple[str, ...]
    language: str
    at: datetime


def acceptance_key(notice: str, purposes: tuple[str, ...]) -> str:
    """What makes an acceptance new: the notice's version and the purposes (not the language or time)."""
    return f"{notice}|{','.join(sorted(purposes))}"
