"""
``audit.extract_outcomes``: what extract decided per symbol and run.

    record_extract_outcomes   one row per symbol of a run
    deferred_symbols          symbols whose latest outcome is ``deferred``
    latest_extract_outcomes   each symbol's latest outcome (status, report)
    deferred_streaks          since when each deferred symbol has been waiting
    failed_outcomes           the symbols one run could not fetch, with why
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from stocks_elt.warehouse.audit.runs import as_run_uuid

Connection = psycopg.Connection[tuple[Any, ...]]

#: Outcomes that leave the symbol as current as the API allows.
HEALTHY_OUTCOMES = frozenset({"fetched", "unchanged"})
#: Outcomes that mean "a later run fetches it": not an error, but data is missing.
DEFERRED_OUTCOMES = frozenset({"deferred"})
#: The rest: the API knows no such symbol, or the fetch failed.
FAILED_OUTCOMES = frozenset({"not_found", "failed"})


class OutcomeRow(Protocol):
    """What ``record_extract_outcomes`` reads of each outcome."""

    @property
    def symbol(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def object_keys(self) -> tuple[str, ...]: ...
    @property
    def has_history_gap(self) -> bool: ...


def record_extract_outcomes(
    conn: Connection,
    run_id: str,
    outcomes: Sequence[OutcomeRow],
) -> None:
    """Append one row per symbol to ``audit.extract_outcomes``.

    Args:
        conn: a warehouse connection.
        run_id: the run (any text; see ``as_run_uuid``).
        outcomes: what extract decided per symbol.
    """
    run_uuid = as_run_uuid(run_id)
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into audit.extract_outcomes"
            " (run_id, symbol, outcome, reason, object_keys, has_history_gap)"
            " values (%s, %s, %s, %s, %s, %s)",
            [
                (
                    run_uuid,
                    item.symbol,
                    item.outcome,
                    item.reason,
                    list(item.object_keys),
                    item.has_history_gap,
                )
                for item in outcomes
            ],
        )


def deferred_symbols(conn: Connection) -> list[str]:
    """Return the symbols whose latest extract outcome is ``deferred``, oldest first."""
    rows = conn.execute(
        """
        select symbol from (
            select distinct on (symbol)
                symbol, outcome, recorded_at, extract_outcome_id
            from audit.extract_outcomes
            order by symbol, recorded_at desc, extract_outcome_id desc
        ) as latest
        where outcome = 'deferred'
        order by recorded_at, extract_outcome_id
        """
    ).fetchall()
    return [str(row[0]) for row in rows]


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


@dataclass(frozen=True)
class DeferredStreak:
    """A symbol whose latest outcomes are all ``deferred``.

    Attributes:
        symbol: the symbol.
        since: the first deferral of the streak (no other outcome since).
        times: how many runs deferred it in the streak.
        reason: the latest deferral's reason.
    """

    symbol: str
    since: datetime
    times: int
    reason: str | None


def deferred_streaks(conn: Connection) -> list[DeferredStreak]:
    """Return every symbol whose latest outcome is ``deferred``, with the start of
    its unbroken run of deferrals, longest-waiting first."""
    rows = conn.execute(
        """
        with last_other as (
            select symbol, max(recorded_at) as recorded_at
            from audit.extract_outcomes
            where outcome <> 'deferred'
            group by symbol
        )
        select
            d.symbol,
            min(d.recorded_at) as since,
            count(*) as times,
            (array_agg(d.reason order by d.recorded_at desc))[1] as reason
        from audit.extract_outcomes as d
        left join last_other as o on o.symbol = d.symbol
        where d.outcome = 'deferred'
            and (o.recorded_at is null or d.recorded_at > o.recorded_at)
        group by d.symbol
        order by since, d.symbol
        """
    ).fetchall()
    return [DeferredStreak(str(s), since, int(n), r) for s, since, n, r in rows]


def failed_outcomes(conn: Connection, run_id: str) -> dict[str, str]:
    """Return ``{symbol: "<outcome>: <reason>"}`` for the symbols a run could not
    fetch (not found or failed), by symbol."""
    rows = conn.execute(
        """
        select distinct on (symbol) symbol, outcome, reason
        from audit.extract_outcomes
        where run_id = %s and outcome = any(%s)
        order by symbol, recorded_at desc, extract_outcome_id desc
        """,
        (as_run_uuid(run_id), sorted(FAILED_OUTCOMES)),
    ).fetchall()
    return {
        str(symbol): f"{outcome}: {reason or 'no reason given'}"
        for symbol, outcome, reason in rows
    }
