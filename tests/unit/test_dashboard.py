"""The dashboard page: its policy matches its inline blocks, nothing external, the token in sessionStorage only."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from chalicelib.pages import assets, dashboard
from scripts import build_pages

URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "background", "manifest", "ping"}


class _Page(HTMLParser):
    """Tags, their attributes, and the text of every <script> and <style> element, verbatim."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.blocks:
            self._open, self._text = tag, []

    def handle_data(self, data):
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == self._open:
            self.blocks[tag].append("".join(self._text))
            self._open = None


@pytest.fixture(scope="module")
def page() -> str:
    return dashboard.render_dashboard()


@pytest.fixture(scope="module")
def parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def _directives() -> dict[str, list[str]]:
    policy = dashboard.response_headers()["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_policy_hashes_are_exactly_the_inline_blocks(parsed: _Page):
    directives = _directives()
    assert len(parsed.blocks["script"]) == 2  # Chart.js, then the page's own script
    assert sorted(directives["script-src"]) == sorted(_sha256(s) for s in parsed.blocks["script"])
    assert directives["style-src"] == [_sha256(s) for s in parsed.blocks["style"]]
    assert len(parsed.blocks["style"]) == 1


def test_policy_is_strict():
    directives = _directives()
    assert directives["default-src"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    policy = dashboard.response_headers()["Content-Security-Policy"]
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "http:", "https:"):
        assert loose not in policy.split()


def test_headers():
    headers = dashboard.response_headers()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_chart_js_is_inlined_from_the_built_asset(parsed: _Page):
    chart = parsed.blocks["script"][0]
    assert chart.lstrip().startswith("/*!\n * Chart.js v4.")
    assert "sourceMappingURL" not in chart
    npm_copy = build_pages.NODE_MODULES / assets.VENDORED["chart.umd.js"]
    assert chart.strip() == npm_copy.read_text(encoding="utf-8").split("\n//# sourceMappingURL=")[0].strip()


def test_nothing_external(page: str, parsed: _Page):
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "iframe", "object", "embed", "base", "img"), tag
        if tag in ("script", "style"):
            assert not attrs, (tag, attrs)  # inline only: no src=, no type tricks
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)  # no inline handlers: the policy would block them
            if name in URL_ATTRIBUTES:
                assert not re.match(r"\s*(https?:)?//", value or "", re.I), (tag, name, value)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    for cdn in ("cdn.", "jsdelivr", "unpkg", "cdnjs", "googleapis", "fonts.g"):
        assert cdn not in page.lower(), cdn
    # The page's own markup, style and script name no URL at all.
    own = page.replace(parsed.blocks["script"][0], "")
    assert "http://" not in own and "https://" not in own
    assert "@import" not in parsed.blocks["style"][0] and "url(" not in parsed.blocks["style"][0]


def test_the_token_lives_in_session_storage_only(page: str, parsed: _Page):
    assert "localStorage" not in page
    assert "document.cookie" not in page
    assert "indexedDB" not in page
    assert f'"{dashboard.TOKEN_STORAGE_KEY}"' in parsed.blocks["script"][1]
    source = dashboard.SCRIPT_SOURCE.read_text(encoding="utf-8")
    assert "var get = qrcSession.get;" in source and "var put = qrcSession.put;" in source
    shared = (assets.PAGES_DIR / "shared.js").read_text(encoding="utf-8")
    assert "sessionStorage.setItem(key, value)" in shared and "localStorage" not in shared
    # Sent as a bearer header only (by the one shared request): never in a URL.
    assert re.search(r'headers\.Authorization = "Bearer " \+ o\.token;', shared)
    assert "return qrcApi.request(base + p, { token: token, timeout: 2e4 })" in source
    for script in (source, shared):
        assert "?token" not in script and "&token" not in script


def test_api_data_never_goes_in_as_html(parsed: _Page):
    script = parsed.blocks["script"][1]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert "textContent" in script


def test_inline_blocks_cannot_end_early(parsed: _Page):
    for source in parsed.blocks["script"]:
        assert "</script" not in source.lower() and "<!--" not in source
    assert "</style" not in parsed.blocks["style"][0].lower()


def test_the_api_base_is_the_page_prefix():
    source = dashboard.SCRIPT_SOURCE.read_text(encoding="utf-8")
    shared = (assets.PAGES_DIR / "shared.js").read_text(encoding="utf-8")
    assert 'var base = qrcApi.base("dashboard");' in source
    assert r"dashboard: /\/dashboard\/?$/ }" in shared
    assert 'return given || location.pathname.replace(qrcApi.routes[page], "");' in shared
    assert "return fetch(url, {" in shared


def test_every_totals_tile_has_a_stable_data_stat(page: str):
    keys = re.findall(r'data-stat="([^"]+)"', page)
    assert len(keys) == len(set(keys))
    for key in (
        "codes.minted",
        "codes.active",
        "scans.granted",
        "scans.duplicate",
        "scans.invalid",
        "scans.refused_cap",
        "scans.refused_rate",
        "scans.refused_inactive",
        "participants.unique",
        "participants.new",
        "participants.returning",
        "points_issued",
        "entries_issued",
        "repeat_rate",
        "updated_at",
    ):
        assert key in keys, key
    tiles = [key for _, group in dashboard.TOTALS for key, _ in group]
    assert set(tiles) <= set(keys)


def test_accessible_markup(page: str, parsed: _Page):
    assert page.startswith('<!doctype html><html lang="en">')
    assert '<label for="token">' in page and '<label for="campaign">' in page
    ids = [attrs.get("id") for _, attrs in parsed.tags if attrs.get("id")]
    assert len(ids) == len(set(ids))
    for tag, attrs in parsed.tags:
        if tag == "th":
            assert attrs.get("scope") in ("col", "row"), attrs
        if tag == "canvas":
            assert attrs.get("role") == "img" and attrs.get("aria-label")
    assert 'name="viewport" content="width=device-width,initial-scale=1"' in page


def test_built_once():
    assert dashboard.render_dashboard() is dashboard.render_dashboard()
