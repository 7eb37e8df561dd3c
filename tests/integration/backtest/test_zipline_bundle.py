"""
The ``stocks-elt`` zipline bundle: ingested from a warehouse built by the dbt
project, zipline's own adjustments give back the warehouse's adjusted closes, a
delisted symbol's asset ends on its delisting date, missing sessions are filled
without volume, and bad input stops the ingestion before anything is written.

Skipped only where zipline-reloaded is not installed (the ``backtest`` extra;
the dev environment and CI install it).
"""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

pytest.importorskip("zipline", reason="the backtest extra is not installed")

import pandas as pd
from zipline import run_algorithm
from zipline.api import order, record, set_benchmark, symbol
from zipline.data import bundles
from zipline.data.data_portal import DataPortal
from zipline.utils.calendar_utils import get_calendar

from stocks_elt.backtest.zipline import BUNDLE_NAME, register
from stocks_elt.config import Settings
from stocks_elt.emulator.market import SymbolHistory
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.errors import NothingToExport, UnknownSymbol
from stocks_elt.market.calendar import all_sessions
from stocks_elt.transform.dbt import run_dbt_build
from stocks_elt.warehouse.migrate import migrate
from tests.fixtures.warehouse import _with_database
from tests.integration.transform.conftest import fetch_rows, load_market

pytestmark = pytest.mark.integration

#: A split and quarterly dividends (IBM, TWTR), a reverse split (BBBY), and two
#: delistings (TWTR, BBBY).
SYMBOLS = ("IBM", "TWTR", "BBBY")
TODAY = date(2024, 3, 28)
IBM_SPLIT = date(2021, 11, 4)
#: TWTR's last bars are missing: its listing says it traded through 2022-10-27.
TWTR_MISSING_TAIL = (date(2022, 10, 25), date(2022, 10, 26), date(2022, 10, 27))
SESSIONS = all_sessions()


def _session_before(day: date, count: int = 1) -> date:
    return SESSIONS[SESSIONS.index(day) - count]


def _drop_bars(url: str, bars: dict[str, list[date]]) -> None:
    with psycopg.connect(url) as conn:
        for ticker, days in bars.items():
            conn.execute(
                "delete from raw.daily_prices where symbol = %s"
                " and trade_date = any(%s)",
                (ticker, days),
            )


def _load_listings(url: str) -> None:
    """LISTING_STATUS as the API shows it on TODAY: IBM active, the others
    delisted with their dates."""
    rows = [
        (
            listed.symbol,
            listed.name,
            listed.exchange,
            listed.asset_type,
            listed.ipo_date,
            listed.delisting_date,
            "Delisted" if listed.delisting_date else "Active",
        )
        for listed in universe_for_symbols(SYMBOLS)
    ]
    with psycopg.connect(url) as conn:
        conn.cursor().executemany(
            "insert into raw.symbols (symbol, name, exchange, asset_type, ipo_date,"
            " delisting_date, status, source_object)"
            " values (%s, %s, %s, %s, %s, %s, %s, 'test')",
            rows,
        )


class Built:
    """The module's warehouse: its settings and what was taken out of it."""

    def __init__(self, settings: Settings, url: str, dropped: dict[str, list[date]]):
        self.settings = settings
        self.url = url
        self.dropped = dropped


@pytest.fixture(scope="module")
def built(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """A warehouse whose marts hold SYMBOLS through TODAY, with gaps: IBM misses
    the two sessions before a dividend's ex-date and the session before its
    split; TWTR misses its last three sessions."""
    name = f"stocks_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(postgres_admin_url, name)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        histories: list[SymbolHistory] = load_market(
            url, universe_for_symbols(SYMBOLS), TODAY
        )
        ibm = next(h for h in histories if h.listed.symbol == "IBM")
        ex_date = next(
            event.ex_date
            for event in ibm.dividend_events
            if event.ex_date > date(2015, 1, 1)
        )
        dropped = {
            "IBM": [
                _session_before(ex_date, 2),
                _session_before(ex_date, 1),
                _session_before(IBM_SPLIT),
            ],
            "TWTR": list(TWTR_MISSING_TAIL),
        }
        _drop_bars(url, dropped)
        _load_listings(url)
        settings = Settings(
            warehouse_url=url, data_dir=tmp_path_factory.mktemp("zipline-data")
        )
        run_dbt_build(settings)
        yield Built(settings, url, dropped)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """A ZIPLINE_ROOT of the test's own."""
    return {"ZIPLINE_ROOT": str(tmp_path / "zipline")}


@pytest.fixture
def bundle_name() -> Iterator[str]:
    """A bundle name of the test's own, unregistered afterwards."""
    name = f"{BUNDLE_NAME}-{uuid.uuid4().hex[:8]}"
    yield name
    if name in bundles.bundles:
        bundles.unregister(name)


def _register(name: str, settings: Settings, symbols: Any = None) -> None:
    with warnings.catch_warnings():
        # registering a name again (a new symbol list) is what the test means
        warnings.filterwarnings("ignore", "Overwriting bundle")
        register(name, symbols=symbols, settings=settings)


