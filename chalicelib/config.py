"""Settings read from the environment once, with no side effects."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Settings", "get_settings", "LOCAL_JWT_SECRET", "LOCAL_CODE_KEYRING"]

# Only ever used when STAGE=local and no JWT_SECRET is set: the dev stack and the
# token script share it so a fresh checkout works with no configuration at all.
LOCAL_JWT_SECRET = "local-only-insecure-operator-secret-0123456789abcdef"
# Code MAC keys for the local stage only (32 bytes, base64url); AWS stages read theirs
# from SSM Parameter Store (CODE_KEYRING_PARAMETER) once per container.
LOCAL_CODE_KEYRING = "1:bG9jYWwtb25seS1jb2RlLWtleS12ZXJzaW9uLTEtMzJieXRlcw;current=1"

_JWT_ALGORITHMS = ("HS256", "RS256")


@dataclass(frozen=True)
class Settings:
    """Everything the domain needs to know about where it runs."""

    stage: str = "local"
    region: str = "us-east-1"
    table_prefix: str = "qrc-local"
    dynamodb_endpoint: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str = "qr-campaigns-operator"
    jwt_issuer: str = "qr-campaigns-local"
    jwt_leeway_seconds: int = 30
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 64 * 1024
    dynamodb_max_attempts: int = 5
    code_keyring: str | None = LOCAL_CODE_KEYRING
    code_keyring_parameter: str | None = None
    max_csv_rows: int = 50_000

    def table_name(self, suffix: str) -> str:
        return f"{self.table_prefix}-{suffix}"

    @property
    def is_local(self) -> bool:
        return self.stage == "local"

    def check_jwt(self) -> None:
        """Refuse to verify tokens with a weak or missing key (checked on use, not at import)."""
        if self.jwt_algorithm not in _JWT_ALGORITHMS:
            raise RuntimeError(f"JWT_ALGORITHM must be one of {', '.join(_JWT_ALGORITHMS)}")
        if self.jwt_algorithm == "HS256" and (not self.jwt_secret or len(self.jwt_secret.encode()) < 32):
            # A short HMAC key is brute-forceable: better no operator access than weak access.
            raise RuntimeError("JWT_SECRET must be set and at least 32 bytes for HS256")
        if self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise RuntimeError("JWT_JWKS_URL is required for RS256")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        stage = environ.get("STAGE", "local")
        algorithm = environ.get("JWT_ALGORITHM", "HS256").upper()
        secret = environ.get("JWT_SECRET") or (LOCAL_JWT_SECRET if stage == "local" else None)
        return cls(
            stage=stage,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            table_prefix=environ.get("TABLE_PREFIX", f"qrc-{stage}"),
            dynamodb_endpoint=environ.get("DYNAMODB_ENDPOINT") or None,
            jwt_algorithm=algorithm,
            jwt_secret=secret,
            jwt_jwks_url=environ.get("JWT_JWKS_URL") or None,
            jwt_audience=environ.get("JWT_AUDIENCE", "qr-campaigns-operator"),
            jwt_issuer=environ.get("JWT_ISSUER", f"qr-campaigns-{stage}"),
            jwt_leeway_seconds=int(environ.get("JWT_LEEWAY_SECONDS", "30")),
            public_base_url=environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_body_bytes=int(environ.get("MAX_BODY_BYTES", str(64 * 1024))),
            dynamodb_max_attempts=int(environ.get("DYNAMODB_MAX_ATTEMPTS", "5")),
            code_keyring=environ.get("CODE_KEYRING") or (LOCAL_CODE_KEYRING if stage == "local" else None),
            code_keyring_parameter=environ.get("CODE_KEYRING_PARAMETER") or None,
            max_csv_rows=int(environ.get("MAX_CSV_ROWS", "50000")),
        )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings.from_environ(os.environ)
