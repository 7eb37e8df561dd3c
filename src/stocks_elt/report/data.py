"""
What the HTML report shows, read from the warehouse in one pass.

Per symbol: its row of ``marts.dim_symbols``, the last ``sessions`` rows of
``marts.fct_daily_bars`` joined to ``marts.fct_daily_indicators``, its last extract
outcome and its quarantined row count. For the warehouse: the latest data-quality
gate run, quarantine counts per symbol and reason, and every symbol whose last
extract outcome was not healthy (deferred, failed, not found, history gap).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from stocks_elt.errors import UnknownSymbol, WarehouseError
from stocks_elt.warehouse.audit.extract import ExtractOutcome, latest_extract_outcomes
from stocks_elt.warehouse.audit.quality import (
    QualityRun,
    RecordedCheck,
    latest_quality_run,
)

logger = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]

#: Sessions per symbol when none is asked for: about two years of trading days.
DEFAULT_SESSIONS = 500
#: The most sessions per symbol the report accepts (about 80 years).
MAX_SESSIONS = 20_000
#: The most quarantine groups and problem rows a section lists.
MAX_LISTED = 200

_MART_TABLES = ("dim_symbols", "fct_daily_bars", "fct_daily_indicators")


@dataclass(frozen=True)
class SymbolProfile:
    """A symbol's row of ``marts.dim_symbols``."""

    name: str | None
    exchange: str | None
    asset_type: str | None
    currency: str | None
    sector: str | None
    industry: str | None
    status: str | None
    first_trade_date: date | None
    last_trade_date: date | None
    session_count: int | None


@dataclass(frozen=True)
class DailyRow:
    """One session of a symbol: adjusted bar and indicators (None: not defined)."""

    trade_date: date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal | None
    volume: int | None
    daily_return: Decimal | None
    sma_20: Decimal | None
    sma_50: Decimal | None
    sma_200: Decimal | None
    ema_12: Decimal | None
    ema_26: Decimal | None
    macd: Decimal | None
    macd_signal: Decimal | None
    macd_histogram: Decimal | None
    rsi_14: Decimal | None
    bollinger_middle: Decimal | None
    bollinger_upper: Decimal | None
    bollinger_lower: Decimal | None
    volatility_20: Decimal | None
    drawdown: Decimal | None


@dataclass(frozen=True)
class SymbolSection:
    """Everything the report shows about one symbol."""

    symbol: str
    profile: SymbolProfile | None
    rows: tuple[DailyRow, ...]  # oldest first
    extract: ExtractOutcome | None
    quarantined_rows: int

    @property
    def latest(self) -> DailyRow | None:
        """The most recent session, or None when the marts hold none."""
        return self.rows[-1] if self.rows else None


