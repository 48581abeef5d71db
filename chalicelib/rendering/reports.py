"""The regulator's papers as files: Vietnam's results report and the Philippines' winners list, as CSV and PDF.

The PDF embeds DejaVu Sans (fonts/, its licence beside it), subset to the glyphs used, so Vietnamese
prints with its diacritics; the font file shipped beside this module is the only file it reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from chalicelib.domain import markets
from chalicelib.domain.csvfile import csv_text
from chalicelib.domain.reports import AwardedPrize, DrawFacts, Line, Report, ReportKind, major_units

if TYPE_CHECKING:
    from fpdf import FPDF

__all__ = ["FONT", "report_csv", "report_pdf", "file_name"]

FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"

VN_HEADER = (
    "section",
    "promotion",
    "period_from",
    "period_to",
    "prize_line",
    "registration",
    "count",
    "unit_value",
    "currency",
    "draw",
    "rank",
    "participant_id",
    "status",
    "winner_name",
    "address",
    "id_number",
    "phone",
    "tax_withheld",
    "value_not_awarded",
    "state_budget_share",
    "rule",
)
PH_HEADER = (
    "winner_name",
    "address",
    "phone",
    "participant_id",
    "id_number",
    "prize",
    "draw",
    "rank",
    "status",
    "value",
    "currency",
    "tax_withheld",
    "permit",
)


def file_name(report: Report, extension: str) -> str:
    """The download's name: which paper, which campaign."""
    return f"{report.kind.value.replace('_', '-')}-{report.campaign_id}.{extension}"


def _local(report: Report, moment: datetime | None) -> str:
    """An instant in the campaign's time zone, to the minute, as the promotion was registered."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(report.timezone)).strftime("%Y-%m-%d %H:%M %z")


def _wins(report: Report) -> Iterator[tuple[DrawFacts, Line | None, AwardedPrize]]:
    lines = {line.prize_id: line for line in report.lines}
    for draw in report.draws:
        for win in draw.wins:
            yield draw, lines.get(draw.prize_id or ""), win


def _amount(report: Report, minor: int | None) -> str:
    return major_units(report.market, minor) if minor is not None else ""


def _withheld(report: Report, line: Line | None) -> str:
    if line is None or line.unit_value is None:
        return ""
    return _amount(report, markets.tax_on(report.market, line.unit_value)[1])


def _vn_rows(report: Report) -> Iterator[list[object]]:
    currency = markets.market(report.market).currency
    for row in _vn_cells(report):
        row = {
            "promotion": report.promotion,
            "period_from": _local(report, report.starts_at),
            "period_to": _local(report, report.ends_at),
            "currency": currency,
            **row,
        }
        yield [row.get(name) for name in VN_HEADER]


def _vn_cells(report: Report) -> Iterator[dict[str, object]]:
    for registered in report.lines:
        # A prize row's status is the line's kind: won by a draw or instantly by a scan.
        yield {
            "section": "prize",
            "prize_line": registered.name,
            "registration": registered.registration,
            "count": registered.quantity,
            "unit_value": _amount(report, registered.unit_value),
            "status": registered.kind,
        }
    for draw, line, win in _wins(report):
        yield {
            "section": "winner",
            "prize_line": line.name if line else draw.prize,
            "registration": line.registration if line else None,
            "count": 1,
            "unit_value": _amount(report, line.unit_value if line else None),
            "draw": draw.name,
            "rank": win.rank,
            "participant_id": win.participant_id,
            "status": win.status,
            "winner_name": win.name,
            "address": win.address,
            "id_number": win.id_number,
            "phone": win.phone_masked,
            "tax_withheld": _withheld(report, line),
        }
    for outcome in report.outcomes:
        line = outcome.line
        for section, count in (("not_claimed", outcome.not_claimed), ("not_drawn", outcome.not_drawn)):
            value = count * (line.unit_value or 0)
            if count:
                yield {
                    "section": section,
                    "prize_line": line.name,
                    "registration": line.registration,
                    "count": count,
                    "unit_value": _amount(report, line.unit_value),
                    "value_not_awarded": _amount(report, value),
                    "state_budget_share": _amount(report, _share(report, value)),
                    "rule": report.unawarded_rule,
                }


def _share(report: Report, value: int) -> int:
    share_bp = markets.market(report.market).number("unawarded_state_share_bp")
    return (value * share_bp + 5_000) // 10_000


def _winner(draw: DrawFacts, line: Line | None, win: AwardedPrize) -> list[object]:
    """The winners list's first cells, the CSV's and the PDF's: who, where, and which prize."""
    return [
        win.name,
        win.address,
        win.phone_masked,
        win.participant_id,
        win.id_number,
        line.name if line else draw.prize,
    ]


