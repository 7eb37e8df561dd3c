"""
The newest session each symbol has in a table: ``raw.daily_prices`` (status,
how far behind a symbol is) or ``marts.fct_daily_bars`` (the freshness deadline,
whether the chain finished). One index probe per symbol, whatever the history's
length.

And the session a symbol's history ends at when the listing calls it delisted:
extract stops asking for it once that session is stored, and status and the
freshness deadline count it current from then on (the quality gate's staleness
check leaves delisted symbols out altogether).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from stocks_elt.market.calendar import last_session_on_or_before

Connection = psycopg.Connection[tuple[Any, ...]]


def last_sessions(
    conn: Connection, schema: str, table: str, symbols: Sequence[str]
) -> dict[str, date]:
    """Return the latest ``trade_date`` per symbol in ``schema.table``.

    Args:
        conn: a warehouse connection.
        schema: the table's schema (``raw``, ``marts``).
        table: a table with ``symbol`` and ``trade_date`` columns.
        symbols: the symbols to look at.

    Returns:
        symbol -> last trade date; symbols without a row (and every symbol, when
        the table does not exist yet) are absent.
    """
    exists = conn.execute(
        "select to_regclass(%s) is not null", (f"{schema}.{table}",)
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        sql.SQL(
            """
            select s.symbol, last.trade_date
            from unnest(%s::text[]) as s (symbol)
            cross join lateral (
                select max(t.trade_date) as trade_date
                from {table} as t
                where t.symbol = s.symbol
            ) as last
            where last.trade_date is not null
            """
        ).format(table=sql.Identifier(schema, table)),
        (list(symbols),),
    ).fetchall()
    return {str(symbol): trade_date for symbol, trade_date in rows}


def final_sessions(conn: Connection, symbols: Sequence[str]) -> dict[str, date]:
    """Return the last session of each of ``symbols`` that ``raw.symbols`` calls
    delisted (status ``Delisted`` with a delisting date): the last session on
    or before that date. Listed symbols, and unknown ones, are absent."""
    rows = conn.execute(
        """
        select symbol, delisting_date
        from raw.symbols
        where
            symbol = any(%s)
            and status = 'Delisted'
            and delisting_date is not null
        """,
        (list(symbols),),
    ).fetchall()
    return {str(symbol): last_session_on_or_before(day) for symbol, day in rows}


def expected_session(last_completed: date, final: date | None) -> date:
    """The newest session a symbol should have: the last completed one, or its
    final session when it was delisted before that."""
    return last_completed if final is None else min(last_completed, final)
