"""Helpers of the tests that build the deployment package: its stages, and where chalice caches a build."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["ROOT", "STAGES", "RUNTIME", "cached_build"]

STAGES = ("dev", "prod")
ROOT = Path(__file__).resolve().parents[1]
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def cached_build(project: Path) -> Path:
    """Where `chalice package` looks for a dependency build of `project` to reuse (its requirements and app files' hash)."""
    from chalice.deploy.packager import LambdaDeploymentPackager
    from chalice.utils import OSUtils

    return Path(LambdaDeploymentPackager(OSUtils(), None, None).deployment_package_filename(str(project), RUNTIME))
