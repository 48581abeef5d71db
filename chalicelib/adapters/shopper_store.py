"""The shopper's store: the pending sign-in code of a phone number, and the shopper's account with its consents."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.adapters import dynamo
from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import (
    ConsentRecord,
    MarketingChange,
    OtpChallenge,
    PurposeChange,
    ShopperAccount,
    ShopperPhone,
)
from chalicelib.domain.consent import Acceptance, PurposeDecision, acceptance_key
from chalicelib.domain.errors import Conflict

__all__ = [
    "pending_code",
    "store_code",
    "spend_try",
    "use_code",
    "phone_key",
    "account_of_phone",
    "open_account",
    "record_sign_in",
    "record_acceptance",
    "set_marketing",
    "decide_purposes",
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


def phone_key(phone_hash: str) -> str:
    """The key of the item that says whose a phone number is."""
    return f"phone#{phone_hash}"


def account_of_phone(phone_hash: str) -> str | None:
    """The shopper id of the account a number belongs to (a consistent read), or None."""
    try:
        return ShopperPhone.get(phone_key(phone_hash), consistent_read=True).owner
    except ShopperPhone.DoesNotExist:
        return None


def open_account(shopper_id: str, phone_hash: str, masked: str, sealed: str, signed_in: datetime) -> bool:
    """A number's first sign-in: its account and the item that finds it, in one transaction; False
    (nothing written) when another sign-in of the same number opened one first."""
    account = ShopperAccount(
        shopper_id,
        phone_hash=phone_hash,
        phone_masked=masked,
        phone_sealed=sealed,
        created_at=signed_in,
        last_sign_in_at=signed_in,
        sign_ins=1,
    )

    def items(tx: TransactWrite) -> None:
        tx.save(ShopperPhone(phone_key(phone_hash), owner=shopper_id), condition=ShopperPhone.key.does_not_exist())
        tx.save(account, condition=ShopperAccount.shopper_id.does_not_exist())

    return dynamo.write_together(items, "Many sign-ins of this number at once; please try again.")


def record_sign_in(shopper_id: str, masked: str, sealed: str, signed_in: datetime) -> None:
    """Refresh an account at a later sign-in (the number's masked and sealed forms as now written).

    Refused (Conflict) while the account's deletion is running; a finished deletion has removed the
    number's ShopperPhone item, so the number never finds that account again.
    """
    try:
        ShopperAccount(shopper_id).update(
            actions=[
                ShopperAccount.phone_masked.set(masked),
                ShopperAccount.phone_sealed.set(sealed),
                ShopperAccount.last_sign_in_at.set(signed_in),
                ShopperAccount.sign_ins.add(1),
            ],
            condition=ShopperAccount.phone_hash.exists() & ShopperAccount.erasure_status.does_not_exist(),
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
    actions = [
        ShopperAccount.consents.set((ShopperAccount.consents | []).append([record])),
        ShopperAccount.consent_keys.add({key}),
    ]
    return _update_account(shopper_id, actions, ~ShopperAccount.consent_keys.contains(key))


def set_marketing(shopper_id: str, brand_id: str, granted: bool, at: datetime) -> bool:
    """Grant or withdraw a brand's marketing consent, logging the change; False if it already stood so
    (nothing is written then) or the account is gone or deleted."""
    change = MarketingChange(brand_id=brand_id, granted=granted, at=at)
    now_standing = ShopperAccount.marketing_brands.contains(brand_id)
    moved = ~now_standing if granted else now_standing
    update = ShopperAccount.marketing_brands.add if granted else ShopperAccount.marketing_brands.delete
    actions = [
        update({brand_id}),
        ShopperAccount.marketing_log.set((ShopperAccount.marketing_log | []).append([change])),
    ]
    return _update_account(shopper_id, actions, moved)


def decide_purposes(shopper_id: str, grants: set[str], decisions: list[PurposeDecision], seen: int) -> bool:
    """Set the brand purposes the account accepts now to `grants`, logging each decision; False if the
    log is no longer `seen` entries long (another change came first: read again) or the account is gone."""
    log = [
        PurposeChange(
            brand_id=d.brand_id,
            purpose=d.purpose_id,
            revision=d.revision,
            granted=d.granted,
            notice=d.notice,
            language=d.language,
            at=d.at,
        )
        for d in decisions
    ]
    # The log only grows, so its length read is the version the new grants were worked out from.
    unchanged = ShopperAccount.purpose_log.does_not_exist() if not seen else size(ShopperAccount.purpose_log) == seen
    standing = ShopperAccount.purpose_grants.set(grants) if grants else ShopperAccount.purpose_grants.remove()
    actions = [standing, ShopperAccount.purpose_log.set((ShopperAccount.purpose_log | []).append(log))]
    return _update_account(shopper_id, actions, unchanged)


def _update_account(shopper_id: str, actions: Sequence[Action], condition: Condition) -> bool:
    """Update an existing account where `condition` holds; False if it does not (or the account is gone)."""
    try:
        ShopperAccount(shopper_id).update(
            # A deleted account (no phone hash) takes no new consent, whatever token still names it.
            actions=list(actions),
            condition=ShopperAccount.phone_hash.exists() & condition,
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
