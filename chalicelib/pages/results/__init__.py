"""The public results page of a campaign's lucky draws, in Vietnamese, English or Filipino; no script."""

from __future__ import annotations

import functools
import json
import zoneinfo
from datetime import datetime

from chalicelib.pages.assets import PAGES_DIR, built, csp_hash, template
from chalicelib.pages.landing import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    date_text,
    number_text,
    page_headers,
)

__all__ = ["STRINGS", "render_results", "render_missing", "render_unavailable", "response_headers"]

_FOLDER = PAGES_DIR / "results"
PICKS_SHOWN = 80
"""Winners and alternates the page lists, over all its draws in order: the page stays under 50 KB with
10 draws of the longest names (tests/unit/test_results_html.py); the rest are in each draw's data."""
_FALLBACK_TIMEZONE = "Asia/Ho_Chi_Minh"

# Every word the page shows, per language, from strings/<lang>.json; {name} placeholders are
# the same in every language (tests/unit/test_results_html.py checks).
STRINGS: dict[str, dict[str, str]] = {
    lang: json.loads((_FOLDER / "strings" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES
}


@functools.cache
def _style() -> tuple[str, str]:
    # Read once per process: the sheet never changes between answers, so its hash is a constant.
    style = built("results.min.css")
    return style, csp_hash(style)


def content_security_policy() -> str:
    """The shopper pages' policy, with no script at all: the style by its hash, nothing fetched."""
    return (
        f"default-src 'none'; script-src 'none'; style-src {_style()[1]}; connect-src 'none'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def response_headers(lang: str, api_base: str = "") -> dict[str, str]:
    """Headers for every results-page answer, whatever its status (`api_base` unused: the page calls nothing)."""
    return page_headers(lang, content_security_policy())


def _when(iso: str | None, zone: zoneinfo.ZoneInfo, lang: str) -> str:
    if not iso:
        return ""
    local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)
    return f"{date_text(local, lang)} {local.hour:02d}:{local.minute:02d}"


def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or _FALLBACK_TIMEZONE)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return zoneinfo.ZoneInfo(_FALLBACK_TIMEZONE)


def _picks(rows: list[dict], t: dict[str, str]) -> list[dict]:
    # A status the strings do not name yet is shown as it is rather than hidden.
    return [{**row, "status_text": t.get(f"ps_{row['status']}", row["status"])} for row in rows]


def _draw(draw: dict, t: dict[str, str], zone: zoneinfo.ZoneInfo, lang: str, room: int) -> dict:
    pages = draw.get("snapshot_pages") or 0
    winners = draw["winners"][:room]
    alternates = draw["alternates"][: room - len(winners)]
    hidden = len(draw["winners"]) + len(draw["alternates"]) - len(winners) - len(alternates)
    status = t["set_aside"] if draw["set_aside"] else t.get(f"st_{draw['status']}", draw["status"])
    return {
        **draw,
        "prize_text": t["prize"].format(prize=draw["prize"]),
        "status_text": status,
        "entries_until_text": _when(draw["entries_until"], zone, lang),
        "draw_at_text": _when(draw["draw_at"], zone, lang),
        "entries_text": number_text(draw["entries_total"] or 0, lang),
        "participants_text": number_text(draw["participants"] or 0, lang),
        "pages_text": t["pages_note"].format(n=number_text(pages, lang)) if pages > 1 else None,
        "winners": _picks(winners, t),
        "alternates": _picks(alternates, t),
        "more_text": t["more_picks"].format(n=number_text(hidden, lang)) if hidden else None,
        "shown": len(winners) + len(alternates),
    }


def _draws(draws: list[dict], t: dict[str, str], zone: zoneinfo.ZoneInfo, lang: str) -> list[dict]:
    shown, room = [], PICKS_SHOWN
    for draw in draws:
        shown.append(_draw(draw, t, zone, lang, room))
        room -= shown[-1]["shown"]
    return shown


def _render(lang: str, state: str, title: str, **values: object) -> str:
    return template(_FOLDER, "results.html").render(
        lang=lang,
        state=state,
        title=title,
        t=STRINGS[lang],
        style=_style()[0],
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        **values,
    )


def render_results(results: dict, lang: str) -> str:
    """The page for `results` as views.results.campaign_results gives them."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    t = STRINGS[lang]
    campaign = results["campaign"]
    zone = _zone(campaign.get("timezone"))
    period = t["period"].format(
        start=_when(campaign["starts_at"], zone, lang), end=_when(campaign["ends_at"], zone, lang)
    )
    return _render(
        lang,
        "results",
        t["title"].format(name=campaign["name"]),
        campaign=campaign,
        period=period,
        draws=_draws(results["draws"], t, zone, lang),
    )


def render_missing(lang: str) -> str:
    """The page for a campaign that is not found (or not public)."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    return _render(lang, "missing", STRINGS[lang]["missing_title"])


def render_unavailable(lang: str) -> str:
    """The page shown when the results could not be read (a fault on our side)."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    return _render(lang, "unavailable", STRINGS[lang]["unavailable_title"])
