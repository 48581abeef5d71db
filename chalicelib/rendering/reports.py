"""The regulator's papers as files: Vietnam's results report and the Philippines' winners list, as CSV and PDF.

The PDF embeds DejaVu Sans (fonts/, its licence beside it), whole (rendering/unicode_pdf.py), so Vietnamese
prints with its diacritics; the font file shipped beside this module is the only file it reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from chalicelib.domain import markets
from chalicelib.domain.csvfile import csv_text
from chalicelib.domain.reports import AwardedPrize, DrawFacts, Line, Report, ReportKind, major_units
from chalicelib.rendering.unicode_pdf import Document, font

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


class _Sheet:
    """Text flowing down landscape A4 pages: headings, wrapped lines and ruled tables, a new page when full."""

    MARGIN = 34.0

    def __init__(self, title: str) -> None:
        self.doc = Document(font(FONT), title)
        self.width = self.doc.size[0] - 2 * self.MARGIN
        self.y = 0.0
        self._page()

    def _page(self) -> None:
        self.doc.new_page()
        self.y = self.doc.size[1] - self.MARGIN

    def _room(self, height: float) -> None:
        if self.y - height < self.MARGIN:
            self._page()

    def lines(self, text: str, size: float, width: float) -> list[str]:
        """`text` broken into lines no wider than `width` (at spaces; a longer word at characters)."""
        face, out = self.doc.face, []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                trial = f"{line} {word}" if line else word
                if face.width(trial, size) <= width:
                    line = trial
                    continue
                if line:
                    out.append(line)
                while face.width(word, size) > width and len(word) > 1:
                    cut = next(n for n in range(len(word), 0, -1) if face.width(word[:n], size) <= width or n == 1)
                    out.append(word[:cut])
                    word = word[cut:]
                line = word
            out.append(line)
        return out

    def paragraph(self, text: str, size: float = 9) -> None:
        for line in self.lines(text, size, self.width):
            self._room(size * 1.35)
            self.y -= size * 1.35
            self.doc.text(self.MARGIN, self.y, size, line)
        self.y -= size * 0.5

    def table(self, widths: Sequence[int], header: Sequence[str], rows: Iterator[Sequence[object]]) -> None:
        """Ruled rows, `widths` in parts of the page's width; the header again on each new page."""
        scale = self.width / sum(widths)
        columns = [w * scale for w in widths]
        self._row(columns, header, fill=0.9)
        for row in rows:
            if self._row(columns, ["" if cell is None else str(cell) for cell in row]):
                self._row(columns, header, fill=0.9)
        self.y -= 8

    def _row(self, columns: Sequence[float], cells: Sequence[str], fill: float | None = None) -> bool:
        size, pad = 7.0, 2.5
        wrapped = [self.lines(cell, size, width - 2 * pad) for cell, width in zip(cells, columns, strict=True)]
        height = max(len(lines) for lines in wrapped) * size * 1.3 + 2 * pad
        paged = self.y - height < self.MARGIN
        self._room(height)
        x = self.MARGIN
        for lines, width in zip(wrapped, columns, strict=True):
            self.doc.box(x, self.y - height, width, height, fill=fill)
            for n, line in enumerate(lines):
                self.doc.text(x + pad, self.y - pad - size * (1.3 * n + 1), size, line)
            x += width
        self.y -= height
        return paged and fill is None

    def output(self) -> bytes:
        return self.doc.output()


def _money(report: Report, minor: int | None) -> str:
    return markets.format_amount(report.market, minor) if minor is not None else ""


def _facts(pdf: _Sheet, pairs: Sequence[tuple[str, str]]) -> None:
    for label, value in pairs:
        pdf.paragraph(f"{label}: {value}", 9)


def _common_facts(report: Report, registration: str) -> list[tuple[str, str]]:
    return [
        ("Chương trình / Promotion" if report.market == "VN" else "Promotion", report.promotion),
        (
            "Thời gian / Period" if report.market == "VN" else "Period",
            f"{_local(report, report.starts_at)} – {_local(report, report.ends_at)}",
        ),
        (registration, ", ".join(report.registrations) or "–"),
    ]


def _vn_pdf(pdf: _Sheet, report: Report) -> None:
    pdf.paragraph(_VN_TITLE, 13)
    _facts(
        pdf,
        [
            *_common_facts(report, "Số đăng ký / Registration"),
            ("Hạn trao giải / Prize-award deadline", _local(report, report.award_deadline) or "–"),
            ("Hạn báo cáo / Report due", _local(report, report.due_at) or "–"),
        ],
    )
    pdf.paragraph("Cơ cấu giải thưởng / Prize structure", 11)
    pdf.table(
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
    pdf.paragraph("Danh sách trúng thưởng / Prizes awarded", 11)
    pdf.table(
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
    pdf.paragraph("Giải thưởng không có người trúng hoặc không nhận / Prizes not awarded or not claimed", 11)
    pdf.table(
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


def _ph_pdf(pdf: _Sheet, report: Report) -> None:
    pdf.paragraph(_PH_TITLE, 13)
    _facts(
        pdf,
        [*_common_facts(report, "Permit"), ("Due (winners determined)", _local(report, report.due_at) or "–")],
    )
    pdf.table(
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
    """The paper as a PDF with the Unicode font embedded, landscape A4."""
    # The document's title is ASCII: PDF's document information strings are not set in the embedded font.
    pdf = _Sheet(f"{report.kind.value} {report.campaign_id}")
    if report.kind == ReportKind.VN_RESULTS:
        _vn_pdf(pdf, report)
    else:
        _ph_pdf(pdf, report)
    _facts(pdf, [("Generated", _local(report, report.generated_at))])
    return pdf.output()
