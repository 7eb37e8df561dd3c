"""
What the warehouse knows about each symbol, for ``stocks-elt status`` and the report.

Per symbol: the last session loaded into ``raw.daily_prices``, how many XNYS sessions
it is behind the last completed one, the last extract outcome
(``audit.extract_outcomes``) and the data-quality findings of the latest gate run
(``audit.dq_results``) that are still open. For the whole warehouse: the configured
key's API calls so far on today's API day (``audit.api_calls``, read through
``stocks_elt.alpha_vantage.quota``; the day is America/New_York).

Everything here only reads. The queries touch one index range per symbol, so the
cost does not grow with the length of the price history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from stocks_elt.alpha_vantage.quota import QuotaUsage, api_day, key_hash, read_usage
from stocks_elt.config import Settings
from stocks_elt.market import calendar
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

#: The exchange whose trading calendar decides freshness.
CALENDAR_NAME = "XNYS"
#: Alpha Vantage's API day (the quota resets at midnight here) and exchange-local dates.
NEW_YORK = ZoneInfo("America/New_York")
#: Extract outcomes (see ``stocks_elt.stages.extract.OUTCOMES``) that leave the
#: symbol as current as the API allows.
HEALTHY_OUTCOMES = frozenset({"fetched", "unchanged"})
#: Outcomes that mean "a later run fetches it": not an error, but data is missing.
DEFERRED_OUTCOMES = frozenset({"deferred"})
#: The rest: the API knows no such symbol, or the fetch failed.
FAILED_OUTCOMES = frozenset({"not_found", "failed"})

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class ExtractOutcome:
    """The last thing extract decided about one symbol."""

    symbol: str
    outcome: str
    reason: str | None
    has_history_gap: bool
    recorded_at: datetime

    @property
    def is_healthy(self) -> bool:
        """Whether the outcome leaves the symbol as current as the API allows."""
        return self.outcome in HEALTHY_OUTCOMES and not self.has_history_gap

    @property
    def is_deferred(self) -> bool:
        """Whether the symbol waits for a later run (quota spent, for example)."""
        return self.outcome in DEFERRED_OUTCOMES

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "has_history_gap": self.has_history_gap,
            "recorded_at": self.recorded_at.isoformat(),
        }


@dataclass(frozen=True)
class QualityResult:
    """One row of ``audit.dq_results``."""

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
    results: tuple[QualityResult, ...]

    @property
    def findings(self) -> tuple[QualityResult, ...]:
        """The warnings and failures of the run."""
        return tuple(result for result in self.results if result.is_open)

    def findings_for(self, symbol: str) -> tuple[QualityResult, ...]:
        """The warnings and failures that name ``symbol``."""
        return tuple(result for result in self.findings if result.symbol == symbol)


@dataclass(frozen=True)
class SymbolStatus:
    """Where one symbol stands."""

    symbol: str
    last_session: date | None
    sessions_behind: int | None  # None: never loaded
    extract: ExtractOutcome | None
    findings: tuple[QualityResult, ...] = field(default=())

    @property
    def freshness(self) -> str:
        """``fresh`` (0 sessions behind), ``stale`` or ``never loaded``."""
        if self.sessions_behind is None:
            return "never loaded"
        return "fresh" if self.sessions_behind == 0 else "stale"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "symbol": self.symbol,
            "last_session": _iso(self.last_session),
            "sessions_behind": self.sessions_behind,
            "freshness": self.freshness,
            "last_extract": None if self.extract is None else self.extract.to_dict(),
            "open_findings": [finding.to_dict() for finding in self.findings],
        }


@dataclass(frozen=True)
class StatusReport:
    """The answer of ``stocks-elt status``."""

    as_of: datetime
    last_completed_session: date
    symbols: tuple[SymbolStatus, ...]
    quality_run: QualityRun | None
    quota: QuotaUsage

    @property
    def other_findings(self) -> tuple[QualityResult, ...]:
        """Open findings of the latest gate run that name no listed symbol."""
        if self.quality_run is None:
            return ()
        listed = {status.symbol for status in self.symbols}
        return tuple(
            finding
            for finding in self.quality_run.findings
            if finding.symbol not in listed
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the ``--json`` output)."""
        run = self.quality_run
        return {
            "as_of": self.as_of.isoformat(),
            "calendar": CALENDAR_NAME,
            "last_completed_session": self.last_completed_session.isoformat(),
            "symbols": [status.to_dict() for status in self.symbols],
            "quality_run": None
            if run is None
            else {
                "run_id": run.run_id,
                "checked_at": run.checked_at.isoformat(),
                "results": len(run.results),
                "warnings": sum(1 for r in run.results if r.status == "warn"),
                "failures": sum(1 for r in run.results if r.status == "fail"),
            },
            "other_open_findings": [f.to_dict() for f in self.other_findings],
            "api_quota": _quota_dict(self.quota),
        }