def _ph_rows(report: Report) -> Iterator[list[object]]:
    currency = markets.market(report.market).currency
    for draw, line, win in _wins(report):
        yield [
            *_winner(draw, line, win),
            draw.name,
            win.rank,
            win.status,
            _amount(report, line.unit_value if line else None),
            currency,
            _withheld(report, line),
            line.registration if line else "",
        ]


def report_csv(report: Report) -> str:
    """The paper as CSV: every cell safe to open in a spreadsheet; amounts in the currency's major units."""
    if report.kind == ReportKind.VN_RESULTS:
        return csv_text(VN_HEADER, _vn_rows(report))
    return csv_text(PH_HEADER, _ph_rows(report))


# --- PDF ---------------------------------------------------------------------------------

_FONT_NAME = "DejaVuSans"
_VN_TITLE = "BÁO CÁO KẾT QUẢ THỰC HIỆN KHUYẾN MẠI · Results report of the promotion"
_PH_TITLE = "List of winners · Sales promotion (DTI / FDA)"


def _document() -> FPDF:
    # fpdf2 warns at import when Pillow is missing: the papers hold no image, so the Lambda ships without it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Pillow could not be imported")
        from fpdf import FPDF

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_margins(12, 12, 12)
    pdf.add_font(_FONT_NAME, "", str(FONT))
    pdf.set_creator("QR Campaigns")
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, text: str, size: float = 11) -> None:
    pdf.set_font(_FONT_NAME, size=size)
    pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_font(_FONT_NAME, size=8)