def _ingestions(environ: dict[str, str], name: str) -> list[str]:
    folder = Path(environ["ZIPLINE_ROOT"]) / "data" / name
    if not folder.is_dir():
        return []
    # zipline keeps its download cache in .cache beside the ingestions
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _portal(bundle: Any) -> DataPortal:
    return DataPortal(
        bundle.asset_finder,
        trading_calendar=get_calendar("XNYS"),
        first_trading_day=bundle.equity_daily_bar_reader.first_trading_day,
        equity_daily_reader=bundle.equity_daily_bar_reader,
        adjustment_reader=bundle.adjustment_reader,
    )


def _history(
    portal: DataPortal, asset: Any, field: str, end: pd.Timestamp
) -> pd.Series:
    """zipline's daily ``field`` of ``asset`` from its start through ``end``,
    adjusted as of ``end``."""
    count = len(get_calendar("XNYS").sessions_in_range(asset.start_date, end))
    frame = portal.get_history_window(
        [asset], end, count, "1d", field, "daily", ffill=False
    )
    return frame[asset]


def test_zipline_adjusted_closes_equal_the_warehouse_across_splits_and_dividends(
    built: Built, environ: dict[str, str], bundle_name: str
) -> None:
    _register(bundle_name, built.settings)
    bundles.ingest(bundle_name, environ=environ)
    bundle = bundles.load(bundle_name, environ=environ)
    portal = _portal(bundle)

    actions = dict(
        fetch_rows(
            built.url,
            "select symbol, count(*) from intermediate.int_corporate_actions_unioned"
            " where is_effective group by symbol",
        )
    )
    assert actions["IBM"] > 90  # a split and dividends back to 1999
    assert actions["TWTR"] > 30  # a split and dividends
    assert actions["BBBY"] == 1  # a reverse split
    for ticker in SYMBOLS:
        asset = bundle.asset_finder.lookup_symbol(ticker, as_of_date=None)
        rows = fetch_rows(
            built.url,
            "select trade_date, close_price, adjusted_close_price"
            " from marts.fct_daily_bars where symbol = %s order by trade_date",
            ticker,
        )
        # zipline keeps prices in tenths of a cent: these are whole cents
        assert all((close * 1000) % 1 == 0 for _, close, _ in rows)
        assert asset.start_date == pd.Timestamp(rows[0][0])
        end = asset.end_date
        history = _history(portal, asset, "close", end)
        for trade_date, _, adjusted_close in rows:
            day = pd.Timestamp(trade_date)
            # zipline's adjustments on the stored close, as of the asset's end
            got = portal.get_adjusted_value(asset, "close", day, end, "daily")
            assert math.isclose(got, adjusted_close, rel_tol=1e-6, abs_tol=0.0), (
                f"{ticker} {trade_date}: zipline {got} != warehouse {adjusted_close}"
            )
            # what data.history gives an algorithm: the same, to zipline's
            # three decimals
            assert math.isclose(
                history[day], round(adjusted_close, 3), rel_tol=1e-6, abs_tol=0.0
            ), f"{ticker} {trade_date}: history {history[day]} != {adjusted_close}"


def test_a_delisted_symbol_ends_on_its_delisting_date_and_closes_the_next_session(
    built: Built, environ: dict[str, str], bundle_name: str
) -> None:
    _register(bundle_name, built.settings)
    bundles.ingest(bundle_name, environ=environ)
    finder = bundles.load(bundle_name, environ=environ).asset_finder

    listings = fetch_rows(
        built.url,
        "select symbol, delisting_date, last_trade_date from marts.dim_symbols"
        " where symbol = any(%s)",
        list(SYMBOLS),
    )
    ends = {ticker: (delisted, last) for ticker, delisted, last in listings}
    # BBBY's bars run through its delisting date; TWTR's stop three sessions short
    assert ends["BBBY"] == (date(2023, 5, 2), date(2023, 5, 2))
    assert ends["TWTR"] == (date(2022, 10, 27), _session_before(date(2022, 10, 25)))
    for ticker in ("TWTR", "BBBY"):
        asset = finder.lookup_symbol(ticker, as_of_date=None)
        delisted = ends[ticker][0]
        assert asset.end_date == pd.Timestamp(delisted)
        next_session = SESSIONS[SESSIONS.index(delisted) + 1]
        assert asset.auto_close_date == pd.Timestamp(next_session)
    ibm = finder.lookup_symbol("IBM", as_of_date=None)
    assert ibm.end_date == pd.Timestamp(TODAY)
    assert ibm.auto_close_date is None
    assert ibm.asset_name == "International Business Machines Corp"
    # the listing's exchange, on the XNYS calendar
    assert (ibm.exchange_info.name, ibm.exchange) == ("NYSE", "XNYS")
    assert ibm.exchange_info.country_code == "US"


