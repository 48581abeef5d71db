"""Retention: a brand's settings (owners change them, audited), the due days they give, and the job that removes what is due."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from chalicelib.adapters import erasure_store, members, retention_store
from chalicelib.adapters.models import BrandSettings, Redemption, Win
from chalicelib.config import WORK_SECONDS
from chalicelib.domain import clock, retention
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.lifecycle import WIN_TRANSITIONS, ErasureStatus
from chalicelib.domain.schemas import Schema, validate
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.services import audit, erasure

__all__ = ["get_settings", "put_settings", "delivery_due", "win_due", "run_due", "backfill"]

log = logging.getLogger(__name__)

_Months = Annotated[int, Field(ge=1, le=1200)]


class SettingsIn(Schema):
    delivery_months: _Months = retention.DEFAULTS.delivery_months
    prize_record_months: _Months = retention.DEFAULTS.prize_record_months


def _current(record: BrandSettings | None) -> retention.Retention:
    if record is None:
        return retention.DEFAULTS
    return retention.Retention(
        delivery_months=int(record.delivery_months or retention.DEFAULTS.delivery_months),
        prize_record_months=int(record.prize_record_months or retention.DEFAULTS.prize_record_months),
    )


def _settings_dict(brand_id: str, record: BrandSettings | None) -> dict:
    current = _current(record)
    return {
        "brand_id": brand_id,
        "delivery_months": current.delivery_months,
        "prize_record_months": current.prize_record_months,
        "inactive_account_months": retention.INACTIVE_MONTHS,
        "bounds": {name: dict(zip(("min", "max"), retention.bounds(name), strict=True)) for name in retention.FIELDS},
        "updated_at": format_instant(record.updated_at) if record else None,
        "version": int(record.version or 0) if record else 0,
    }


def get_settings(brand_id: str) -> dict:
    """GET /v1/retention: the brand's settings (the defaults until it sets its own), their legal bounds, the
    platform's inactivity period, and what the retention job removed for the brand so far."""
    return {**_settings_dict(brand_id, retention_store.settings_record(brand_id)), **_removed(brand_id)}


def _removed(brand_id: str) -> dict:
    return {"removed": retention_store.removed_counts(brand_id)}


def _check_bounds(values: SettingsIn) -> None:
    for name in retention.FIELDS:
        least, most = retention.bounds(name)
        value = getattr(values, name)
        if not least <= value <= most:
            raise InvalidInput(
                f"{name}: must be from {least} to {most} months (the law of the markets served; see docs/privacy.md).",
                field=name,
            )


def put_settings(brand_id: str, actor: str, body: dict) -> dict:
    """PUT /v1/retention: set the brand's settings, with their audit event in the same transaction.

    A change applies to what is shipped, cancelled or closed after it: each record's day was fixed when its
    clock started (docs/privacy.md, Retention)."""
    values = validate(SettingsIn, body)
    _check_bounds(values)
    record = retention_store.settings_record(brand_id)
    before = _settings_dict(brand_id, record)
    item = record or BrandSettings(brand_id)
    item.delivery_months = values.delivery_months
    item.prize_record_months = values.prize_record_months
    item.updated_at = clock.now()
    item.updated_by = actor
    after = _settings_dict(brand_id, item)
    event = audit.transaction_event(brand_id, actor, "retention_settings", brand_id, audit.changes(before, after))
    if not retention_store.save_settings(item, event):
        raise Conflict("The retention settings were changed meanwhile; read them again and retry.")
    return {**_settings_dict(brand_id, item), **_removed(brand_id)}


def delivery_due(brand_id: str, closed_at: datetime) -> str:
    """The day a gift shipped or cancelled at `closed_at` loses its delivery details, by the brand's setting."""
    return retention.due_day(closed_at, _current(retention_store.settings_record(brand_id)).delivery_months)


def win_due(brand_id: str, closed_at: datetime, *, owner_erased: bool) -> str:
    """The day a win closed at `closed_at` loses its details: the brand's setting, or the law's least when the
    winner deleted their account while the win was open (kept only as long as the law requires)."""
    if owner_erased:
        months = retention.bounds("prize_record_months")[0]
    else:
        months = _current(retention_store.settings_record(brand_id)).prize_record_months
    return retention.due_day(closed_at, months)


