"""Functional suite: the API over moto's in-process DynamoDB, and the deployment package built once per session."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.adapters import models, tables
from chalicelib.config import Settings
from scripts.finish_package import finish_package
from scripts.package_stage import fresh_copy, package_stages
from tests.packaging import ROOT, STAGES, cached_build


@pytest.fixture
def store():
    with mock_aws():
        # moto gives every test an empty backend, so one table prefix serves all tests
        # and the models keep their botocore clients from one test to the next.
        # The binding is left in place afterwards: rebinding would rebuild the clients,
        # and a test that reaches DynamoDB without a store fails either way.
        settings = Settings(table_prefix="fn")
        models.bind(settings)
        tables.create_tables()
        yield settings


# --- the deployment package, built once per session the way scripts/deploy.sh builds it ---


@pytest.fixture(scope="session")
def stale_checkout(tmp_path_factory) -> Path:
    """A copy of the project whose .chalice/deployments/ holds what a plain `chalice package` leaves:
    a build of these very requirements and files that carries botocore, which chalice would reuse."""
    import boto3
    import botocore

    checkout = fresh_copy(ROOT, tmp_path_factory.mktemp("checkout") / "project")
    stale = cached_build(checkout)
    stale.parent.mkdir(parents=True)
    with zipfile.ZipFile(stale, "w") as build:
        for module in (boto3, botocore):
            build.write(module.__file__, f"{module.__name__}/__init__.py")
            build.writestr(f"{module.__name__}-{module.__version__}.dist-info/METADATA", f"Name: {module.__name__}\n")
        build.write(checkout / "app.py", "app.py")
    return checkout


@pytest.fixture(scope="session")
def packages(stale_checkout, tmp_path_factory) -> dict[str, Path]:
    """Each stage packaged as scripts/deploy.sh does (scripts/package_stage.py, then finish_package),
    from the stale checkout: the build cached there must not reach the package."""
    outputs = {stage: tmp_path_factory.mktemp(f"package-{stage}") / "out" for stage in STAGES}
    package_stages(outputs, source=stale_checkout)
    for out in outputs.values():
        finish_package(out)
    return outputs


@pytest.fixture(scope="session", params=STAGES)
def packaged(request, packages) -> dict:
    """One stage's finished package: its stage, template and zip."""
    out = packages[request.param]
    return {
        "stage": request.param,
        "path": out / "sam.json",
        "template": json.loads((out / "sam.json").read_text()),
        "zip": out / "deployment.zip",
    }
