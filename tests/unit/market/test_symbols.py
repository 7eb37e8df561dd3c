from __future__ import annotations

import pytest

from stocks_elt.errors import InvalidSymbol
from stocks_elt.market.symbols import normalize_symbol, parse_symbols


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IBM", "IBM"),
        ("brk.b", "BRK.B"),
        (" TSCO.LON ", "TSCO.LON"),
        ("RDS-A", "RDS-A"),
    ],
)
def test_valid_symbols_are_normalised_to_upper_case(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "../etc/passwd",
        "IBM;DROP TABLE x",
        "IBM'--",
        "A" * 200,
        "\u0399BM",  # Greek capital iota, looks like I
        "\u0456bm",  # Cyrillic small i
        "IB M",
        ".IBM",
        "-IBM",
        "IBM/",
        "IB\nM",
        "I..BM",
        "$IBM",
        "IBM%00",
    ],
)
def test_bad_symbols_are_refused_with_the_rule(raw: str) -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol(raw)
    assert "a symbol is" in str(caught.value)


def test_a_non_text_symbol_is_refused() -> None:
    with pytest.raises(InvalidSymbol):
        normalize_symbol(42)


def test_invalid_symbol_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        normalize_symbol("IBM;")


def test_parse_symbols_keeps_first_occurrence_order() -> None:
    assert parse_symbols("msft,IBM,MSFT, aapl") == ("MSFT", "IBM", "AAPL")
    assert parse_symbols(["ibm", "IBM"]) == ("IBM",)
