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


# The persistence rule: services, views and the routes speak in domain values, and DynamoDB's
# request shapes live in adapters/ alone, where each store owns its table's shape.
_WIRE_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
_REQUEST_WORDS = frozenset(
    {
        "TransactItems",
        "ConditionExpression",
        "UpdateExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "KeyConditionExpression",
        "FilterExpression",
        "ProjectionExpression",
        "ExclusiveStartKey",
        "LastEvaluatedKey",
        "ClientRequestToken",
        "RequestItems",
        "UnprocessedKeys",
        "CancellationReasons",
        "ReturnValuesOnConditionCheckFailure",
    }
)


def _outside_adapters() -> list[Path]:
    return [ROOT / "app.py", *(p for p in _modules() if "adapters" not in p.relative_to(ROOT / "chalicelib").parts)]


def _wire_type_read(node: ast.AST) -> str | None:
    """The type of `value["S"]` or `value.get("N")`: a DynamoDB attribute value taken apart (else None)."""
    key = None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        key = node.slice.value
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        first = node.args[0]
        key = first.value if isinstance(first, ast.Constant) else None
    return key if isinstance(key, str) and key in _WIRE_TYPES else None


def _persistence_leaks(path: Path) -> list[str]:
    """Where `path` builds a DynamoDB request itself: a client() call, a wire value, a request word or a name map."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client":
            found.append(f"{where}: a DynamoDB client() call")
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(node.keys) == 1 and keys and keys[0] in _WIRE_TYPES:
                found.append(f"{where}: a DynamoDB wire value {{{keys[0]!r}: ...}}")
            elif any(k.startswith("#") or (k.startswith(":") and len(k) > 1) for k in keys):
                found.append(f"{where}: an expression's attribute names or values")
        elif _wire_type_read(node):
            found.append(f"{where}: a DynamoDB wire value read ([{_wire_type_read(node)!r}])")
        elif isinstance(node, ast.Constant) and node.value in _REQUEST_WORDS:
            found.append(f"{where}: the DynamoDB request word {node.value!r}")
        elif isinstance(node, ast.keyword) and node.arg in _REQUEST_WORDS:
            found.append(f"{where}: the DynamoDB request word {node.arg}=")
    return found


@pytest.mark.parametrize("path", _outside_adapters(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dynamodb_requests_are_built_in_adapters_alone(path: Path):
    assert _persistence_leaks(path) == [], "services, views and routes call a store in chalicelib/adapters/ instead"


_MODEL_READS = ("get", "query", "scan", "count", "batch_get", "batch_write")
_INSTANCE_WRITES = ("save", "refresh", "delete")


def _model_names(tree: ast.AST) -> set[str]:
    """The names a module binds to PynamoDB models (imported from chalicelib.adapters.models)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "chalicelib.adapters.models"
        for alias in node.names
    }


def _is_model(expr: ast.expr, models: set[str]) -> bool:
    """`M`, `models.M`, or an index of either (`M.by_x`): a model class or one of its indexes."""
    if isinstance(expr, ast.Name):
        return expr.id in models
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and expr.value.id == "models":
            return True
        return isinstance(expr.value, ast.Name) and expr.value.id in models
    return False


def _model_calls(path: Path) -> list[str]:
    """PynamoDB model calls in `path`: a model's reads, an instance's save/refresh/delete, an update's
    actions, a transaction. Each belongs in the store of its aggregate in chalicelib/adapters/."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    models = _model_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in ("TransactWrite", "TransactGet"):
            found.append(f"{where}: a {name}")
        elif isinstance(func, ast.Attribute) and (
            name in _INSTANCE_WRITES or (name in _MODEL_READS and _is_model(func.value, models))
        ):
            found.append(f"{where}: a model's .{name}()")
        if any(keyword.arg == "actions" for keyword in node.keywords):
            found.append(f"{where}: an update's actions=")
    return found


def _written(tmp_path: Path, monkeypatch, name: str, text: str) -> Path:
    """A module `name` holding `text` in a tree the checks take for the project's."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", _outside_adapters(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pynamodb_models_are_called_in_adapters_alone(path: Path):
    assert _model_calls(path) == [], "services, views and routes call the store of the aggregate instead"