def collect_status(
    settings: Settings,
    symbols: Sequence[str] | None = None,
    *,
    as_of: datetime | None = None,
) -> StatusReport:
    """Read where every symbol stands from the warehouse.

    Args:
        settings: where the warehouse is, the configured tickers and daily quota.
        symbols: the symbols to list; None lists the configured tickers and every
            symbol the warehouse has prices or extract outcomes for.
        as_of: the instant freshness and the API day are judged at (aware);
            None means now.

    Returns:
        The per-symbol status, the latest gate run and today's quota usage.

    Raises:
        InvalidSymbol: a symbol breaks the symbol rule.
        WarehouseError: the warehouse cannot be reached.
    """
    now = _aware(as_of)
    chosen = parse_symbols(symbols) if symbols is not None else None
    last_completed = last_completed_session(now)
    with connect(settings) as conn:
        loaded = last_loaded_sessions(conn, chosen)
        outcomes = latest_extract_outcomes(conn, chosen)
        run = latest_quality_run(conn)
        quota = api_calls_today(conn, settings, now)
    listed = chosen if chosen is not None else _universe(settings, loaded, outcomes)
    behind = sessions_behind_many(loaded, last_completed)
    report = StatusReport(
        as_of=now,
        last_completed_session=last_completed,
        symbols=tuple(
            SymbolStatus(
                symbol=symbol,
                last_session=loaded.get(symbol),
                sessions_behind=behind.get(symbol),
                extract=outcomes.get(symbol),
                findings=() if run is None else run.findings_for(symbol),
            )
            for symbol in listed
        ),
        quality_run=run,
        quota=quota,
    )
    logger.info(
        "status symbols=%d stale=%d last_completed_session=%s api_calls_today=%d",
        len(report.symbols),
        sum(1 for s in report.symbols if s.freshness != "fresh"),
        last_completed,
        quota.calls_used,
    )
    return report


def last_completed_session(as_of: datetime) -> date:
    """Return the latest XNYS session whose close is at or before ``as_of``.

    Args:
        as_of: an aware instant.

    Returns:
        The session's date (exchange-local).
    """
    return calendar.last_completed_session(_aware(as_of))


def sessions_behind(last_session: date, last_completed: date) -> int:
    """Return how many XNYS sessions follow ``last_session``, up to ``last_completed``.

    0 means the symbol holds the last completed session. A ``last_session`` that is
    not itself a session (a holiday row, another exchange's date) counts from the
    next session on.
    """
    return calendar.sessions_after(last_session, last_completed)


def sessions_behind_many(
    last_sessions: dict[str, date], last_completed: date
) -> dict[str, int]:
    """Return :func:`sessions_behind` for every symbol."""
    return {
        symbol: sessions_behind(last, last_completed)
        for symbol, last in last_sessions.items()
    }


