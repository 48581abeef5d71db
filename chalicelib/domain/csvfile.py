"""CSV files people download and open in a spreadsheet: no cell can run as a formula, no data is lost."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["FORMULA_STARTS", "safe_cell", "read_cell", "csv_text"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes Excel, LibreOffice or Google Sheets read a cell as a formula (or a DDE call)."""


def safe_cell(value: object) -> str:
    """A cell's text, with an apostrophe in front when it would start a formula.

    A spreadsheet shows such a cell as the text after the apostrophe, so `+84 912 345 678`
    still reads as that phone number (and is not turned into the number 84912345678),
    while `=HYPERLINK(...)` in a campaign or reward name stays inert. Numbers are written
    as they are: a number is never a formula, and a negative one must stay a number.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    # A text that already starts with the apostrophe gets one more, so reading back is exact.
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def read_cell(cell: str) -> str:
    """The value a neutralised cell stands for (what a spreadsheet shows): the inverse of safe_cell."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith((*FORMULA_STARTS, "'")) else cell


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document (RFC 4180 quoting, `\\n` line ends) with every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
