"""A shopper's consents: the notices accepted at sign-in and the brands' own purposes (read), and each
brand's marketing consent, granted or withdrawn from the wallet."""

from __future__ import annotations

from chalicelib.adapters import limits, shopper_store
from chalicelib.adapters.models import ShopperAccount
from chalicelib.domain import clock
from chalicelib.domain.consent import NOTICE_VERSION, granted_purpose
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.schemas import BrandIdText, Schema, validate
from chalicelib.domain.validation import format_instant

__all__ = ["my_consents", "set_marketing", "consents_of", "MARKETING_CHANGES_PER_DAY"]

# Each change adds a line to the account's marketing log: this bounds how fast it grows.
MARKETING_CHANGES_PER_DAY = 20
_DAY_SECONDS = 24 * 3600


class _MarketingIn(Schema):
    brand_id: BrandIdText
    marketing: bool


DELETED_ACCOUNT = "This account was deleted. Sign in again to start a new one."


def live_account(shopper_id: str) -> ShopperAccount | None:
    """The account a shopper token names, or None if it has none yet; a token still naming an account
    whose deletion was confirmed (it lives on for at most its lifetime) answers 401: signed out, and
    what stays under the pseudonym is the brand's proof, not the shopper's data."""
    account = shopper_store.account(shopper_id)
    if account is not None and account.erasure_status is not None:  # confirmed: running or done
        raise Unauthorized(DELETED_ACCOUNT)
    return account


def consents_of(account: ShopperAccount | None) -> dict:
    """The notices an account accepted (oldest first), the brands it lets market to it, and every change."""
    accepted = [
        {
            "notice": record.notice,
            "purposes": sorted(record.purposes or ()),
            "language": record.language,
            "accepted_at": format_instant(record.at),
        }
        for record in (account.consents or [] if account else [])
    ]
    changes = [
        {"brand_id": change.brand_id, "marketing": bool(change.granted), "at": format_instant(change.at)}
        for change in (account.marketing_log or [] if account else [])
    ]
    return {
        "notice_version": NOTICE_VERSION,
        "accepted": accepted,
        "marketing_brands": sorted(account.marketing_brands or () if account else ()),
        "marketing_changes": changes,
        **_brand_purposes(account),
    }


def _brand_purposes(account: ShopperAccount | None) -> dict:
    """The brands' own purposes the account accepts now, and every acceptance and withdrawal, one a purpose."""
    standing = sorted(granted_purpose(key) for key in (account.purpose_grants or () if account else ()))
    changes = [
        {
            "brand_id": change.brand_id,
            "purpose": change.purpose,
            "revision": int(change.revision),
            "accepted": bool(change.granted),
            "notice": change.notice,
            "language": change.language,
            "at": format_instant(change.at),
        }
        for change in (account.purpose_log or [] if account else [])
    ]
    return {
        "brand_purposes": [{"brand_id": g.brand_id, "purpose": g.purpose_id, "revision": g.revision} for g in standing],
        "brand_purpose_changes": changes,
    }


def my_consents(shopper_id: str) -> dict:
    """GET /v1/me/consents: what the shopper accepted and which brands may market to them."""
    return consents_of(live_account(shopper_id))


def set_marketing(shopper_id: str, body: dict) -> dict:
    """PUT /v1/me/consents: grant or withdraw one brand's marketing consent; a change that changes
    nothing writes nothing. At most MARKETING_CHANGES_PER_DAY changes a day (429 after)."""
    values = validate(_MarketingIn, body)
    live_account(shopper_id)
    limits.hit(
        "consent-marketing",
        shopper_id,
        limit=MARKETING_CHANGES_PER_DAY,
        window_seconds=_DAY_SECONDS,
        message="Your marketing choices have changed many times today; try again tomorrow.",
        field="marketing",
    )
    shopper_store.set_marketing(shopper_id, values.brand_id, values.marketing, clock.now())
    return my_consents(shopper_id)
