"""The one log format: one JSON object per line, with the request id, the trace inside the line."""

from __future__ import annotations

import json
import logging

from chalicelib.logs import current_request_id, log_event, request_scope


def _lines(caplog) -> list[dict]:
    return [json.loads(record.getMessage()) for record in caplog.records]


def test_events_are_one_json_line_with_the_request_id(caplog):
    logger = logging.getLogger("qr-campaigns.test")
    caplog.set_level(logging.INFO, logger=logger.name)
    with request_scope("req-1"):
        assert current_request_id() == "req-1"
        log_event(logger, "export_done", export_id="exp_1", bytes=10)
    log_event(logger, "outside")
    first, second = _lines(caplog)
    assert first == {
        "event": "export_done",
        "level": "INFO",
        "logger": logger.name,
        "request_id": "req-1",
        "export_id": "exp_1",
        "bytes": 10,
    }
    assert second["request_id"] is None and current_request_id() is None


def test_a_trace_stays_inside_its_event(caplog):
    logger = logging.getLogger("qr-campaigns.test")
    caplog.set_level(logging.INFO, logger=logger.name)
    try:
        raise ValueError("boom")
    except ValueError:
        log_event(logger, "failed", level=logging.ERROR, exc_info=True)
    (record,) = caplog.records
    assert "\n" not in record.getMessage() and record.exc_info is None
    line = json.loads(record.getMessage())
    assert line["level"] == "ERROR" and "ValueError: boom" in line["exception"]


def test_nothing_is_formatted_below_the_level(caplog):
    logger = logging.getLogger("qr-campaigns.test")
    caplog.set_level(logging.WARNING, logger=logger.name)

    class Loud:
        def __str__(self):  # pragma: no cover - must never run
            raise AssertionError("formatted although the level is off")

    log_event(logger, "quiet", value=Loud())
    assert not caplog.records


def test_the_api_logs_each_request_as_one_event(caplog):
    from chalice.test import Client

    from app import app

    # chalice's own logger does not propagate: listen on it directly.
    app.log.addHandler(caplog.handler)
    try:
        with Client(app) as client:
            client.http.get("/health")
    finally:
        app.log.removeHandler(caplog.handler)
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == app.log.name]
    assert line["event"] == "request" and line["route"] == "/health" and line["status"] == 200
    assert line["request_id"] and isinstance(line["ms"], float)
