"""The print-file export's store: the export read, and each conditional move of its state machine."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamo import condition_failed
from chalicelib.adapters.models import Export
from chalicelib.domain import clock
from chalicelib.domain.lifecycle import ExportStatus

__all__ = [
    "load",
    "start",
    "mark_fanned_out",
    "record_chunk",
    "take_finish",
    "mark_done",
    "release_finish",
    "mark_failed",
]


def _move(export: Export, actions: list[Action], condition: Condition, *, reread: bool = False) -> bool:
    """One conditional update of the export (ALL_NEW, read into `export`); False if its condition
    failed, and then, if `reread`, `export` is read again."""
    try:
        export.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        if reread:
            export.refresh(consistent_read=True)
        return False
    return True


def load(export_id: str) -> Export | None:
    """The export as last written (a consistent read), or None if there is none."""
    try:
        return Export.get(export_id, consistent_read=True)
    except Export.DoesNotExist:
        return None


def start(export: Export) -> bool:
    """Move a queued export to running; False (and `export` read again) if another worker moved it first."""
    return _move(
        export,
        [Export.status.set(ExportStatus.RUNNING), Export.updated_at.set(clock.now())],
        Export.status == ExportStatus.QUEUED,
        reread=True,
    )


def mark_fanned_out(export: Export) -> bool:
    """Record that the first wave of chunks was sent; False if the export is no longer running."""
    return _move(
        export,
        [Export.fanned_out.set(True), Export.updated_at.set(clock.now())],
        Export.status == ExportStatus.RUNNING,
    )


def record_chunk(export: Export, index: int, part_bytes: int) -> bool:
    """The one record of a finished chunk; False (and `export` read again) if it was recorded already
    or the export stopped running. ALL_NEW tells the writer whether its chunk completed the set."""
    return _move(
        export,
        [
            Export.done.add({index}),
            Export.part_sizes[str(index)].set(part_bytes),
            Export.updated_at.set(clock.now()),
        ],
        ~Export.done.contains(index) & (Export.status == ExportStatus.RUNNING),
        reread=True,
    )


def take_finish(export: Export, token: str, now: datetime, lease: timedelta) -> bool:
    """Take the finishing lease of a complete running export, unless a live finisher holds it;
    False (and `export` read again) if it could not be taken."""
    return _move(
        export,
        [Export.finisher.set(token), Export.finish_started_at.set(now), Export.updated_at.set(now)],
        (Export.status == ExportStatus.RUNNING)
        & (size(Export.done) == export.chunks_total)
        & (Export.finisher.does_not_exist() | (Export.finish_started_at < now - lease)),
        reread=True,
    )


def mark_done(export: Export, token: str, key: str, file_bytes: int) -> bool:
    """Record the finished file and give the lease up; False if the lease `token` is no longer held."""
    now = clock.now()
    return _move(
        export,
        [
            Export.status.set(ExportStatus.DONE),
            Export.s3_key.set(key),
            Export.size_bytes.set(file_bytes),
            Export.finished_at.set(now),
            Export.updated_at.set(now),
            Export.finisher.remove(),
            Export.finish_started_at.remove(),
        ],
        (Export.status == ExportStatus.RUNNING) & (Export.finisher == token),
    )


def release_finish(export: Export, token: str) -> None:
    """Give the finishing lease `token` up early, so another finisher need not wait for it to run out."""
    export.update(
        actions=[Export.finisher.remove(), Export.finish_started_at.remove()], condition=Export.finisher == token
    )


def mark_failed(export: Export, reason: str) -> bool:
    """Fail a queued or running export with `reason`; False if it had ended already."""
    now = clock.now()
    return _move(
        export,
        [Export.status.set(ExportStatus.FAILED), Export.error.set(reason), Export.updated_at.set(now)],
        Export.status.is_in(ExportStatus.QUEUED, ExportStatus.RUNNING),
    )
