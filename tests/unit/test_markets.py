"""The market table: prize tax at and around each threshold, amounts, and every rule sourced and in docs/winners.md."""

from __future__ import annotations

import pathlib

import pytest

from chalicelib.domain import markets
from chalicelib.domain.markets import MARKETS, MarketCode, format_amount, tax_on

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "winners.md"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, (0, 0)),
        (9_999_999, (0, 0)),
        (10_000_000, (0, 0)),  # the threshold itself: nothing above it
        (10_000_001, (1, 0)),  # 10% of one dong rounds half up to nothing
        (10_000_005, (5, 1)),  # 0.5 dong rounds up
        (15_000_000, (5_000_000, 500_000)),
        (40_000_000, (30_000_000, 3_000_000)),
    ],
)
def test_vietnam_taxes_ten_percent_of_the_part_of_a_prize_above_ten_million_dong(value, expected):
    assert tax_on("VN", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (999_999, (0, 0)),
        (1_000_000, (0, 0)),  # PHP 10,000.00 exactly is not over PHP 10,000
        (1_000_001, (1_000_001, 200_000)),  # PHP 10,000.01: the whole value at 20%, to the centavo
        (1_000_003, (1_000_003, 200_001)),  # 200,000.6 centavos round up
        (5_000_000, (5_000_000, 1_000_000)),  # PHP 50,000.00 -> PHP 10,000.00
    ],
)
def test_the_philippines_takes_twenty_percent_of_the_whole_prize_over_ten_thousand_pesos(value, expected):
    assert tax_on("PH", value) == expected


def test_tax_is_exact_integer_arithmetic_and_refuses_a_negative_value():
    big = 10**15
    assert tax_on("VN", big) == (big - 10_000_000, (big - 10_000_000) // 10)
    assert all(isinstance(n, int) for n in tax_on("PH", big))
    with pytest.raises(ValueError):
        tax_on("VN", -1)
    with pytest.raises(ValueError):
        markets.market("TH")


def test_amounts_are_written_in_the_markets_currency_and_minor_unit():
    assert format_amount("VN", 15_000_000) == "VND 15,000,000"
    assert format_amount("VN", 0) == "VND 0"
    assert format_amount("PH", 1_000_000) == "PHP 10,000.00"
    assert format_amount("PH", 1_000_001) == "PHP 10,000.01"
    assert format_amount("PH", 5) == "PHP 0.05"
    assert format_amount("PH", -150) == "PHP -1.50"


def test_each_market_has_every_rule_with_a_source_and_sane_claim_windows():
    names = {rule.name for rule in MARKETS[MarketCode.VN].rules}
    for code, market in MARKETS.items():
        assert {rule.name for rule in market.rules} == names, code
        assert len(names) == len(market.rules), "a rule named twice"
        assert all(rule.source.strip() for rule in market.rules), code
        least, default, most = markets.claim_days_bounds(code)
        assert 1 <= least <= default <= most
    assert MARKETS[MarketCode.PH].number("claim_days_min") == 60  # the DTI's minimum
    assert MARKETS[MarketCode.VN].number("report_deadline_days") == 45
    assert (MARKETS[MarketCode.VN].currency, MARKETS[MarketCode.VN].exponent) == ("VND", 0)
    assert (MARKETS[MarketCode.PH].currency, MARKETS[MarketCode.PH].exponent) == ("PHP", 2)


def test_every_rule_of_the_table_appears_in_docs_winners_md_with_its_value_and_source():
    text = DOC.read_text(encoding="utf-8")
    for code, market in MARKETS.items():
        for rule in market.rules:
            row = f"| {code} | `{rule.name}` | {rule.value} |"
            assert row in text, f"docs/winners.md lacks the row: {row}"
            assert rule.source in text, f"docs/winners.md lacks the source of {code} {rule.name}"
            if rule.url:
                assert rule.url in text, f"docs/winners.md lacks the link of {code} {rule.name}"


def test_a_data_subject_requests_period_comes_from_its_markets_row_and_the_shortest_when_none_is_named():
    from chalicelib.domain.markets import subject_request_days

    assert subject_request_days("VN") == MARKETS["VN"].number("subject_request_days") == 10
    assert subject_request_days("PH") == MARKETS["PH"].number("subject_request_days") == 30
    assert subject_request_days(None) == 10
