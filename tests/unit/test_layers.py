"""The architecture as the code must keep it: every import in chalicelib goes the way its package says."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "adapters", "views", "services", "pages", "rendering")
FOUNDATION = ("config", "logs")
# What a package whose docstring says "May import: no other package" means: pure rules.
# Beyond chalicelib, pure packages may not reach for I/O: AWS, the network, processes.
IO_MODULES = (
    "boto3",
    "botocore",
    "pynamodb",
    "chalice",
    "requests",
    "urllib.request",
    "http",
    "socket",
    "subprocess",
    "sqlite3",
    "ssl",
)
PURE = ("domain", "pages", "rendering")


def _modules() -> list[Path]:
    return sorted(p for p in (ROOT / "chalicelib").rglob("*.py") if "build" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside functions, TYPE_CHECKING blocks included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            names.append(base)
            # `from chalicelib import x` imports the module chalicelib.x.
            if base in ("chalicelib",) or base.startswith("chalicelib."):
                names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "chalicelib" or len(parts) < 2:
        return None
    return parts[1]


def _allowed(package: str) -> set[str]:
    """The packages `package`'s docstring says it may import (besides itself)."""
    doc = ast.get_docstring(ast.parse((ROOT / "chalicelib" / package / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"chalicelib/{package}/__init__.py needs a docstring saying what it holds and may import"
    match = re.search(r"May import: ([^.]+)\.", doc.replace("\n", " "))
    assert match, f"chalicelib/{package}: the docstring must say 'May import: ...'"
    if match.group(1).strip() == "no other package":
        return set()
    return {name.strip() for name in match.group(1).split(",")}


def test_every_package_states_what_it_may_import():
    assert {p.name for p in (ROOT / "chalicelib").iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(
        PACKAGES
    )
    for package in PACKAGES:
        allowed = _allowed(package)
        assert allowed <= set(PACKAGES) | set(FOUNDATION), (package, allowed)
    # The direction: the pure rules import no other package; nothing imports services but services.
    assert _allowed("domain") == set()
    assert all("services" not in _allowed(p) for p in PACKAGES if p != "services")
    assert all("pages" not in _allowed(p) for p in PACKAGES)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_the_stated_way(path: Path):
    relative = path.relative_to(ROOT / "chalicelib").parts
    own = relative[0] if len(relative) > 1 else None
    for module in _imports(path):
        top = module.split(".")[0]
        assert top != "chalice", f"{path}: nothing below the routes imports chalice ({module})"
        assert top not in ("app", "scripts", "tests"), f"{path}: chalicelib never imports {module}"
        target = _package_of(module)
        if own is None:  # config.py, logs.py: the foundation imports no package of ours
            assert target is None or target in FOUNDATION, f"{path} imports {module}"
            continue
        if target is not None and target != own:
            assert target in _allowed(own), f"{path}: {own} may not import {module} (see chalicelib/{own}/__init__.py)"
        if own in PURE:
            assert not any(module == bad or module.startswith(bad + ".") for bad in IO_MODULES), (
                f"{path}: {own} holds no I/O, but imports {module}"
            )


def test_the_check_catches_an_import_against_the_direction(tmp_path, monkeypatch):
    # A rule that cannot fail proves nothing: a domain module importing an adapter must be caught.
    bad = tmp_path / "chalicelib" / "domain" / "bad.py"
    bad.parent.mkdir(parents=True)
    (tmp_path / "chalicelib" / "domain" / "__init__.py").write_text('"""x. May import: no other package."""\n')
    bad.write_text("from chalicelib.adapters.models import Campaign\nimport boto3\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="domain may not import chalicelib.adapters"):
        test_imports_go_the_stated_way(bad)
