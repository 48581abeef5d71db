"""The shopper landing page behind each QR code: one small HTML page in Vietnamese, English or Filipino."""

from __future__ import annotations

import functools
import json
import zoneinfo
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from chalicelib.domain.consent import NOTICE_VERSION
from chalicelib.domain.ids import is_brand_id
from chalicelib.pages.assets import PAGES_DIR, built, csp_hash, template

__all__ = [
    "LANGUAGES",
    "DEFAULT_LANGUAGE",
    "STRINGS",
    "pick_language",
    "render_landing",
    "render_unavailable",
    "render_wallet",
    "render_privacy",
    "LANGUAGE_NAMES",
    "date_text",
    "number_text",
    "content_security_policy",
    "response_headers",
    "page_headers",
    "SCRIPT_SOURCE",
]

# Vietnam is the first market: a phone that states no usable preference gets Vietnamese.
LANGUAGES = ("vi", "en", "fil")
DEFAULT_LANGUAGE = "vi"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English", "fil": "Filipino"}
# Tagalog (tl) is what many phones in the Philippines send for Filipino.
_ALIASES = {"vi": "vi", "en": "en", "fil": "fil", "tl": "fil"}
# describe_code gives no time zone yet; Vietnam's is right for the first market.
_FALLBACK_TIMEZONE = "Asia/Ho_Chi_Minh"
_MAX_CODE_ECHO = 64
_MAX_ACCEPT_ITEMS = 32

_FOLDER = PAGES_DIR / "landing"
SCRIPT_SOURCE = _FOLDER / "landing.js"
"""The page's script as people read it; the page carries its minified build."""
WALLET_SOURCE = _FOLDER / "wallet.js"
"""The wallet's script (points, tier, catalog, redeeming), built into the same bundle."""

# Every word the shopper reads, in each language, from strings/<lang>.json. Keys with
# _one/_other are counted forms; {name} placeholders must be the same in every language
# (a unit test checks).
STRINGS: dict[str, dict[str, str]] = {
    lang: json.loads((_FOLDER / "strings" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES
}

_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fil": (
        "Enero",
        "Pebrero",
        "Marso",
        "Abril",
        "Mayo",
        "Hunyo",
        "Hulyo",
        "Agosto",
        "Setyembre",
        "Oktubre",
        "Nobyembre",
        "Disyembre",
    ),
}


@functools.cache
def _assets() -> tuple[str, str, str, str]:
    # Read once per process: the script and style never change between responses, so the
    # policy's hashes are constants (hashes, not nonces: the page body stays cacheable
    # should that ever be wanted). A missing build raises and is retried on the next call.
    style, script = built("landing.min.css"), built("landing.min.js")
    return style, script, csp_hash(style), csp_hash(script)


def content_security_policy(api_base: str = "") -> str:
    """The page's policy: its own inline script and style by hash, API calls to itself only."""
    _, _, style_hash, script_hash = _assets()
    connect = "'self'"
    parts = urlsplit(api_base)
    if parts.scheme in ("http", "https") and parts.netloc:
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; script-src {script_hash}; style-src {style_hash}; connect-src {connect}; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def response_headers(lang: str, api_base: str = "") -> dict[str, str]:
    """Headers for every landing-page answer, whatever its status."""
    return page_headers(lang, content_security_policy(api_base))


def page_headers(lang: str, policy: str) -> dict[str, str]:
    """The headers of a shopper page (landing, wallet, results) in `lang` under `policy`."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        # The pages say whether a code can still be claimed, or how a win went: never from a cache.
        "Cache-Control": "no-store",
        "Content-Language": lang,
        "Content-Security-Policy": policy,
        # A code is in the landing page's URL: no referrer may carry it anywhere.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Language",
    }


def _supported(tag: str) -> str | None:
    primary = tag.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(primary)


def _quality(params: list[str]) -> float:
    """An Accept-Language item's q-value; one that is not a number from 0 to 1 rules the item out (0)."""
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                quality = 0.0
            if not 0.0 <= quality <= 1.0:
                quality = 0.0
    return quality


def pick_language(accept_language: str | None, explicit: str | None) -> str:
    """The page language: an explicit ?lang= first, then Accept-Language by q-value, then Vietnamese.

    Only the primary subtag counts (vi-VN is vi, fil-PH and tl are fil); among equal
    q-values the first listed wins; q=0 rules a language out; `*` stands for the default.
    """
    if explicit:
        chosen = _supported(explicit)
        if chosen:
            return chosen
    ranked: list[tuple[float, int, str]] = []
    excluded: set[str] = set()
    for index, item in enumerate((accept_language or "").split(",")[:_MAX_ACCEPT_ITEMS]):
        tag, *params = item.split(";")
        tag = tag.strip()
        language = (DEFAULT_LANGUAGE if tag == "*" else _supported(tag)) if tag else None
        if language is None:
            continue
        quality = _quality(params)
        if quality <= 0.0:
            excluded.add(language)
        else:
            ranked.append((-quality, index, language))
    for _, _, language in sorted(ranked):
        if language not in excluded:
            return language
    return next((language for language in LANGUAGES if language not in excluded), DEFAULT_LANGUAGE)


