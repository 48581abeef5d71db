"""The regulator's papers downloaded: the campaign's report as CSV or PDF, an owner's copy in the audit trail."""

from __future__ import annotations

from chalicelib.domain.errors import InvalidInput
from chalicelib.rendering import reports as files
from chalicelib.services import audit
from chalicelib.views import reports as papers

__all__ = ["FORMATS", "results_report"]

FORMATS = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def results_report(
    brand_id: str, actor: str, role: str, campaign_id: str, file_format: str, why: str | None = None
) -> tuple[bytes, str, str]:
    """The campaign's paper for its market (Vietnam's results report, the Philippines' winners list) as
    (body, content type, file name). Owners who say `why` get the winners' details as given, each such
    download in the audit trail; others get them masked (viewers are refused before this: the routes are
    writers')."""
    if file_format not in FORMATS:
        raise InvalidInput("format: must be csv or pdf.", field="format")
    why = audit.reason(brand_id, why)
    clear = role == "owner" and why is not None
    report = papers.results_report(brand_id, campaign_id, clear=clear)
    body = files.report_csv(report).encode() if file_format == "csv" else files.report_pdf(report)
    name = files.file_name(report, file_format)
    wins = sum(len(draw.wins) for draw in report.draws)
    if clear and wins:
        audit.record(brand_id, actor, "winners_viewed", campaign_id, {"where": name, "wins": wins, "why": why})
    return body, FORMATS[file_format], name
