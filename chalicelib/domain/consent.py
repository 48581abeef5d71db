"""What a shopper agrees to at sign-in: the notice's version, its purposes, and the languages it is shown in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "NOTICE_VERSION",
    "REQUIRED_PURPOSES",
    "NOTICE_LANGUAGES",
    "MARKETING",
    "Acceptance",
    "acceptance_key",
    "BrandPurpose",
    "MAX_BRAND_PURPOSES",
    "PURPOSE_TEXT_CHARS",
    "GrantedPurpose",
    "PurposeDecision",
    "grant_key",
    "granted_purpose",
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


# A brand's own purposes (services/brand_purposes.py, docs/privacy.md "A brand's own purposes"): each
# shown at sign-in as its own box, under the notice. How many a brand may add, and how long each text is,
# are bounded so the notice stays short enough to read on a phone.
MAX_BRAND_PURPOSES = 8
PURPOSE_TEXT_CHARS = 400


@dataclass(frozen=True)
class BrandPurpose:
    """A purpose a brand adds to the notice: its words in each notice language, whether signing in
    needs it, and its revision (raised whenever its words or `required` change, so an acceptance
    names exactly what was read; the audit log keeps each revision's words)."""

    purpose_id: str
    required: bool
    text: dict[str, str]
    revision: int


class GrantedPurpose(NamedTuple):
    """One standing acceptance of a brand's purpose, read back from its grant_key."""

    brand_id: str
    purpose_id: str
    revision: int


def grant_key(brand_id: str, purpose_id: str, revision: int) -> str:
    """How a standing acceptance of a brand's purpose is kept on the account: brand/purpose@revision."""
    return f"{brand_id}/{purpose_id}@{revision}"


def granted_purpose(key: str) -> GrantedPurpose:
    """The brand, purpose and revision of a grant_key."""
    named, _, revision = key.rpartition("@")
    brand_id, _, purpose_id = named.partition("/")
    return GrantedPurpose(brand_id, purpose_id, int(revision))


@dataclass(frozen=True)
class PurposeDecision:
    """One brand purpose accepted (at sign-in, with the notice's version and the language read) or withdrawn."""

    brand_id: str
    purpose_id: str
    revision: int
    granted: bool
    at: datetime
    notice: str | None = None
    language: str | None = None
