"""
fct_universe_membership and fct_forward_returns: incremental runs give the same
rows as a full refresh, a new session rewrites exactly the rows it completes, and
membership follows the listings.

The market grows one session a day for 30 sessions. On the way: a split and
dividends (the bars rebuild a symbol's history), a listing mid-way, a delisting
mid-way (the listing flips from Active to Delisted the day after, as
LISTING_STATUS does), a symbol without listing data, a missing bar back-filled
the next day, a session no symbol had until the next day, and an IPO date
corrected to a later day (the window narrows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.universe import ListedSymbol
from stocks_elt.market.calendar import all_sessions as nyse_sessions
from stocks_elt.market.calendar import session_index_on_or_after
from stocks_elt.transform.dbt import run_dbt, run_dbt_build

from .conftest import (
    assert_marts_equal_snapshot,
    fetch_rows,
    load_market,
    snapshot_marts,
    values_match,
)

pytestmark = pytest.mark.integration

_FIRST = session_index_on_or_after(date(2024, 5, 1))
WINDOW = nyse_sessions()[_FIRST : _FIRST + 30]

UNIVERSE = (
    ListedSymbol(
        "SPLT",
        "Split Holdings",
        ipo_date=date(2024, 2, 1),
        profile="growth",
        splits=((WINDOW[9], Decimal("2")),),
        dividends=((WINDOW[19], Decimal("0.40")),),
    ),
    # delisted on the window's 15th session: its last bar
    ListedSymbol(
        "GONE",
        "Gone Holdings",
        ipo_date=date(2024, 3, 1),
        delisting_date=WINDOW[14],
        profile="flat",
        splits=(),
        dividends=(),
    ),
    # listed on the window's third session
    ListedSymbol(
        "FRSH",
        "Fresh Holdings",
        ipo_date=WINDOW[2],
        profile="flat",
        splits=(),
        dividends=(),
    ),
    # delisted on a Saturday, named Delisted by the listing from the start
    ListedSymbol(
        "WKND",
        "Weekend Holdings",
        ipo_date=date(2024, 3, 1),
        delisting_date=date(2024, 5, 11),
        profile="flat",
        splits=(),
        dividends=(),
    ),
    # no listing row at all: listed from its first to its last bar
    ListedSymbol(
        "NOLS",
        "No Listing Holdings",
        ipo_date=date(2024, 4, 1),
        profile="flat",
        splits=(),
        dividends=(),
    ),
)
WITHOUT_LISTING = frozenset({"NOLS"})
DELISTED_IN_ADVANCE = frozenset({"WKND"})

_MARTS = {
    "fct_universe_membership": "symbol, trade_date",
    "fct_forward_returns": "symbol, trade_date",
}


def load_listings(
    url: str,
    universe: Sequence[ListedSymbol],
    day: date,
    *,
    without: frozenset[str] = frozenset(),
    ipo_dates: dict[str, date] | None = None,
    delisted_in_advance: frozenset[str] = frozenset(),
) -> None:
    """Upsert the universe's LISTING_STATUS rows as seen on ``day``.

    As the emulator (and the API) shows them: a symbol is listed once its IPO date
    has come, and Delisted with its delisting date only after that date;
    ``ipo_dates`` overrides the IPO dates the listing gives, and the symbols of
    ``delisted_in_advance`` show as Delisted from the first day (a listing
    fetched after the bars). A changed row gets ``updated_at = now()``, as the
    loader does.
    """
    rows = []
    for listed in universe:
        if listed.symbol in without or listed.ipo_date > day:
            continue
        is_delisted = listed.delisting_date is not None and (
            listed.delisting_date < day or listed.symbol in delisted_in_advance
        )
        rows.append(
            (
                listed.symbol,
                listed.name,
                listed.exchange,
                listed.asset_type,
                (ipo_dates or {}).get(listed.symbol, listed.ipo_date),
                listed.delisting_date if is_delisted else None,
                "Delisted" if is_delisted else "Active",
            )
        )
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(
            """
            insert into raw.symbols
                (symbol, name, exchange, asset_type, ipo_date, delisting_date,
                 status, source_object)
            values (%s, %s, %s, %s, %s, %s, %s, 'test')
            on conflict (symbol) do update
            set name = excluded.name, exchange = excluded.exchange,
                asset_type = excluded.asset_type, ipo_date = excluded.ipo_date,
                delisting_date = excluded.delisting_date,
                status = excluded.status, updated_at = now()
            where (raw.symbols.ipo_date, raw.symbols.delisting_date,
                   raw.symbols.status)
                is distinct from
                  (excluded.ipo_date, excluded.delisting_date, excluded.status)
            """,
            rows,
        )


def _load_day(url: str, day: date, ipo_dates: dict[str, date]) -> None:
    load_market(url, UNIVERSE, day)
    load_listings(
        url,
        UNIVERSE,
        day,
        without=WITHOUT_LISTING,
        ipo_dates=ipo_dates,
        delisted_in_advance=DELISTED_IN_ADVANCE,
    )


def _delete_bars(url: str, day: date, symbols: Sequence[str] | None = None) -> None:
    with psycopg.connect(url) as conn:
        deleted = conn.execute(
            "delete from raw.daily_prices where trade_date = %s"
            " and (%s::text[] is null or symbol = any(%s))",
            (day, symbols, symbols),
        ).rowcount
    assert deleted > 0


def _run_marts(settings: Settings) -> None:
    assert run_dbt(settings, ["run", "--select", "marts"]).success


def _run_models(settings: Settings) -> None:
    assert run_dbt(settings, ["run"]).success


def test_thirty_daily_incremental_runs_equal_a_full_refresh(
    transform_settings: Settings, warehouse: str
) -> None:
    ipo_dates: dict[str, date] = {}
    _load_day(warehouse, WINDOW[0], ipo_dates)
    run_dbt_build(transform_settings)
    for offset, day in enumerate(WINDOW[1:], start=1):
        if offset == 25:  # the vendor corrects SPLT's IPO date to a later day
            ipo_dates["SPLT"] = WINDOW[5]
        _load_day(warehouse, day, ipo_dates)
        if offset == 10:  # SPLT's bar is late; back-filled the next day
            _delete_bars(warehouse, day, ["SPLT"])
        if offset == 20:  # nobody's bar has come: not a session until tomorrow
            _delete_bars(warehouse, day)
        if day == WINDOW[-1]:
            run_dbt_build(transform_settings)
        else:
            _run_marts(transform_settings)

    snapshot_marts(warehouse, _MARTS)
    run_dbt_build(transform_settings, full_refresh=True)
    assert_marts_equal_snapshot(warehouse, _MARTS)

    membership = _membership(warehouse)
    sessions = list(WINDOW)
    # the narrowed window: SPLT from its corrected IPO date on
    assert membership["SPLT"] == [d for d in _all_sessions(warehouse) if d >= WINDOW[5]]
    # GONE: through its delisting date, which is its last listed session
    assert membership["GONE"][-1] == WINDOW[14]
    # WKND: through its last session before its Saturday delisting date
    assert membership["WKND"][-1] == date(2024, 5, 10)
    assert fetch_rows(
        warehouse,
        "select symbol, trade_date from marts.fct_universe_membership"
        " where is_last_listed_session order by symbol",
    ) == [("GONE", WINDOW[14]), ("WKND", date(2024, 5, 10))]
    assert membership["FRSH"] == sessions[2:]
    # NOLS has no listing data: from its first to its last bar
    assert membership["NOLS"][-1] == WINDOW[-1]


def _membership(url: str) -> dict[str, list[date]]:
    rows = fetch_rows(
        url,
        "select symbol, trade_date from marts.fct_universe_membership"
        " order by symbol, trade_date",
    )
    membership: dict[str, list[date]] = {}
    for symbol, day in rows:
        membership.setdefault(symbol, []).append(day)
    return membership


def _all_sessions(url: str) -> list[date]:
    return [
        day
        for (day,) in fetch_rows(
            url, "select distinct trade_date from raw.daily_prices order by 1"
        )
    ]


def _rows_written_by_last_run(url: str, mart: str) -> dict[str, list[date]]:
    """Per symbol, the sessions the latest writing transaction of ``mart`` wrote."""
    rows = fetch_rows(
        url,
        f"""
        select symbol, trade_date
        from marts.{mart}
        where xmin::text = (
            select xmin::text from marts.{mart}
            order by xmin::text::bigint desc limit 1
        )
        order by symbol, trade_date
        """,
    )
    written: dict[str, list[date]] = {}
    for symbol, day in rows:
        written.setdefault(symbol, []).append(day)
    return written


def test_a_new_session_rewrites_exactly_the_rows_it_completes(
    transform_settings: Settings, warehouse: str
) -> None:
    universe = tuple(
        ListedSymbol(
            symbol, "Holdings", ipo_date=date(2023, 1, 3), splits=(), dividends=()
        )
        for symbol in ("AAA", "BBB", "CCC")
    )
    load_market(warehouse, universe, WINDOW[0])
    load_listings(warehouse, universe, WINDOW[0])
    _run_models(transform_settings)

    load_market(warehouse, universe, WINDOW[1])
    load_listings(warehouse, universe, WINDOW[1])
    _delete_bars(warehouse, WINDOW[1], ["CCC"])  # CCC did not trade
    _run_models(transform_settings)

    sessions = [
        day
        for (day,) in fetch_rows(
            warehouse,
            "select trade_date from raw.daily_prices where symbol = 'AAA'"
            " order by trade_date",
        )
    ]
    new = len(sessions) - 1
    # the new session, and the sessions 1, 5 and 21 before it: nothing else
    completed = [sessions[new - n] for n in (21, 5, 1, 0)]
    assert _rows_written_by_last_run(warehouse, "fct_forward_returns") == {
        "AAA": completed,
        "BBB": completed,
    }
    # one row per listed symbol, CCC's without a bar
    assert _rows_written_by_last_run(warehouse, "fct_universe_membership") == {
        "AAA": [WINDOW[1]],
        "BBB": [WINDOW[1]],
        "CCC": [WINDOW[1]],
    }
    assert fetch_rows(
        warehouse,
        "select symbol from marts.fct_universe_membership"
        " where trade_date = %s and not has_daily_bar",
        WINDOW[1],
    ) == [("CCC",)]

    # a day without new raw rows writes nothing
    counts = (
        "select count(*), max(xmin::text) from marts.fct_forward_returns"
        " union all"
        " select count(*), max(xmin::text) from marts.fct_universe_membership"
    )
    before = fetch_rows(warehouse, counts)
    _run_models(transform_settings)
    assert fetch_rows(warehouse, counts) == before


def test_forward_returns_are_the_adjusted_close_ratios_n_sessions_ahead(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, UNIVERSE[:1], WINDOW[-1])  # SPLT: a split, a dividend
    run_dbt_build(transform_settings)

    bars = fetch_rows(
        warehouse,
        "select trade_date, adjusted_close_price from marts.fct_daily_bars"
        " where symbol = 'SPLT' order by trade_date",
    )
    labels = fetch_rows(
        warehouse,
        "select trade_date, label_forward_return_1, label_forward_return_5,"
        " label_forward_return_21, label_end_date_1, label_end_date_5,"
        " label_end_date_21"
        " from marts.fct_forward_returns where symbol = 'SPLT' order by trade_date",
    )
    assert len(labels) == len(bars)
    for index, row in enumerate(labels):
        day, close = bars[index]
        assert row[0] == day
        for position, n in enumerate((1, 5, 21)):
            label, end_date = row[1 + position], row[4 + position]
            if index + n >= len(bars):
                assert (label, end_date) == (None, None)
            else:
                later_day, later_close = bars[index + n]
                assert end_date == later_day
                assert values_match(label, later_close / close - 1, 1e-12)
