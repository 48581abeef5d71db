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
