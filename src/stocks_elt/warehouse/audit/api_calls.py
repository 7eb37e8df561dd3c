"""
``audit.api_calls``: the quota ledger, limits shared by every process that uses one
API key.

Before each HTTP call, ``reserve`` takes a transaction-level advisory lock for the
key, counts the key's calls in the last second, the last minute and the current
API day, and inserts a row when every limit has room. Under the lock the check
and the insert are one step, so no two callers can take the last slot. When a
window is full, the caller waits (outside the lock) until its oldest call leaves
the window; when the day is spent, ``reserve`` raises ``DailyQuotaExhausted``.
Times come from the database clock, shared by every caller. A row is a
reservation: a call that never completed still counts, so a crash never lets a
later caller exceed the limits. The rules themselves (windows, outcomes, the
key's hash) are ``stocks_elt.alpha_vantage.limits``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from datetime import date, datetime
from typing import TYPE_CHECKING

import psycopg

from stocks_elt.alpha_vantage.limits import (
    AFTER_BURST,
    BURST_COOLDOWN_SECONDS,
    BURST_OUTCOME,
    DAILY_CAP_OUTCOME,
    Limits,
    QuotaUsage,
    key_hash,
)
from stocks_elt.errors import DailyQuotaExhausted, WarehouseError
from stocks_elt.warehouse.connection import connect

if TYPE_CHECKING:
    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

#: How often a lost ledger connection is reopened before the run gives up.
RECONNECTS = 3


class WarehouseQuota:
    """The ledger in ``audit.api_calls``: limits shared across processes.

    One connection per instance, used by one thread at a time (the instance is safe
    to share between threads). Close it, or use it as a context manager.
    """

    def __init__(
        self,
        warehouse: str,
        api_key: str,
        limits: Limits,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Prepare a ledger; the connection opens on first use.

        Args:
            warehouse: the warehouse URL.
            api_key: the key whose calls are counted (only its hash is stored).
            limits: the limits to hold the key to.
            sleep: how to wait for a window to open (tests pass a fake).
        """
        self.key_hash = key_hash(api_key)
        self.limits = limits
        self._windows = limits.windows()
        self._url = warehouse
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseQuota:
        """Return the ledger for the configured key, warehouse and limits.

        Raises:
            WarehouseError: the embedded Postgres could not be started.
        """
        from stocks_elt.warehouse.connection import warehouse_url

        return cls(
            warehouse_url(settings),
            settings.alpha_vantage_api_key.get_secret_value(),
            Limits.from_settings(settings),
        )

    def __enter__(self) -> WarehouseQuota:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        with suppress(psycopg.Error):
            self._stack.close()
        self._stack = ExitStack()
        self._conn = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._stack = ExitStack()
            self._conn = self._stack.enter_context(connect(self._url, autocommit=True))
        return self._conn

    def reserve(self, function: str, symbol: str | None) -> int:
        """Wait until every limit has room, then count one call of ``function``.

        Returns:
            The reservation's id (``api_call_id``), for ``record``.

        Raises:
            DailyQuotaExhausted: the API day's quota is spent (by this ledger's
                count, or because the API said so earlier today).
            WarehouseError: the warehouse cannot be reached.
        """
        lost = 0
        while True:
            with self._lock:
                try:
                    reservation, wait = self._try_reserve(function, symbol)
                except (psycopg.OperationalError, WarehouseError) as exc:
                    # The connection dropped (or the server restarts): reopen it
                    # a few times before the run gives up on the warehouse.
                    self._reset()
                    lost += 1
                    if lost > RECONNECTS:
                        raise WarehouseError(
                            "quota ledger: the warehouse stopped answering "
                            f"(tried {RECONNECTS} reconnections): {_first_line(exc)}"
                        ) from None
                    reservation, wait = None, float(2 ** (lost - 1))
                    logger.warning(
                        "quota ledger lost its connection attempt=%d wait=%.0f",
                        lost,
                        wait,
                    )
                except psycopg.Error as exc:
                    self._reset()
                    raise WarehouseError(f"quota ledger: {_first_line(exc)}") from exc
            if reservation is not None:
                return reservation
            logger.debug(
                "waiting for the rate limit function=%s symbol=%s seconds=%.3f",
                function,
                symbol,
                wait,
            )
            self._sleep(wait)

    def _try_reserve(
        self, function: str, symbol: str | None
    ) -> tuple[int | None, float]:
        conn = self._connection()
        with conn.transaction():
            conn.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"stocks_elt.api_calls:{self.key_hash}",),
            )
            now, today = _one(
                conn,
                "select clock_timestamp(),"
                " (clock_timestamp() at time zone 'America/New_York')::date",
            )
            assert isinstance(now, datetime)
            assert isinstance(today, date)
            self._check_day(conn, today)
            wait = self._wait_for_windows(conn, now)
            if wait > 0:
                return None, wait
            (reservation,) = _one(
                conn,
                "insert into audit.api_calls (key_hash, api_day, function, symbol)"
                " values (%s, %s, %s, %s) returning api_call_id",
                (self.key_hash, today, function, symbol),
            )
        assert isinstance(reservation, int)
        return reservation, 0.0

    def _check_day(
        self, conn: psycopg.Connection[tuple[object, ...]], today: date
    ) -> None:
        used, capped = _one(
            conn,
            "select count(*), coalesce(bool_or(outcome = %s), false)"
            " from audit.api_calls where key_hash = %s and api_day = %s",
            (DAILY_CAP_OUTCOME, self.key_hash, today),
        )
        assert isinstance(used, int)
        quota = self.limits.daily_quota
        if capped:
            raise DailyQuotaExhausted(
                f"the API said the day's quota is spent for this key on {today} "
                f"(after {used} calls); it resets at midnight America/New_York"
            )
        if quota and used >= quota:
            raise DailyQuotaExhausted(
                f"the day's quota of {quota} calls is spent for this key on {today}; "
                "it resets at midnight America/New_York"
            )

    def _wait_for_windows(
        self, conn: psycopg.Connection[tuple[object, ...]], now: datetime
    ) -> float:
        longest = max(window.seconds + window.margin for window in self._windows)
        recent = conn.execute(
            "select called_at, outcome from audit.api_calls"
            " where key_hash = %s and called_at > %s - make_interval(secs => %s)"
            " order by called_at desc",
            (self.key_hash, now, max(longest, BURST_COOLDOWN_SECONDS)),
        ).fetchall()
        windows = self._windows
        if any(outcome == BURST_OUTCOME for _, outcome in recent):
            windows = (*windows, AFTER_BURST)
        wait = 0.0
        for window in windows:
            span = window.seconds + window.margin
            # Newest first: the call that must leave the window before one more
            # fits is the calls-th newest.
            if len(recent) >= window.calls:
                blocking = recent[window.calls - 1][0]
                assert isinstance(blocking, datetime)
                wait = max(wait, span - (now - blocking).total_seconds())
        return wait

    def record(self, reservation: int | None, outcome: str) -> None:
        """Record how the call reserved as ``reservation`` ended.

        Raises:
            WarehouseError: the warehouse cannot be reached.
        """
        if reservation is None:
            return
        with self._lock:
            try:
                self._connection().execute(
                    "update audit.api_calls set outcome = %s where api_call_id = %s",
                    (outcome, reservation),
                )
            except psycopg.Error as exc:
                self._reset()
                raise WarehouseError(f"quota ledger: {_first_line(exc)}") from exc

    def usage(self, day: date | None = None) -> QuotaUsage:
        """Return this key's usage on ``day`` (default: the current API day).

        Raises:
            WarehouseError: the warehouse cannot be reached.
        """
        with self._lock:
            try:
                return read_usage(
                    self._connection(), self.key_hash, self.limits.daily_quota, day
                )
            except psycopg.Error as exc:
                raise WarehouseError(f"quota ledger: {exc}".strip()) from exc


