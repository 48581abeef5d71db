"""A brand's own consent purposes: set by its owners, shown at sign-in each with its own box, accepted
per purpose with the account, and an optional one withdrawn from the wallet (docs/privacy.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from chalicelib.adapters import dynamo, limits, purpose_store, shopper_store
from chalicelib.domain import clock
from chalicelib.domain.consent import (
    MARKETING,
    MAX_BRAND_PURPOSES,
    NOTICE_LANGUAGES,
    PURPOSE_TEXT_CHARS,
    REQUIRED_PURPOSES,
    BrandPurpose,
    PurposeDecision,
    grant_key,
    granted_purpose,
)
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.ids import is_brand_id
from chalicelib.domain.schemas import BrandIdText, Schema, validate
from chalicelib.services import audit

__all__ = [
    "get_purposes",
    "put_purposes",
    "published",
    "check_acceptance",
    "record_acceptance",
    "withdraw",
    "WITHDRAWALS_PER_DAY",
]

# Each withdrawal adds a line to the account's purpose log: this bounds how fast it grows.
WITHDRAWALS_PER_DAY = 20
_DAY_SECONDS = 24 * 3600
_ATTEMPTS = 6
_PURPOSE_ID = re.compile(r"[a-z][a-z0-9-]{1,39}")
# The notice's own purposes and marketing are the platform's: a brand's purpose never takes their names.
_RESERVED = {*REQUIRED_PURPOSES, MARKETING}


def _purpose_id(value: str) -> str:
    if not _PURPOSE_ID.fullmatch(value):
        raise ValueError("2 to 40 lower-case letters, digits and dashes, starting with a letter.")
    if value in _RESERVED:
        raise ValueError(f"{value} is a purpose of the platform's notice; choose another id.")
    return value


def _words(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise ValueError("The purpose's words in this language are empty.")
    return text


_Words = Annotated[str, Field(max_length=PURPOSE_TEXT_CHARS), AfterValidator(_words)]


class _TextIn(Schema):
    vi: _Words
    en: _Words
    fil: _Words


class _PurposeIn(Schema):
    id: Annotated[str, AfterValidator(_purpose_id)]
    required: bool
    text: _TextIn


def _distinct(purposes: list[_PurposeIn]) -> list[_PurposeIn]:
    ids = [p.id for p in purposes]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"{twice[0]} is listed twice.")
    return purposes


class _PurposesIn(Schema):
    purposes: Annotated[list[_PurposeIn], Field(max_length=MAX_BRAND_PURPOSES), AfterValidator(_distinct)]
    version: int = Field(ge=0)


class _WithdrawIn(Schema):
    brand_id: BrandIdText
    purpose: Annotated[str, Field(max_length=40)]


def _render(p: BrandPurpose) -> dict:
    return {"id": p.purpose_id, "required": p.required, "revision": p.revision, "text": dict(p.text)}


def _view(brand_id: str, version: int, purposes: list[BrandPurpose]) -> dict:
    return {"brand_id": brand_id, "version": version, "purposes": [_render(p) for p in purposes]}


def get_purposes(brand_id: str) -> dict:
    """GET /v1/consent-purposes: the brand's own purposes and the version to send back with a change."""
    return _view(brand_id, *purpose_store.read(brand_id))


def published(brand_id: str) -> dict:
    """GET /v1/brands/{brand_id}/purposes: what the sign-in notice shows under the platform's purposes,
    in every language (public: the same words for everyone). A brand id of an impossible shape is 404."""
    if not is_brand_id(brand_id):
        raise NotFound("No such brand.")
    return _view(brand_id, *purpose_store.read(brand_id, consistent=False))


def put_purposes(brand_id: str, actor: str, body: dict) -> dict:
    """PUT /v1/consent-purposes (owners): replace the brand's purposes as read at `version`.

    A purpose whose words or `required` change gets a new revision, so an acceptance always names
    the words read; the audit event (in the same transaction) keeps every revision's words. A purpose
    taken away is no longer shown or asked for; what shoppers accepted of it stays in their logs.
    """
    values = validate(_PurposesIn, body)
    version, before = purpose_store.read(brand_id)
    if values.version != version:
        raise InvalidInput(
            f"version: The purposes were changed meanwhile (now version {version}); read them again.",
            field="version",
        )
    old = {p.purpose_id: p for p in before}
    after = []
    for given in values.purposes:
        text = {lang: getattr(given.text, lang) for lang in NOTICE_LANGUAGES}
        known = old.get(given.id)
        revision = 1 if known is None else known.revision
        if known is not None and (known.text != text or known.required != given.required):
            revision += 1
        after.append(BrandPurpose(given.id, given.required, text, revision))
    details = audit.changes({"purposes": [_render(p) for p in before]}, {"purposes": [_render(p) for p in after]})
    event = audit.transaction_event(brand_id, actor, "consent_purposes", brand_id, details)
    new_version = purpose_store.replace(brand_id, version, after, actor, clock.now(), event)
    return _view(brand_id, new_version, after)


