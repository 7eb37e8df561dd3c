"""Universes from the listing: the spec's syntax, and what it selects."""

from __future__ import annotations

import pytest

from stocks_elt.market.universe import (
    ListedEntry,
    UniverseError,
    parse_universe,
    select_universe,
)

LISTED = [
    ListedEntry("IBM", "NYSE", "Stock"),
    ListedEntry("MSFT", "NASDAQ", "Stock"),
    ListedEntry("AAPL", "NASDAQ", "Stock"),
    ListedEntry("SPY", "NYSE ARCA", "ETF"),
    ListedEntry("BRK.A", "NYSE", "Stock"),
    ListedEntry("KO", "NYSE", "Stock"),
]


def test_every_key_is_optional_and_the_spec_has_a_canonical_form() -> None:
    assert parse_universe("listing:").text == "listing:"
    spec = parse_universe(" listing: type=stock ; exchange=nasdaq,NYSE;limit=2 ")
    assert spec.exchanges == ("NASDAQ", "NYSE")
    assert spec.asset_type == "Stock"
    assert spec.limit == 2
    assert spec.text == "listing:exchange=NASDAQ,NYSE;type=Stock;limit=2"
    assert (spec.status, spec.lists) == ("active", ("active",))


@pytest.mark.parametrize(
    ("text", "lists", "canonical"),
    [
        ("listing:status=Active", ("active",), "listing:"),
        ("listing:status=delisted", ("delisted",), "listing:status=delisted"),
        ("listing:limit=9;status=ALL", ("active", "delisted"), "limit=9;status=all"),
    ],
)
def test_status_names_the_lists_a_universe_reads(
    text: str, lists: tuple[str, ...], canonical: str
) -> None:
    spec = parse_universe(text)
    assert spec.lists == lists
    assert spec.text.endswith(canonical)


def test_a_spec_selects_by_exchange_and_type_in_symbol_order() -> None:
    spec = parse_universe("listing:exchange=NYSE,NASDAQ;type=Stock;exclude=BRK.A")
    assert select_universe(spec, LISTED) == ["AAPL", "IBM", "KO", "MSFT"]


def test_limit_takes_the_first_symbols_after_the_exclusions() -> None:
    spec = parse_universe("listing:limit=3;exclude=AAPL")
    assert select_universe(spec, LISTED) == ["BRK.A", "IBM", "KO"]
    assert select_universe(parse_universe("listing:type=ETF"), LISTED) == ["SPY"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("exchange=NYSE", "starts with 'listing:'"),
        ("listing:exchange=LSE", "unknown exchange LSE"),
        ("listing:type=Bond", "type must be Stock or ETF"),
        ("listing:limit=0", "at least 1"),
        ("listing:limit=ten", "whole number"),
        ("listing:sector=Tech", "'sector=Tech' is not one of"),
        ("listing:limit=5;limit=6", "given twice"),
        ("listing:exclude=B@D", "exclude: symbol 'B@D'"),
        ("listing:status=gone", "status must be active, delisted, all"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_setting_and_giving_an_example(
    text: str, reason: str
) -> None:
    with pytest.raises(UniverseError) as refused:
        parse_universe(text)
    message = str(refused.value)
    assert reason in message
    assert message.startswith(f"bad universe: STOCKS_ELT_UNIVERSE={text!r}")
    assert "for example STOCKS_ELT_UNIVERSE=listing:exchange=" in message
    assert refused.value.exit_code == 2


def test_a_spec_that_selects_nothing_says_what_the_listing_holds() -> None:
    with pytest.raises(UniverseError, match="selects no symbol from a listing of 6"):
        select_universe(parse_universe("listing:exchange=BATS"), LISTED)
