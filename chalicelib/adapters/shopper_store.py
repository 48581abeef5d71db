"""The shopper's store: the pending sign-in code of a phone number, and the shopper's account with its consents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.adapters import retention_store
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import ConsentRecord, MarketingChange, OtpChallenge, ShopperAccount
from chalicelib.domain import retention
from chalicelib.domain.consent import Acceptance, acceptance_key
from chalicelib.domain.errors import Conflict
from chalicelib.domain.lifecycle import ErasureStatus

__all__ = [
    "pending_code",
    "store_code",
    "spend_try",
    "use_code",
    "record_sign_in",
    "record_acceptance",
    "set_marketing",
    "account",
    "accounts",
]


def pending_code(phone_hash: str) -> OtpChallenge | None:
    """The phone number's pending sign-in code as last written, or None."""
    try:
        return OtpChallenge.get(phone_hash, consistent_read=True)
    except OtpChallenge.DoesNotExist:
        return None


def store_code(challenge: OtpChallenge, replacing: str | None) -> bool:
    """Store a new sign-in code in place of the pending one whose id is `replacing` (None: no code is
    pending); False if another request stored its own first."""
    replaceable: Condition = OtpChallenge.phone_hash.does_not_exist()
    if replacing is not None:
        replaceable = OtpChallenge.challenge_id == replacing
    try:
        challenge.save(condition=replaceable)
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return False
    return True


def _unchanged(challenge: OtpChallenge, max_tries: int) -> Condition:
    return (OtpChallenge.challenge_id == challenge.challenge_id) & (OtpChallenge.tries < max_tries)


def spend_try(challenge: OtpChallenge, max_tries: int) -> bool:
    """Spend one try of the code as read (same id, tries under `max_tries`); False if it changed since."""
    try:
        challenge.update(actions=[OtpChallenge.tries.add(1)], condition=_unchanged(challenge, max_tries))
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def use_code(challenge: OtpChallenge, max_tries: int, now: datetime) -> bool:
    """Delete the code as read, once, while it is still good at `now`; False if it changed since."""
    try:
        challenge.delete(condition=_unchanged(challenge, max_tries) & (OtpChallenge.expires_at > now))
    except DeleteError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def record_sign_in(shopper_id: str, phone_hash: str, masked: str, sealed: str, signed_in: datetime) -> None:
    """Create or refresh a shopper's account at a sign-in; the first sign-in's time stays its creation.

    Refused (Conflict) while the account's deletion is running; after a finished deletion the number
    starts a new account (the deletion's times stay on it).
    """
    try:
        ShopperAccount(shopper_id).update(
            actions=[
                ShopperAccount.phone_hash.set(phone_hash),
                ShopperAccount.phone_masked.set(masked),
                ShopperAccount.phone_sealed.set(sealed),
                ShopperAccount.created_at.set(ShopperAccount.created_at | signed_in),
                ShopperAccount.last_sign_in_at.set(signed_in),
                ShopperAccount.sign_ins.add(1),
                ShopperAccount.erasure_status.remove(),
                ShopperAccount.erasure_steps.remove(),
                # The clock of deletion for no sign-in starts again (domain/retention.py).
                *retention_store.expiry_actions(shopper_id, retention.inactive_due_day(signed_in)),
            ],
            condition=ShopperAccount.erasure_status.does_not_exist()
            | (ShopperAccount.erasure_status == ErasureStatus.DONE),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        raise Conflict("This account is being deleted. Try again in a few minutes.") from None


def record_acceptance(shopper_id: str, accepted: Acceptance) -> bool:
    """Add an acceptance of the notice to the account, once per version and purposes; False if it was there."""
    key = acceptance_key(accepted.notice, accepted.purposes)
    record = ConsentRecord(
        notice=accepted.notice, purposes=set(accepted.purposes), language=accepted.language, at=accepted.at
    )
    try:
        ShopperAccount(shopper_id).update(
            actions=[
                ShopperAccount.consents.set((ShopperAccount.consents | []).append([record])),
                ShopperAccount.consent_keys.add({key}),
            ],
            condition=ShopperAccount.shopper_id.exists() & ~ShopperAccount.consent_keys.contains(key),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def set_marketing(shopper_id: str, brand_id: str, granted: bool, at: datetime) -> bool:
    """Grant or withdraw a brand's marketing consent, logging the change; False if it already stood so
    (nothing is written then) or the account is gone."""
    change = MarketingChange(brand_id=brand_id, granted=granted, at=at)
    now_standing = ShopperAccount.marketing_brands.contains(brand_id)
    moved = ~now_standing if granted else now_standing
    update = ShopperAccount.marketing_brands.add if granted else ShopperAccount.marketing_brands.delete
    try:
        ShopperAccount(shopper_id).update(
            actions=[
                update({brand_id}),
                ShopperAccount.marketing_log.set((ShopperAccount.marketing_log | []).append([change])),
            ],
            condition=ShopperAccount.shopper_id.exists() & moved,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def account(shopper_id: str) -> ShopperAccount | None:
    """The shopper's account as last written, or None."""
    try:
        return ShopperAccount.get(shopper_id, consistent_read=True)
    except ShopperAccount.DoesNotExist:
        return None


def accounts(shopper_ids: list[str]) -> Iterator[ShopperAccount]:
    """The accounts of the shoppers named, read 100 at a time (BatchGetItem's most)."""
    for start in range(0, len(shopper_ids), 100):
        yield from ShopperAccount.batch_get(shopper_ids[start : start + 100])