_CLOSED_WINS = tuple(status for status, moves in WIN_TRANSITIONS.items() if not moves)


class _Budget:
    """The job's time: no new record is started after it (the rest waits for the next run)."""

    def __init__(self, seconds: float) -> None:
        self._until = clock.monotonic() + seconds

    def left(self) -> bool:
        return clock.monotonic() < self._until


def _purged(records: Iterable[Redemption | Win | None], purge: Callable[[Any], bool], day: str, budget: _Budget) -> int:
    """How many of the records found due `purge` removed, while the budget lasts."""
    removed = 0
    for record in records:
        if not budget.left():
            break
        # The index lags its table: the record as it is now decides, and the write's condition again.
        if record is None or not record.purge_on or record.purge_on > day:
            continue
        removed += purge(record)
    return removed


def _deliveries(day: str, budget: _Budget) -> int:
    found = (retention_store.redemption(key) for key in retention_store.due_redemptions(day))
    return _purged(found, lambda record: retention_store.purge_redemption(record, day), day, budget)


def _wins(day: str, budget: _Budget) -> int:
    found = (retention_store.win(*key) for key in retention_store.due_wins(day))
    return _purged(found, lambda record: retention_store.purge_win(record, day, _CLOSED_WINS), day, budget)


def _accounts(day: str, budget: _Budget) -> int:
    removed = 0
    for shopper_id in retention_store.due_accounts(day):
        if not budget.left():
            break
        account = erasure_store.account(shopper_id)
        if account is None or not account.expires_on or account.expires_on > day:
            continue
        if account.erasure_status == ErasureStatus.RUNNING:
            continue  # its deletion is under way: finishing it takes it off the list
        if not account.phone_hash:
            retention_store.drop_expiry(shopper_id, day)
            continue
        brands = [state.brand_id for state in members.members_of(shopper_id)]
        if not retention_store.start_inactive(shopper_id, clock.now(), day, brands):
            continue  # signed in since: its day moved on
        try:
            erasure.run(shopper_id)
        except NotFound:  # finished by another run meanwhile
            pass
        removed += 1
    return removed


def run_due(now: datetime | None = None, *, budget_seconds: float = WORK_SECONDS["retention"]) -> dict[str, int]:
    """The scheduled job: remove every gift's delivery details and closed win's details whose day has come, and
    delete the accounts with no sign-in for INACTIVE_MONTHS as a shopper's own deletion would (exactly once,
    resumable). Each found by a Query on its due-day index, never a scan; each removal a conditional write
    counted for its brand in the same transaction, so a repeated, late or concurrent run removes nothing twice."""
    day = retention.day_text((now or clock.now()).date())
    budget = _Budget(budget_seconds)
    done = {"deliveries": _deliveries(day, budget), "wins": _wins(day, budget), "accounts": _accounts(day, budget)}
    log_event(log, "retention_run", day=day, removed=done)
    return done


def backfill() -> dict[str, int]:
    """Put what closed, and every account last signed in, before the due-day indexes existed on its day, once
    (scripts/retention_backfill.py): each day as the move or sign-in would have set it, by the brand's setting
    now. A day already past is removed by the job's next run. Safe to run again: what is listed is left."""
    listed = {"deliveries": 0, "wins": 0, "accounts": 0}
    for gift in retention_store.unlisted_redemptions():
        closed_at = gift.fulfilled_at or gift.cancelled_at or gift.updated_at
        listed["deliveries"] += retention_store.list_redemption(gift, delivery_due(gift.brand_id, closed_at))
    for win in retention_store.unlisted_wins(_CLOSED_WINS):
        day = win_due(win.brand_id, win.updated_at, owner_erased=bool(win.owner_erased))
        listed["wins"] += retention_store.list_win(win, day)
    for account in retention_store.unlisted_accounts():
        signed_in = account.last_sign_in_at or account.created_at or clock.now()
        listed["accounts"] += retention_store.list_account(account, retention.inactive_due_day(signed_in))
    log_event(log, "retention_backfill", listed=listed)
    return listed
