"""AWS clients built lazily, once per container and endpoint, so `import app` needs no AWS."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from chalicelib.config import get_settings

__all__ = ["client"]


def client(service: str):
    """A boto3 client for `service` with standard retries and an explicit attempt count.

    S3 and SQS honour the endpoint overrides of the settings (moto's server locally).
    Cached per service and endpoint, so tests that move between endpoints get new clients.
    """
    settings = get_settings()
    endpoint = {"s3": settings.s3_endpoint, "sqs": settings.sqs_endpoint}.get(service)
    return _client(service, settings.region, endpoint, settings.dynamodb_max_attempts)


@functools.lru_cache(maxsize=16)
def _client(service: str, region: str, endpoint: str | None, max_attempts: int):
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
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint, config=config)