def test_the_model_call_check_catches_each_kind_of_call(tmp_path, monkeypatch):
    leaky = _written(
        tmp_path,
        monkeypatch,
        "leaky.py",
        "from chalicelib.adapters import models\n"
        "from chalicelib.adapters.models import Batch, Export as E\n"
        "from pynamodb.transactions import TransactWrite\n"
        "E.get('x')\n"
        "Batch.by_campaign.query('c')\n"
        "models.Counter.batch_get(['a'])\n"
        "export.update(actions=[], condition=None)\n"
        "export.refresh(consistent_read=True)\n"
        "state.save()\n"
        "state.delete()\n"
        "with TransactWrite(connection=None) as tx:\n"
        "    pass\n",
    )
    calls = _model_calls(leaky)
    for line, what in [
        (4, ".get()"),
        (5, ".query()"),
        (6, ".batch_get()"),
        (7, "actions="),
        (8, ".refresh()"),
        (9, ".save()"),
        (10, ".delete()"),
        (11, "TransactWrite"),
    ]:
        assert any(call.startswith(f"leaky.py:{line}: ") and what in call for call in calls), (line, what)
    clean = _written(
        tmp_path,
        monkeypatch,
        "clean.py",
        "from chalicelib.adapters import export_store\ncounts = {}.get('a')\nd = {}\nd.update(b=1)\n",
    )
    assert _model_calls(clean) == []


def test_the_persistence_check_catches_each_kind_of_leak(tmp_path, monkeypatch):
    leaky = _written(
        tmp_path,
        monkeypatch,
        "leaky.py",
        "from chalicelib.adapters import dynamo\n"
        "dynamo.client().update_item(\n"
        "    Key={'pk': {'S': 'x'}}, UpdateExpression='SET #s = :s',\n"
        "    ExpressionAttributeNames={'#s': 'status'}, ExpressionAttributeValues={':s': {'S': 'done'}})\n"
        "page = {'LastEvaluatedKey': None}\n"
        "status = (image.get('state') or {}).get('S')\n"
        "count = int(item['count']['N'])\n",
    )
    leaks = "\n".join(_persistence_leaks(leaky))
    assert "client() call" in leaks
    assert "wire value {'S': ...}" in leaks
    assert "request word UpdateExpression=" in leaks
    assert "attribute names or values" in leaks
    assert "request word 'LastEvaluatedKey'" in leaks
    assert "wire value read (['S'])" in leaks
    assert "wire value read (['N'])" in leaks
    clean = tmp_path / "clean.py"
    clean.write_text("from chalicelib.adapters import draw_store\nanswer = {'status': 'x', 'S': 1, 'N': 2}\n")
    assert _persistence_leaks(clean) == []


def _listed_modules(doc: str) -> list[str]:
    """The module names a package docstring lists after "Modules:", each the first word of an entry
    ("name (what it holds)"), entries split at commas outside parentheses, up to the closing period."""
    text = doc.split("Modules:", 1)[1].replace("\n", " ")
    entries, depth, current = [], 0, ""
    for char in text:
        if char == "." and depth == 0:
            break
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            entries.append(current)
            current = ""
        else:
            current += char
    entries.append(current)
    return [entry.split()[0] for entry in entries if entry.strip()]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_docstring_lists_its_modules(package: str):
    doc = ast.get_docstring(ast.parse((ROOT / "chalicelib" / package / "__init__.py").read_text(encoding="utf-8")))
    assert doc and "Modules:" in doc, f"chalicelib/{package}/__init__.py: list the modules after 'Modules:'"
    listed = _listed_modules(doc)
    present = sorted(p.stem for p in (ROOT / "chalicelib" / package).glob("*.py") if p.stem != "__init__")
    present += sorted(
        p.name for p in (ROOT / "chalicelib" / package).iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    assert sorted(listed) == sorted(present), f"chalicelib/{package}: the docstring lists {listed}"


def test_the_module_list_reader_splits_entries_outside_parentheses():
    doc = "Holds things. May import: domain.\n\nModules: a (one, two), b_c (three),\nd (four (five, six)). Tail, e."
    assert _listed_modules(doc) == ["a", "b_c", "d"]
