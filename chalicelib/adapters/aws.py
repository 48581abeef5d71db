"""The container's one botocore session, and clients built from it lazily, so `import app` needs no AWS."""

from __future__ import annotations

import functools
import pathlib
import threading

import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.loaders import Loader

from chalicelib.config import get_settings

__all__ = ["SERVICES", "DATA_DIR", "session", "create_client", "client", "transient"]

SERVICES = ("dynamodb", "s3", "sns", "sqs", "ssm")
"""Every AWS service the functions call. The deployment package carries botocore's data for
these alone, so a client of any other is refused everywhere (tests and the local stack
included) rather than failing only once deployed. tests/functional/test_deploy_package.py
checks that the calls chalicelib makes stay within them."""

DATA_DIR = "botocore_data"
"""The directory beside app.py in the package that holds that data (scripts/finish_package.py)."""

_PACKAGED_DATA = pathlib.Path(__file__).resolve().parents[2] / DATA_DIR

# botocore's session and its client factory are not thread-safe (tests and the local
# workers call from many threads); a Lambda container makes one of each and keeps it.
_lock = threading.Lock()
_session: botocore.session.Session | None = None


def session() -> botocore.session.Session:
    """The one botocore session of this process: service models are loaded and parsed once."""
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                fresh = botocore.session.get_session()
                if _PACKAGED_DATA.is_dir():
                    # Deployed: the package's own data, and nothing else. botocore would
                    # otherwise list its four hundred or so service directories and parse
                    # the endpoints of all of them for the first client (30-40 ms).
                    loader = Loader(extra_search_paths=[str(_PACKAGED_DATA)], include_default_search_paths=False)
                    fresh.register_component("data_loader", loader)
                _session = fresh
    return _session


def create_client(service: str, region: str, endpoint: str | None, config: Config) -> BaseClient:
    """A new botocore client of the one session (callers cache it; building one costs milliseconds)."""
    if service not in SERVICES:
        raise ValueError(f"{service} is not in aws.SERVICES: add it there, so the package carries its botocore data")
    shared = session()
    with _lock:
        return shared.create_client(service, region_name=region, endpoint_url=endpoint, config=config)


def client(service: str) -> BaseClient:
    """A client for `service` with standard retries and an explicit attempt count.

    S3 and SQS honour the endpoint overrides of the settings (moto's server locally).
    Cached per service and endpoint, so tests that move between endpoints get new clients.
    """
    settings = get_settings()
    endpoint = {"s3": settings.s3_endpoint, "sqs": settings.sqs_endpoint}.get(service)
    return _client(service, settings.region, endpoint, settings.dynamodb_max_attempts)


# Errors that say "not now" rather than "no": capacity, a transaction holding the item, the
# service itself. Retrying the same request later is the answer to each of them.
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestThrottled",
        "RequestTimeout",
    }
)


def transient(exc: BaseException) -> bool:
    """Whether `exc` (botocore's, or PynamoDB's wrapping one) is AWS saying "try again later":
    throttling, a conflicting transaction, the service unavailable, or no answer in time."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, HTTPClientError):  # timeouts, dropped and refused connections
            return True
        if isinstance(current, ClientError):
            return current.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
        current = getattr(current, "cause", None) or current.__cause__
    return False


@functools.lru_cache(maxsize=16)
def _client(service: str, region: str, endpoint: str | None, max_attempts: int) -> BaseClient:
    options: dict = {}
    if service == "s3":
        # Path-style addressing: a local endpoint has no per-bucket host names. The long
        # read timeout covers UploadPartCopy, which answers only once the copy is done.
        options = {"s3": {"addressing_style": "path" if endpoint else "virtual"}, "signature_version": "s3v4"}
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=2,
        read_timeout=60 if service == "s3" else 10,
        **options,
    )
    return create_client(service, region, endpoint, config)
