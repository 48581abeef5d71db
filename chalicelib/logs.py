"""The one log format: one JSON object per line, carrying the id of the request being served."""

from __future__ import annotations

import contextvars
import json
import logging
import traceback
from typing import Any

__all__ = ["log_event", "request_scope", "current_request_id"]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_LINE = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


class request_scope:
    """Within the block, every event logged carries `request_id` (API Gateway's, or Lambda's)."""

    def __init__(self, request_id: str | None) -> None:
        self._value = request_id
        self._token: contextvars.Token | None = None

    def __enter__(self) -> request_scope:
        self._token = _request_id.set(self._value)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _request_id.reset(self._token)


def current_request_id() -> str | None:
    """The request id of the block being run, if any."""
    return _request_id.get()


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: Any
) -> None:
    """Log `event` with `fields` as one JSON line; never put bodies, tokens or clear phone numbers in it.

    With `exc_info` the current exception's trace goes inside the same line, so a log
    search finds an error and its trace as one event.
    """
    if not logger.isEnabledFor(level):
        return
    record: dict[str, Any] = {
        "event": event,
        "level": logging.getLevelName(level),
        "logger": logger.name,
        "request_id": _request_id.get(),
        **fields,
    }
    if exc_info:
        record["exception"] = traceback.format_exc()
    # What Logger.log does, less its walk up the stack for the caller's file and line:
    # every request logs a line, and the line names its event instead.
    logger.handle(logger.makeRecord(logger.name, level, __name__, 0, _LINE.encode(record), (), None))
