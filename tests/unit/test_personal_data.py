"""The registry of personal data covers every model attribute whose name looks personal, and docs/privacy.md shows it."""

from __future__ import annotations

from pathlib import Path

from pynamodb.attributes import ListAttribute, MapAttribute

from chalicelib.adapters.models import ALL_MODELS, GUEST_MODELS
from chalicelib.domain.personal_data import NOT_PERSONAL, PERSONAL_NAME_PATTERNS, REGISTRY, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def _attribute_paths() -> dict[str, str]:
    """Every attribute of every model as `Model.path` (maps inside lists as `list.field`) -> table suffix."""
    found: dict[str, str] = {}
    for model in (*ALL_MODELS, *GUEST_MODELS):
        table = model.Meta.table_suffix  # type: ignore[attr-defined]
        for name, attribute in model.get_attributes().items():
            found[f"{model.__name__}.{name}"] = table
            inner = getattr(attribute, "element_type", None) if isinstance(attribute, ListAttribute) else None
            if inner is not None and issubclass(inner, MapAttribute):
                for field in inner.get_attributes():
                    found[f"{model.__name__}.{name}.{field}"] = table
    return found


def _looks_personal(path: str) -> bool:
    leaf = path.split(".", 1)[1]
    return any(pattern in leaf for pattern in PERSONAL_NAME_PATTERNS)


def test_every_attribute_that_looks_personal_is_registered_or_explained() -> None:
    registered = {f"{d.model}.{d.attribute}" for d in REGISTRY}
    # A registered list of maps covers its maps' fields (the consent records: version, purposes, language, time).
    covered = registered | {p for p in _attribute_paths() if p.rsplit(".", 1)[0] in registered}
    missing = [p for p in _attribute_paths() if _looks_personal(p) and p not in covered and p not in NOT_PERSONAL]
    assert missing == [], f"add these to chalicelib/domain/personal_data.py (REGISTRY or NOT_PERSONAL): {missing}"


def test_the_check_would_catch_a_new_personal_attribute() -> None:
    assert _looks_personal("Win.recipient_phone")
    assert _looks_personal("ShopperAccount.home_address")
    assert not _looks_personal("Campaign.name")


def test_every_registry_row_names_a_real_attribute_and_its_table() -> None:
    paths = _attribute_paths()
    for datum in REGISTRY:
        if datum.attribute.startswith("key:"):
            assert f"{datum.model}.counter_key" in paths
            continue
        path = f"{datum.model}.{datum.attribute}"
        assert path in paths, path
        assert paths[path] == datum.table, path
    assert all(p in paths for p in NOT_PERSONAL), [p for p in NOT_PERSONAL if p not in paths]


def test_docs_privacy_lists_every_registry_row() -> None:
    doc = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    lines = set(doc.splitlines())
    for row in markdown_table().splitlines():
        assert row in lines, f"docs/privacy.md misses the registry row (scripts/privacy_table.py prints them): {row}"
