"""Build the pages' assets into chalicelib/pages/build/: CSS and JavaScript minified by esbuild, Chart.js copied.

Run by scripts/setup.sh (and by the dev stack when a page source changes); a second run
with nothing changed does nothing. `--check` only says whether the build is current
(exit 1 when it is not). The page modules refuse a build whose manifest does not match
its sources, so a stale build is never served.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from chalicelib.pages.assets import ASSETS, BUILD_DIR, MANIFEST, VENDORED, source_hash, source_text

REPO_ROOT = Path(__file__).resolve().parent.parent

NODE_MODULES = REPO_ROOT / "node_modules"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"
# The oldest browsers the shopper page serves: cheap phones keep old ones. Plain ES5 out,
# so minifying never introduces newer syntax than the source has.
_JS_TARGET = "es5"
_SOURCE_MAP = re.compile(r"\n//# sourceMappingURL=\S*\s*$")


def _vendored_hash(source: str) -> str:
    return hashlib.sha256((NODE_MODULES / source).read_bytes()).hexdigest()


def wanted() -> dict[str, str]:
    """The manifest the current sources call for: built file -> sha256 of its source."""
    manifest = {name: source_hash(source) for name, source in ASSETS.items()}
    for name, source in VENDORED.items():
        if not (NODE_MODULES / source).is_file():
            raise SystemExit(f"build_pages: {NODE_MODULES / source} is missing: run `npm ci` (scripts/setup.sh does)")
        manifest[name] = _vendored_hash(source)
    return manifest


def current() -> dict[str, str] | None:
    try:
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not all((BUILD_DIR / name).is_file() for name in manifest):
        return None
    return manifest


def _minify(name: str, sources: tuple[str, ...]) -> str:
    if not ESBUILD.exists():
        raise SystemExit(f"build_pages: {ESBUILD} is missing: run `npm ci` (scripts/setup.sh does)")
    loader = "css" if name.endswith(".css") else "js"
    options = ["--minify", "--log-level=warning", f"--loader={loader}"]
    if loader == "js":
        options.append(f"--target={_JS_TARGET}")
    result = subprocess.run([str(ESBUILD), *options], input=source_text(sources), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"build_pages: esbuild failed on {', '.join(sources)}:\n{result.stderr}")
    return result.stdout.strip()


def build() -> list[str]:
    """Write every asset whose source changed; returns the names written."""
    want, have = wanted(), current() or {}
    changed = [name for name in want if have.get(name) != want[name]]
    if not changed and set(have) == set(want):
        return []
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    for name in changed:
        if name in ASSETS:
            text = _minify(name, ASSETS[name])
        else:
            # The map file is not served: drop the comment so developer tools do not ask for it.
            text = _SOURCE_MAP.sub("\n", (NODE_MODULES / VENDORED[name]).read_text(encoding="utf-8"))
        temporary = BUILD_DIR / f".{name}.tmp"
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(BUILD_DIR / name)
    MANIFEST.write_text(json.dumps(want, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the build does not match the sources")
    args = parser.parse_args(argv)
    if args.check:
        up_to_date = current() == wanted()
        print("build_pages: pages up to date" if up_to_date else "build_pages: pages need building")
        return 0 if up_to_date else 1
    written = build()
    print(f"build_pages: built {', '.join(written)}" if written else "build_pages: pages up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
