"""
``audit.dq_results``: every data-quality check result, a history.

    record_dq_results    append a gate run's rows
    latest_quality_run   every result of the latest gate run (status, report)
    run_results          every result of one run (a failed gate's message)
    findings_of_runs     the warnings and failures of several runs (history)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

Connection = psycopg.Connection[tuple[Any, ...]]


def record_dq_results(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append check results to ``audit.dq_results``.

    Args:
        conn: a warehouse connection (inside the gate's transaction).
        rows: ``(run_id, check_name, severity, symbol, status, observed_value,
            threshold, details)`` each.
    """
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into audit.dq_results (
                run_id, check_name, severity, symbol, status, observed_value,
                threshold, details
            )
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            rows,
        )


@dataclass(frozen=True)
class RecordedCheck:
    """One row of ``audit.dq_results``: a check's result for one symbol."""

    check_name: str
    severity: str
    symbol: str | None
    status: str
    observed_value: Decimal | None
    threshold: Decimal | None
    details: str | None
    checked_at: datetime

    @property
    def is_open(self) -> bool:
        """Whether the result is a warning or a failure (not a pass)."""
        return self.status != "pass"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (numbers as strings, exactly as stored)."""
        return {
            "check_name": self.check_name,
            "severity": self.severity,
            "symbol": self.symbol,
            "status": self.status,
            "observed_value": _text(self.observed_value),
            "threshold": _text(self.threshold),
            "details": self.details,
            "checked_at": self.checked_at.isoformat(),
        }


@dataclass(frozen=True)
class QualityRun:
    """Every result of the latest data-quality gate run."""

    run_id: str | None
    checked_at: datetime
    results: tuple[RecordedCheck, ...]

    @property
    def findings(self) -> tuple[RecordedCheck, ...]:
        """The warnings and failures of the run."""
        return tuple(result for result in self.results if result.is_open)

    def findings_for(self, symbol: str) -> tuple[RecordedCheck, ...]:
        """The warnings and failures that name ``symbol``."""
        return tuple(result for result in self.findings if result.symbol == symbol)


def latest_quality_run(conn: Connection) -> QualityRun | None:
    """Return every result of the latest data-quality gate run, or None if none ran.

    The latest run is the one that wrote the last row (the highest id: one probe
    of the primary key, however long the history); results written without a run
    id belong to the run that shares their ``checked_at``.
    """
    latest = conn.execute(
        """
        select run_id, checked_at from audit.dq_results
        order by dq_result_id desc
        limit 1
        """
    ).fetchone()
    if latest is None:
        return None
    run_id, checked_at = latest
    rows = conn.execute(
        """
        select
            check_name, severity, symbol, status, observed_value, threshold,
            details, checked_at
        from audit.dq_results
        where run_id = %(run_id)s
            or (%(run_id)s::uuid is null and run_id is null
                and checked_at = %(checked_at)s)
        order by
            case status when 'fail' then 0 when 'warn' then 1 else 2 end,
            check_name,
            symbol nulls first
        """,
        {"run_id": run_id, "checked_at": checked_at},
    ).fetchall()
    return QualityRun(
        run_id=None if run_id is None else str(run_id),
        checked_at=checked_at,
        results=tuple(RecordedCheck(*row) for row in rows),
    )


def run_results(conn: Connection, run_id: uuid.UUID) -> tuple[RecordedCheck, ...]:
    """Return every result the gate recorded under ``run_id``, failures first."""
    rows = conn.execute(
        """
        select
            check_name, severity, symbol, status, observed_value, threshold,
            details, checked_at
        from audit.dq_results
        where run_id = %s
        order by
            case status when 'fail' then 0 when 'warn' then 1 else 2 end,
            check_name,
            symbol nulls first
        """,
        (run_id,),
    ).fetchall()
    return tuple(RecordedCheck(*row) for row in rows)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def findings_of_runs(
    conn: Connection, run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[RecordedCheck, ...]]:
    """Return the warnings and failures each of ``run_ids`` recorded, failures
    first (``stocks-elt history``)."""
    rows = conn.execute(
        """
        select
            run_id, check_name, severity, symbol, status, observed_value,
            threshold, details, checked_at
        from audit.dq_results
        where run_id = any(%s) and status <> 'pass'
        order by
            run_id,
            case status when 'fail' then 0 else 1 end,
            check_name,
            symbol nulls first
        """,
        (list(run_ids),),
    ).fetchall()
    found: dict[uuid.UUID, list[RecordedCheck]] = {}
    for run_id, *values in rows:
        found.setdefault(run_id, []).append(RecordedCheck(*values))
    return {run_id: tuple(checks) for run_id, checks in found.items()}