def read_usage(
    conn: psycopg.Connection[tuple[object, ...]],
    hashed_key: str,
    daily_quota: int,
    day: date | None = None,
) -> QuotaUsage:
    """Return one key's calls on one API day from ``audit.api_calls``.

    Args:
        conn: a warehouse connection.
        hashed_key: ``key_hash(api_key)``.
        daily_quota: the configured quota (0 for none), to compute what remains.
        day: the API day; None for the current one (database clock).
    """
    if day is None:
        (today,) = _one(
            conn, "select (clock_timestamp() at time zone 'America/New_York')::date"
        )
        assert isinstance(today, date)
        day = today
    rows = conn.execute(
        "select function, coalesce(outcome, 'pending'), count(*)"
        " from audit.api_calls where key_hash = %s and api_day = %s"
        " group by 1, 2 order by 1, 2",
        (hashed_key, day),
    ).fetchall()
    per_function: dict[str, int] = {}
    per_outcome: dict[str, int] = {}
    for function, outcome, count in rows:
        assert isinstance(count, int)
        per_function[str(function)] = per_function.get(str(function), 0) + count
        per_outcome[str(outcome)] = per_outcome.get(str(outcome), 0) + count
    used = sum(per_function.values())
    return QuotaUsage(
        api_day=day,
        key_hash=hashed_key,
        calls_used=used,
        daily_quota=daily_quota,
        remaining=max(0, daily_quota - used) if daily_quota else None,
        is_capped=per_outcome.get(DAILY_CAP_OUTCOME, 0) > 0,
        per_function=per_function,
        per_outcome=per_outcome,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _one(
    conn: psycopg.Connection[tuple[object, ...]],
    query: str,
    params: tuple[object, ...] | None = None,
) -> tuple[object, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row
