"""CSV cells: formulas neutralised, data intact (phone numbers, negative numbers, quotes, line breaks)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.csvfile import FORMULA_STARTS, csv_text, read_cell, safe_cell
from tests.support import assert_safe_csv


@pytest.mark.parametrize(
    "hostile",
    [
        "=1+1",
        '=HYPERLINK("http://evil.example","click")',
        "+84912345678",
        "+84 ••• ••• 678",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1",
        "\r=1",
        "=cmd|' /C calc'!A0",
        "'quoted",  # an apostrophe of its own gets another, so the text reads back exactly
        "'@",
    ],
)
def test_a_cell_that_would_start_a_formula_is_neutralised_and_reads_back(hostile):
    cell = safe_cell(hostile)
    assert cell == "'" + hostile and read_cell(cell) == hostile


@pytest.mark.parametrize(
    "plain",
    ["Mì Gấu Đỏ", "10000-10000-08H75-4J3Z2", "HTTP://X/S/1", "2027-03-01T00:00:00Z", "", "a=b", "x+1", "it's"],
)
def test_other_text_is_left_as_it_is(plain):
    assert safe_cell(plain) == plain and read_cell(plain) == plain


def test_numbers_stay_numbers():
    assert [safe_cell(v) for v in (0, 7, -5, 2.5, None)] == ["0", "7", "-5", "2.5", ""]
    assert safe_cell(True) == "True"


@given(st.text())
def test_any_text_round_trips_and_is_never_a_formula(text):
    cell = safe_cell(text)
    assert read_cell(cell) == text
    assert not cell.startswith(FORMULA_STARTS)


def test_a_whole_file_quotes_and_neutralises():
    text = csv_text(["name", "phone", "points"], [['=evil,"x"\nline', "+84912345678", -3]])
    rows = assert_safe_csv(text)
    assert rows == [["name", "phone", "points"], ['\'=evil,"x"\nline', "'+84912345678", "-3"]]
    assert read_cell(rows[1][0]) == '=evil,"x"\nline'


def test_the_check_catches_an_unsafe_file():
    with pytest.raises(AssertionError, match="would run"):
        assert_safe_csv("name\n=1+1\n")
