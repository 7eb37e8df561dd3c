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

import psycopg

from stocks_elt.alpha_vantage.limits import QuotaUsage, api_day, key_hash
from stocks_elt.config import Settings
from stocks_elt.market import calendar
from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.warehouse.audit.api_calls import read_usage
from stocks_elt.warehouse.audit.extract import (
    ExtractOutcome,
    latest_extract_outcomes,
)
from stocks_elt.warehouse.audit.quality import (
    QualityRun,
    RecordedCheck,
    latest_quality_run,
)
from stocks_elt.warehouse.connection import connect, has_warehouse
from stocks_elt.warehouse.migrate import migrated_url
from stocks_elt.warehouse.sessions import (
    expected_session,
    final_sessions,
    last_sessions,
)

logger = logging.getLogger(__name__)

#: The exchange whose trading calendar decides freshness.
CALENDAR_NAME = "XNYS"
#: What a person does first on a data directory where nothing is loaded yet.
START_HINTS = (
    "stocks-elt demo                 an offline run against the bundled emulator",
    "stocks-elt run --symbols IBM    real data (set ALPHA_VANTAGE_API_KEY; "
    "without it Alpha Vantage's demo key serves IBM only)",
)

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class SymbolStatus:
    """Where one symbol stands."""

    symbol: str
    last_session: date | None
    sessions_behind: int | None  # None: never loaded
    extract: ExtractOutcome | None
    findings: tuple[RecordedCheck, ...] = field(default=())
    final_session: date | None = None  # the last session of a delisted symbol

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
            "final_session": _iso(self.final_session),
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
    def is_empty(self) -> bool:
        """Whether nothing is loaded yet: no symbol has prices or an extract
        outcome, and no gate ran (a new data directory, an empty warehouse)."""
        return self.quality_run is None and all(
            status.last_session is None and status.extract is None
            for status in self.symbols
        )

    def stale_symbols(self, max_sessions_behind: int) -> tuple[SymbolStatus, ...]:
        """The symbols more than ``max_sessions_behind`` sessions behind the last
        completed session, never-loaded ones included."""
        return tuple(
            status
            for status in self.symbols
            if status.sessions_behind is None
            or status.sessions_behind > max_sessions_behind
        )

    @property
    def other_findings(self) -> tuple[RecordedCheck, ...]:
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
            "nothing_loaded": self.is_empty,
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
    last_completed = calendar.last_completed_session(now)
    if not has_warehouse(settings):
        # A new data directory: nothing to read, and no embedded Postgres is
        # started (and written to the disk) just to say so.
        return _nothing_loaded(settings, chosen, now, last_completed)
    with connect(migrated_url(settings)) as conn:
        loaded = last_loaded_sessions(conn, chosen)
        outcomes = latest_extract_outcomes(conn, chosen)
        run = latest_quality_run(conn)
        quota = api_calls_today(conn, settings, now)
        listed = chosen if chosen is not None else _universe(settings, loaded, outcomes)
        finals = final_sessions(conn, listed)
    behind = {
        symbol: calendar.sessions_after(
            last, expected_session(last_completed, finals.get(symbol))
        )
        for symbol, last in loaded.items()
    }
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
                final_session=finals.get(symbol),
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


def _nothing_loaded(
    settings: Settings,
    chosen: Sequence[str] | None,
    now: datetime,
    last_completed: date,
) -> StatusReport:
    """The report of a data directory without a warehouse yet."""
    listed = chosen if chosen is not None else settings.tickers
    quota = settings.alpha_vantage_daily_quota
    return StatusReport(
        as_of=now,
        last_completed_session=last_completed,
        symbols=tuple(SymbolStatus(symbol, None, None, None) for symbol in listed),
        quality_run=None,
        quota=QuotaUsage(
            api_day=api_day(now),
            key_hash=key_hash(settings.alpha_vantage_api_key.get_secret_value()),
            calls_used=0,
            daily_quota=quota,
            remaining=quota or None,
            is_capped=False,
        ),
    )


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
        return {str(symbol): trade_date for symbol, trade_date in rows}
    return last_sessions(conn, "raw", "daily_prices", symbols)


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


def quota_today(settings: Settings) -> QuotaUsage:
    """Return the configured key's calls on the current API day (``stocks-elt
    quota``).

    Raises:
        WarehouseError: the warehouse cannot be reached.
    """
    with connect(migrated_url(settings)) as conn:
        return api_calls_today(conn, settings)


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
    """The configured tickers in their order (unless a ``listing:`` universe is
    configured instead), then every other known symbol, sorted."""
    known = sorted(set(loaded) | set(outcomes))
    configured = (
        settings.tickers
        if settings.has_explicit_tickers or settings.universe is None
        else ()
    )
    return tuple(dict.fromkeys([*configured, *known]))


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
