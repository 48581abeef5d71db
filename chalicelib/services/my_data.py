"""A shopper's "my data": everything the platform holds about them, read by their own id, as JSON."""

from __future__ import annotations

from chalicelib.adapters import limits, members, participants
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.validation import format_instant, parse_limit
from chalicelib.services import consents, redemptions, wins
from chalicelib.views import draws

__all__ = ["my_data", "my_data_page", "PAGE_SIZE", "PAGED_KINDS", "DOWNLOADS_PER_HOUR"]

# Claims and redemptions are the kinds a shopper can have many of: the download carries the newest
# PAGE_SIZE of each with a cursor to the rest (GET /v1/me/data/{kind}). The other kinds are bounded
# per shopper: one membership per brand, the draws of the campaigns they claimed in, their wins
# (win_store's most a wallet lists), consents once per notice version and a marketing log of at most
# consents.MARKETING_CHANGES_PER_DAY changes a day.
PAGE_SIZE = 500
PAGED_KINDS = ("claims", "redemptions")
# Each download reads every kind: a shopper's own allowance, so a stolen token cannot hammer the tables.
DOWNLOADS_PER_HOUR = 30


def _spend(shopper_id: str) -> None:
    limits.hit(
        "me-data",
        shopper_id,
        limit=DOWNLOADS_PER_HOUR,
        window_seconds=3600,
        message="Your data was asked for many times this hour; try again later.",
    )


def _account(shopper_id: str) -> tuple[dict, dict, dict]:
    account = consents.live_account(shopper_id)
    if account is None:
        return {"shopper_id": shopper_id}, {"count": 0}, consents.consents_of(None)
    shown = {
        "shopper_id": shopper_id,
        "phone": account.phone_masked,
        "created_at": format_instant(account.created_at),
    }
    sign_ins = {
        "count": int(account.sign_ins) if account.sign_ins is not None else None,
        "first_at": format_instant(account.created_at),
        "last_at": format_instant(account.last_sign_in_at) if account.last_sign_in_at else None,
    }
    return shown, sign_ins, consents.consents_of(account)


def _memberships(shopper_id: str) -> list[dict]:
    return [
        {
            "brand_id": m.brand_id,
            "balance": m.balance,
            "earned": m.earned_total,
            "spent": m.spent,
            "expired": m.expired,
            "tier": m.tier,
            "point_lots": dict(sorted(m.lots.items())),
        }
        for m in members.members_of(shopper_id)
    ]


def _claims(shopper_id: str, limit: int, cursor: str | None) -> dict:
    found, next_cursor = participants.claims_page(shopper_id, limit, cursor)
    items = [
        {
            "code_key": c.code_key,
            "brand_id": c.brand_id,
            "campaign_id": c.campaign_id,
            "batch_id": c.batch_id,
            "sku": c.sku,
            "state": c.state,
            "points": int(c.points or 0),
            "entries": int(c.entries or 0),
            "prize": c.prize_name,
            "claimed_at": format_instant(c.changed_at),
        }
        for c in found
    ]
    return {"items": items, "next_cursor": next_cursor}


def my_data(shopper_id: str) -> dict:
    """GET /v1/me/data: the shopper's account (phone masked), sign-ins, consents, memberships and point
    lots, claims, redemptions with delivery details, draws entered and wins with the details given."""
    _spend(shopper_id)
    account, sign_ins, consented = _account(shopper_id)
    return {
        "account": account,
        "sign_ins": sign_ins,
        "consents": consented,
        "memberships": _memberships(shopper_id),
        "claims": _claims(shopper_id, PAGE_SIZE, None),
        "redemptions": redemptions.my_redemptions_in_full(shopper_id, PAGE_SIZE, None),
        "draws": draws.my_draws(shopper_id)["draws"],
        "wins": wins.my_wins_in_full(shopper_id),
    }


def my_data_page(shopper_id: str, kind: str, *, limit: str | None = None, cursor: str | None = None) -> dict:
    """GET /v1/me/data/{kind}: the next page of the shopper's claims or redemptions."""
    if kind not in PAGED_KINDS:
        raise InvalidInput(f"kind: must be one of {', '.join(PAGED_KINDS)}.", field="kind")
    size = parse_limit(limit, default=PAGE_SIZE, maximum=PAGE_SIZE)
    consents.live_account(shopper_id)
    _spend(shopper_id)
    if kind == "claims":
        return _claims(shopper_id, size, cursor)
    return redemptions.my_redemptions_in_full(shopper_id, size, cursor)
