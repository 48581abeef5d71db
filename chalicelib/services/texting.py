"""What every SMS to a shopper shares: its language by the number's country, and the SMS budgets it spends."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping

from chalicelib.adapters import limits
from chalicelib.config import Settings
from chalicelib.domain.phones import Phone
from chalicelib.logs import log_event

__all__ = ["BUDGET_SHARDS", "language_for", "render", "spend_budgets"]

log = logging.getLogger(__name__)

BUDGET_SHARDS = 8
"""Counters each SMS budget is split over, so no one key takes every send."""
_DAY_SECONDS = 24 * 3600
_HOUR_SECONDS = 3600
# The language of a number's country, as the shopper pages have it (pages/landing/strings).
_LANGUAGE_OF_REGION = {"VN": "vi", "PH": "fil"}
_PLAIN = str.maketrans({"đ": "d", "Đ": "D"})  # the one Vietnamese letter that is not a base letter plus marks


def language_for(region: str) -> str:
    """The language an SMS to a number of `region` is written in (English where none is set)."""
    return _LANGUAGE_OF_REGION.get(region, "en")


def _plain(text: str) -> str:
    # Vietnamese without diacritics keeps the text in the GSM-7 alphabet: one SMS segment
    # instead of two, and it is how Vietnamese carriers' own texts read.
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def render(texts: Mapping[str, str], region: str, **values: object) -> str:
    """`texts` (language -> template, "en" always there) filled in the language of `region`'s
    numbers, or English when it has no text in that one; Vietnamese goes without diacritics,
    the values filled in too."""
    language = language_for(region)
    text = texts.get(language, texts["en"]).format(**values)
    return _plain(text) if language == "vi" and language in texts else text


def spend_budgets(phone: Phone, settings: Settings, now: float, *, brand_id: str | None = None) -> int | None:
    """One unit of the day's total, the country's day and the number range's hour (and the
    brand's day, for a brand's SMS); None when all were spent, else the seconds until the
    spent budget's window ends (the SMS must not go before then)."""
    country = dict(settings.sms_country_daily_budgets).get(phone.region, 0)
    # The brand's first: the one most often spent, so a spent one costs the shared ones nothing.
    budgets = [("sms-brand", brand_id, settings.sms_brand_daily_budget, _DAY_SECONDS)] if brand_id is not None else []
    budgets += [
        ("sms-total", "all", settings.sms_daily_budget, _DAY_SECONDS),
        ("sms-country", phone.region, country, _DAY_SECONDS),
        ("sms-prefix", phone.e164[:6], settings.sms_prefix_hourly_budget, _HOUR_SECONDS),
    ]
    for name, subject, budget, window in budgets:
        wait = limits.spend_budget(name, subject, budget=budget, window_seconds=window, shards=BUDGET_SHARDS, now=now)
        if wait is not None:
            log_event(log, "sms_budget_spent", level=logging.ERROR, budget=name, subject=subject, limit=budget)
            return wait
    return None