def last_loaded_sessions(
    conn: Connection, symbols: Sequence[str] | None = None
) -> dict[str, date]:
    """Return the latest ``trade_date`` in ``raw.daily_prices`` per symbol.

    Args:
        conn: a warehouse connection.
        symbols: the symbols to look at; None means every symbol with prices.

    Returns:
        symbol -> last trade date; symbols without prices are absent.
    """
    if symbols is None:
        # A loose index scan: one index probe per symbol instead of a full scan.
        rows = conn.execute(
            """
            with recursive symbols as (
                (select symbol from raw.daily_prices order by symbol limit 1)
                union all
                select (
                    select p.symbol from raw.daily_prices as p
                    where p.symbol > s.symbol
                    order by p.symbol
                    limit 1
                )
                from symbols as s
                where s.symbol is not null
            )
            select s.symbol, last.trade_date
            from symbols as s
            cross join lateral (
                select max(p.trade_date) as trade_date
                from raw.daily_prices as p
                where p.symbol = s.symbol
            ) as last
            where s.symbol is not null
            """
        ).fetchall()
    else:
        rows = conn.execute(
            """
            select s.symbol, last.trade_date
            from unnest(%s::text[]) as s (symbol)
            cross join lateral (
                select max(p.trade_date) as trade_date
                from raw.daily_prices as p
                where p.symbol = s.symbol
            ) as last
            where last.trade_date is not null
            """,
            (list(symbols),),
        ).fetchall()
    return {str(symbol): trade_date for symbol, trade_date in rows}


def latest_extract_outcomes(
    conn: Connection, symbols: Sequence[str] | None = None
) -> dict[str, ExtractOutcome]:
    """Return the most recent ``audit.extract_outcomes`` row per symbol.

    Args:
        conn: a warehouse connection.
        symbols: the symbols to look at; None means every symbol with an outcome.

    Returns:
        symbol -> its last outcome; symbols never extracted are absent.
    """
    rows = conn.execute(
        """
        select distinct on (symbol)
            symbol, outcome, reason, has_history_gap, recorded_at
        from audit.extract_outcomes
        where %(symbols)s::text[] is null or symbol = any(%(symbols)s::text[])
        order by symbol, recorded_at desc, extract_outcome_id desc
        """,
        {"symbols": None if symbols is None else list(symbols)},
    ).fetchall()
    return {row[0]: ExtractOutcome(*row) for row in rows}


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
        results=tuple(QualityResult(*row) for row in rows),
    )


def api_calls_today(
    conn: Connection, settings: Settings, as_of: datetime | None = None
) -> QuotaUsage:
    """Return the configured key's API calls on the API day that holds ``as_of``.

    The ledger names a key by its salted hash only; the hash of the configured key
    picks its rows, so the key itself is never compared or shown.

    Args:
        conn: a warehouse connection.
        settings: the configured key and daily quota.
        as_of: the instant whose API day (America/New_York) counts; None means now.

    Returns:
        The day's usage against ``settings.alpha_vantage_daily_quota``.
    """
    return read_usage(
        conn,
        key_hash(settings.alpha_vantage_api_key.get_secret_value()),
        settings.alpha_vantage_daily_quota,
        api_day(_aware(as_of)),
    )


def _quota_dict(usage: QuotaUsage) -> dict[str, Any]:
    return {
        "api_day": usage.api_day.isoformat(),
        "key_hash": usage.key_hash,
        "calls": usage.calls_used,
        "daily_quota": usage.daily_quota or None,
        "remaining": usage.remaining,
        "is_capped": usage.is_capped,
        "per_function": dict(usage.per_function),
    }


def _universe(
    settings: Settings,
    loaded: dict[str, date],
    outcomes: dict[str, ExtractOutcome],
) -> tuple[str, ...]:
    """The configured tickers in their order, then every other known symbol, sorted."""
    known = sorted(set(loaded) | set(outcomes))
    return tuple(dict.fromkeys([*settings.tickers, *known]))


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(tz=NEW_YORK)
    if value.tzinfo is None:
        raise ValueError(f"as_of {value.isoformat()} has no time zone")
    return value


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
