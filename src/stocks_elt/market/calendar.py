"""
The XNYS (New York Stock Exchange) calendar: the one place sessions come from.

Extract (which sessions a compact answer covers), the quality gate (missing and
stale sessions), status (freshness) and the emulator (its synthetic market) all ask
this module. Sessions and their closing instants come from ``exchange_calendars``
for 1999-01-01 (Alpha Vantage's daily histories start in November 1999) through
:data:`HORIZON`; later days fall back to weekdays. ``exchange_calendars`` is
imported on first use only: its import takes seconds, and importing this module
(which a DAG file does) must stay cheap. The schedule is computed once per process.

Dates are exchange-local trading dates; closing instants are aware UTC datetimes
(16:00 New York, 13:00 on early-close days).
"""

from __future__ import annotations

import bisect
import re
import threading
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The calendar's exchange.
EXCHANGE = "XNYS"
#: Exchange-local dates, and Alpha Vantage's API day.
NEW_YORK = ZoneInfo("America/New_York")
#: The first day the calendar covers (no session before it exists).
CALENDAR_START = date(1999, 1, 1)
#: The last day ``exchange_calendars`` is asked about; later days are weekdays.
HORIZON = date(2035, 12, 31)
#: The regular close, for weekdays past the horizon.
_REGULAR_CLOSE = (16, 0)


@dataclass(frozen=True)
class _Schedule:
    sessions: tuple[date, ...]
    closes: tuple[datetime, ...]


_lock = threading.Lock()
_schedule: _Schedule | None = None


def _load() -> _Schedule:
    global _schedule
    if _schedule is None:
        with _lock:
            if _schedule is None:
                with warnings.catch_warnings():
                    # pandas deprecation notices raised inside exchange_calendars
                    warnings.simplefilter("ignore")
                    import exchange_calendars

                    calendar = exchange_calendars.get_calendar(
                        EXCHANGE,
                        start=CALENDAR_START.isoformat(),
                        end=HORIZON.isoformat(),
                    )
                    sessions = tuple(stamp.date() for stamp in calendar.sessions)
                    closes = tuple(
                        stamp.to_pydatetime().astimezone(UTC)
                        for stamp in calendar.closes
                    )
                _schedule = _Schedule(sessions, closes)
    return _schedule


def all_sessions() -> tuple[date, ...]:
    """Return every session from :data:`CALENDAR_START` through :data:`HORIZON`."""
    return _load().sessions


def _sessions_through(day: date) -> tuple[date, ...]:
    """The sessions through ``day``, weekdays standing in past the horizon."""
    known = all_sessions()
    if day <= known[-1]:
        return known
    extra = []
    current = known[-1]
    while current < day:
        current += timedelta(days=1)
        if current.weekday() < 5:
            extra.append(current)
    return known + tuple(extra)


def sessions_between(start: date, end: date) -> list[date]:
    """Return the sessions from ``start`` to ``end``, both included."""
    if end < start:
        return []
    known = _sessions_through(end)
    return list(
        known[bisect.bisect_left(known, start) : bisect.bisect_right(known, end)]
    )


def is_session(day: date) -> bool:
    """Tell whether ``day`` is a session."""
    known = _sessions_through(day)
    index = bisect.bisect_left(known, day)
    return index < len(known) and known[index] == day


def session_index_on_or_before(day: date) -> int:
    """Return the index in :func:`all_sessions` of the last session on or before
    ``day`` (-1 if none)."""
    return bisect.bisect_right(all_sessions(), day) - 1


def session_index_on_or_after(day: date) -> int:
    """Return the index in :func:`all_sessions` of the first session on or after
    ``day`` (``len(all_sessions())`` if none)."""
    return bisect.bisect_left(all_sessions(), day)


def last_session_on_or_before(day: date) -> date:
    """Return the last session on or before ``day``.

    Raises:
        ValueError: ``day`` is before the calendar's first session.
    """
    known = _sessions_through(day)
    index = bisect.bisect_right(known, day) - 1
    if index < 0:
        raise ValueError(f"no {EXCHANGE} session on or before {day}")
    return known[index]


def next_session(day: date, count: int = 1) -> date:
    """Return the ``count``-th session strictly after ``day``.

    Raises:
        ValueError: ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    ahead = day + timedelta(days=count * 2 + 10)
    while True:
        known = _sessions_through(ahead)
        index = bisect.bisect_right(known, day) + count - 1
        if index < len(known):
            return known[index]
        ahead += timedelta(days=count * 2 + 10)


def sessions_after(day: date, through: date) -> int:
    """Return how many sessions fall after ``day`` up to ``through`` included.

    0 means ``day`` holds the last session up to ``through``. A ``day`` that is not
    itself a session (a holiday row, another exchange's date) counts from the next
    session on.
    """
    if through <= day:
        return 0
    known = _sessions_through(through)
    return bisect.bisect_right(known, through) - bisect.bisect_right(known, day)


def session_close(day: date) -> datetime:
    """Return the instant the session ``day`` closes (aware, UTC).

    Raises:
        ValueError: ``day`` is not a session.
    """
    schedule = _load()
    index = bisect.bisect_left(schedule.sessions, day)
    if index < len(schedule.sessions) and schedule.sessions[index] == day:
        return schedule.closes[index]
    if day > schedule.sessions[-1] and day.weekday() < 5:
        hour, minute = _REGULAR_CLOSE
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
    raise ValueError(f"{day} is not an {EXCHANGE} session")


def last_completed_session(at: datetime, lag: timedelta = timedelta(0)) -> date:
    """Return the latest session whose close (plus ``lag``) is at or before ``at``.

    Args:
        at: an instant (naive means New York time).
        lag: how long after the close a session counts as completed (a data
            vendor publishes a day's bar some time after the close).

    Raises:
        ValueError: no session completed before ``at``.
    """
    moment = at if at.tzinfo is not None else at.replace(tzinfo=NEW_YORK)
    day = moment.astimezone(NEW_YORK).date()
    candidate = last_session_on_or_before(day)
    while session_close(candidate) + lag > moment:
        candidate = last_session_on_or_before(candidate - timedelta(days=1))
    return candidate


def parse_new_york_time(text: str) -> time:
    """Parse a New York wall-clock time such as ``21:00`` (or ``21:00:00``).

    Raises:
        ValueError: not HH:MM on a 24-hour clock.
    """
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day such as 21:00")
    hour, minute, second = (int(part or 0) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text!r} is not a time of day such as 21:00")
    return time(hour, minute, second)