def check_acceptance(brand_id: str, version: int, accepted: list[str]) -> list[BrandPurpose]:
    """The brand's purposes as shown at sign-in (their record at `version`), each required one accepted
    and every accepted one among them; else InvalidInput naming the consent's field. Reads, never writes."""
    current, purposes = purpose_store.read(brand_id, consistent=False)
    if version != current:
        raise InvalidInput(
            "consent.brand_version: The brand's purposes have changed: show them again and send their version.",
            field="consent.brand_version",
        )
    ids = {p.purpose_id for p in purposes}
    unknown = sorted(set(accepted) - ids)
    if unknown:
        raise InvalidInput(
            f"consent.brand_purposes: {unknown[0][:40]} is not one of the brand's purposes.",
            field="consent.brand_purposes",
        )
    missing = [p.purpose_id for p in purposes if p.required and p.purpose_id not in accepted]
    if missing:
        raise InvalidInput(
            f"consent.brand_purposes: Signing in accepts every required purpose; {missing[0]} is missing.",
            field="consent.brand_purposes",
        )
    return purposes


def _standing(grants: set[str], brand_id: str) -> dict[str, str]:
    """The brand's purposes the account accepts now, by id: their grant keys."""
    return {g.purpose_id: key for key in grants if (g := granted_purpose(key)).brand_id == brand_id}


def _decide(shopper_id: str, brand_id: str, work: dict[str, tuple[bool, int]], at: datetime, **read: str) -> None:
    """Make the account's grants of the brand's purposes what `work` says ({purpose: (accepted, revision)}),
    logging each change; another change of the account's purposes in between (two sign-ins at once) is
    read again and the work redone."""
    for _ in dynamo.attempts(_ATTEMPTS, "Many changes to your choices at once; please try again."):
        account = shopper_store.account(shopper_id)
        if account is None:
            return
        grants = set(account.purpose_grants or ())
        standing = _standing(grants, brand_id)
        decisions = []
        for purpose_id, (accepted, revision) in sorted(work.items()):
            key = grant_key(brand_id, purpose_id, revision)
            held = standing.get(purpose_id)
            if accepted and held != key:
                grants.discard(held or "")
                grants.add(key)
                decisions.append(PurposeDecision(brand_id, purpose_id, revision, True, at, **read))
            elif not accepted and held is not None:
                grants.discard(held)
                held_revision = granted_purpose(held).revision
                decisions.append(PurposeDecision(brand_id, purpose_id, held_revision, False, at, **read))
        if not decisions:
            return
        if shopper_store.decide_purposes(shopper_id, grants, decisions, len(account.purpose_log or [])):
            return


def record_acceptance(
    shopper_id: str, brand_id: str, purposes: list[BrandPurpose], accepted: list[str], notice: str, language: str
) -> None:
    """At sign-in: one record per purpose of the brand whose acceptance changed (accepted, a new revision
    accepted, or an optional one left unticked that stood), with the notice's version, language and time."""
    work = {p.purpose_id: (p.purpose_id in accepted, p.revision) for p in purposes}
    _decide(shopper_id, brand_id, work, clock.now(), notice=notice, language=language)


def withdraw(shopper_id: str, body: dict) -> None:
    """POST /v1/me/consents/withdrawals: stop accepting one optional purpose of a brand. A required one
    is needed to take part (400: it ends with the account's deletion); one not accepted writes nothing.
    At most WITHDRAWALS_PER_DAY a day (429 after)."""
    values = validate(_WithdrawIn, body)
    _, purposes = purpose_store.read(values.brand_id)
    purpose = next((p for p in purposes if p.purpose_id == values.purpose), None)
    if purpose is not None and purpose.required:
        raise InvalidInput(
            "purpose: This purpose is needed to take part; it ends when you delete your account.", field="purpose"
        )
    limits.hit(
        "consent-purpose",
        shopper_id,
        limit=WITHDRAWALS_PER_DAY,
        window_seconds=_DAY_SECONDS,
        message="Your choices have changed many times today; try again tomorrow.",
        field="purpose",
    )
    revision = purpose.revision if purpose is not None else 0
    _decide(shopper_id, values.brand_id, {values.purpose: (False, revision)}, clock.now())