def test_missing_sessions_hold_the_previous_close_and_no_volume(
    built: Built, environ: dict[str, str], bundle_name: str
) -> None:
    _register(bundle_name, built.settings)
    bundles.ingest(bundle_name, environ=environ)
    bundle = bundles.load(bundle_name, environ=environ)
    portal = _portal(bundle)
    reader = bundle.equity_daily_bar_reader

    for ticker, days in built.dropped.items():
        asset = bundle.asset_finder.lookup_symbol(ticker, as_of_date=None)
        volumes = _history(portal, asset, "volume", asset.end_date)
        for day in days:
            before = min(days) if ticker == "TWTR" else day
            last_bar = _session_before(before)
            while last_bar in days:
                last_bar = _session_before(last_bar)
            stamp = pd.Timestamp(day)
            assert volumes[stamp] == 0, (ticker, day)
            for field in ("open", "high", "low", "close"):
                assert reader.get_value(asset.sid, stamp, field) == (
                    reader.get_value(asset.sid, pd.Timestamp(last_bar), "close")
                ), (ticker, day, field)
            # a day without volume is no trade: the last traded day is earlier
            assert reader.get_last_traded_dt(asset, stamp) == pd.Timestamp(last_bar)


def test_a_buy_and_hold_algorithm_sees_the_split_and_point_in_time_history(
    built: Built, environ: dict[str, str], bundle_name: str
) -> None:
    _register(bundle_name, built.settings, symbols=["IBM"])
    bundles.ingest(bundle_name, environ=environ)
    start = pd.Timestamp(_session_before(IBM_SPLIT, 5))
    end = pd.Timestamp(SESSIONS[SESSIONS.index(IBM_SPLIT) + 60])
    seen: dict[str, pd.Series] = {}

    def initialize(context: Any) -> None:
        context.ibm = symbol("IBM")
        set_benchmark(context.ibm)
        context.ordered = False

    def handle_data(context: Any, data: Any) -> None:
        if not context.ordered:
            order(context.ibm, 100)
            context.ordered = True
        record(shares=context.portfolio.positions[context.ibm].amount)
        if data.current_session == end:
            seen["closes"] = data.history(context.ibm, "close", 250, "1d")

    perf = run_algorithm(
        start=start,
        end=end,
        initialize=initialize,
        handle_data=handle_data,
        capital_base=100_000,
        bundle=bundle_name,
        environ=environ,
        default_extension=False,
    )

    shares = perf["shares"]
    shares.index = shares.index.tz_localize(None).normalize()
    before_split = shares[shares.index < pd.Timestamp(IBM_SPLIT)]
    # ordered on the first session, filled at the second session's close
    assert set(before_split.iloc[1:]) == {100}
    # 100 / (1 / 1.046) = 104.6 shares: zipline keeps 104 and pays the fraction
    assert set(shares[shares.index >= pd.Timestamp(IBM_SPLIT)]) == {104}
    # history inside the simulation is adjusted as of the simulated day: the
    # warehouse's adjusted close divided by the factor of that day (to zipline's
    # three decimals)
    rows = fetch_rows(
        built.url,
        "select trade_date, adjusted_close_price from marts.fct_daily_bars"
        " where symbol = 'IBM' and trade_date <= %s order by trade_date",
        end.date(),
    )
    (factor,) = fetch_rows(
        built.url,
        "select price_adjustment_factor from marts.fct_daily_bars"
        " where symbol = 'IBM' and trade_date = %s",
        end.date(),
    )[0]
    closes = seen["closes"]
    closes.index = closes.index.tz_localize(None).normalize()
    warehouse = {
        pd.Timestamp(day): round(adjusted / factor, 3) for day, adjusted in rows
    }
    compared = 0
    for day, got in closes.items():
        if day in warehouse:  # the dropped session before the split is filled
            assert math.isclose(got, warehouse[day], rel_tol=1e-6, abs_tol=0.0), day
            compared += 1
    assert compared == 249


def test_symbols_without_bars_stop_the_ingestion_and_keep_the_previous_one(
    built: Built, environ: dict[str, str], bundle_name: str
) -> None:
    _register(bundle_name, built.settings, symbols=["IBM"])
    bundles.ingest(bundle_name, environ=environ)
    previous = _ingestions(environ, bundle_name)
    assert len(previous) == 1

    _register(bundle_name, built.settings, symbols=["IBM", "NOPE", "ZZZZ"])
    with pytest.raises(UnknownSymbol, match=r"for NOPE, ZZZZ: .*nothing ingested"):
        bundles.ingest(bundle_name, environ=environ)

    assert _ingestions(environ, bundle_name) == previous
    finder = bundles.load(bundle_name, environ=environ).asset_finder
    assert [asset.symbol for asset in finder.retrieve_all(finder.sids)] == ["IBM"]


def test_an_empty_warehouse_stops_the_ingestion_with_one_message(
    warehouse: str, environ: dict[str, str], bundle_name: str, tmp_path: Path
) -> None:
    _register(
        bundle_name, Settings(warehouse_url=warehouse, data_dir=tmp_path / "data")
    )
    with pytest.raises(NothingToExport, match=r"has no marts yet.*nothing ingested"):
        bundles.ingest(bundle_name, environ=environ)

    assert _ingestions(environ, bundle_name) == []
