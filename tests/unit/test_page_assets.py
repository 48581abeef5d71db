"""The pages' files: readable sources in the repo, minified builds that match them, refused when they do not."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from chalicelib.pages import assets, dashboard, landing, results
from scripts import build_pages

SOURCES = sorted({source for sources in assets.ASSETS.values() for source in sources})
SHARED = "shared.js"
PAGE_SCRIPTS = sorted({source for source in SOURCES if source.endswith(".js")} - {SHARED})

# What only shared.js does: a page script that matches one of these has grown its own copy
# of a shared helper again (an element builder, formatting, the API call, the API's base).
_SHARED_ONLY = {
    "builds elements": r"\bcreateElement\(",
    "formats numbers or dates": r"\btoLocale(?:Date|Time)?String\(",
    "calls fetch": r"(?<![\w.])fetch\(",
    "times a request out": r"\bAbortController\b",
    "writes a bearer header": r'"Bearer "',
    "finds the API base": r"\blocation\.pathname\.replace\(",
}
_HELPER = r"(?:\$|el|clear|byId|fill|format|number|date|request|base)"
_OWN_HELPER = re.compile(rf"\bfunction\s+{_HELPER}\s*\(|\b(?:var|let|const)\s+{_HELPER}\s*=\s*(?:function\b|\()")


@pytest.fixture
def build_copy(tmp_path, monkeypatch):
    """A copy of the current build that a test may break; the pages read it instead of the real one."""
    copy = tmp_path / "build"
    shutil.copytree(assets.BUILD_DIR, copy)
    monkeypatch.setattr(assets, "BUILD_DIR", copy)
    monkeypatch.setattr(assets, "MANIFEST", copy / "manifest.json")
    for cached in (assets._manifest, landing._assets, dashboard._built, results._style):
        cached.cache_clear()
    yield copy
    for cached in (assets._manifest, landing._assets, dashboard._built, results._style):
        cached.cache_clear()


@pytest.mark.parametrize("source", SOURCES)
def test_sources_are_readable_and_their_build_is_minified(source):
    text = (assets.PAGES_DIR / source).read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) >= 15 and max(len(line) for line in lines) <= 120, "sources are formatted for people"
    assert "/*" in text  # and commented
    for name in (name for name, sources in assets.ASSETS.items() if source in sources):
        minified = assets.built(name)
        assert len(minified) < 0.85 * len(assets.source_text(assets.ASSETS[name])) and "\n" not in minified.strip()


def test_the_build_matches_the_sources():
    result = subprocess.run(
        [sys.executable, "scripts/build_pages.py", "--check"],
        cwd=assets.PAGES_DIR.parents[1],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert build_pages.current() == build_pages.wanted()


def test_templates_and_translations_are_files_beside_the_page():
    for folder, files in (
        ("landing", ("landing.html", "strings/vi.json", "strings/en.json", "strings/fil.json")),
        ("dashboard", ("dashboard.html",)),
        ("results", ("results.html", "strings/vi.json", "strings/en.json", "strings/fil.json")),
    ):
        for name in files:
            assert (assets.PAGES_DIR / folder / name).is_file(), (folder, name)
    assert landing.STRINGS["vi"] == json.loads((assets.PAGES_DIR / "landing/strings/vi.json").read_text("utf-8"))


def test_a_missing_build_says_to_run_setup(build_copy):
    (build_copy / "manifest.json").unlink()
    for render in (dashboard.render_dashboard, lambda: landing.render_unavailable("en")):
        with pytest.raises(RuntimeError, match=r"scripts/setup\.sh"):
            render()


def test_a_build_older_than_its_source_is_refused(build_copy):
    manifest = json.loads((build_copy / "manifest.json").read_text())
    manifest["landing.min.js"] = "0" * 64
    (build_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        RuntimeError,
        match=r"older than its sources \(shared\.js, landing/landing\.js, landing/wallet\.js, landing/draws\.js\)"
        r".*scripts/setup\.sh",
    ):
        landing.render_landing(None, "vi", "x", "")
    assert dashboard.render_dashboard()  # the other page's build is still current


def test_an_asset_that_would_close_the_script_is_refused(build_copy):
    (build_copy / "chart.umd.js").write_text('var x="</script><script>alert(1)";\n', encoding="utf-8")
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        dashboard.render_dashboard()


def test_templates_lose_their_line_breaks_but_keep_the_words_apart():
    assert (
        assets._compact("{# note #}\n<p>\n  one\n  two <b>x</b>\n</p>\n{% if a %}\n<i>{{ a }}</i>\n{% endif %}")
        == "<p> one two <b>x</b></p>{% if a %}<i>{{ a }}</i>{% endif %}"
    )


def _code(source: str) -> str:
    """A script without its comments, which may name what they do not do."""
    text = (assets.PAGES_DIR / source).read_text(encoding="utf-8")
    return re.sub(r"^\s*//.*$", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S), flags=re.M)


def test_every_page_script_is_built_after_the_shared_helpers():
    scripts = {name: sources for name, sources in assets.ASSETS.items() if name.endswith(".js")}
    assert set(scripts) == {"landing.min.js", "dashboard.min.js"}
    assert all(sources[0] == SHARED for sources in scripts.values()), scripts


@pytest.mark.parametrize("source", PAGE_SCRIPTS)
def test_page_scripts_use_the_shared_helpers_instead_of_copies(source):
    code = _code(source)
    for what, pattern in _SHARED_ONLY.items():
        assert not re.search(pattern, code), f"{source} {what} itself: use the helper in {SHARED}"
    own = _OWN_HELPER.search(code)
    assert own is None, f"{source} defines its own {own and own.group(0)!r}: use the helper in {SHARED}"


def test_the_copy_check_would_see_a_copy():
    shared = _code(SHARED)
    for what, pattern in _SHARED_ONLY.items():
        assert re.search(pattern, shared), f"{SHARED} no longer {what}: the check above looks for nothing"
    for copy in ("function el(tag, text, cls) {", "var $ = function (id) {", "const format = (text) =>"):
        assert _OWN_HELPER.search(copy), copy
    assert not _OWN_HELPER.search("var el = qrcDom.el, elements = 1; function element(x) {}")
