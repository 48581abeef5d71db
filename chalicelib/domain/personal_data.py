"""The registry of personal data: every stored value that identifies a shopper, where it lives, how long it stays."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Source",
    "OnDeletion",
    "PersonalDatum",
    "REGISTRY",
    "NOT_PERSONAL",
    "PERSONAL_NAME_PATTERNS",
    "rows",
    "markdown_table",
]


class Source(StrEnum):
    """What a stored value comes from."""

    PHONE = "phone number"
    DELIVERY = "delivery details"
    ID_NUMBER = "ID number"
    SIGN_IN = "sign-in record"
    PSEUDONYM = "pseudonym"
    EDGE = "the edge's viewer headers and the request's address"


class OnDeletion(StrEnum):
    """What deleting the account does to it (services/erasure.py)."""

    REMOVED = "removed"
    KEPT_WHILE_OPEN = "kept while the win or gift is still being delivered, then removed"
    KEPT_PSEUDONYM = "kept: a pseudonym, holds no contact detail"
    EXPIRES = "expires by TTL"


@dataclass(frozen=True)
class PersonalDatum:
    """One stored personal value: model and attribute (a dotted path inside a map, `key:` for a value inside a key)."""

    model: str
    table: str
    attribute: str
    source: Source
    what: str
    retention: str
    on_deletion: OnDeletion


_UNTIL_DELETED = "until the account is deleted"
_UNTIL_INACTIVE = "until the account is deleted, by the shopper or after 24 months with no sign-in"
_GIFT_DELIVERY = (
    "until the gift is shipped or cancelled, then the brand's `delivery_months` (default 6, at most 24), removed by "
    "the retention job; at once when the account is deleted and the gift is no longer pending"
)
_WIN_DETAILS = (
    "until the win closes, then the brand's `prize_record_months` (default 16, from 16 to 120: prize tax records), "
    "removed by the retention job; a deleted account's: at once if closed, else the law's least after it closes"
)

_PROOF = "until the account is deleted; then kept under the pseudonym as proof of what was agreed"

REGISTRY: tuple[PersonalDatum, ...] = (
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "consents",
        Source.SIGN_IN,
        "each notice accepted at sign-in: its version, purposes, language and time (no contact detail)",
        _PROOF,
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "consent_keys",
        Source.SIGN_IN,
        "which notice versions and purposes are recorded, so one is recorded once",
        _PROOF,
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "marketing_brands",
        Source.SIGN_IN,
        "the brands the shopper now lets market to them (participants.csv's `marketing`)",
        _UNTIL_DELETED,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "marketing_log",
        Source.SIGN_IN,
        "every marketing consent granted or withdrawn, by brand and time",
        _PROOF,
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "purpose_grants",
        Source.SIGN_IN,
        "the brands' own purposes the shopper accepts now, by brand, purpose and revision",
        _UNTIL_DELETED,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "purpose_log",
        Source.SIGN_IN,
        "every brand purpose accepted (notice version, language) or withdrawn, one record a purpose, and when",
        _PROOF,
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "phone_hash",
        Source.PHONE,
        "keyed hash (HMAC-SHA256) of the E.164 number: finds the account",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "phone_masked",
        Source.PHONE,
        "the number masked but for its country code and last three digits",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "phone_sealed",
        Source.PHONE,
        "the number sealed (AES-GCM): owners' exports, the winners' SMS",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "last_sign_in_at",
        Source.SIGN_IN,
        "when the shopper last signed in",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "created_at",
        Source.SIGN_IN,
        "when the shopper first signed in",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "expires_on",
        Source.SIGN_IN,
        "the day the account is deleted if it has not signed in again (24 months after the last sign-in)",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "ShopperAccount",
        "shoppers",
        "shopper_id",
        Source.PSEUDONYM,
        "the platform's id `shp_…`, random (not derived from the number); claims, points and draws are filed under it",
        "as long as the records filed under it",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "ShopperPhone",
        "shoppers",
        "key",
        Source.PHONE,
        "the item keyed `phone#` + the phone hash (in the `shopper_id` column): the one link from a number to its account's id",
        _UNTIL_INACTIVE,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "OtpChallenge",
        "otp_challenges",
        "phone_hash",
        Source.PHONE,
        "the phone hash keying a pending sign-in code",
        "five minutes (TTL); deleted when the code is used",
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "RateCounter",
        "rate_counters",
        "key:otp-phone",
        Source.PHONE,
        "the phone hash inside the key of the number's hourly sign-in code limit",
        "its hour and one more (TTL)",
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "RateCounter",
        "rate_counters",
        "key:otp-phone-ip",
        Source.PHONE,
        "a keyed hash of the phone hash and the network inside the key of the per-network limits",
        "its window (at most a day) and one hour more (TTL)",
        OnDeletion.EXPIRES,
    ),
    PersonalDatum(
        "Redemption",
        "redemptions",
        "delivery_sealed",
        Source.DELIVERY,
        "name, phone and address a gift is shipped to, sealed",
        _GIFT_DELIVERY,
        OnDeletion.KEPT_WHILE_OPEN,
    ),
    PersonalDatum(
        "Redemption",
        "redemptions",
        "request_digest",
        Source.DELIVERY,
        "a keyed hash of the redeem request's body (the reward and the delivery details): a resent request's check",
        _GIFT_DELIVERY,
        OnDeletion.KEPT_WHILE_OPEN,
    ),
    PersonalDatum(
        "Win",
        "wins",
        "delivery_sealed",
        Source.DELIVERY,
        "name, phone and address a prize is shipped to, sealed",
        _WIN_DETAILS,
        OnDeletion.KEPT_WHILE_OPEN,
    ),
    PersonalDatum(
        "Win",
        "wins",
        "id_number_sealed",
        Source.ID_NUMBER,
        "the winner's ID number (prize tax), sealed",
        _WIN_DETAILS,
        OnDeletion.KEPT_WHILE_OPEN,
    ),
    PersonalDatum(
        "Draw",
        "draws",
        "winners.phone_masked",
        Source.PHONE,
        "a winner's masked number as the draw recorded it (results page, regulator's papers)",
        _UNTIL_DELETED,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "Draw",
        "draws",
        "alternates.phone_masked",
        Source.PHONE,
        "an alternate's masked number as the draw recorded it",
        _UNTIL_DELETED,
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "Draw",
        "draws",
        "winners.shopper_id",
        Source.PSEUDONYM,
        "the platform's id of a winner (for the SMS), never shown",
        "as long as the draw",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "Draw",
        "draws",
        "alternates.shopper_id",
        Source.PSEUDONYM,
        "the platform's id of an alternate, never shown",
        "as long as the draw",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "DrawPage",
        "draw_pages",
        "shoppers",
        Source.PSEUDONYM,
        "the platform's ids of a snapshot page's lines (the page itself holds the brand's pseudonyms `mbr_…`)",
        "as long as the draw can be disputed",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "Win",
        "wins",
        "shopper_id",
        Source.PSEUDONYM,
        "the platform's id of the winner",
        "as long as the draw",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "CodeState",
        "code_states",
        "shopper_id",
        Source.PSEUDONYM,
        "who claimed a code (and the key of a refused scan's record)",
        "claims: as long as the campaign's figures; refusals a week (TTL)",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "CodeState",
        "code_states",
        "place",
        Source.EDGE,
        "a scan's coarse place: country and province or region (never an address or coordinates; docs/integrity.md)",
        "claims: as long as the campaign's figures; refusals a week (TTL)",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "CodeState",
        "code_states",
        "prev_place",
        Source.EDGE,
        "the coarse place of the same shopper's previous claim (the farm signal's distance)",
        "as long as the campaign's figures",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "Participant",
        "participants",
        "last_place",
        Source.EDGE,
        "the coarse place of the participant's last claim",
        "as long as the campaign's figures",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "CodeState",
        "code_states",
        "network",
        Source.EDGE,
        "a keyed pseudonym of the /24 (IPv6: /48) an invalid code came from, never the address",
        "a week (TTL), on refusals only",
        OnDeletion.EXPIRES,
    ),
    PersonalDatum(
        "Participant",
        "participants",
        "shopper_id",
        Source.PSEUDONYM,
        "a shopper's balances in one campaign",
        "as long as the campaign's figures",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "Member",
        "members",
        "shopper_id",
        Source.PSEUDONYM,
        "a shopper's points with a brand (the points are forfeited by a deletion)",
        "as long as the brand's program",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "Redemption",
        "redemptions",
        "shopper_id",
        Source.PSEUDONYM,
        "who redeemed a reward",
        "as long as the brand's records",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "SubjectRequest",
        "subject_requests",
        "phone_masked",
        Source.PHONE,
        "the masked number a data-subject request named (the clear number is used to find the account, never kept)",
        "as long as the request's record: two years after it is closed (TTL)",
        OnDeletion.REMOVED,
    ),
    PersonalDatum(
        "SubjectRequest",
        "subject_requests",
        "shopper_id",
        Source.PSEUDONYM,
        "the account a data-subject request found (none: no data held), never shown",
        "as long as the request's record: two years after it is closed (TTL)",
        OnDeletion.KEPT_PSEUDONYM,
    ),
    PersonalDatum(
        "WebhookEvent",
        "webhook_events",
        "body",
        Source.PSEUDONYM,
        "an event posted to the brand's webhooks: the brand's pseudonym `mbr_…` of the shopper, never a number or address",
        "30 days (TTL), the replay window",
        OnDeletion.EXPIRES,
    ),
)

# Attributes whose names look personal but hold nothing about a person, and why.
NOT_PERSONAL: dict[str, str] = {
    "ShopperAccount.sign_ins": "how many times the account signed in: a count, with no time or number",
    "OtpChallenge.code_hash": "the keyed hash of a one-time code, deleted when used (TTL five minutes)",
    "OtpChallenge.code_sealed": "the one-time code itself, sealed; its item's key is registered",
    "Draw.seed_sealed": "the draw's secret seed",
    "Draw.snapshot_sha256": "the hash of the draw's snapshot of pseudonyms",
    "WebhookEndpoint.secret_sealed": "a brand's webhook signing secret, sealed",
    "WebhookEndpoint.previous_sealed": "the signing secret a rotation replaced, sealed, until its overlap ends",
    "Voucher.code_sealed": "a brand's voucher code",
    "Redemption.voucher_sealed": "the brand's voucher code given",
    "Reward.per_shopper_limit": "how many of a reward one shopper may redeem",
    "Draw.sms_claims": "which winner's SMS is being sent, by rank",
    "Draw.sms_sent": "how each winner's SMS ended, by rank",
    "Draw.sms_tries": "how many tries each winner's SMS took, by rank",
    "Win.text_claims": "which SMS of the win is being sent",
    "Win.text_sent": "how each SMS of the win ended",
    "Win.text_tries": "how many tries each SMS of the win took",
    "BrandSettings.delivery_months": "how many months a brand keeps delivery details: a setting, about nobody",
}

# An attribute whose name matches one of these must be in REGISTRY or NOT_PERSONAL (tests/unit/test_personal_data.py).
PERSONAL_NAME_PATTERNS: tuple[str, ...] = (
    "phone",
    "hash",
    "sha2",
    "masked",
    "sealed",
    "delivery",
    "address",
    "id_number",
    "sign_in",
    "shopper",
    "email",
    "birth",
    "sms",
    "text_",
    "consent",
    "marketing",
)


def rows() -> list[tuple[str, str, str, str, str, str]]:
    """The registry as table rows: table, attribute, from, what, kept, on deletion."""
    return [(d.table, d.attribute, str(d.source), d.what, d.retention, str(d.on_deletion)) for d in REGISTRY]


def markdown_table() -> str:
    """The registry as docs/privacy.md shows it (scripts/privacy_table.py prints it)."""
    head = "| table | attribute | from | what | kept | on deletion |\n| --- | --- | --- | --- | --- | --- |\n"
    return head + "".join(f"| `{t}` | `{a}` | {s} | {w} | {k} | {d} |\n" for t, a, s, w, k, d in rows())
