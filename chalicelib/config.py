"""Settings read from the environment once, with no side effects."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Settings",
    "get_settings",
    "LOCAL_JWT_SECRET",
    "LOCAL_CODE_KEYRING",
    "LOCAL_SHOPPER_JWT_SECRET",
    "LOCAL_PHONE_HASH_PEPPER",
    "WORK_SECONDS",
]

# Only ever used when STAGE=local and no JWT_SECRET is set: the dev stack and the
# token script share it so a fresh checkout works with no configuration at all.
LOCAL_JWT_SECRET = "local-only-insecure-operator-secret-0123456789abcdef"
# Code MAC keys for the local stage only (32 bytes, base64url); AWS stages read theirs
# from SSM Parameter Store (CODE_KEYRING_PARAMETER) once per container.
LOCAL_CODE_KEYRING = "1:bG9jYWwtb25seS1jb2RlLWtleS12ZXJzaW9uLTEtMzJieXRlcw;current=1"
# Shopper sign-in secrets for the local stage only; AWS stages read theirs from SSM
# (SHOPPER_JWT_SECRET_PARAMETER, PHONE_HASH_PEPPER_PARAMETER) once per container. The
# shopper key differs from the operator key so neither kind of token can pass for the other.
LOCAL_SHOPPER_JWT_SECRET = "local-only-insecure-shopper-secret-0123456789abcdef"
LOCAL_PHONE_HASH_PEPPER = "local-only-insecure-phone-pepper-0123456789abcdef"

_JWT_ALGORITHMS = ("HS256", "RS256")

# How long one invocation of each Lambda function may work, by the function's name in
# .chalice/config.json. Its `lambda_timeout` there must cover this (Lambda's default of 30 s
# does not cover a long job): tests/functional/test_packaged_limits.py compares the two in
# the packaged template, and the code below it reads these, never a copy.
WORK_SECONDS: Mapping[str, int] = {
    # API Gateway answers 504 after 29 s whatever the function still does; the longest
    # wait a route makes (a draw's POST /run, draws.WAIT_SECONDS) ends inside it.
    "api_handler": 29,
    # One step of an export: a chunk renders in 2-10 s; the finisher that joins the parts
    # holds its lease (exports.FINISH_LEASE) this long, so a live one never outlasts it.
    "export_worker": 900,
    # loyalty.review_due starts no member after this; the rest waits for the next hourly run.
    # The timeout leaves room beyond it for the member under review when time runs out.
    "loyalty_review": 600,
    # Every due draw as far as it goes now: a freeze of 10^6 entries measured 42 s, and up
    # to 740 s on a machine far busier (docs/draws.md); Lambda allows no more than 900 s.
    "draw_runner": 900,
    # retention.run_due starts no removal after this; the rest waits for the next hourly run (each
    # removal is a conditional write, an account's deletion resumable, so a cut run leaves nothing half).
    "retention": 600,
    # One stream batch of up to 500 claims, counted in a few transactions with their retries.
    "stats_aggregator": 30,
    # One delivery: a 10 s POST at most (webhooks.TIMEOUT_SECONDS), with its reads and writes.
    "webhook_deliverer": 30,
    # One stream batch of the audit trail made into events and their deliveries.
    "webhook_outbox": 30,
    # One query of the due deliveries and their messages queued.
    "webhook_sweep": 30,
}


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
    # The longest an operator token may live (exp - iat): a token minted for years is
    # refused whatever its signature. The identity provider issues them for hours.
    operator_token_max_ttl_seconds: int = 12 * 3600
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 64 * 1024
    dynamodb_max_attempts: int = 5
    code_keyring: str | None = LOCAL_CODE_KEYRING
    code_keyring_parameter: str | None = None
    max_csv_rows: int = 50_000
    # Batch numbers are one space of 2^25 for every brand: each brand may take this many,
    # so no brand can use them up for the rest.
    mint_batches_per_brand: int = 20_000
    # Scan abuse limits (raise them before a national launch: many shoppers share a
    # carrier's addresses). The per-address limit is split over 4 counters.
    scan_per_shopper_per_minute: int = 30
    scan_per_ip_per_minute: int = 240
    # Shopper sign-in. "sns" in AWS, "outbox" (a JSON-lines file) locally, "memory" in tests.
    sms_sender: str = "outbox"
    outbox_dir: str = ".local/outbox"
    # Markets whose mobile numbers may sign in; the order is the order national-format
    # input (no country code) is tried in.
    phone_regions: tuple[str, ...] = ("VN", "PH")
    # What sign-in SMS may cost at most, whoever asks: every code sent spends one unit of
    # the day's total, of its country's day and of its number range's hour (the number's
    # first digits). A spent budget pauses sign-in codes it covers until its window ends.
    sms_daily_budget: int = 200_000
    sms_country_daily_budgets: tuple[tuple[str, int], ...] = (("VN", 150_000), ("PH", 50_000))
    sms_prefix_hourly_budget: int = 5_000
    # A brand's lucky-draw winners' SMS a day (they spend the budgets above too): a winner's
    # SMS past it waits for the next day rather than being lost.
    sms_brand_daily_budget: int = 2_000
    shopper_jwt_secret: str | None = LOCAL_SHOPPER_JWT_SECRET
    shopper_jwt_secret_parameter: str | None = None
    shopper_jwt_audience: str = "qr-campaigns-shopper"
    shopper_jwt_issuer: str = "qr-campaigns-local"
    # Two hours covers a scanning session; a token left on a shared or lost phone stops
    # working the same afternoon, and there is no revocation list to fall back on.
    shopper_token_ttl_seconds: int = 2 * 3600
    # Never rotate: shopper ids are derived from phone hashes, so a new pepper is a new
    # shopper for every phone number.
    phone_hash_pepper: str | None = LOCAL_PHONE_HASH_PEPPER
    phone_hash_pepper_parameter: str | None = None
    # Print-file exports: the bucket and queue of this stage, and endpoint overrides for
    # local servers (moto) that stand in for S3 and SQS.
    export_bucket: str = "qrc-local-exports"
    export_queue_name: str = "qrc-local-exports"
    export_queue_url: str | None = None
    s3_endpoint: str | None = None
    sqs_endpoint: str | None = None
    # Webhooks: the delivery queue of this stage.
    webhook_queue_name: str = "qrc-local-webhooks"
    webhook_queue_url: str | None = None

    def table_name(self, suffix: str) -> str:
        return f"{self.table_prefix}-{suffix}"

    @property
    def is_local(self) -> bool:
        return self.stage == "local"

    def check_jwt(self) -> None:
        """Refuse to verify tokens with a weak or missing key (checked on use, not at import)."""
        if not self.stage:
            raise RuntimeError("STAGE is not set: set it to local, dev or prod (local keys need STAGE=local)")
        if self.jwt_algorithm not in _JWT_ALGORITHMS:
            raise RuntimeError(f"JWT_ALGORITHM must be one of {', '.join(_JWT_ALGORITHMS)}")
        if self.jwt_algorithm == "HS256" and (not self.jwt_secret or len(self.jwt_secret.encode()) < 32):
            # A short HMAC key is brute-forceable: better no operator access than weak access.
            raise RuntimeError(
                "JWT_SECRET must be set and at least 32 bytes for HS256 (its local default needs STAGE=local)"
            )
        if self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise RuntimeError("JWT_JWKS_URL is required for RS256")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        # The local-only secrets below are used when STAGE says "local" and never
        # otherwise: a function deployed without STAGE has no keys at all and refuses
        # every token (fails closed) instead of accepting tokens anyone could forge.
        stage = environ.get("STAGE", "").strip()
        local = stage == "local"
        named = stage or "unset"
        algorithm = environ.get("JWT_ALGORITHM", "HS256").upper()
        secret = environ.get("JWT_SECRET") or (LOCAL_JWT_SECRET if local else None)
        return cls(
            stage=stage,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            table_prefix=environ.get("TABLE_PREFIX", f"qrc-{named}"),
            dynamodb_endpoint=environ.get("DYNAMODB_ENDPOINT") or None,
            jwt_algorithm=algorithm,
            jwt_secret=secret,
            jwt_jwks_url=environ.get("JWT_JWKS_URL") or None,
            jwt_audience=environ.get("JWT_AUDIENCE", "qr-campaigns-operator"),
            jwt_issuer=environ.get("JWT_ISSUER", f"qr-campaigns-{named}"),
            operator_token_max_ttl_seconds=int(environ.get("OPERATOR_TOKEN_MAX_TTL_SECONDS", str(12 * 3600))),
            jwt_leeway_seconds=int(environ.get("JWT_LEEWAY_SECONDS", "30")),
            public_base_url=environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_body_bytes=int(environ.get("MAX_BODY_BYTES", str(64 * 1024))),
            dynamodb_max_attempts=int(environ.get("DYNAMODB_MAX_ATTEMPTS", "5")),
            code_keyring=environ.get("CODE_KEYRING") or (LOCAL_CODE_KEYRING if local else None),
            code_keyring_parameter=environ.get("CODE_KEYRING_PARAMETER") or None,
            max_csv_rows=int(environ.get("MAX_CSV_ROWS", "50000")),
            mint_batches_per_brand=int(environ.get("MINT_BATCHES_PER_BRAND", "20000")),
            scan_per_shopper_per_minute=int(environ.get("SCAN_PER_SHOPPER_PER_MINUTE", "30")),
            scan_per_ip_per_minute=int(environ.get("SCAN_PER_IP_PER_MINUTE", "240")),
            sms_sender=environ.get("SMS_SENDER") or ("outbox" if local else "sns"),
            outbox_dir=environ.get("OUTBOX_DIR") or ".local/outbox",
            phone_regions=tuple(
                region.strip().upper() for region in environ.get("PHONE_REGIONS", "VN,PH").split(",") if region.strip()
            ),
            sms_daily_budget=int(environ.get("SMS_DAILY_BUDGET", "200000")),
            sms_country_daily_budgets=_budgets(environ.get("SMS_COUNTRY_DAILY_BUDGETS", "VN:150000,PH:50000")),
            sms_prefix_hourly_budget=int(environ.get("SMS_PREFIX_HOURLY_BUDGET", "5000")),
            sms_brand_daily_budget=int(environ.get("SMS_BRAND_DAILY_BUDGET", "2000")),
            shopper_jwt_secret=environ.get("SHOPPER_JWT_SECRET") or (LOCAL_SHOPPER_JWT_SECRET if local else None),
            shopper_jwt_secret_parameter=environ.get("SHOPPER_JWT_SECRET_PARAMETER") or None,
            shopper_jwt_audience=environ.get("SHOPPER_JWT_AUDIENCE", "qr-campaigns-shopper"),
            shopper_jwt_issuer=environ.get("SHOPPER_JWT_ISSUER", f"qr-campaigns-{named}"),
            shopper_token_ttl_seconds=int(environ.get("SHOPPER_TOKEN_TTL_SECONDS", str(2 * 3600))),
            phone_hash_pepper=environ.get("PHONE_HASH_PEPPER") or (LOCAL_PHONE_HASH_PEPPER if local else None),
            phone_hash_pepper_parameter=environ.get("PHONE_HASH_PEPPER_PARAMETER") or None,
            export_bucket=environ.get("EXPORT_BUCKET") or f"qrc-{named}-exports",
            export_queue_name=environ.get("EXPORT_QUEUE_NAME") or f"qrc-{named}-exports",
            export_queue_url=environ.get("EXPORT_QUEUE_URL") or None,
            s3_endpoint=environ.get("S3_ENDPOINT") or None,
            sqs_endpoint=environ.get("SQS_ENDPOINT") or None,
            webhook_queue_name=environ.get("WEBHOOK_QUEUE_NAME") or f"qrc-{named}-webhooks",
            webhook_queue_url=environ.get("WEBHOOK_QUEUE_URL") or None,
        )


def _budgets(text: str) -> tuple[tuple[str, int], ...]:
    """`VN:150000,PH:50000` as ((region, budget), ...)."""
    pairs = []
    for item in text.split(","):
        region, _, amount = item.strip().partition(":")
        if region.strip():
            pairs.append((region.strip().upper(), int(amount)))
    return tuple(pairs)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings.from_environ(os.environ)
