"""
The marts against independent references on the emulator's market: TA-Lib for
every indicator, numpy for volatility and drawdown, the emulator's own backward
adjustment for adjusted closes, and a pandas resample for weekly and monthly bars.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg
import pytest
import talib
from psycopg import sql

from stocks_elt.config import Settings
from stocks_elt.emulator.market import SymbolHistory
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.transform.dbt import run_dbt_build
from stocks_elt.warehouse.migrate import migrate

from .conftest import fetch_rows, load_market

TODAY = date(2024, 6, 28)
# income (dividends and IBM's 1.046 split), growth (forward splits), decline
# (1:10 reverse splits), and a symbol listed in 2012
SYMBOLS = ("IBM", "AAPL", "INTC", "C", "META")


@pytest.fixture(scope="module")
def market(
    postgres_admin_url: str, dbt_data_dir: object
) -> Iterator[tuple[str, dict[str, SymbolHistory]]]:
    """A warehouse built once for this module: (URL, histories by symbol)."""
    name = f"stocks_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(postgres_admin_url)._replace(path=f"/{name}"))
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        histories = load_market(url, universe_for_symbols(SYMBOLS), TODAY)
        run_dbt_build(Settings(warehouse_url=url, data_dir=dbt_data_dir))
        yield url, {history.listed.symbol: history for history in histories}
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


def _frame(url: str, query: str, symbol: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(query, (symbol,))
        columns = [column.name for column in cursor.description or ()]
        frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    return frame.fillna(value=np.nan)


def _assert_series_close(
    name: str, got: pd.Series, expected: np.ndarray, rtol: float
) -> None:
    got_values = got.to_numpy(dtype=float)
    assert np.array_equal(np.isnan(got_values), np.isnan(expected)), (
        f"{name}: null where TA-Lib has a value, or the reverse "
        f"(first value at {np.argmax(~np.isnan(got_values))}, "
        f"TA-Lib's at {np.argmax(~np.isnan(expected))})"
    )
    np.testing.assert_allclose(got_values, expected, rtol=rtol, atol=0, err_msg=name)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_every_indicator_matches_talib_on_the_same_adjusted_closes(
    market: tuple[str, dict[str, SymbolHistory]], symbol: str
) -> None:
    url, _ = market
    frame = _frame(
        url,
        "select * from marts.fct_daily_indicators where symbol = %s"
        " order by trade_date",
        symbol,
    )
    closes = frame["adjusted_close_price"].to_numpy(dtype=float)
    macd, signal, histogram = talib.MACD(closes, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(closes, 20, 2.0, 2.0, talib.MA_Type.SMA)
    expected = {
        "sma_20": talib.SMA(closes, 20),
        "sma_50": talib.SMA(closes, 50),
        "sma_200": talib.SMA(closes, 200),
        "ema_12": talib.EMA(closes, 12),
        "ema_26": talib.EMA(closes, 26),
        "macd": macd,
        "macd_signal": signal,
        "macd_histogram": histogram,
        "rsi_14": talib.RSI(closes, 14),
        "bollinger_upper": upper,
        "bollinger_middle": middle,
        "bollinger_lower": lower,
    }
    for column, values in expected.items():
        _assert_series_close(f"{symbol} {column}", frame[column], values, 1e-9)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_volatility_and_drawdown_follow_their_definitions(
    market: tuple[str, dict[str, SymbolHistory]], symbol: str
) -> None:
    url, _ = market
    frame = _frame(
        url,
        "select * from marts.fct_daily_indicators where symbol = %s"
        " order by trade_date",
        symbol,
    )
    closes = frame["adjusted_close_price"].astype(float)
    log_returns = np.log(closes / closes.shift(1))
    # sample standard deviation (ddof=1) of the last 20 log returns, annualised
    volatility = log_returns.rolling(20).std(ddof=1) * math.sqrt(252)
    drawdown = closes / closes.cummax() - 1
    _assert_series_close(
        f"{symbol} volatility_20", frame["volatility_20"], volatility.to_numpy(), 1e-9
    )
    np.testing.assert_allclose(
        frame["drawdown"].to_numpy(dtype=float), drawdown.to_numpy(), rtol=1e-12
    )


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_adjusted_closes_equal_the_emulators_backward_adjustment(
    market: tuple[str, dict[str, SymbolHistory]], symbol: str
) -> None:
    url, histories = market
    history = histories[symbol]
    rows = fetch_rows(
        url,
        "select trade_date, adjusted_close_price from marts.fct_daily_bars"
        " where symbol = %s order by trade_date",
        symbol,
    )
    assert [row[0] for row in rows] == list(history.dates)
    np.testing.assert_allclose(
        [row[1] for row in rows], list(history.adjusted_close_values), rtol=1e-12
    )


@pytest.mark.parametrize("symbol", ["IBM", "AAPL", "C"])
def test_adjusted_volumes_are_multiplied_by_every_later_split_ratio(
    market: tuple[str, dict[str, SymbolHistory]], symbol: str
) -> None:
    url, histories = market
    splits = histories[symbol].splits
    assert splits, f"{symbol} should have split by {TODAY}"
    rows = fetch_rows(
        url,
        "select trade_date, volume, adjusted_volume from marts.fct_daily_bars"
        " where symbol = %s order by trade_date",
        symbol,
    )
    for trade_date, volume, adjusted_volume in rows:
        ratio = math.prod(
            (s.ratio for s in splits if s.effective_date > trade_date), start=1
        )
        assert adjusted_volume == volume * ratio, f"{symbol} {trade_date}"


@pytest.mark.parametrize(
    ("mart", "start_column", "rule"),
    [
        ("fct_weekly_bars", "week_start_date", "W-MON"),
        ("fct_monthly_bars", "month_start_date", "MS"),
    ],
)
@pytest.mark.parametrize("symbol", ["IBM", "AAPL"])
def test_period_bars_equal_a_pandas_resample_of_adjusted_daily_bars(
    market: tuple[str, dict[str, SymbolHistory]],
    mart: str,
    start_column: str,
    rule: str,
    symbol: str,
) -> None:
    url, _ = market
    daily = _frame(
        url,
        "select * from marts.fct_daily_bars where symbol = %s order by trade_date",
        symbol,
    )
    daily.index = pd.DatetimeIndex(daily["trade_date"])
    daily["adjusted_volume"] = daily["adjusted_volume"].astype(float)
    daily["trade_date"] = daily.index
    resampled = daily.resample(rule, label="left", closed="left").agg(
        {
            "trade_date": ["min", "max", "count"],
            "adjusted_open_price": "first",
            "adjusted_high_price": "max",
            "adjusted_low_price": "min",
            "adjusted_close_price": "last",
            "adjusted_volume": "sum",
        }
    )
    resampled = resampled[resampled[("trade_date", "count")] > 0]
    bars = _frame(
        url, f"select * from marts.{mart} where symbol = %s order by 3", symbol
    )
    assert list(pd.to_datetime(bars[start_column])) == list(resampled.index)
    assert list(pd.to_datetime(bars["first_trade_date"])) == list(
        resampled[("trade_date", "min")]
    )
    assert list(pd.to_datetime(bars["last_trade_date"])) == list(
        resampled[("trade_date", "max")]
    )
    assert list(bars["session_count"]) == list(resampled[("trade_date", "count")])
    for column, source in [
        ("open_price", ("adjusted_open_price", "first")),
        ("high_price", ("adjusted_high_price", "max")),
        ("low_price", ("adjusted_low_price", "min")),
        ("close_price", ("adjusted_close_price", "last")),
        ("volume", ("adjusted_volume", "sum")),
    ]:
        np.testing.assert_allclose(
            bars[column].to_numpy(dtype=float),
            resampled[source].to_numpy(dtype=float),
            rtol=1e-12,
            err_msg=f"{mart} {column}",
        )
