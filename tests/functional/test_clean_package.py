"""A deploy does not depend on what ran before it: a build cached by a plain `chalice package` never reaches the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.finish_package import RUNTIME_SDK, finish_package, runtime_sdk_files
from scripts.package_stage import package_env
from tests.packaging import ROOT, cached_build
from tests.support import requirement_pins


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as package:
        return package.namelist()


def test_a_plain_chalice_package_reuses_the_stale_build_and_finish_package_refuses_it(stale_checkout, tmp_path):
    # Today's case: the command deploy.sh used to run, in a checkout where a plain
    # `chalice package` once ran, ships that build's botocore although PIP_NO_DEPS is set.
    out = tmp_path / "out"
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice), "package", "--stage", "dev", "--merge-template", "infra/dev.json", str(out)]
    result = subprocess.run(
        command, cwd=stale_checkout, env={**package_env(), "PIP_NO_DEPS": "1"}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "Reusing existing deployment package" in result.stdout
    carried = runtime_sdk_files(_names(out / "deployment.zip"))
    assert "botocore/__init__.py" in carried and "boto3/__init__.py" in carried
    before = (out / "deployment.zip").read_bytes()
    with pytest.raises(SystemExit) as refused:
        finish_package(out)
    assert "botocore/" in str(refused.value) and "boto3/" in str(refused.value)
    assert "botocore/__init__.py" in str(refused.value)
    assert (out / "deployment.zip").read_bytes() == before, "a refused package is left as it was"
    # The script the deploy runs exits non-zero with the same message.
    script = subprocess.run(
        [sys.executable, "scripts/finish_package.py", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert script.returncode != 0 and "carries the Lambda runtime's SDK" in script.stderr


def test_the_deploy_s_packaging_from_that_checkout_carries_no_runtime_sdk(stale_checkout, packages):
    # `packages` were built by scripts/package_stage.py from the same stale checkout.
    for out in packages.values():
        assert runtime_sdk_files(_names(out / "deployment.zip")) == []
    # The checkout's own cache is neither used nor touched.
    assert runtime_sdk_files(_names(cached_build(stale_checkout))) != []


def test_the_refused_distributions_are_those_the_runtime_provides():
    assert set(RUNTIME_SDK) == set(requirement_pins("requirements-runtime.txt"))
    assert runtime_sdk_files(["botocore_data/endpoints.json", "botocore-stubs/x.py", "app.py"]) == []
    assert runtime_sdk_files(["botocore-1.44.5.dist-info/RECORD", "boto3/session.py"]) == [
        "botocore-1.44.5.dist-info/RECORD",
        "boto3/session.py",
    ]
