"""S3 access for print files: multipart writes with server-side joins, ranged reads, presigned downloads."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.config import get_settings

__all__ = ["MIN_PART_BYTES", "PART_BYTES", "MultipartWriter", "put_object", "read_object", "presigned_get"]

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

    def __init__(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        bucket: str | None = None,
        s3: Any = None,
        part_bytes: int | None = None,
        min_part_bytes: int | None = None,
    ) -> None:
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
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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
        response = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
        )
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
                self._s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType=self.content_type
                )
                self._buffer.clear()
            else:
                self.flush_part()
                etags = [part if isinstance(part, str) else part.result() for part in self._parts]
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
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
            response = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType=self.content_type)
            self._upload_id = response["UploadId"]

    def _copy_part(self, key: str, start: int, stop: int) -> None:
        self._start()
        if self._pool is None:
            # Copies of separate parts are independent: running them side by side turns
            # the join of a few hundred chunks from minutes into seconds.
            self._pool = ThreadPoolExecutor(max_workers=_COPY_THREADS)
        number = len(self._parts) + 1
        self._parts.append(
            self._pool.submit(
                self._copy,
                key,
                start,
                stop,
                number,
                self._upload_id or "",  # set by _start() above
            )
        )
        self.size += stop - start

    def _copy(self, key: str, start: int, stop: int, number: int, upload_id: str) -> str:
        response = self._s3.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.bucket, "Key": key},
            CopySourceRange=f"bytes={start}-{stop - 1}",
        )
        return response["CopyPartResult"]["ETag"]

    def _append_range(self, key: str, start: int, stop: int) -> None:
        for block in read_object(key, start, stop, bucket=self.bucket, s3=self._s3):
            self.write(block)

    def _shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None


def put_object(
    key: str, data: bytes, *, content_type: str = "application/octet-stream", bucket: str | None = None
) -> None:
    """Write a small object in one request."""
    client("s3").put_object(Bucket=bucket or get_settings().export_bucket, Key=key, Body=data, ContentType=content_type)


def read_object(
    key: str, start: int | None = None, stop: int | None = None, *, bucket: str | None = None, s3: Any = None
) -> Iterator[bytes]:
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


def presigned_get(
    key: str, *, expires_seconds: int, file_name: str, content_type: str, bucket: str | None = None
) -> str:
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
