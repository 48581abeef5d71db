"""Functional suite: the API over moto's in-process DynamoDB, and the deployment package built once per session."""

from __future__ import annotations

import copy
import fcntl
import json
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

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
        _empty_tables(settings)
        yield settings


# The tables as tables.create_tables() leaves them in moto, by their schemas: made once per process.
_MADE: dict[str, OrderedDict] = {}


def _empty_tables(settings: Settings) -> None:
    """The models' tables, empty: made by tables.create_tables() the first time in this process, then a
    fresh deep copy of what moto kept of them. Creating and waiting for the tables again took ~0.1 s of
    CPU a test, for some 400 tests; the copy takes ~3 ms, and no test ever sees another's items."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.region]
    schemas = repr(
        [(m.Meta.table_name, getattr(m.Meta, "stream_view_type", None), m._get_schema()) for m in models.ALL_MODELS]
    )
    if schemas not in _MADE:
        tables.create_tables()
        _MADE[schemas] = copy.deepcopy(backend.tables)
    else:
        backend.tables = copy.deepcopy(_MADE[schemas])


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
def packages(request, tmp_path_factory, worker_id) -> dict[str, Path]:
    """Each stage packaged as scripts/deploy.sh does (scripts/package_stage.py, then finish_package),
    from the stale checkout: the build cached there must not reach the package.

    Built once per test session: the first test worker to need it builds it under a lock in the
    session's own temporary directory, and the others wait for it and read the same files (a build
    costs some 15-30 s of CPU, and every worker used to make its own)."""
    if worker_id == "master":  # not under xdist: this process is the session
        return _build_packages(tmp_path_factory.mktemp("packages"), request.getfixturevalue("stale_checkout"))
    shared = tmp_path_factory.getbasetemp().parent / "packages"  # the session's, shared by its workers
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "built").exists():
            _build_packages(shared, request.getfixturevalue("stale_checkout"))
            (shared / "built").touch()
    return {stage: shared / stage / "out" for stage in STAGES}


def _build_packages(root: Path, source: Path) -> dict[str, Path]:
    outputs = {stage: root / stage / "out" for stage in STAGES}
    package_stages(outputs, source=source)
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
