"""AWS clients and secrets, built lazily once per container so `import app` needs no AWS."""
from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from chalicelib.domain.codes import Keyring
from chalicelib.config import Settings, get_settings

__all__ = [
    "get_keyring", "get_shopper_jwt_secret", "get_phone_hash_pepper", "client",
    "MIN_PART_BYTES", "PART_BYTES", "MultipartWriter", "export_queue_url", "send_messages",
    "put_object", "read_object", "presigned_get", "change_visibility",
]


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
    config = Config(retries={"mode": "standard", "max_attempts": max_attempts},
                    connect_timeout=2, read_timeout=60 if service == "s3" else 10, **options)
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint, config=config)


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
    secret = value or (_secure_parameter(parameter) if parameter else None)
    if not secret:
        raise RuntimeError(f"set {variable} or {variable}_PARAMETER: no secret is configured")
    if len(secret.encode()) < 32:
        # A short key makes tokens forgeable and phone hashes reversible by brute force.
        raise RuntimeError(f"{variable} must be at least 32 bytes")
    return secret


def get_shopper_jwt_secret(settings: Settings | None = None) -> str:
    """The HS256 key of shopper tokens (the first call in AWS may read SSM)."""
    settings = settings or get_settings()
    return _secret(settings.shopper_jwt_secret, settings.shopper_jwt_secret_parameter, "SHOPPER_JWT_SECRET")


def get_phone_hash_pepper(settings: Settings | None = None) -> str:
    """The HMAC key of phone hashes (the first call in AWS may read SSM)."""
    settings = settings or get_settings()
    return _secret(settings.phone_hash_pepper, settings.phone_hash_pepper_parameter, "PHONE_HASH_PEPPER")


# --- S3: print files -------------------------------------------------------------------

MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's floor for every part of a multipart upload but the last."""

PART_BYTES = 8 * 1024 * 1024
"""Size of the parts this process uploads: bounds its memory whatever the object's size."""

_COPY_THREADS = 8
_READ_BLOCK = 1024 * 1024


class MultipartWriter:
    """A write-only stream into one S3 object, sent as parts of about PART_BYTES.

    Whole objects already in the bucket are appended with server-side part copies where
    S3's part-size floor allows, so joining chunks costs no transfer through Lambda. An
    object that never reaches one part is sent with a single PutObject. Used as a context
    manager, an error aborts the upload: nothing half-written becomes visible.
    """

    def __init__(self, key: str, *, content_type: str = "application/octet-stream", bucket: str | None = None,
                 s3=None, part_bytes: int | None = None, min_part_bytes: int | None = None) -> None:
        self.key = key
        self.bucket = bucket or get_settings().export_bucket
        self.content_type = content_type
        self.size = 0
        self._s3 = s3 or client("s3")
        self._part_bytes = part_bytes or PART_BYTES
        self._min_part_bytes = min_part_bytes or MIN_PART_BYTES
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list = []  # ETags, or futures of copies still running
        self._pool = None

    def __enter__(self) -> "MultipartWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def buffered(self) -> int:
        """Bytes written but not yet sent."""
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= self._part_bytes:
            self.flush_part()

    def flush_part(self) -> None:
        """Send the buffer as the next part (callers keep it at least MIN_PART_BYTES unless last)."""
        if not self._buffer:
            return
        self._start()
        number = len(self._parts) + 1
        response = self._s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                        PartNumber=number, Body=bytes(self._buffer))
        self._parts.append(response["ETag"])
        self._buffer.clear()

    def append_object(self, key: str, size: int) -> None:
        """Append the whole object `key` (`size` bytes) of the same bucket.

        The buffer is first topped up to the part floor from the object's head, then the
        rest is copied inside S3 when it is a valid part on its own; small pieces go
        through this process instead.
        """
        start = 0
        if 0 < len(self._buffer) < self._min_part_bytes:
            start = min(size, self._min_part_bytes - len(self._buffer))
            self._append_range(key, 0, start)
        if size - start >= self._min_part_bytes:
            self.flush_part()
            self._copy_part(key, start, size)
        elif start < size:
            self._append_range(key, start, size)

    def close(self) -> int:
        """Finish the object; returns its size in bytes."""
        try:
            if self._upload_id is None:
                self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer),
                                    ContentType=self.content_type)
                self._buffer.clear()
            else:
                self.flush_part()
                etags = [part if isinstance(part, str) else part.result() for part in self._parts]
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
                )
        except BaseException:
            self.abort()
            raise
        self._shutdown()
        return self.size

    def abort(self) -> None:
        """Drop the parts sent so far (a lifecycle rule catches any this cannot reach)."""
        self._shutdown(wait=False)
        self._buffer.clear()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            try:
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass

    def _start(self) -> None:
        if self._upload_id is None:
            response = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                        ContentType=self.content_type)
            self._upload_id = response["UploadId"]

    def _copy_part(self, key: str, start: int, stop: int) -> None:
        self._start()
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            # Copies of separate parts are independent: running them side by side turns
            # the join of a few hundred chunks from minutes into seconds.
            self._pool = ThreadPoolExecutor(max_workers=_COPY_THREADS)
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(
            self._copy, key, start, stop, number, self._upload_id,
        ))
        self.size += stop - start

    def _copy(self, key: str, start: int, stop: int, number: int, upload_id: str) -> str:
        response = self._s3.upload_part_copy(
            Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": key}, CopySourceRange=f"bytes={start}-{stop - 1}",
        )
        return response["CopyPartResult"]["ETag"]

    def _append_range(self, key: str, start: int, stop: int) -> None:
        for block in read_object(key, start, stop, bucket=self.bucket, s3=self._s3):
            self.write(block)

    def _shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None


