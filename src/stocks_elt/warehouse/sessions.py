"""
The newest session each symbol has in a table: ``raw.daily_prices`` (status,
how far behind a symbol is) or ``marts.fct_daily_bars`` (the freshness deadline,
whether the chain finished). One index probe per symbol, whatever the history's
length.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

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
