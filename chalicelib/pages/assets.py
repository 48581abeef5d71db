"""The pages' files: readable sources beside each page, minified builds in build/, templates, CSP hashes.

Sources (HTML templates, CSS, JavaScript, translations) live under each page's folder and
are what people read and change. scripts/build_pages.py (run by scripts/setup.sh) minifies
the CSS and JavaScript into build/, which is git-ignored and deployed with chalicelib/;
build/manifest.json records the hash of each source it was built from, so a build that
no longer matches its source is refused instead of served.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # jinja2 is imported on first render, never at `import app`
    import jinja2

__all__ = [
    "PAGES_DIR",
    "BUILD_DIR",
    "MANIFEST",
    "ASSETS",
    "VENDORED",
    "csp_hash",
    "built",
    "source_text",
    "source_hash",
    "template",
]

PAGES_DIR = Path(__file__).resolve().parent
BUILD_DIR = PAGES_DIR / "build"
MANIFEST = BUILD_DIR / "manifest.json"

ASSETS: dict[str, tuple[str, ...]] = {
    "landing.min.js": ("shared.js", "landing/landing.js", "landing/wallet.js", "landing/draws.js"),
    "landing.min.css": ("base.css", "languages.css", "landing/landing.css", "landing/wallet.css"),
    "results.min.css": ("base.css", "languages.css", "results/results.css"),
    "dashboard.min.js": (
        "shared.js",
        "dashboard/loyalty.js",
        "dashboard/privacy.js",
        "dashboard/requests.js",
        "dashboard/webhooks.js",
        "dashboard/integrity.js",
        "dashboard/dashboard.js",
        "dashboard/winners.js",
        "dashboard/draws.js",
    ),
    "dashboard.min.css": ("base.css", "dashboard/dashboard.css"),
}
"""Built file -> its sources, relative to this folder, joined in this order and minified by esbuild."""

VENDORED: dict[str, str] = {"chart.umd.js": "chart.js/dist/chart.umd.js"}
"""Built file -> its npm source under node_modules/: copied as it is (the dashboard's charts)."""

_FIX = "run `bash scripts/setup.sh`, which builds the pages (scripts/build_pages.py)"


def csp_hash(source: str) -> str:
    """The Content-Security-Policy source expression that allows exactly this inline block."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def source_text(sources: tuple[str, ...]) -> str:
    """The sources of one built asset, joined in order."""
    return "\n".join((PAGES_DIR / relative).read_text(encoding="utf-8") for relative in sources)


def source_hash(sources: tuple[str, ...]) -> str:
    """SHA-256 (hex) of the joined sources of one built asset."""
    return hashlib.sha256(source_text(sources).encode("utf-8")).hexdigest()


@functools.cache
def _manifest() -> dict[str, str]:
    try:
        return json.loads(MANIFEST.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(f"the pages are not built ({MANIFEST} is missing): {_FIX}") from None


def built(name: str) -> str:
    """The text of one built asset, checked against the source it was built from."""
    sources = ASSETS.get(name)
    if sources is not None and _manifest().get(name) != source_hash(sources):
        raise RuntimeError(f"{BUILD_DIR / name} is older than its sources ({', '.join(sources)}): {_FIX}")
    try:
        text = (BUILD_DIR / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeError(f"{BUILD_DIR / name} is missing: {_FIX}") from None
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:
        raise RuntimeError(f"{BUILD_DIR / name} cannot be inlined in the page: it contains '</script' or '<!--'")
    return text


def _compact(source: str) -> str:
    """A template on one line: the line breaks (and indentation) between tags and template tags
    go; a line break inside text becomes one space."""
    source = re.sub(r"\{#.*?#\}\s*", "", source, flags=re.S)
    source = re.sub(r"(>|%\}|\}\})\s*\n\s*(?=<|\{%|\{\{)", r"\1", source)
    return re.sub(r"\s*\n\s*", " ", source).strip()


@functools.cache
def _environment(folder: Path) -> jinja2.Environment:
    import html

    import jinja2
    import markupsafe

    def load(name: str) -> tuple[str, str, Callable[[], bool]]:
        # The page's own folder first, then the templates both pages share (common.html).
        path = folder / name if (folder / name).is_file() else PAGES_DIR / name
        return _compact(path.read_text(encoding="utf-8")), str(path), lambda: True

    def escaped(value: object) -> object:
        # The standard library's escaping (&quot; and &#x27;), as the pages always had.
        return value if isinstance(value, markupsafe.Markup) else markupsafe.Markup(html.escape(str(value)))

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load), autoescape=True, finalize=escaped, undefined=jinja2.StrictUndefined
    )


def template(folder: Path, name: str) -> jinja2.Template:
    """A page's template, compacted and escaping every value it is given."""
    return _environment(folder).get_template(name)
