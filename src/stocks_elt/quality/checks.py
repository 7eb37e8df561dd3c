"""
The data-quality checks: what each looks at, how bad is bad, and whether it blocks.

=========================  ========  ===============================================
check                      severity  finds
=========================  ========  ===============================================
duplicate_keys             blocking  a key stored twice (prices, splits, dividends)
ohlc_consistency           blocking  low <= 0, or open/close outside [low, high]
non_negative_volume        blocking  a negative volume
row_count_reconciliation   blocking  a ledger row whose counts do not add up
missing_sessions           warning   an XNYS session with no row, between a
                                     symbol's first and last loaded session
stale_symbols              warning   no new session for N sessions (5)
extreme_moves              warning   |close-to-close return| > 40 % with no split
history_gap                warning   extract could not fetch the older history
quarantined_rows           warning   rows sent to quarantine
refused_objects            warning   lake objects that were not data
=========================  ========  ===============================================

Every check reads only its scope: the rows of the run (the symbols and dates of the
objects the run loaded, from ``raw.load_ledger``, plus those of earlier runs that
no gate checked, such as a run killed before its gate), so a daily run costs what
its new rows cost, however long the history. The gate fills the temporary tables
``gate_scope`` (symbol, first_date, last_date), ``gate_symbols`` (symbol) and the
view ``gate_prices`` (the price rows in scope, read through the key) before
the checks run; the SQL lives in ``stocks_elt/quality/sql/<check>.sql``.

Sessions come from ``stocks_elt.market.calendar`` (the XNYS calendar, built on
first use and only when a check needs sessions).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any
from uuid import UUID

import psycopg

from stocks_elt.market.calendar import sessions_between

BLOCKING = "blocking"
WARNING = "warning"

#: A symbol is stale when this many sessions passed without a new one.
STALE_AFTER_SESSIONS = 5
#: A close-to-close move larger than this (a fraction) with no split is extreme.
EXTREME_MOVE = Decimal("0.40")

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class Finding:
    """One symbol a check flagged: how much, and the first examples."""

    symbol: str | None
    observed: Decimal | None
    details: str


@dataclass(frozen=True)
class CheckScope:
    """What the checks look at (the gate has filled the temporary tables).

    Attributes:
        run_ids: the runs whose ledger rows define the scope (the gate's own run
            and every earlier run whose loads no gate checked), or None.
        symbols: the symbols asked for, or None for every symbol.
        first_date: the earliest date in ``gate_scope`` (None: it is empty).
        last_date: the latest date in ``gate_scope``.
    """

    run_ids: Sequence[UUID] | None
    symbols: Sequence[str] | None
    first_date: date | None
    last_date: date | None

    def params(self, **extra: object) -> dict[str, object]:
        """The SQL parameters every check file may use."""
        symbols = list(self.symbols) if self.symbols is not None else None
        run_ids = list(self.run_ids) if self.run_ids is not None else None
        return {"run_ids": run_ids, "symbols": symbols, **extra}


@dataclass(frozen=True)
class Check:
    """One check: its name, severity, threshold and how to run it."""

    name: str
    severity: str
    threshold: Decimal
    description: str
    run: Callable[[Connection, CheckScope], list[Finding]]


def read_sql(name: str) -> str:
    """Return the SQL of ``stocks_elt/quality/sql/<name>.sql``."""
    return (
        resources.files("stocks_elt.quality.sql")
        .joinpath(f"{name}.sql")
        .read_text(encoding="utf-8")
    )


def _findings(conn: Connection, name: str, params: dict[str, object]) -> list[Finding]:
    rows = conn.execute(read_sql(name).encode(), params).fetchall()
    return [
        Finding(
            symbol=row[0],
            observed=None if row[1] is None else Decimal(row[1]),
            details=str(row[2] or ""),
        )
        for row in rows
    ]


def _sql_check(
    name: str, threshold: Decimal | None = None
) -> Callable[[Connection, CheckScope], list[Finding]]:
    def run(conn: Connection, scope: CheckScope) -> list[Finding]:
        return _findings(conn, name, scope.params(threshold=threshold))

    return run


def _missing_sessions(conn: Connection, scope: CheckScope) -> list[Finding]:
    if scope.first_date is None or scope.last_date is None:
        return []
    sessions = sessions_between(scope.first_date, scope.last_date)
    return _findings(conn, "missing_sessions", scope.params(sessions=sessions))


def _stale_symbols(conn: Connection, scope: CheckScope) -> list[Finding]:
    rows = conn.execute(read_sql("last_sessions").encode()).fetchall()
    lasts: dict[str, date | None] = {row[0]: row[1] for row in rows}
    known = [day for day in lasts.values() if day is not None]
    if not lasts:
        return []
    findings = [
        Finding(symbol, None, "no session loaded")
        for symbol, day in sorted(lasts.items())
        if day is None
    ]
    if not known:
        return findings
    latest = max(known)
    sessions = sessions_between(min(known), latest)
    for symbol, day in sorted(lasts.items()):
        if day is None:
            continue
        behind = len(sessions) - bisect.bisect_right(sessions, day)
        if behind >= STALE_AFTER_SESSIONS:
            findings.append(
                Finding(
                    symbol,
                    Decimal(behind),
                    f"last session {day}, {behind} sessions before {latest}",
                )
            )
    return findings


CHECKS: tuple[Check, ...] = (
    Check(
        "duplicate_keys",
        BLOCKING,
        Decimal(0),
        "keys stored more than once",
        _sql_check("duplicate_keys"),
    ),
    Check(
        "ohlc_consistency",
        BLOCKING,
        Decimal(0),
        "rows with low <= 0 or open/close outside [low, high]",
        _sql_check("ohlc_consistency"),
    ),
    Check(
        "non_negative_volume",
        BLOCKING,
        Decimal(0),
        "rows with a negative volume",
        _sql_check("non_negative_volume"),
    ),
    Check(
        "row_count_reconciliation",
        BLOCKING,
        Decimal(0),
        "ledger rows whose counts do not add up",
        _sql_check("row_count_reconciliation"),
    ),
    Check(
        "missing_sessions",
        WARNING,
        Decimal(0),
        "XNYS sessions without a row inside a symbol's loaded range",
        _missing_sessions,
    ),
    Check(
        "stale_symbols",
        WARNING,
        Decimal(STALE_AFTER_SESSIONS),
        f"no new session for {STALE_AFTER_SESSIONS} sessions",
        _stale_symbols,
    ),
    Check(
        "extreme_moves",
        WARNING,
        EXTREME_MOVE,
        f"close-to-close moves beyond {EXTREME_MOVE * 100:.0f} % without a split",
        _sql_check("extreme_moves", EXTREME_MOVE),
    ),
    Check(
        "history_gap",
        WARNING,
        Decimal(0),
        "older history extract could not fetch",
        _sql_check("history_gap"),
    ),
    Check(
        "quarantined_rows",
        WARNING,
        Decimal(0),
        "rows sent to quarantine",
        _sql_check("quarantined_rows"),
    ),
    Check(
        "refused_objects",
        WARNING,
        Decimal(0),
        "lake objects that were not data",
        _sql_check("refused_objects"),
    ),
)
