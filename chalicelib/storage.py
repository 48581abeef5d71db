"""AWS clients and secrets, built lazily once per container so `import app` needs no AWS."""
from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from chalicelib.codes import Keyring
from chalicelib.config import Settings, get_settings

__all__ = ["get_keyring", "client"]


@functools.lru_cache(maxsize=8)
def client(service: str):
    """A boto3 client for `service` with standard retries and an explicit attempt count."""
    settings = get_settings()
    config = Config(retries={"mode": "standard", "max_attempts": settings.dynamodb_max_attempts},
                    connect_timeout=2, read_timeout=10)
    return boto3.session.Session().client(service, region_name=settings.region, config=config)


def _load_keyring(settings: Settings) -> Keyring:
    if settings.code_keyring:
        return Keyring.from_config(settings.code_keyring)
    if settings.code_keyring_parameter:
        # A SecureString in SSM Parameter Store, read once per container: rotation adds
        # a version there and new containers pick it up; old versions keep verifying.
        response = client("ssm").get_parameter(Name=settings.code_keyring_parameter, WithDecryption=True)
        return Keyring.from_config(response["Parameter"]["Value"])
    raise RuntimeError("set CODE_KEYRING or CODE_KEYRING_PARAMETER: no code keys are configured")


@functools.lru_cache(maxsize=1)
def get_keyring() -> Keyring:
    """The code MAC keyring of this process (the first call may read SSM)."""
    return _load_keyring(get_settings())
