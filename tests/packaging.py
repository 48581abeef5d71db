"""Helpers of the tests that build the deployment package: where chalice caches a build, and the environment it packages in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ROOT", "STAGES", "RUNTIME", "package_env", "cached_build"]

STAGES = ("dev", "prod")
ROOT = Path(__file__).resolve().parents[1]
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def package_env() -> dict[str, str]:
    """The environment `chalice package` runs in: no AWS account and no app settings of the session."""
    # Kept: PATH and pip's proxy or index settings (on a cold start chalice fetches Linux wheels).
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"STAGE", "TABLE_PREFIX", "DYNAMODB_ENDPOINT"}
    }
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def cached_build(project: Path) -> Path:
    """Where `chalice package` looks for a dependency build of `project` to reuse (its requirements and app files' hash)."""
    from chalice.deploy.packager import LambdaDeploymentPackager
    from chalice.utils import OSUtils

    return Path(LambdaDeploymentPackager(OSUtils(), None, None).deployment_package_filename(str(project), RUNTIME))
