"""The landing page: language choice, escaping, size, and every string in every language."""

from __future__ import annotations

import html
import re
import string
from html.parser import HTMLParser

import pytest

from chalicelib.pages import landing
from chalicelib.pages.assets import csp_hash

INFO = {
    "code": "ABCDE-FGHJK-MNPQR-STVWX",
    "campaign_id": "cmp_01M84ABFWW7ERBSBN1DQFG7Q3C",
    "campaign_name": "Tết 2027 noodle promotion",
    "sku": "NOODLE-85G",
    "ends_at": "2027-02-28T17:00:00Z",
    "claimable": True,
    "reason": None,
    "points_per_scan": 10,
    "entries_per_scan": 1,
}
HOSTILE = '</script><script>alert(1)</script><img src=x onerror="alert(2)">&amp;\'"'
MAX_BYTES = 50 * 1024


@pytest.mark.parametrize(
    ("accept", "explicit", "expected"),
    [
        (None, None, "vi"),
        ("", None, "vi"),
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", None, "vi"),
        ("en-US,en;q=0.9", None, "en"),
        ("fil-PH,fil;q=0.9,en;q=0.8", None, "fil"),
        ("tl", None, "fil"),
        ("en-PH", None, "en"),
        ("ja-JP,ja;q=0.9", None, "vi"),  # nothing we speak: the Vietnam-first default
        ("ja,en;q=0.5", None, "en"),  # a lower-ranked language we speak beats none
        ("en;q=0.4,fil;q=0.8,vi;q=0.6", None, "fil"),  # highest q wins, whatever the order
        ("en;q=0.5,vi;q=0.5", None, "en"),  # a tie goes to the first listed
        ("vi;q=0,en;q=0.1", None, "en"),  # q=0 means "not this one"
        ("vi;q=0", None, "en"),  # the default itself ruled out
        ("EN-gb", None, "en"),
        ("en_US", None, "en"),
        ("*", None, "vi"),
        ("fr, *;q=0.1", None, "vi"),
        ("en;q=abc,fil", None, "fil"),  # a broken q-value counts as q=0
        ("en;q=2", None, "vi"),  # out of range counts as q=0
        (";;;,,,", None, "vi"),
        ("vi", "en", "en"),  # an explicit choice beats the header
        ("en", "fil", "fil"),
        ("en", "tl", "fil"),
        ("en", "VI", "vi"),
        ("fil", "xx", "fil"),  # an unknown explicit value is ignored
        ("en", "", "en"),
    ],
)
def test_language_choice(accept, explicit, expected):
    assert landing.pick_language(accept, explicit) == expected


def test_a_huge_accept_language_is_cut_short():
    assert landing.pick_language("xx," * 10_000 + "en", None) == "vi"


