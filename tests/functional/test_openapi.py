"""docs/openapi.yaml is a valid spec, lists exactly the routes app.py has, and matches real responses."""

from __future__ import annotations

import pathlib

import jsonschema
import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from app import app
from tests.support import VALID_CAMPAIGN

SPEC = yaml.safe_load((pathlib.Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
_HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def _app_operations() -> set[tuple[str, str]]:
    return {(path, method.lower()) for path, entries in app.routes.items() for method in entries}


def _spec_operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in SPEC["paths"].items() for method in item if method in _HTTP_METHODS}


def test_spec_is_valid_openapi():
    validate(SPEC)


def test_every_route_is_in_the_spec():
    missing = _app_operations() - _spec_operations()
    assert not missing, f"routes in app.py missing from docs/openapi.yaml: {sorted(missing)}"


def test_the_spec_describes_no_route_that_does_not_exist():
    extra = _spec_operations() - _app_operations()
    assert not extra, f"docs/openapi.yaml describes routes app.py lacks: {sorted(extra)}"


def _check(instance, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    OAS31Validator(schema).validate(instance)


def test_responses_match_the_spec(api):
    campaign = api.json("POST", "/v1/campaigns", VALID_CAMPAIGN, expect=201)
    _check(campaign, "Campaign")
    _check(VALID_CAMPAIGN, "CampaignCreate")
    page = api.json("GET", "/v1/campaigns?limit=1")
    for item in page["items"]:
        _check(item, "Campaign")
    for response in (
        api.call("POST", "/v1/campaigns", raw="{"),
        api.call("GET", "/v1/campaigns", token="garbage"),
        api.call("GET", "/v1/campaigns/cmp_00000000000000000000000000"),
    ):
        _check(response.json_body, "Error")


@pytest.mark.parametrize("bad", [{"name": "x"}, {**VALID_CAMPAIGN, "status": "active"}])
def test_spec_refuses_what_the_api_refuses(bad):
    with pytest.raises(jsonschema.ValidationError):
        _check(bad, "CampaignCreate")


def test_every_security_requirement_names_a_defined_scheme():
    defined = set(SPEC["components"]["securitySchemes"])
    used = {name for requirement in SPEC.get("security", []) for name in requirement}
    for item in SPEC["paths"].values():
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                used |= {name for requirement in operation.get("security", []) for name in requirement}
    assert used <= defined, f"undefined security schemes: {used - defined}"


# JSON Schema 2020-12's keywords and OpenAPI 3.1's additions: a key beyond these in a schema is
# almost always YAML gone wrong (a flow mapping's unquoted comma makes the rest of a description
# a key of its own), which no validator refuses, since unknown keywords are allowed.
_SCHEMA_KEYWORDS = frozenset(
    [
        "$ref",
        "$id",
        "$schema",
        "$defs",
        "$comment",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "type",
        "enum",
        "const",
        "title",
        "description",
        "default",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "items",
        "prefixItems",
        "contains",
        "minContains",
        "maxContains",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "required",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "discriminator",
        "xml",
        "externalDocs",
    ]
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA = ("items", "not", "additionalProperties", "contains", "if", "then", "else", "propertyNames")


def _schemas(node, where: str):
    """Every schema object in the spec with where it is: components, parameters, bodies and responses."""
    if isinstance(node, dict):
        if "schema" in node and isinstance(node["schema"], dict):
            yield from _schema_tree(node["schema"], f"{where}.schema")
        for key, value in node.items():
            if key == "schemas" and isinstance(value, dict):
                for name, schema in value.items():
                    yield from _schema_tree(schema, f"{where}.schemas.{name}")
            elif key != "schema":
                yield from _schemas(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{where}[{i}]")


def _schema_tree(schema, where: str):
    if not isinstance(schema, dict):
        return
    yield where, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _schema_tree(sub, f"{where}.properties.{name}")
    for key in _SUBSCHEMA:
        if isinstance(schema.get(key), dict):
            yield from _schema_tree(schema[key], f"{where}.{key}")
    for key in _SUBSCHEMA_LISTS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from _schema_tree(sub, f"{where}.{key}[{i}]")


def test_every_schema_uses_only_known_keywords():
    stray = {
        f"{where}: {key!r}"
        for where, schema in _schemas(SPEC, "spec")
        for key in schema
        if key not in _SCHEMA_KEYWORDS and not key.startswith("x-")
    }
    assert not stray, f"keys that are no schema keyword (an unquoted comma in a flow mapping?): {sorted(stray)}"


def test_the_keyword_check_finds_a_description_split_by_a_comma():
    broken = yaml.safe_load("schemas: {Draw: {properties: {c: {type: string, description: SHA-256 of it, later.}}}}")
    assert [key for _, schema in _schemas(broken, "x") for key in schema if key not in _SCHEMA_KEYWORDS] == ["later."]
