"""
Synthetic marts for report tests, until the dbt project builds the real ones.

Prices come from the emulator's deterministic market (as-traded bars, splits,
dividends, backward-adjusted closes); the indicators are computed here with TA-Lib,
whose definitions DESIGN.md names, so the values are independent of the code under
test. The tables have the columns the marts contract lists, with the types the dbt
project gives them: numeric as traded, double precision once adjusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import psycopg
import talib

from stocks_elt.emulator.market import SplitEvent, symbol_history
from stocks_elt.emulator.universe import ListedSymbol

MARTS_DDL = """
create schema if not exists marts;

create table marts.dim_symbols (
    symbol_id text primary key,
    symbol text not null unique,
    name text,
    exchange text,
    asset_type text,
    currency text,
    sector text,
    industry text,
    ipo_date date,
    delisting_date date,
    status text,
    first_trade_date date,
    last_trade_date date,
    session_count bigint
);

create table marts.fct_daily_bars (
    daily_bar_id text primary key,
    symbol text not null,
    trade_date date not null,
    open_price numeric(18, 4) not null,
    high_price numeric(18, 4) not null,
    low_price numeric(18, 4) not null,
    close_price numeric(18, 4) not null,
    volume bigint not null,
    adjusted_open_price double precision,
    adjusted_high_price double precision,
    adjusted_low_price double precision,
    adjusted_close_price double precision,
    adjusted_volume numeric,
    daily_return double precision,
    log_return double precision,
    unique (symbol, trade_date)
);

create table marts.fct_daily_indicators (
    daily_indicator_id text primary key,
    symbol text not null,
    trade_date date not null,
    adjusted_close_price double precision,
    sma_20 double precision,
    sma_50 double precision,
    sma_200 double precision,
    ema_12 double precision,
    ema_26 double precision,
    macd double precision,
    macd_signal double precision,
    macd_histogram double precision,
    rsi_14 double precision,
    bollinger_middle double precision,
    bollinger_upper double precision,
    bollinger_lower double precision,
    volatility_20 double precision,
    drawdown double precision,
    unique (symbol, trade_date)
);
"""

INDICATOR_COLUMNS = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "macd_histogram",
    "rsi_14",
    "bollinger_middle",
    "bollinger_upper",
    "bollinger_lower",
    "volatility_20",
    "drawdown",
)


@dataclass(frozen=True)
class Listing:
    """One symbol of the synthetic marts."""

    symbol: str
    name: str
    ipo_date: date
    sector: str = "Technology"
    industry: str = "Software"
    exchange: str = "NYSE"


def create_marts(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create the ``marts`` schema and its three tables (empty)."""
    conn.execute(MARTS_DDL)


def add_profile(conn: psycopg.Connection[tuple[object, ...]], listing: Listing) -> None:
    """Insert ``listing`` into ``marts.dim_symbols`` with no sessions."""
    conn.execute(
        """
        insert into marts.dim_symbols (
            symbol_id, symbol, name, exchange, asset_type, currency, sector,
            industry, ipo_date, status, session_count
        )
        values (md5(%(symbol)s), %(symbol)s, %(name)s, %(exchange)s, 'Stock', 'USD',
            %(sector)s, %(industry)s, %(ipo)s, 'Active', 0)
        """,
        {
            "symbol": listing.symbol,
            "name": listing.name,
            "exchange": listing.exchange,
            "sector": listing.sector,
            "industry": listing.industry,
            "ipo": listing.ipo_date,
        },
    )


def indicators(adjusted_closes: Sequence[float]) -> dict[str, list[float | None]]:
    """Compute the mart's indicators with TA-Lib (None until enough history)."""
    close = np.asarray(adjusted_closes, dtype=float)
    macd, signal, histogram = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    returns = np.concatenate([[np.nan], close[1:] / close[:-1] - 1.0])
    values = {
        "sma_20": talib.SMA(close, 20),
        "sma_50": talib.SMA(close, 50),
        "sma_200": talib.SMA(close, 200),
        "ema_12": talib.EMA(close, 12),
        "ema_26": talib.EMA(close, 26),
        "macd": macd,
        "macd_signal": signal,
        "macd_histogram": histogram,
        "rsi_14": talib.RSI(close, 14),
        "bollinger_middle": middle,
        "bollinger_upper": upper,
        "bollinger_lower": lower,
        "volatility_20": talib.STDDEV(returns, 20, 1.0),
        "drawdown": close / np.maximum.accumulate(close) - 1.0,
    }
    return {
        name: [None if math.isnan(v) else float(v) for v in column]
        for name, column in values.items()
    }


def add_symbol(
    conn: psycopg.Connection[tuple[object, ...]], listing: Listing, today: date
) -> int:
    """Fill the marts with ``listing``'s emulated history up to ``today``.

    Returns:
        The number of sessions inserted.
    """
    history = symbol_history(
        ListedSymbol(listing.symbol, listing.name, ipo_date=listing.ipo_date), today
    )
    bars = history.bars
    adjusted = list(history.adjusted_close_values)
    split_after = _split_factors(history.dates, history.splits)
    computed = indicators(adjusted)
    add_profile(conn, listing)
    bar_rows = []
    indicator_rows = []
    for i, bar in enumerate(bars):
        factor = Decimal(repr(adjusted[i])) / bar.close
        key = f"{listing.symbol}|{bar.trade_date.isoformat()}"
        previous = adjusted[i - 1] if i else None
        bar_rows.append(
            (
                key,
                listing.symbol,
                bar.trade_date,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                round(bar.open * factor, 12),
                round(bar.high * factor, 12),
                round(bar.low * factor, 12),
                round(bar.close * factor, 12),
                round(Decimal(bar.volume) * split_after[i], 6),
                None if previous is None else adjusted[i] / previous - 1.0,
                None if previous is None else math.log(adjusted[i] / previous),
            )
        )
        indicator_rows.append(
            (
                key,
                listing.symbol,
                bar.trade_date,
                round(bar.close * factor, 12),
                *(computed[name][i] for name in INDICATOR_COLUMNS),
            )
        )
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into marts.fct_daily_bars values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            bar_rows,
        )
        cursor.executemany(
            "insert into marts.fct_daily_indicators values ("
            + ", ".join(["%s"] * (4 + len(INDICATOR_COLUMNS)))
            + ")",
            indicator_rows,
        )
    conn.execute(
        """
        update marts.dim_symbols set
            first_trade_date = %(first)s,
            last_trade_date = %(last)s,
            session_count = %(count)s
        where symbol = %(symbol)s
        """,
        {
            "symbol": listing.symbol,
            "first": bars[0].trade_date,
            "last": bars[-1].trade_date,
            "count": len(bars),
        },
    )
    return len(bars)


def _split_factors(
    dates: Sequence[date], splits: Sequence[SplitEvent]
) -> list[Decimal]:
    """Per session, the product of the ratios of the splits after it."""
    factors = []
    for day in dates:
        factor = Decimal(1)
        for split in splits:
            if split.effective_date > day:
                factor *= split.ratio
        factors.append(factor)
    return factors