class _Collector(HTMLParser):
    """Collects start tags and their attributes to check the markup as a browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_a_hostile_campaign_name_and_code_are_escaped(lang):
    info = {**INFO, "campaign_name": HOSTILE, "sku": HOSTILE, "code": HOSTILE}
    for page in (
        landing.render_landing(info, lang, HOSTILE, ""),
        landing.render_landing(None, lang, HOSTILE, ""),
        landing.render_landing({**info, "claimable": False, "reason": "code_not_active"}, lang, HOSTILE, ""),
    ):
        assert "<script>alert" not in page and "<img" not in page
        parsed = _parse(page)
        assert not [t for t, a in parsed.tags if t == "img"]
        assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)]
        # One executable script (ours) and at most one JSON block of strings.
        scripts = [a for t, a in parsed.tags if t == "script"]
        assert len([a for a in scripts if not a.get("type")]) == 1
        assert all(a.get("type") in (None, "application/json") for a in scripts)
        assert html.escape(HOSTILE) in page or html.escape(HOSTILE[:64]) in page


def test_the_code_in_a_data_attribute_and_the_api_base_are_escaped():
    page = landing.render_landing({**INFO, "code": 'A"><x y="'}, "en", "x", 'https://api.example.com/"><x>')
    attrs = dict(next(a for t, a in _parse(page).tags if t == "main"))
    assert attrs["data-code"] == 'A"><x y="'
    assert attrs["data-api"] == 'https://api.example.com/"><x>'
    assert "<x" not in page


def test_strings_cannot_break_out_of_the_json_block(monkeypatch):
    monkeypatch.setitem(landing.STRINGS["en"], "claim", "</script><script>alert(1)</script>")
    page = landing.render_landing(INFO, "en", INFO["code"], "")
    assert "</script><script>alert" not in page
    assert "\\u003c/script\\u003e" in page


@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_pages_are_small_self_contained_mobile_html(lang):
    long_name = {**INFO, "campaign_name": "Khuyến mãi Tết " * 20}
    for page in (
        landing.render_landing(long_name, lang, INFO["code"], ""),
        landing.render_landing(None, lang, "X" * 5000, ""),
        landing.render_unavailable(lang),
    ):
        assert len(page.encode("utf-8")) < MAX_BYTES
        assert page.startswith("<!doctype html>")
        assert f'<html lang="{lang}">' in page
        assert '<meta charset="utf-8">' in page
        assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in page
        parsed = _parse(page)
        # Nothing is fetched from anywhere: no src, no stylesheet link, no url() in the CSS.
        assert not [a for t, a in parsed.tags if "src" in a or t in ("link", "iframe", "img")]
        assert "url(" not in page and "@import" not in page and "//" not in "".join(parsed.scripts).replace("\\/", "")


def test_the_page_reads_without_javascript():
    page = landing.render_landing(INFO, "en", INFO["code"], "")
    visible = page.split("<noscript>")[0]
    assert "Tết 2027 noodle promotion" in visible and "Product: NOODLE-85G" in visible
    assert "Scan this code to get 10 points and 1 lucky-draw entry." in visible
    assert "Ends 28 Feb 2027 at 23:59." in visible  # midnight in Ho Chi Minh City: the day before
    assert "<noscript>" in page and landing.STRINGS["en"]["needs_js"] in page
    # The sign-in forms appear only once the script runs.
    assert '<div id="flow" hidden>' in page


@pytest.mark.parametrize(
    ("lang", "offer", "ends"),
    [
        ("vi", "Quét mã này để nhận 10.000 điểm và 2 lượt quay số may mắn.", "Kết thúc lúc 23:59 ngày 28/2/2027."),
        ("en", "Scan this code to get 10,000 points and 2 lucky-draw entries.", "Ends 28 Feb 2027 at 23:59."),
        (
            "fil",
            "I-scan ang code na ito para makakuha ng 10,000 puntos at 2 entry sa raffle.",
            "Matatapos sa Pebrero 28, 2027, 23:59.",
        ),
    ],
)
def test_offer_and_end_in_each_language(lang, offer, ends):
    page = landing.render_landing({**INFO, "points_per_scan": 10_000, "entries_per_scan": 2}, lang, "x", "")
    assert html.escape(offer) in page and html.escape(ends) in page


def test_a_campaign_time_zone_is_used_when_given():
    page = landing.render_landing({**INFO, "timezone": "Asia/Manila", "ends_at": "2027-02-28T16:00:00Z"}, "en", "x", "")
    assert "Ends 28 Feb 2027 at 23:59." in page
    page = landing.render_landing({**INFO, "ends_at": "2027-03-01T05:30:00Z"}, "en", "x", "")
    assert "Ends 1 Mar 2027 at 12:30." in page


@pytest.mark.parametrize("reason", ["code_not_active", "campaign_not_running"])
@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_a_code_that_cannot_be_claimed_says_why_and_offers_no_sign_in(lang, reason):
    page = landing.render_landing({**INFO, "claimable": False, "reason": reason}, lang, INFO["code"], "")
    assert html.escape(landing.STRINGS[lang][f"e_{reason}"]) in page
    assert 'id="flow"' not in page and 'data-state="closed"' in page


@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_the_invalid_code_page(lang):
    page = landing.render_landing(None, lang, "  ABCDE-00000  ", "")
    assert html.escape(landing.STRINGS[lang]["invalid_title"]) in page
    assert "<code>ABCDE-00000</code>" in page and 'data-state="invalid"' in page
    # The language switch is there too, with the current language marked.
    for code in landing.LANGUAGES:
        assert f'href="?lang={code}"' in page
    assert f'hreflang="{lang}" aria-current="page"' in page


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_exists_in_every_language_with_the_same_placeholders():
    keys = set(landing.STRINGS["en"])
    for lang in landing.LANGUAGES:
        assert set(landing.STRINGS[lang]) == keys, f"{lang}: {sorted(set(landing.STRINGS[lang]) ^ keys)}"
        for key in keys:
            value = landing.STRINGS[lang][key]
            assert value.strip() or key == "and", (lang, key)
            assert _placeholders(value) == _placeholders(landing.STRINGS["en"][key]), (lang, key)
    # Vietnamese and Filipino are real translations, not English left in place.
    for lang in ("vi", "fil"):
        same = {k for k in keys if landing.STRINGS[lang][k] == landing.STRINGS["en"][k]}
        assert same <= {"phone_label", "phone_placeholder"}, (lang, sorted(same))


@pytest.mark.parametrize("script", [landing.SCRIPT_SOURCE, landing.WALLET_SOURCE], ids=lambda p: p.name)
def test_every_string_the_script_uses_exists(script):
    source = script.read_text(encoding="utf-8")
    used = set(re.findall(r"\bstrings\.(\w+)", source))
    assert len(used) > 15  # the script reads its words from the strings block, not from literals
    used |= {f"{base}_{form}" for base in re.findall(r'many\("(\w+)"', source) for form in ("one", "other")}
    assert used <= set(landing.STRINGS["en"]), sorted(used - set(landing.STRINGS["en"]))
    # Every API error code the page can meet has its own message.
    for code in (
        "code_invalid",
        "code_already_claimed",
        "code_not_active",
        "campaign_not_running",
        "phone_invalid",
        "otp_invalid",
        "unauthorized",
        "busy",
        "sms_unavailable",
    ):
        assert f"e_{code}" in landing.STRINGS["en"]


def test_every_redemption_refusal_and_status_the_api_can_give_has_its_words():
    openapi = (landing.PAGES_DIR.parents[1] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    refusals = re.search(r"code `not_enough_points`, (.*?); nothing is spent", openapi, re.S).group(1)
    codes = set(re.findall(r"`(\w+)`", refusals)) | {"not_enough_points"}
    assert codes == {"not_enough_points", "out_of_stock", "limit_reached", "reward_retired", "reward_not_available"}
    source = landing.WALLET_SOURCE.read_text(encoding="utf-8")
    for code in codes:
        assert f"wallet_e_{code}" in landing.STRINGS["en"] and f'"{code}"' in source
    for status in ("issued", "pending", "shipped", "cancelled"):
        assert f"wallet_status_{status}" in landing.STRINGS["en"]


@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_each_page_carries_its_own_language_only(lang):
    page = landing.render_landing(INFO, lang, INFO["code"], "")
    for key in ("claim", "send_code", "signin_title", "needs_js"):
        assert html.escape(landing.STRINGS[lang][key]) in page
    others = [other for other in landing.LANGUAGES if other != lang]
    for other in others:
        assert landing.STRINGS[other]["signin_title"] not in page


def test_the_policy_allows_exactly_the_inline_script_and_style():
    page = landing.render_landing(INFO, "vi", INFO["code"], "")
    policy = landing.content_security_policy("")
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    assert csp_hash(style) in policy and csp_hash(script) in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "default-src 'none'" in policy and "connect-src 'self';" in policy
    assert "connect-src 'self' https://api.example.com;" in landing.content_security_policy(
        "https://api.example.com/v1"
    )
    headers = landing.response_headers("fil")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and headers["Content-Language"] == "fil"


# --- the wallet page -----------------------------------------------------------------------


@pytest.mark.parametrize("lang", landing.LANGUAGES)
def test_the_wallet_page_signs_in_then_shows_the_wallet_in_each_language(lang):
    status, page = landing.render_wallet("brand-a", lang, "")
    assert status == 200 and len(page.encode("utf-8")) < MAX_BYTES
    attrs = dict(next(a for t, a in _parse(page).tags if t == "main"))
    assert attrs["data-state"] == "wallet" and attrs["data-brand"] == "brand-a"
    t = landing.STRINGS[lang]
    for key in ("wallet_title", "wallet_rewards", "wallet_confirm", "send_code"):
        assert html.escape(t[key]) in page
    # No scan here: nothing to claim.
    assert 'id="b-claim"' not in page and 'id="s-wallet"' in page and 'id="t"' in page


@pytest.mark.parametrize("brand", ["", "A", "Brand-A", "brand_a", "x" * 64, '"><script>alert(1)</script>'])
def test_a_wallet_link_with_an_impossible_brand_is_a_plain_404_page(brand):
    status, page = landing.render_wallet(brand, "en", "")
    assert status == 404 and "This page does not exist" in page
    assert "<script>alert" not in page and 'data-state="wallet_missing"' in page and 'id="flow"' not in page


def test_the_scan_page_opens_the_wallet_and_a_closed_campaign_links_to_it():
    page = landing.render_landing({**INFO, "brand_id": "brand-a"}, "en", INFO["code"], "")
    attrs = dict(next(a for t, a in _parse(page).tags if t == "main"))
    assert attrs["data-brand"] == "brand-a" and 'id="b-wallet"' in page and 'id="s-wallet"' in page
    closed = landing.render_landing(
        {**INFO, "brand_id": "brand-a", "claimable": False, "reason": "campaign_not_running"}, "vi", INFO["code"], ""
    )
    links = [a["href"] for t, a in _parse(closed).tags if t == "a" and "wallet" in a.get("href", "")]
    assert links == ["../wallet/brand-a"] and html.escape(landing.STRINGS["vi"]["wallet_open"]) in closed
