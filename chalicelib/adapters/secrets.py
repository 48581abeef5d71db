"""Secrets of this stage: code MAC keys, the shopper token key, the phone pepper (SSM in AWS)."""

from __future__ import annotations

import functools

from chalicelib.adapters.aws import client
from chalicelib.config import Settings, get_settings
from chalicelib.domain.codes import Keyring

__all__ = ["get_keyring", "get_shopper_jwt_secret", "get_shopper_jwt_keys", "get_phone_hash_pepper"]


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


@functools.lru_cache(maxsize=8)
def _secure_parameter(name: str) -> str:
    # A SecureString in SSM Parameter Store, read once per container, like the keyring.
    return client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _secret(value: str | None, parameter: str | None, variable: str) -> str:
    secret = _configured(value, parameter)
    if not secret:
        raise RuntimeError(
            f"set {variable} or {variable}_PARAMETER: no secret is configured (the local-only secrets need STAGE=local)"
        )
    if len(secret.encode()) < 32:
        # A short key makes tokens forgeable and phone hashes reversible by brute force.
        raise RuntimeError(f"{variable} must be at least 32 bytes")
    return secret


def _configured(value: str | None, parameter: str | None) -> str | None:
    return value or (_secure_parameter(parameter) if parameter else None)


def get_shopper_jwt_keys(settings: Settings | None = None) -> tuple[str, ...]:
    """The shopper token keys: the first signs, every one verifies (the first call in AWS may read SSM).

    The setting holds one key, or several separated by white space while a key is being
    rotated (`<new> <old>`): tokens signed with the old key keep working until they expire.
    """
    settings = settings or get_settings()
    value = _configured(settings.shopper_jwt_secret, settings.shopper_jwt_secret_parameter) or ""
    return tuple(_secret(key, None, "SHOPPER_JWT_SECRET") for key in value.split()) or (
        _secret(None, None, "SHOPPER_JWT_SECRET"),
    )


def get_shopper_jwt_secret(settings: Settings | None = None) -> str:
    """The HS256 key new shopper tokens are signed with (the first of `get_shopper_jwt_keys`)."""
    return get_shopper_jwt_keys(settings)[0]


def get_phone_hash_pepper(settings: Settings | None = None) -> str:
    """The HMAC key of phone hashes (the first call in AWS may read SSM)."""
    settings = settings or get_settings()
    return _secret(settings.phone_hash_pepper, settings.phone_hash_pepper_parameter, "PHONE_HASH_PEPPER")
