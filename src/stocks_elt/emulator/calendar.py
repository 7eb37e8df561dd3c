"""
NYSE trading sessions from 1999 through the generator's horizon.

The ``exchange_calendars`` package (calendar ``XNYS``) is imported on first use only:
its import takes seconds, and importing the emulator must stay cheap. The session
list is computed once per process and shared by every symbol and every server.
"""

from __future__ import annotations

import bisect
import threading
import warnings
from datetime import date

#: The first day the calendar covers (no session before it exists).
CALENDAR_START = date(1999, 1, 1)
#: The generator's fixed horizon: histories are generated through this day and cut
#: at "today", so moving the clock only appends sessions.
HORIZON = date(2035, 12, 31)

_lock = threading.Lock()
_sessions: tuple[date, ...] | None = None


def nyse_sessions() -> tuple[date, ...]:
    """Return every NYSE session from 1999-01-01 through :data:`HORIZON`, ascending.

    Returns:
        The session dates (exchange-local), computed once and cached.
    """
    global _sessions
    if _sessions is None:
        with _lock:
            if _sessions is None:
                with warnings.catch_warnings():
                    # pandas deprecation notices from inside exchange_calendars
                    warnings.simplefilter("ignore")
                    import exchange_calendars

                    calendar = exchange_calendars.get_calendar(
                        "XNYS",
                        start=CALENDAR_START.isoformat(),
                        end=HORIZON.isoformat(),
                    )
                    _sessions = tuple(stamp.date() for stamp in calendar.sessions)
    return _sessions


def session_index_on_or_before(day: date) -> int:
    """Return the index of the last session on or before ``day`` (-1 if none)."""
    return bisect.bisect_right(nyse_sessions(), day) - 1


def session_index_on_or_after(day: date) -> int:
    """Return the index of the first session on or after ``day`` (len if none)."""
    return bisect.bisect_left(nyse_sessions(), day)


def is_session(day: date) -> bool:
    """Tell whether ``day`` is an NYSE session."""
    sessions = nyse_sessions()
    index = bisect.bisect_left(sessions, day)
    return index < len(sessions) and sessions[index] == day


def next_session(day: date, sessions: int = 1) -> date:
    """Return the ``sessions``-th NYSE session strictly after ``day``.

    Args:
        day: the starting day (a session or not).
        sessions: how many sessions to move forward, at least 1.

    Returns:
        The session date.

    Raises:
        ValueError: ``sessions`` is below 1, or the result lies past :data:`HORIZON`.
    """
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    calendar = nyse_sessions()
    index = bisect.bisect_right(calendar, day) + sessions - 1
    if index >= len(calendar):
        raise ValueError(
            f"{sessions} session(s) after {day.isoformat()} is past the emulator's "
            f"horizon {HORIZON.isoformat()}"
        )
    return calendar[index]
