from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stocks_elt.market.calendar import (
    HORIZON,
    all_sessions,
    is_session,
    last_completed_session,
    last_session_on_or_before,
    next_session,
    session_close,
    sessions_after,
    sessions_between,
)


def test_sessions_are_weekdays_without_nyse_holidays() -> None:
    sessions = all_sessions()
    assert all(day.weekday() < 5 for day in sessions)
    assert not is_session(date(2024, 7, 4))  # Independence Day
    assert not is_session(date(2024, 12, 25))
    assert not is_session(date(2001, 9, 11))  # markets closed after the attacks
    assert is_session(date(2024, 7, 5))
    assert sessions == tuple(sorted(sessions))
    assert sessions[0] == date(1999, 1, 4)
    assert sessions[-1] <= HORIZON


def test_next_session_skips_weekends_and_holidays() -> None:
    assert next_session(date(2024, 6, 21)) == date(2024, 6, 24)  # Friday -> Monday
    assert next_session(date(2024, 7, 3)) == date(2024, 7, 5)
    assert next_session(date(2024, 6, 22), 2) == date(2024, 6, 25)


def test_next_session_refuses_zero_sessions() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next_session(date(2024, 6, 21), 0)


def test_past_the_horizon_weekdays_stand_in_for_sessions() -> None:
    assert next_session(date(2036, 1, 4)) == date(2036, 1, 7)  # Friday -> Monday
    assert is_session(date(2036, 1, 7))
    assert last_session_on_or_before(date(2036, 1, 6)) == date(2036, 1, 4)
    # No holiday is known past the horizon: New Year's Day counts.
    assert sessions_after(date(2035, 12, 31), date(2036, 1, 7)) == 5


def test_sessions_between_counts_sessions_not_days() -> None:
    week = sessions_between(date(2024, 7, 1), date(2024, 7, 7))
    assert week == [date(2024, 7, d) for d in (1, 2, 3, 5)]  # no Fourth of July
    assert sessions_between(date(2024, 7, 7), date(2024, 7, 1)) == []
    assert sessions_after(date(2024, 7, 3), date(2024, 7, 8)) == 2
    assert sessions_after(date(2024, 7, 4), date(2024, 7, 8)) == 2  # a holiday


def test_a_session_completes_at_its_close_plus_the_lag() -> None:
    ny = ZoneInfo("America/New_York")
    friday = date(2024, 6, 21)
    assert session_close(friday) == datetime(2024, 6, 21, 16, 0, tzinfo=ny)
    before_close = datetime(2024, 6, 21, 15, 59, tzinfo=ny)
    after_close = datetime(2024, 6, 21, 16, 0, tzinfo=ny)
    assert last_completed_session(before_close) == date(2024, 6, 20)
    assert last_completed_session(after_close) == friday
    lag = timedelta(minutes=30)
    assert last_completed_session(after_close, lag) == date(2024, 6, 20)
    assert last_completed_session(datetime(2024, 6, 22, 9, 0, tzinfo=ny)) == friday
    # Black Friday closes at 13:00.
    assert session_close(date(2024, 11, 29)) == datetime(2024, 11, 29, 13, 0, tzinfo=ny)
    with pytest.raises(ValueError, match="not an XNYS session"):
        session_close(date(2024, 6, 22))


# Hand count for 2024 (NYSE holidays Jan 1, Jan 15, Feb 19, Mar 29, May 27, Jun 19):
# sessions Jan 21, Feb 20, Mar 20, Apr 22, May 22, Jun 1-21 14, so 119 sessions
# from Jan 2 through Fri Jun 21, and the 100 sessions ending Jun 21 start at the
# 20th, Tue Jan 30.
FRIDAY = date(2024, 6, 21)


@pytest.mark.parametrize(
    ("day", "session"),
    [
        (date(2024, 6, 21), date(2024, 6, 21)),
        (date(2024, 6, 23), date(2024, 6, 21)),  # Sunday
        (date(2024, 6, 19), date(2024, 6, 18)),  # Juneteenth
        (date(2024, 3, 29), date(2024, 3, 28)),  # Good Friday
        (date(2024, 1, 1), date(2023, 12, 29)),
    ],
)
def test_the_last_session_skips_weekends_and_holidays(day: date, session: date) -> None:
    assert last_session_on_or_before(day) == session


@pytest.mark.parametrize(
    ("day", "through", "count"),
    [
        (date(2024, 6, 14), FRIDAY, 4),  # 17, 18, 20, 21
        (FRIDAY, FRIDAY, 0),
        (date(2024, 7, 1), FRIDAY, 0),  # stored history after the run's date
        (date(2023, 12, 29), FRIDAY, 119),
        (date(2024, 1, 30), FRIDAY, 99),
        (date(2024, 1, 29), FRIDAY, 100),
    ],
)
def test_sessions_after_counts_nyse_sessions(
    day: date, through: date, count: int
) -> None:
    assert sessions_after(day, through) == count


def test_the_calendar_knows_nyse_holidays() -> None:
    sessions = sessions_between(date(2024, 6, 17), date(2024, 6, 24))

    # Juneteenth (Wednesday the 19th) and the weekend are closed.
    assert sessions == [
        date(2024, 6, 17),
        date(2024, 6, 18),
        date(2024, 6, 20),
        date(2024, 6, 21),
        date(2024, 6, 24),
    ]
    assert sessions_between(date(2024, 6, 24), date(2024, 6, 17)) == []


def test_the_calendar_reaches_back_before_the_api_history_begins() -> None:
    sessions = sessions_between(date(1999, 11, 1), date(1999, 11, 30))

    # November 1999: 22 weekdays, less Thanksgiving on the 25th.
    assert len(sessions) == 21


# Freshness around 4 July 2024. NYSE, summer 2024: Friday 28 June and Monday 1 to
# Wednesday 3 July are sessions (3 July closes early, at 13:00), Thursday 4 July is
# a holiday, Friday 5 July is a full session (16:00 close).
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


def test_a_naive_instant_is_new_york_time() -> None:
    assert last_completed_session(datetime(2024, 7, 5, 16, 0)) == date(2024, 7, 5)


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
    assert sessions_after(last_session, last_completed) == behind


def test_new_year_is_no_session() -> None:
    # MSFT misses 2, 3, 4 and 5 January (1 January is a holiday).
    assert sessions_after(date(2023, 12, 29), date(2024, 1, 5)) == 4