def put_object(key: str, data: bytes, *, content_type: str = "application/octet-stream",
               bucket: str | None = None) -> None:
    """Write a small object in one request."""
    client("s3").put_object(Bucket=bucket or get_settings().export_bucket, Key=key, Body=data,
                            ContentType=content_type)


def read_object(key: str, start: int | None = None, stop: int | None = None, *, bucket: str | None = None,
                s3=None):
    """The bytes of an object (or of `start <= offset < stop`) as blocks of about 1 MiB."""
    kwargs = {"Bucket": bucket or get_settings().export_bucket, "Key": key}
    if start is not None and stop is not None:
        if stop <= start:
            return
        kwargs["Range"] = f"bytes={start}-{stop - 1}"
    body = (s3 or client("s3")).get_object(**kwargs)["Body"]
    try:
        yield from body.iter_chunks(_READ_BLOCK)
    finally:
        body.close()


def presigned_get(key: str, *, expires_seconds: int, file_name: str, content_type: str,
                  bucket: str | None = None) -> str:
    """A time-limited GET URL for one object, served as a download named `file_name`."""
    return client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket or get_settings().export_bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            "ResponseContentType": content_type,
        },
        ExpiresIn=expires_seconds,
    )


# --- SQS: export work ------------------------------------------------------------------


def export_queue_url() -> str:
    """The export queue's URL: from the settings in AWS, looked up by name locally."""
    settings = get_settings()
    if settings.export_queue_url:
        return settings.export_queue_url
    return _queue_url(settings.export_queue_name, settings.sqs_endpoint, settings.region)


@functools.lru_cache(maxsize=8)
def _queue_url(name: str, endpoint: str | None, region: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def send_messages(bodies: list[str], queue_url: str | None = None) -> None:
    """Send messages in batches of ten; raises if SQS refuses any of them."""
    url = queue_url or export_queue_url()
    sqs = client("sqs")
    for first in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[first:first + 10])]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if response.get("Failed"):
            failed = response["Failed"][0]
            raise RuntimeError(f"SQS refused {len(response['Failed'])} message(s): {failed.get('Code')} {failed.get('Message')}")


def change_visibility(receipt_handle: str, seconds: int, queue_url: str | None = None) -> None:
    """Make a received message visible again after `seconds` (SQS caps it at 12 hours)."""
    client("sqs").change_message_visibility(QueueUrl=queue_url or export_queue_url(), ReceiptHandle=receipt_handle,
                                            VisibilityTimeout=max(0, min(int(seconds), 43_200)))
