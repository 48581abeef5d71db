"""Print-file exports: queued on SQS, rendered in parallel chunks to S3, finished exactly once; the same
queue carries the jobs that finish large voucher files (services/rewards.py)."""

from __future__ import annotations

import json
import logging
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from chalicelib.adapters import export_store, limits, s3, sqs
from chalicelib.adapters.models import Export
from chalicelib.adapters.records import batch_status, create, load_batch, load_owned
from chalicelib.adapters.secrets import get_keyring
from chalicelib.config import WORK_SECONDS, get_settings
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.lifecycle import BatchStatus, ExportStatus
from chalicelib.domain.schemas import Schema, validate
from chalicelib.domain.validation import format_instant
from chalicelib.logs import log_event
from chalicelib.rendering import printfiles
from chalicelib.services import rewards

__all__ = [
    "FORMATS",
    "MAX_RECEIVES",
    "FINISH_LEASE",
    "ExportFormat",
    "request_export",
    "get_export",
    "handle_message",
]

log = logging.getLogger("qr-campaigns.exports")

MAX_RECEIVES = 5
# A voucher job writes this long per message, then queues the next part: well inside the function's
# timeout, so a part is never cut off by it (a cut part is only written again, never twice).
VOUCHER_JOB_SECONDS = WORK_SECONDS["export_worker"] - 300
"""Deliveries of one message before it goes to the dead-letter queue (the queue's redrive
policy says the same); the last failed delivery marks the export failed."""

FINISH_LEASE = timedelta(seconds=WORK_SECONDS["export_worker"])
"""How long a finisher holds the export: the worker's budget, which its Lambda timeout equals,
so a live finisher never outlasts its lease and a crashed one is replaced once it has run out."""

DOWNLOAD_URL_SECONDS = 15 * 60
KEEP_FILES = timedelta(days=7)
"""The bucket's lifecycle rule deletes finished files after 7 days; no URL is handed out later."""
KEEP_RECORDS = timedelta(days=30)
MAX_CHUNKS = 1000
"""Bounds the done set on the export item (and the parts of the final upload)."""

WAVE = 20
"""Chunks of one export queued at a time: fairness between brands whose exports share the workers."""

ACTIVE_PER_BRAND = 3
"""Exports one brand may have queued or running at once; one more answers 429 until one ends."""

ACTIVE_LEASE = timedelta(hours=24)
"""How long a slot is held without its export ending: a worker lost for good frees it then."""
_SLOTS = "exports-active"

_OFFSETS = struct.Struct("<I")
_RETRY_BASE_SECONDS = 10


@dataclass(frozen=True)
class ExportFormat:
    """One downloadable format and how many codes one worker renders per chunk."""

    name: str
    extension: str
    content_type: str
    chunk_size: int


# Chunk sizes keep one chunk at roughly 2-10 s on one Lambda vCPU, and CSV and image
# chunks above S3's 5 MiB part floor, so joining them is a server-side copy. PDF chunks
# are whole pages (40 labels each); they come out smaller, and the join streams them.
FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "csv", "text/csv; charset=utf-8", 100_000),
    "svg-zip": ExportFormat("svg-zip", "svg.zip", "application/zip", 20_000),
    "png-zip": ExportFormat("png-zip", "png.zip", "application/zip", 20_000),
    "pdf": ExportFormat("pdf", "pdf", "application/pdf", 20_000),
}


class ExportIn(Schema):
    format: Literal["csv", "svg-zip", "png-zip", "pdf"]


class _FinishPending(RuntimeError):
    """Another worker holds the finishing lease: try again later, the export has not failed."""


def _part_key(export_id: str, index: int) -> str:
    # Parts live under their own prefix, which a lifecycle rule empties after a day.
    return f"export-parts/{export_id}/{index:05d}"


def _records_key(export_id: str, index: int) -> str:
    return _part_key(export_id, index) + ".idx"


def _file_key(export: Export) -> str:
    return f"exports/{export.export_id}/{export.file_name}"


