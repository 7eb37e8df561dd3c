from __future__ import annotations

from datetime import date

import pytest

from stocks_elt.emulator.calendar import (
    HORIZON,
    is_session,
    next_session,
    nyse_sessions,
)


def test_sessions_are_weekdays_without_nyse_holidays() -> None:
    sessions = nyse_sessions()
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


def test_next_session_refuses_zero_sessions_and_the_far_future() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next_session(date(2024, 6, 21), 0)
    with pytest.raises(ValueError, match="horizon"):
        next_session(HORIZON)