def number_text(value: int, lang: str) -> str:
    """A whole number with its thousands grouped as `lang` writes them."""
    grouped = f"{value:,}"
    # Vietnamese groups thousands with a dot.
    return grouped.replace(",", ".") if lang == "vi" else grouped


def _count(strings: dict[str, str], key: str, value: int, lang: str) -> str:
    return strings[f"{key}_{'one' if value == 1 else 'other'}"].format(n=number_text(value, lang))


def _end_text(info: dict, strings: dict[str, str], lang: str) -> str | None:
    try:
        ends = datetime.fromisoformat(str(info["ends_at"]).replace("Z", "+00:00"))
        zone = zoneinfo.ZoneInfo(str(info.get("timezone") or _FALLBACK_TIMEZONE))
    except (KeyError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None
    if ends.tzinfo is None:
        return None
    local = ends.astimezone(zone)
    # A campaign that ends at midnight is open all of the day before: say so.
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        local -= timedelta(minutes=1)
    return strings["ends"].format(date=date_text(local, lang), time=f"{local.hour:02d}:{local.minute:02d}")


def date_text(local: datetime, lang: str) -> str:
    """A day as people write it in `lang`: 5/12/2026, 5 Dec 2026, Disyembre 5, 2026."""
    if lang == "vi":
        return f"{local.day}/{local.month}/{local.year}"
    if lang == "fil":
        return f"{_MONTHS['fil'][local.month - 1]} {local.day}, {local.year}"
    return f"{local.day} {_MONTHS['en'][local.month - 1]} {local.year}"


def _offer_text(info: dict, strings: dict[str, str], lang: str) -> str | None:
    parts = []
    points, entries = int(info.get("points_per_scan") or 0), int(info.get("entries_per_scan") or 0)
    if points:
        parts.append(_count(strings, "points", points, lang))
    if entries:
        parts.append(_count(strings, "entries", entries, lang))
    return strings["offer"].format(what=strings["and"].join(parts)) if parts else None


def _script_json(strings: dict[str, str]) -> str:
    # Inside <script>, "</" would end the element: escape the characters that can start markup.
    text = json.dumps(strings, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _render(lang: str, state: str, title: str, **values: object) -> str:
    style, script, _, _ = _assets()
    values.setdefault("strings_json", None)
    # The notice's version goes with the sign-in (POST /v1/shopper/session, `consent.notice`).
    values.setdefault("notice_version", NOTICE_VERSION)
    return template(_FOLDER, "landing.html").render(
        lang=lang,
        state=state,
        title=title,
        t=STRINGS[lang],
        style=style,
        script=script,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        **values,
    )


def render_landing(info: dict | None, lang: str, code_text: str, api_base: str) -> str:
    """The landing page for one scanned code; `info` None renders the "code not valid" page.

    `info` is what views.codes.describe_code returns. `api_base` is where the API lives:
    empty means this page's own origin and path prefix (the API Gateway stage, if any).
    """
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    strings = STRINGS[lang]
    if info is None:
        return _render(lang, "invalid", strings["invalid_title"], shown_code=code_text.strip()[:_MAX_CODE_ECHO])
    name = str(info.get("campaign_name") or "")
    claimable = bool(info.get("claimable"))
    reason = strings.get(f"e_{info.get('reason')}", strings["e_campaign_not_running"])
    return _render(
        lang,
        "open" if claimable else "closed",
        name or strings["promo"],
        campaign_name=name,
        product=strings["product"].format(sku=info["sku"]) if info.get("sku") else None,
        offer=_offer_text(info, strings, lang),
        ends=_end_text(info, strings, lang),
        code_text=str(info.get("code") or code_text),
        api_base=api_base,
        brand_id=str(info.get("brand_id") or ""),
        # Every shopper may see the campaign's draws and winners (GET /results/{campaign_id}).
        campaign_id=str(info.get("campaign_id") or ""),
        closed_reason=None if claimable else reason,
        strings_json=_script_json(strings) if claimable else None,
    )


def render_unavailable(lang: str) -> str:
    """The page shown when the code could not be looked up (a fault on our side, not the shopper's)."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    return _render(lang, "unavailable", STRINGS[lang]["unavailable_title"], shown_code=None)


def render_wallet(brand_id: str, lang: str, api_base: str) -> tuple[int, str]:
    """The shopper's wallet with one brand (points, tier, catalog), reached without a pack in hand:
    the same page and sign-in as a scan. A brand id of an impossible shape answers 404."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    strings = STRINGS[lang]
    if not is_brand_id(brand_id):
        return 404, _render(lang, "wallet_missing", strings["wallet_missing_title"], shown_code=None)
    return 200, _render(
        lang,
        "wallet",
        strings["wallet_title"],
        brand_id=brand_id,
        code_text="",
        api_base=api_base,
        strings_json=_script_json(strings),
    )


def render_privacy(lang: str) -> str:
    """The full privacy notice the sign-in's short notice links to (GET /privacy), in `lang`."""
    lang = lang if lang in STRINGS else DEFAULT_LANGUAGE
    strings = STRINGS[lang]
    return _render(
        lang,
        "privacy",
        strings["privacy_page_title"],
        privacy_version=strings["privacy_p4"].format(version=NOTICE_VERSION),
    )
