"""The quota ledger in a real warehouse: limits held across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from stocks_elt.alpha_vantage.classify import AnswerKind
from stocks_elt.alpha_vantage.limits import Limits, key_hash
from stocks_elt.errors import DailyQuotaExhausted
from stocks_elt.warehouse.audit.api_calls import WarehouseQuota

KEY = "LEDGERKEY1234567"


def _called_at(url: str) -> list[float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select extract(epoch from called_at)::float8 from audit.api_calls"
            " order by called_at"
        ).fetchall()
    return [float(row[0]) for row in rows]


def _max_in_window(stamps: list[float], seconds: float) -> int:
    """The most calls that fall in any half-open window of ``seconds``."""
    most = 0
    for start, first in enumerate(stamps):
        inside = [s for s in stamps[start:] if s < first + seconds]
        most = max(most, len(inside))
    return most


def _aging_sleep(url: str, waits: list[float]) -> Callable[[float], None]:
    """A sleep that notes the wait and moves every call that far into the past."""

    def age_calls(seconds: float) -> None:
        waits.append(seconds)
        with psycopg.connect(url) as conn:
            conn.execute(
                "update audit.api_calls set called_at = called_at - %s",
                (timedelta(seconds=seconds),),
            )

    return age_calls


def test_the_daily_quota_refuses_the_call_after_the_last(warehouse: str) -> None:
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 3)) as ledger:
        for _ in range(3):
            ledger.reserve("SPLITS", "IBM")
        with pytest.raises(DailyQuotaExhausted, match="quota of 3 calls is spent"):
            ledger.reserve("SPLITS", "IBM")
        usage = ledger.usage()

    assert (usage.calls_used, usage.daily_quota, usage.remaining) == (3, 3, 0)
    assert dict(usage.per_function) == {"SPLITS": 3}


def test_the_key_itself_is_never_stored(warehouse: str) -> None:
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 0)) as ledger:
        reservation = ledger.reserve("OVERVIEW", "IBM")
        ledger.record(reservation, "data")

    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("select * from audit.api_calls").fetchall()
    assert len(rows) == 1
    assert KEY not in repr(rows)
    assert key_hash(KEY) in repr(rows)


def test_calls_of_an_earlier_api_day_do_not_count(warehouse: str) -> None:
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 2)) as ledger:
        ledger.reserve("SPLITS", "IBM")
        ledger.reserve("SPLITS", "IBM")
        with psycopg.connect(warehouse) as conn:
            conn.execute(
                "update audit.api_calls set api_day = api_day - 1,"
                " called_at = called_at - interval '1 day'"
            )
        ledger.reserve("SPLITS", "IBM")
        assert ledger.usage().calls_used == 1


def test_the_apis_own_daily_cap_notice_closes_the_day_for_everyone(
    warehouse: str,
) -> None:
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 0)) as first:
        reservation = first.reserve("TIME_SERIES_DAILY", "IBM")
        first.record(reservation, "daily_cap")
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 0)) as second:
        with pytest.raises(DailyQuotaExhausted, match="the API said"):
            second.reserve("TIME_SERIES_DAILY", "MSFT")
        assert second.usage().is_capped


def test_other_keys_are_counted_apart(warehouse: str) -> None:
    with WarehouseQuota(warehouse, KEY, Limits(1000, 0, 1)) as ledger:
        ledger.reserve("SPLITS", "IBM")
    with WarehouseQuota(warehouse, "ANOTHERKEY000000", Limits(1000, 0, 1)) as other:
        other.reserve("SPLITS", "IBM")


def test_a_full_second_makes_the_next_caller_wait_for_it(warehouse: str) -> None:
    waits: list[float] = []
    ledger = WarehouseQuota(warehouse, KEY, Limits(2, 0, 0), sleep=waits.append)
    ledger.reserve("SPLITS", "A")
    ledger.reserve("SPLITS", "B")
    # The fake sleep does not wait, so the third reservation asks again and again;
    # make the window pass by moving the earlier calls into the past.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "update audit.api_calls set called_at = called_at - interval '0.5 s'"
        )

    ledger._sleep = _aging_sleep(warehouse, waits)
    ledger.reserve("SPLITS", "C")
    ledger.close()

    # Two calls 0.5 s old in a 1 s window (+0.1 s margin): wait about 0.6 s.
    assert len(waits) == 1
    assert 0.5 < waits[0] <= 0.6


def test_after_a_burst_notice_every_caller_waits_a_second_between_calls(
    warehouse: str,
) -> None:
    waits: list[float] = []
    limits = Limits(1000, 0, 0)
    with WarehouseQuota(warehouse, KEY, limits, sleep=waits.append) as first:
        first.record(first.reserve("SPLITS", "A"), "data")
        first.reserve("SPLITS", "B")
    assert waits == [], "1000 calls/s: no wait before any burst notice"

    with WarehouseQuota(warehouse, KEY, limits, sleep=waits.append) as first:
        first.record(first.reserve("SPLITS", "C"), str(AnswerKind.BURST))

    # Another process on the same key slows down too: one call per 1.1 s.
    aging = _aging_sleep(warehouse, waits)
    with WarehouseQuota(warehouse, KEY, limits, sleep=aging) as other:
        other.reserve("DIVIDENDS", "D")
        assert len(waits) == 1
        assert 1.0 < waits[0] <= 1.1
        other.reserve("DIVIDENDS", "E")
        assert len(waits) == 2
        assert 1.0 < waits[1] <= 1.1

    # A minute after the notice, the configured pace is back.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "update audit.api_calls set called_at = called_at - interval '61 s'"
        )
    with WarehouseQuota(warehouse, KEY, limits, sleep=waits.append) as later:
        later.reserve("SPLITS", "F")
        later.reserve("SPLITS", "G")
    assert len(waits) == 2


def test_threads_sharing_a_ledger_never_exceed_the_per_second_limit(
    warehouse: str,
) -> None:
    ledger = WarehouseQuota(warehouse, KEY, Limits(3, 0, 0))

    def work() -> None:
        for _ in range(3):
            ledger.reserve("SPLITS", "IBM")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()

    stamps = _called_at(warehouse)
    assert len(stamps) == 12
    assert _max_in_window(stamps, 1.0) <= 3


def _reserve_many(url: str, count: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    with WarehouseQuota(url, KEY, Limits(2, 6, 0)) as ledger:
        for _ in range(count):
            ledger.reserve("TIME_SERIES_DAILY", "IBM")


def test_processes_sharing_a_key_never_exceed_any_window(warehouse: str) -> None:
    # Five calls made 59.3 s ago leave room for one more in the minute until they
    # leave it, about 0.95 s (0.7 s + the 0.25 s margin) from now.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into audit.api_calls (key_hash, api_day, called_at, function)"
            " select %s, current_date, clock_timestamp() - interval '59.3 s', 'SPLITS'"
            " from generate_series(1, 5)",
            (key_hash(KEY),),
        )
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(3)
        with context.Pool(3) as pool:
            pool.starmap(_reserve_many, [(warehouse, 2, start)] * 3)

    stamps = _called_at(warehouse)
    assert len(stamps) == 11
    assert _max_in_window(stamps, 60.0) <= 6
    assert _max_in_window(stamps[5:], 1.0) <= 2
    # Only one of the six new calls fit in the minute of the old five.
    assert stamps[6] - stamps[0] >= 60.0