def _facts(pdf: FPDF, pairs: Sequence[tuple[str, str]]) -> None:
    pdf.set_font(_FONT_NAME, size=9)
    for label, value in pairs:
        pdf.multi_cell(0, 5, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _table(pdf: FPDF, widths: Sequence[int], header: Sequence[str], rows: Iterator[Sequence[object]]) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font(_FONT_NAME, size=7.5)
    # One face for headings too: a bold face would be a second font file to ship.
    with pdf.table(
        col_widths=tuple(widths),
        headings_style=FontFace(emphasis="", fill_color=(230, 230, 230)),
        line_height=4,
        repeat_headings=1,
    ) as table:
        table.row(list(header))
        for row in rows:
            table.row(["" if cell is None else str(cell) for cell in row])
    pdf.ln(3)


def _money(report: Report, minor: int | None) -> str:
    return markets.format_amount(report.market, minor) if minor is not None else ""


def _common_facts(report: Report, registration: str) -> list[tuple[str, str]]:
    return [
        ("Chương trình / Promotion" if report.market == "VN" else "Promotion", report.promotion),
        (
            "Thời gian / Period" if report.market == "VN" else "Period",
            f"{_local(report, report.starts_at)} – {_local(report, report.ends_at)}",
        ),
        (registration, ", ".join(report.registrations) or "–"),
    ]


def _vn_pdf(pdf: FPDF, report: Report) -> None:
    _heading(pdf, _VN_TITLE, 13)
    _facts(
        pdf,
        [
            *_common_facts(report, "Số đăng ký / Registration"),
            ("Hạn trao giải / Prize-award deadline", _local(report, report.award_deadline) or "–"),
            ("Hạn báo cáo / Report due", _local(report, report.due_at) or "–"),
        ],
    )
    _heading(pdf, "Cơ cấu giải thưởng / Prize structure")
    _table(
        pdf,
        (60, 40, 20, 35, 25, 25, 25, 25),
        (
            "Giải thưởng / Prize",
            "Số đăng ký / Registration",
            "Số lượng / Count",
            "Trị giá / Unit value",
            "Đã trao / Awarded",
            "Chờ nhận / Pending",
            "Không nhận / Not claimed",
            "Chưa trao / Not drawn",
        ),
        _structure_rows(report),
    )
    _heading(pdf, "Danh sách trúng thưởng / Prizes awarded")
    _table(
        pdf,
        (40, 30, 12, 38, 20, 32, 50, 25, 25),
        (
            "Giải thưởng / Prize",
            "Đợt quay / Draw",
            "Hạng / Rank",
            "Mã người tham gia / Participant",
            "Trạng thái / Status",
            "Họ tên / Name",
            "Địa chỉ / Address",
            "CCCD / ID number",
            "Thuế / Tax withheld",
        ),
        (
            [
                line.name if line else draw.prize,
                draw.name,
                win.rank,
                win.participant_id,
                win.status,
                win.name,
                win.address,
                win.id_number,
                _money(report, _tax(report, line)),
            ]
            for draw, line, win in _wins(report)
        ),
    )
    _heading(pdf, "Giải thưởng không có người trúng hoặc không nhận / Prizes not awarded or not claimed")
    _table(
        pdf,
        (70, 35, 40, 40, 40, 48),
        (
            "Giải thưởng / Prize",
            "Số lượng / Count",
            "Trị giá / Unit value",
            "Tổng trị giá / Value",
            "Nộp ngân sách / State budget",
            "Lý do / Why",
        ),
        _unawarded_rows(report),
    )
    _facts(pdf, [("Quy định / Rule", report.unawarded_rule)])


def _tax(report: Report, line: Line | None) -> int | None:
    if line is None or line.unit_value is None:
        return None
    return markets.tax_on(report.market, line.unit_value)[1]


def _structure_rows(report: Report) -> Iterator[Sequence[object]]:
    outcome_of = {o.line.prize_id: o for o in report.outcomes}
    for line in report.lines:
        outcome = outcome_of.get(line.prize_id)
        counts = (outcome.awarded, outcome.pending, outcome.not_claimed, outcome.not_drawn) if outcome else ("",) * 4
        yield (line.name, line.registration, line.quantity, _money(report, line.unit_value), *counts)


def _unawarded_rows(report: Report) -> Iterator[Sequence[object]]:
    for outcome in report.outcomes:
        line = outcome.line
        for why, count in (
            ("không nhận / not claimed", outcome.not_claimed),
            ("chưa trao / not drawn", outcome.not_drawn),
        ):
            if count:
                value = count * (line.unit_value or 0)
                yield (
                    line.name,
                    count,
                    _money(report, line.unit_value),
                    _money(report, value),
                    _money(report, _share(report, value)),
                    why,
                )


def _ph_pdf(pdf: FPDF, report: Report) -> None:
    _heading(pdf, _PH_TITLE, 13)
    _facts(
        pdf,
        [*_common_facts(report, "Permit"), ("Due (winners determined)", _local(report, report.due_at) or "–")],
    )
    _table(
        pdf,
        (38, 58, 28, 40, 26, 32, 12, 20, 30),
        ("Winner", "Address", "Phone", "Participant", "ID number", "Prize", "Rank", "Value", "Tax withheld"),
        (
            [
                *_winner(draw, line, win),
                win.rank,
                _money(report, line.unit_value if line else None),
                _money(report, _tax(report, line)),
            ]
            for draw, line, win in _wins(report)
        ),
    )


def report_pdf(report: Report) -> bytes:
    """The paper as a PDF with the Unicode font embedded (subset), landscape A4."""
    pdf = _document()
    pdf.set_title(_VN_TITLE if report.kind == ReportKind.VN_RESULTS else _PH_TITLE)
    if report.kind == ReportKind.VN_RESULTS:
        _vn_pdf(pdf, report)
    else:
        _ph_pdf(pdf, report)
    _facts(pdf, [("Generated", _local(report, report.generated_at))])
    return bytes(pdf.output())
