"""Freshness against the XNYS calendar, checked on the days around 4 July 2024.

NYSE, summer 2024: Friday 28 June and Monday 1 to Wednesday 3 July are sessions
(3 July closes early, at 13:00), Thursday 4 July is a holiday, Friday 5 July is a
full session (16:00 close).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from stocks_elt.config import load_settings
from stocks_elt.stages.extract import OUTCOMES
from stocks_elt.status import (
    DEFERRED_OUTCOMES,
    FAILED_OUTCOMES,
    HEALTHY_OUTCOMES,
    ExtractOutcome,
    SymbolStatus,
    _universe,
    last_completed_session,
    sessions_behind,
    sessions_behind_many,
)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # During Friday's session the last completed one is Wednesday's.
        (datetime(2024, 7, 5, 10, 0, tzinfo=NY), date(2024, 7, 3)),
        (datetime(2024, 7, 5, 15, 59, tzinfo=NY), date(2024, 7, 3)),
        (datetime(2024, 7, 5, 16, 0, tzinfo=NY), date(2024, 7, 5)),
        # The same instant in UTC (EDT is UTC-4).
        (datetime(2024, 7, 5, 20, 0, tzinfo=UTC), date(2024, 7, 5)),
        (datetime(2024, 7, 6, 12, 0, tzinfo=NY), date(2024, 7, 5)),
        # The early close: at 13:30 Wednesday's session is over.
        (datetime(2024, 7, 3, 13, 30, tzinfo=NY), date(2024, 7, 3)),
        (datetime(2024, 7, 3, 12, 59, tzinfo=NY), date(2024, 7, 2)),
        # Seconds do not matter.
        (datetime(2024, 7, 5, 16, 0, 30, tzinfo=NY), date(2024, 7, 5)),
    ],
)
def test_last_completed_session_follows_the_exchange_clock(
    as_of: datetime, expected: date
) -> None:
    assert last_completed_session(as_of) == expected


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        last_completed_session(datetime(2024, 7, 5, 10, 0))


@pytest.mark.parametrize(
    ("last_session", "last_completed", "behind"),
    [
        (date(2024, 7, 5), date(2024, 7, 5), 0),
        # 4 July is no session: only Friday is missing.
        (date(2024, 7, 3), date(2024, 7, 5), 1),
        # 1, 2, 3 and 5 July.
        (date(2024, 6, 28), date(2024, 7, 5), 4),
        # A row dated on the holiday counts from the next session.
        (date(2024, 7, 4), date(2024, 7, 5), 1),
        # Data newer than the last completed session (a session in progress).
        (date(2024, 7, 5), date(2024, 7, 3), 0),
    ],
)
def test_sessions_behind_counts_only_trading_sessions(
    last_session: date, last_completed: date, behind: int
) -> None:
    assert sessions_behind(last_session, last_completed) == behind


def test_sessions_behind_many_uses_one_calendar_for_all_symbols() -> None:
    loaded = {"IBM": date(2024, 7, 3), "MSFT": date(2023, 12, 29)}

    behind = sessions_behind_many(loaded, date(2024, 1, 5))

    # IBM is ahead; MSFT misses 2, 3, 4 and 5 January (1 January is a holiday).
    assert behind == {"IBM": 0, "MSFT": 4}


def test_freshness_words() -> None:
    assert SymbolStatus("A", date(2024, 7, 5), 0, None).freshness == "fresh"
    assert SymbolStatus("A", date(2024, 7, 3), 1, None).freshness == "stale"
    assert SymbolStatus("A", None, None, None).freshness == "never loaded"


def test_every_extract_outcome_is_classified_once() -> None:
    groups = (HEALTHY_OUTCOMES, DEFERRED_OUTCOMES, FAILED_OUTCOMES)

    assert set(OUTCOMES) == set().union(*groups)
    assert sum(len(group) for group in groups) == len(set(OUTCOMES))


def test_a_history_gap_makes_a_fetch_unhealthy() -> None:
    now = datetime(2024, 7, 5, tzinfo=UTC)

    assert ExtractOutcome("A", "fetched", None, False, now).is_healthy
    assert not ExtractOutcome("A", "fetched", "gap", True, now).is_healthy
    assert ExtractOutcome("A", "deferred", "quota", False, now).is_deferred


def test_universe_lists_configured_tickers_first_then_the_rest_sorted(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings = load_settings(tickers="MSFT,IBM", data_dir=tmp_path)
    now = datetime(2024, 7, 5, tzinfo=UTC)

    listed = _universe(
        settings,
        {"ZZ": date(2024, 7, 5), "IBM": date(2024, 7, 5)},
        {"AA": ExtractOutcome("AA", "failed", None, False, now)},
    )

    assert listed == ("MSFT", "IBM", "AA", "ZZ")