@dataclass(frozen=True)
class QuarantineCount:
    """How many rows of one symbol were quarantined for one reason."""

    symbol: str | None
    reason: str
    rows: int
    last_quarantined_at: datetime


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows."""

    generated_at: datetime
    sessions: int
    symbols: tuple[SymbolSection, ...]
    quality_run: QualityRun | None
    quarantine: tuple[QuarantineCount, ...]  # largest first, at most MAX_LISTED
    quarantine_total: int
    extract_problems: tuple[ExtractOutcome, ...]  # every symbol, not only listed

    @property
    def findings(self) -> tuple[RecordedCheck, ...]:
        """Warnings and failures of the latest gate run."""
        return () if self.quality_run is None else self.quality_run.findings


def collect_report_data(
    conn: Connection,
    symbols: Sequence[str],
    *,
    sessions: int,
    generated_at: datetime,
) -> ReportData:
    """Read what the report shows about ``symbols``.

    Args:
        conn: a warehouse connection.
        symbols: validated symbols, in the order the report lists them.
        sessions: how many of the latest sessions to read per symbol.
        generated_at: the instant the report is stamped with.

    Returns:
        The report's data; a symbol the warehouse knows but the marts hold no rows
        for gets an empty section.

    Raises:
        WarehouseError: the marts do not exist yet (transform never ran).
        UnknownSymbol: the warehouse has no trace of a symbol (no mart rows, no
            prices, no extract outcome); the message lists them.
    """
    _require_marts(conn)
    _require_known(conn, symbols)
    outcomes = latest_extract_outcomes(conn)
    quarantined = _quarantined_rows(conn, symbols)
    sections = tuple(
        SymbolSection(
            symbol=symbol,
            profile=_profile(conn, symbol),
            rows=_daily_rows(conn, symbol, sessions),
            extract=outcomes.get(symbol),
            quarantined_rows=quarantined.get(symbol, 0),
        )
        for symbol in symbols
    )
    groups, total = _quarantine_counts(conn)
    data = ReportData(
        generated_at=generated_at,
        sessions=sessions,
        symbols=sections,
        quality_run=latest_quality_run(conn),
        quarantine=groups,
        quarantine_total=total,
        extract_problems=tuple(
            outcome for _, outcome in sorted(outcomes.items()) if not outcome.is_healthy
        ),
    )
    logger.info(
        "collected report symbols=%d sessions=%d rows=%d findings=%d",
        len(sections),
        sessions,
        sum(len(section.rows) for section in sections),
        len(data.findings),
    )
    return data


def _require_marts(conn: Connection) -> None:
    missing = [
        table
        for table in _MART_TABLES
        if conn.execute("select to_regclass(%s)", (f"marts.{table}",)).fetchone()
        == (None,)
    ]
    if missing:
        raise WarehouseError(
            "the warehouse has no "
            + ", ".join(f"marts.{table}" for table in missing)
            + " yet: run `stocks-elt transform` (or `stocks-elt run`) first"
        )


def _require_known(conn: Connection, symbols: Sequence[str]) -> None:
    rows = conn.execute(
        """
        select s.symbol
        from unnest(%s::text[]) with ordinality as s (symbol, position)
        where not exists (
                select from marts.dim_symbols as d where d.symbol = s.symbol
            )
            and not exists (
                select from marts.fct_daily_bars as b where b.symbol = s.symbol
            )
            and not exists (
                select from raw.daily_prices as p where p.symbol = s.symbol
            )
            and not exists (
                select from audit.extract_outcomes as e where e.symbol = s.symbol
            )
        order by s.position
        """,
        (list(symbols),),
    ).fetchall()
    unknown = [str(row[0]) for row in rows]
    if not unknown:
        return
    known = [
        str(row[0])
        for row in conn.execute(
            "select symbol from marts.dim_symbols order by symbol limit 21"
        ).fetchall()
    ]
    hint = (
        "the marts hold no symbol at all"
        if not known
        else "known symbols include " + ", ".join(known[:20])
    )
    raise UnknownSymbol(
        f"{', '.join(unknown)}: not in the warehouse (no prices, no marts rows, "
        f"never extracted); {hint}"
    )


def _profile(conn: Connection, symbol: str) -> SymbolProfile | None:
    row = conn.execute(
        """
        select
            name, exchange, asset_type, currency, sector, industry, status,
            first_trade_date, last_trade_date, session_count
        from marts.dim_symbols
        where symbol = %s
        """,
        (symbol,),
    ).fetchone()
    return None if row is None else SymbolProfile(*row)


def _daily_rows(conn: Connection, symbol: str, sessions: int) -> tuple[DailyRow, ...]:
    rows = conn.execute(
        """
        select
            b.trade_date,
            b.adjusted_open_price,
            b.adjusted_high_price,
            b.adjusted_low_price,
            b.adjusted_close_price,
            coalesce(b.adjusted_volume, b.volume),
            b.daily_return,
            i.sma_20,
            i.sma_50,
            i.sma_200,
            i.ema_12,
            i.ema_26,
            i.macd,
            i.macd_signal,
            i.macd_histogram,
            i.rsi_14,
            i.bollinger_middle,
            i.bollinger_upper,
            i.bollinger_lower,
            i.volatility_20,
            i.drawdown
        from (
            select * from marts.fct_daily_bars
            where symbol = %(symbol)s
            order by trade_date desc
            limit %(sessions)s
        ) as b
        left join marts.fct_daily_indicators as i
            on i.symbol = b.symbol and i.trade_date = b.trade_date
        order by b.trade_date
        """,
        {"symbol": symbol, "sessions": sessions},
    ).fetchall()
    return tuple(_daily_row(row) for row in rows)


def _daily_row(row: tuple[Any, ...]) -> DailyRow:
    """Build a row with Decimal numbers, whatever type each mart column has.

    The marts keep adjusted prices and indicators as double precision and the
    as-traded values as numeric; the report handles one type. Adjusted volume is
    fractional after a split of ratio like 1.046: it is rounded to whole shares.
    """
    open_price, high, low, close, _, *rest = (_as_decimal(value) for value in row[1:])
    volume = _as_decimal(row[5])
    shares = (
        int(volume.to_integral_value())
        if volume is not None and volume.is_finite()
        else None
    )
    return DailyRow(row[0], open_price, high, low, close, shares, *rest)


def _as_decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that reads back the same
    if isinstance(value, int):
        return Decimal(value)
    raise TypeError(f"a mart column holds {type(value).__name__}, not a number")


def _quarantined_rows(conn: Connection, symbols: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        """
        select symbol, count(*) from raw.quarantine
        where symbol = any(%s::text[])
        group by symbol
        """,
        (list(symbols),),
    ).fetchall()
    return {str(symbol): int(count) for symbol, count in rows}


def _quarantine_counts(
    conn: Connection,
) -> tuple[tuple[QuarantineCount, ...], int]:
    rows = conn.execute(
        """
        select symbol, reason, count(*) as quarantined, max(quarantined_at)
        from raw.quarantine
        group by symbol, reason
        order by quarantined desc, symbol nulls first, reason
        limit %s
        """,
        (MAX_LISTED,),
    ).fetchall()
    total = conn.execute("select count(*) from raw.quarantine").fetchone()
    return (
        tuple(QuarantineCount(*row) for row in rows),
        int(total[0]) if total is not None else 0,
    )