def _chunk_size(fmt: ExportFormat, quantity: int) -> int:
    size_ = max(fmt.chunk_size, -(-quantity // MAX_CHUNKS))
    if fmt.name == "pdf":
        size_ = -(-size_ // printfiles.LABELS_PER_PAGE) * printfiles.LABELS_PER_PAGE
    return size_


def _chunk_range(export: Export, index: int) -> tuple[int, int]:
    start = index * export.chunk_size
    return start, min(export.quantity, start + export.chunk_size)


def _progress(export: Export) -> float:
    # Joining the chunks is one more step: 1.0 only once the file is there.
    if export.status == ExportStatus.DONE:
        return 1.0
    return round(len(export.done or ()) / (export.chunks_total + 1), 4)


def _to_dict(export: Export, download: tuple[str, datetime] | None = None, note: str | None = None) -> dict:
    return {
        "export_id": export.export_id,
        "batch_id": export.batch_id,
        "format": export.format,
        "status": export.status,
        "progress": _progress(export),
        "chunks": {"total": export.chunks_total, "done": len(export.done or ())},
        "file_name": export.file_name,
        "size_bytes": int(export.size_bytes) if export.size_bytes is not None else None,
        "download_url": download[0] if download else None,
        "download_url_expires_at": format_instant(download[1]) if download else None,
        "error": export.error or note,
        "created_at": format_instant(export.created_at),
        "updated_at": format_instant(export.updated_at),
        "finished_at": format_instant(export.finished_at) if export.finished_at else None,
    }


def _message(export_id: str, step: str, chunk: int | None = None) -> str:
    body = {"v": 1, "export_id": export_id, "step": step}
    if chunk is not None:
        body["chunk"] = chunk
    return json.dumps(body, separators=(",", ":"))


# --- API side ---------------------------------------------------------------------------


def request_export(brand_id: str, batch_id: str, actor: str, body: dict) -> dict:
    """Queue a print-file export of a batch; answers at once with the queued export."""
    values = validate(ExportIn, body)
    batch = load_batch(brand_id, batch_id)
    if batch.status == BatchStatus.VOID:
        raise Conflict("The batch is void; its codes must not be printed.", field="status")
    fmt = FORMATS[values.format]
    chunk_size = _chunk_size(fmt, batch.quantity)
    now = clock.now()
    export = Export(
        new_id("exp"),
        brand_id=brand_id,
        batch_id=batch.batch_id,
        batch_number=batch.batch_number,
        key_version=batch.key_version,
        quantity=batch.quantity,
        base_url=get_settings().public_base_url,
        format=fmt.name,
        file_name=f"{batch.batch_id}.{fmt.extension}",
        status=ExportStatus.QUEUED,
        chunk_size=chunk_size,
        chunks_total=-(-batch.quantity // chunk_size),
        created_by=actor,
        created_at=now,
        updated_at=now,
        expires_at=now + KEEP_RECORDS,
    )
    # One of the brand's few export slots, held until the export ends: one brand cannot
    # fill the workers with exports while every other brand waits.
    limits.take_slot(
        _SLOTS,
        brand_id,
        export.export_id,
        limit=ACTIVE_PER_BRAND,
        lease_seconds=int(ACTIVE_LEASE.total_seconds()),
        message=f"This brand has {ACTIVE_PER_BRAND} exports under way; ask again when one of them is done.",
    )
    try:
        create(export, Export.export_id, "export")
    except BaseException:
        limits.free_slot(_SLOTS, brand_id, export.export_id)
        raise
    try:
        sqs.send_messages([_message(export.export_id, "plan")])
    except Exception:
        # Saved but never queued: say so instead of leaving it "queued" for ever.
        _fail(export, "The export could not be queued; ask for it again.")
        raise
    log_event(
        log,
        "export_queued",
        export_id=export.export_id,
        format=fmt.name,
        codes=batch.quantity,
        chunks=export.chunks_total,
    )
    return _to_dict(export)


def get_export(brand_id: str, export_id: str) -> dict:
    """Status and progress of an export, with a short-lived download URL once it is done."""
    export = load_owned(Export, brand_id, export_id, "exp", "export")
    if export.status != ExportStatus.DONE:
        return _to_dict(export)
    now = clock.now()
    if now >= export.finished_at + KEEP_FILES:
        return _to_dict(export, note="The file has expired; ask for a new export.")
    if batch_status(export.batch_id) == BatchStatus.VOID:
        # A lost or stolen batch: its print file must not reach a printer any more.
        return _to_dict(export, note="The batch is void; its print file is withheld.")
    fmt = FORMATS[export.format]
    url = s3.presigned_get(
        _file_key(export),
        expires_seconds=DOWNLOAD_URL_SECONDS,
        file_name=export.file_name,
        content_type=fmt.content_type,
    )
    return _to_dict(export, download=(url, now + timedelta(seconds=DOWNLOAD_URL_SECONDS)))


# --- worker side ------------------------------------------------------------------------


def _parse(body: str) -> dict | None:
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(message, dict) or message.get("v") != 1:
        return None
    if message.get("step") == rewards.VOUCHER_STEP:
        return message if rewards.voucher_job(message) else None
    if not is_id("exp", message.get("export_id")):
        return None
    step = message.get("step")
    if step == "plan":
        return message
    chunk = message.get("chunk")
    if step == "chunk" and type(chunk) is int and chunk >= 0:
        return message
    return None


def handle_message(body: str, *, attempt: int = 1, receipt_handle: str | None = None) -> None:
    """Do one step of an export: plan it (fan out chunk messages) or render one chunk.

    Raises to have SQS deliver the message again; every step may run twice, or at the
    same time as its duplicate, and the result is the same. After MAX_RECEIVES failed
    deliveries the export is marked failed (the message goes to the dead-letter queue).
    """
    message = _parse(body)
    if message is None:
        # Retrying cannot fix a message this code cannot read: drop it, loudly.
        log_event(log, "export_message_unreadable", level=logging.ERROR, body=str(body)[:200])
        return
    job = rewards.voucher_job(message)
    if job is not None:
        _voucher_step(*job, attempt=attempt, receipt_handle=receipt_handle)
        return
    export = export_store.load(message["export_id"])
    if export is None:
        log_event(log, "export_missing", level=logging.ERROR, export_id=message["export_id"])
        return
    if export.status in (ExportStatus.DONE, ExportStatus.FAILED):
        # The worker that finished it may have died before giving the brand's slot back:
        # this delivery of one of its messages does (freeing a free slot changes nothing).
        limits.free_slot(_SLOTS, export.brand_id, export.export_id)
        return
    started = time.perf_counter()
    try:
        if message["step"] == "plan":
            _plan(export)
        else:
            _run_chunk(export, message["chunk"])
    except _FinishPending:
        _retry_soon(receipt_handle, attempt)
        raise
    except Exception as exc:
        log_event(
            log,
            "export_step_failed",
            level=logging.ERROR,
            exc_info=True,
            export_id=export.export_id,
            step=message["step"],
            chunk=message.get("chunk"),
            attempt=attempt,
        )
        if attempt >= MAX_RECEIVES:
            _fail(export, f"The export failed after {attempt} attempts ({type(exc).__name__}).")
        else:
            _retry_soon(receipt_handle, attempt)
        raise
    log_event(
        log,
        "export_step_done",
        export_id=export.export_id,
        step=message["step"],
        chunk=message.get("chunk"),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _voucher_step(reward_id: str, file_hash: str, *, attempt: int, receipt_handle: str | None) -> None:
    """One part of a voucher file's writing (services/rewards.py), on the export worker: a failure is
    retried as an export step's is; past MAX_RECEIVES the message goes to the dead-letter queue, which
    raises the alarm, and the file stays writing (sending it again, or withdrawing it, is the sender's)."""
    try:
        outcome = rewards.continue_file(reward_id, file_hash, seconds=VOUCHER_JOB_SECONDS)
    except Exception:
        log_event(log, "voucher_job_failed", level=logging.ERROR, exc_info=True, reward_id=reward_id, attempt=attempt)
        if attempt < MAX_RECEIVES:
            _retry_soon(receipt_handle, attempt)
        raise
    log_event(log, "voucher_job_done", reward_id=reward_id, upload_id=file_hash, outcome=outcome)


def _retry_soon(receipt_handle: str | None, attempt: int) -> None:
    # The queue's visibility timeout is six times the worker's timeout, as Lambda asks;
    # a failure the handler saw itself is retried after 10 s, 30 s, 90 s... instead.
    # Crashes never get here, so a crashed finisher's lease has expired by its redelivery.
    if not receipt_handle:
        return
    try:
        sqs.change_visibility(receipt_handle, _RETRY_BASE_SECONDS * 3 ** (attempt - 1))
    except Exception:  # noqa: BLE001 - the default redelivery still happens
        log_event(log, "export_retry_delay_not_set", level=logging.WARNING)


def _plan(export: Export) -> None:
    if export.status == ExportStatus.QUEUED:
        # Another worker may have moved it first: `export` is then read again.
        export_store.start(export)
    if export.status != ExportStatus.RUNNING or export.fanned_out:
        return
    # The first wave only: each chunk, once done, sends the chunk WAVE places after it, so
    # one export never has more than WAVE chunks queued and other brands' exports are
    # served between its waves. A crash between sending and recording `fanned_out`
    # sends the wave again on the next delivery: duplicate chunk messages are harmless.
    sqs.send_messages([_message(export.export_id, "chunk", index) for index in range(min(WAVE, export.chunks_total))])
    export_store.mark_fanned_out(export)


def _run_chunk(export: Export, index: int) -> None:
    if index >= export.chunks_total:
        log_event(log, "export_chunk_out_of_range", level=logging.ERROR, export_id=export.export_id, chunk=index)
        return
    if export.status != ExportStatus.RUNNING:
        raise RuntimeError(f"chunk {index} of {export.export_id} arrived while the export is {export.status}")
    if index not in (export.done or ()):
        part_bytes = _render_chunk(export, index)
        # A duplicate delivery finds the chunk recorded already; `export` is then read again.
        export_store.record_chunk(export, index, part_bytes)
    # Also reached by a redelivery of a chunk already recorded: if its first delivery
    # crashed before passing the wave on, or completed the set and crashed before
    # finishing, this one does it instead.
    if index + WAVE < export.chunks_total:
        sqs.send_messages([_message(export.export_id, "chunk", index + WAVE)])
    _finish_if_complete(export)


def _render_chunk(export: Export, index: int) -> int:
    """Write chunk `index` to its part object (and its records, for ZIP and PDF); returns its size."""
    start, stop = _chunk_range(export, index)
    span = printfiles.Span(get_keyring(), export.batch_number, export.key_version, export.base_url, start, stop)
    records = bytearray()
    with s3.MultipartWriter(_part_key(export.export_id, index)) as out:
        if export.format == "csv":
            if index == 0:
                out.write(printfiles.CSV_HEADER)
            for block in printfiles.csv_rows(span):
                out.write(block)
        elif export.format in ("svg-zip", "png-zip"):
            stamp = printfiles.dos_stamp(export.created_at)
            for entry, record in printfiles.image_entries(span, kind=export.format[:3], stamp=stamp):
                out.write(entry)
                records += record
        elif export.format == "pdf":
            if index == 0:
                out.write(printfiles.pdf_header())
            pages_per_chunk = export.chunk_size // printfiles.LABELS_PER_PAGE
            for obj in printfiles.pdf_chunk(span, chunk=index, pages_per_chunk=pages_per_chunk):
                records += _OFFSETS.pack(out.size)
                out.write(obj)
        else:
            raise ValueError(f"unknown export format {export.format!r}")
    if records:
        s3.put_object(_records_key(export.export_id, index), bytes(records))
    return out.size


def _finish_if_complete(export: Export) -> None:
    if export.status != ExportStatus.RUNNING or len(export.done or ()) < export.chunks_total:
        return
    token = uuid.uuid4().hex
    now = clock.now()
    if not export_store.take_finish(export, token, now, FINISH_LEASE):
        if export.status == ExportStatus.RUNNING:
            raise _FinishPending(f"{export.export_id} is being finished by another worker") from None
        return
    try:
        key, file_bytes = _assemble(export)
    except BaseException:
        _release(export, token)
        raise
    if not export_store.mark_done(export, token, key, file_bytes):
        # Only after our lease ran out could another finisher have taken over; it wrote
        # the same bytes to the same key, and its record stands.
        log_event(log, "export_finish_lease_lost", level=logging.WARNING, export_id=export.export_id)
        return
    limits.free_slot(_SLOTS, export.brand_id, export.export_id)
    log_event(log, "export_done", export_id=export.export_id, bytes=file_bytes)


def _release(export: Export, token: str) -> None:
    try:
        export_store.release_finish(export, token)
    except Exception:  # noqa: BLE001 - the lease then simply runs out
        log_event(log, "export_lease_not_released", level=logging.WARNING, export_id=export.export_id)


def _assemble(export: Export) -> tuple[str, int]:
    """Join the chunks into the final file; returns its key and size."""
    fmt = FORMATS[export.format]
    sizes = [int(export.part_sizes[str(index)]) for index in range(export.chunks_total)]
    key = _file_key(export)
    with s3.MultipartWriter(key, content_type=fmt.content_type) as out:
        for index, part_size in enumerate(sizes):
            out.append_object(_part_key(export.export_id, index), part_size)
        body_size = out.size
        if export.format in ("svg-zip", "png-zip"):
            directory = printfiles.ZipDirectory(printfiles.dos_stamp(export.created_at))
            for chunk_start, records in _chunk_records(export, sizes):
                out.write(directory.add_chunk(chunk_start, records))
            out.write(directory.end(body_size))
        elif export.format == "pdf":
            pages_per_chunk = export.chunk_size // printfiles.LABELS_PER_PAGE
            ranges = [_chunk_range(export, index) for index in range(export.chunks_total)]
            chunk_pages = [-(-(stop - start) // printfiles.LABELS_PER_PAGE) for start, stop in ranges]
            for block in printfiles.pdf_tail(
                title=f"{export.batch_id} labels",
                created=export.created_at,
                chunk_pages=chunk_pages,
                pages_per_chunk=pages_per_chunk,
                body_size=body_size,
                chunk_offsets=_chunk_records(export, sizes),
            ):
                out.write(block)
    return key, out.size


def _chunk_records(export: Export, sizes: list[int]) -> Iterator[tuple[int, bytes]]:
    # One chunk's records at a time: the finisher never holds them all.
    chunk_start = 0
    for index, part_size in enumerate(sizes):
        records = b"".join(s3.read_object(_records_key(export.export_id, index)))
        yield chunk_start, records
        chunk_start += part_size


def _fail(export: Export, reason: str) -> None:
    if not export_store.mark_failed(export, reason):
        return
    limits.free_slot(_SLOTS, export.brand_id, export.export_id)
