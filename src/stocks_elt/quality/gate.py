"""
The data-quality gate, run after each load.

``run_quality_gate`` runs every check of ``stocks_elt.quality.checks`` on the scope
of the call, appends each result to ``audit.dq_results`` (a history: one row per
flagged symbol, or one ``pass`` row per clean check) and raises
``QualityGateFailed`` when a blocking check found anything, so the chain stops
before dbt builds on bad rows. Warnings are recorded and returned, never raised.

Scope:

* ``run_id`` given: the symbols and dates of the objects that run loaded (from
  ``raw.load_ledger``), and of the objects earlier runs loaded that no gate
  checked (a run killed between its load and its gate); with ``symbols`` too,
  only those symbols, and the staleness check watches every symbol given.
* only ``symbols``: the whole stored history of those symbols.
* neither: everything stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from stocks_elt.alpha_vantage.parse import DAILY, DAILY_ADJUSTED
from stocks_elt.config import Settings
from stocks_elt.errors import QualityGateFailed
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.quality.checks import (
    BLOCKING,
    CHECKS,
    Check,
    CheckScope,
    Connection,
    Finding,
)
from stocks_elt.results import (
    FAIL,
    PASS,
    SHOWN_SYMBOLS,
    WARN,
    CheckSummary,
    QualityResult,
    number_text,
)
from stocks_elt.warehouse.audit import as_run_uuid
from stocks_elt.warehouse.audit.quality import record_dq_results
from stocks_elt.warehouse.connection import connect, warehouse_url

logger = logging.getLogger(__name__)

_PRICE_FUNCTIONS = [DAILY, DAILY_ADJUSTED]


def run_quality_gate(
    settings: Settings,
    *,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
) -> QualityResult:
    """Run every data-quality check and record the results in audit.dq_results.

    Args:
        settings: where the warehouse is.
        run_id: check what this run loaded (see the module docstring); None
            checks the symbols given, or everything.
        symbols: restrict the checks to these symbols.

    Returns:
        The result, when no blocking check failed.

    Raises:
        QualityGateFailed: a blocking check found something; the message names
            the checks, the symbols and the counts. The results are recorded.
        InvalidSymbol: a symbol breaks the symbol rule.
        WarehouseError: the warehouse cannot be reached.
    """
    chosen = parse_symbols(symbols) if symbols is not None else None
    with connect(warehouse_url(settings), autocommit=True) as conn:
        result = check_warehouse(conn, run_id=run_id, symbols=chosen)
    if result.failed:
        raise QualityGateFailed(result.failure_message())
    return result


def check_warehouse(
    conn: Connection,
    *,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
) -> QualityResult:
    """Run the checks through ``conn`` and record them; never raises on findings.

    Args:
        conn: a connection to a migrated warehouse, in autocommit mode.
        run_id: the run whose loads to check, or None (see the module docstring).
        symbols: validated symbols to restrict to, or None.

    Returns:
        The result (``failed`` > 0 when a blocking check found something).
    """
    started = time.perf_counter()
    scope_run = as_run_uuid(run_id) if run_id is not None else None
    record_run = scope_run or as_run_uuid(None)
    summaries: list[CheckSummary] = []
    with conn.transaction():
        # The checks read a run's few rows through the keys; compiling them
        # (JIT) would cost more than running them.
        conn.execute("set local jit = off")
        scope = _fill_scope(conn, _runs_in_scope(conn, scope_run), symbols)
        records: list[tuple[Any, ...]] = []
        for check in CHECKS:
            check_started = time.perf_counter()
            findings = check.run(conn, scope)
            summary = summarize_findings(check, findings)
            summaries.append(summary)
            records.extend(_records(record_run, check, summary, findings))
            log = logger.warning if summary.status != PASS else logger.info
            log(
                "quality check=%s status=%s observed=%s symbols=%d seconds=%.3f",
                check.name,
                summary.status,
                number_text(summary.observed),
                len(summary.symbols),
                time.perf_counter() - check_started,
            )
        if scope.run_ids is not None:
            # Checked, pass or fail, in the transaction that records the results:
            # a gate killed half-way leaves its rows for the next gate.
            conn.execute(
                "update raw.load_ledger set checked_at = now()"
                " where run_id = any(%s) and checked_at is null"
                " and (%s::text[] is null or symbol = any(%s::text[]))",
                (list(scope.run_ids), *[scope.params()["symbols"]] * 2),
            )
        record_dq_results(conn, records)
        conn.execute("drop view pg_temp.gate_prices")  # before its tables go
    return QualityResult(
        run_id=str(record_run),
        passed=sum(1 for s in summaries if s.status == PASS),
        warned=sum(1 for s in summaries if s.status == WARN),
        failed=sum(1 for s in summaries if s.status == FAIL),
        checks=tuple(summaries),
        duration_seconds=time.perf_counter() - started,
    )


def _runs_in_scope(conn: Connection, run_id: UUID | None) -> list[UUID] | None:
    """The run, and every earlier run with loads no gate checked; None for None."""
    if run_id is None:
        return None
    rows = conn.execute(
        "select distinct run_id from raw.load_ledger"
        " where checked_at is null and run_id is not null and run_id <> %s",
        (run_id,),
    ).fetchall()
    earlier = sorted(row[0] for row in rows)
    if earlier:
        logger.warning(
            "quality gate also checks unchecked loads of earlier runs runs=%s",
            ",".join(str(r) for r in earlier),
        )
    return [run_id, *earlier]


def _fill_scope(
    conn: Connection, run_ids: Sequence[UUID] | None, symbols: Sequence[str] | None
) -> CheckScope:
    """Create and fill gate_scope and gate_symbols (dropped at commit)."""
    conn.execute(
        "create temporary table gate_scope (symbol text primary key,"
        " first_date date not null, last_date date not null) on commit drop"
    )
    conn.execute(
        "create temporary table gate_symbols (symbol text primary key) on commit drop"
    )
    params = {
        "run_ids": list(run_ids) if run_ids is not None else None,
        "symbols": list(symbols) if symbols is not None else None,
        "functions": _PRICE_FUNCTIONS,
    }
    if run_ids is not None:
        conn.execute(
            """
            insert into gate_scope (symbol, first_date, last_date)
            select symbol, min(first_date), max(last_date)
            from raw.load_ledger
            where
                run_id = any(%(run_ids)s)
                and status = 'loaded'
                and function = any(%(functions)s)
                and first_date is not null
                and (%(symbols)s::text[] is null or symbol = any(%(symbols)s))
            group by symbol
            """,
            params,
        )
        conn.execute(
            """
            insert into gate_symbols (symbol)
            select symbol from gate_scope where %(symbols)s::text[] is null
            union
            select unnest(%(symbols)s::text[])
            """,
            params,
        )
    else:
        if symbols is None:
            rows = conn.execute(
                "select distinct symbol from raw.load_ledger"
                " where symbol is not null and function = any(%s)",
                (_PRICE_FUNCTIONS,),
            ).fetchall()
            params["all_symbols"] = [row[0] for row in rows]
        else:
            params["all_symbols"] = params["symbols"]
        conn.execute(
            """
            insert into gate_scope (symbol, first_date, last_date)
            select watched.symbol, bounds.first_date, bounds.last_date
            from unnest(%(all_symbols)s::text[]) as watched (symbol)
            cross join lateral (
                select min(trade_date) as first_date, max(trade_date) as last_date
                from raw.daily_prices
                where daily_prices.symbol = watched.symbol
            ) as bounds
            where bounds.first_date is not null
            """,
            params,
        )
        conn.execute(
            "insert into gate_symbols (symbol)"
            " select distinct unnest(%(all_symbols)s::text[])",
            params,
        )
    # The rows in scope, read symbol by symbol through the key (the offset is a
    # fence: the planner may not turn the look-ups into a scan of the history).
    conn.execute(
        """
        create temporary view gate_prices as
        select prices.*
        from pg_temp.gate_scope as scope
        cross join lateral (
            select *
            from raw.daily_prices
            where
                daily_prices.symbol = scope.symbol
                and daily_prices.trade_date
                between scope.first_date and scope.last_date
            offset 0
        ) as prices
        """
    )
    conn.execute("analyze gate_scope")  # temporary tables get no statistics else
    conn.execute("analyze gate_symbols")
    bounds = conn.execute(
        "select min(first_date), max(last_date) from gate_scope"
    ).fetchone()
    assert bounds is not None
    return CheckScope(run_ids, symbols, bounds[0], bounds[1])


def summarize_findings(check: Check, findings: list[Finding]) -> CheckSummary:
    """Fold one check's findings into its summary (status, total, symbols)."""
    if not findings:
        return CheckSummary(
            check.name, check.severity, PASS, 0.0, float(check.threshold), (), ""
        )
    observed = [f.observed for f in findings if f.observed is not None]
    if check.name in ("extreme_moves", "stale_symbols"):
        total = max(observed, default=Decimal(0))
    else:
        total = sum(observed, Decimal(0))
    ordered = sorted(findings, key=lambda f: f.symbol or "")
    details = "; ".join(
        f"{f.symbol or '-'}: {f.details}" for f in ordered[:SHOWN_SYMBOLS]
    )
    return CheckSummary(
        name=check.name,
        severity=check.severity,
        status=FAIL if check.severity == BLOCKING else WARN,
        observed=float(total),
        threshold=float(check.threshold),
        symbols=tuple(f.symbol or "-" for f in ordered),
        details=details[:1000],
    )


def _records(
    run_id: UUID, check: Check, summary: CheckSummary, findings: list[Finding]
) -> list[tuple[Any, ...]]:
    """Rows for audit.dq_results: one per finding, or one pass row."""
    if not findings:
        return [
            (
                run_id,
                check.name,
                check.severity,
                None,
                PASS,
                Decimal(0),
                check.threshold,
                check.description,
            )
        ]
    return [
        (
            run_id,
            check.name,
            check.severity,
            finding.symbol,
            summary.status,
            finding.observed,
            check.threshold,
            finding.details[:2000],
        )
        for finding in findings
    ]
