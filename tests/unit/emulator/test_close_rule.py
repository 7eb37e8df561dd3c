"""
The emulator follows the close: a session's bar exists only once the session has
closed in New York (16:00, 13:00 on early-close days) and the publication lag has
passed; before that the series ends at the previous session, as the real service
answers. A fixed ``today`` is a day that is over.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.service import EmulatorService

NEW_YORK = ZoneInfo("America/New_York")
KEY = "premium-key"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


def _service(
    *, now: datetime | None = None, today: date | None = None, lag_minutes: int = 0
) -> EmulatorService:
    def clock() -> datetime:
        assert now is not None, "the service read the wall clock with a fixed today"
        return now

    return EmulatorService(
        EmulatorConfig(
            today=today,
            premium_keys=frozenset({KEY}),
            publication_lag=timedelta(minutes=lag_minutes),
            now=clock,
        )
    )


def _last_refreshed(service: EmulatorService, symbol: str = "IBM") -> str:
    reply = service.handle_query(
        {"function": "TIME_SERIES_DAILY", "symbol": symbol, "apikey": KEY}
    )
    body = json.loads(reply.response.body)
    series = body["Time Series (Daily)"]
    newest = next(iter(series))
    refreshed: str = body["Meta Data"]["3. Last Refreshed"]
    assert newest == refreshed  # newest first, and the meta agrees
    return refreshed


# Tuesday 2026-12-01 is a regular session; Monday 2026-11-30 the one before.
TUESDAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (_at(TUESDAY, 8, 27), "2026-11-30"),  # the 08:27: not traded yet
        (_at(TUESDAY, 15, 59), "2026-11-30"),  # trading, no bar yet
        (_at(TUESDAY, 16, 0), "2026-12-01"),  # the close: published (no lag)
        (_at(TUESDAY, 23, 59), "2026-12-01"),
        (_at(date(2026, 12, 2), 0, 5), "2026-12-01"),  # next day, before its open
    ],
)
def test_a_session_s_bar_appears_at_its_new_york_close(
    moment: datetime, expected: str
) -> None:
    assert _last_refreshed(_service(now=moment)) == expected


def test_the_publication_lag_holds_the_bar_back_after_the_close() -> None:
    before = _service(now=_at(TUESDAY, 16, 14), lag_minutes=15)
    after = _service(now=_at(TUESDAY, 16, 15), lag_minutes=15)

    assert _last_refreshed(before) == "2026-11-30"
    assert _last_refreshed(after) == "2026-12-01"


def test_an_early_close_publishes_at_13_00() -> None:
    # The day after Thanksgiving 2026 (Friday 2026-11-27) closes at 13:00.
    friday = date(2026, 11, 27)
    assert _last_refreshed(_service(now=_at(friday, 12, 59))) == "2026-11-25"
    assert _last_refreshed(_service(now=_at(friday, 13, 0))) == "2026-11-27"


def test_a_weekend_or_holiday_serves_the_last_session() -> None:
    saturday = _service(now=_at(date(2026, 11, 28), 11, 0))
    thanksgiving = _service(now=_at(date(2026, 11, 26), 18, 0))

    assert _last_refreshed(saturday) == "2026-11-27"
    assert _last_refreshed(thanksgiving) == "2026-11-25"


def test_an_instant_in_another_time_zone_is_judged_in_new_york() -> None:
    # 20:30 UTC on 2026-12-01 is 15:30 in New York (EST): still trading.
    moment = datetime(2026, 12, 1, 20, 30, tzinfo=ZoneInfo("UTC"))
    assert _last_refreshed(_service(now=moment)) == "2026-11-30"


def test_a_fixed_today_is_a_day_that_is_over_whatever_the_wall_clock() -> None:
    # The wall clock is never read (the fake clock asserts so): the fixed day's
    # bar is served, as every test with a fixed today expects.
    service = _service(today=TUESDAY)

    assert _last_refreshed(service) == "2026-12-01"
    assert service.clock() == (TUESDAY, TUESDAY)


def test_the_daily_quota_counts_on_the_new_york_calendar_day_not_the_session() -> None:
    service = _service(now=_at(TUESDAY, 8, 27))

    assert service.clock() == (TUESDAY, date(2026, 11, 30))
    assert service.today == TUESDAY
    assert service.published_through == date(2026, 11, 30)


def test_pinning_an_instant_then_advancing_fixes_the_next_session() -> None:
    service = _service(today=TUESDAY)
    service.set_now(_at(TUESDAY, 9, 30))
    assert _last_refreshed(service) == "2026-11-30"

    assert service.advance(1) == TUESDAY  # the session after the last published
    assert _last_refreshed(service) == "2026-12-01"
    with pytest.raises(ValueError, match="no time zone"):
        service.set_now(datetime(2026, 12, 1, 9, 30))


def test_a_symbol_listed_today_has_no_bar_before_the_close() -> None:
    from stocks_elt.emulator.universe import ListedSymbol

    listed = ListedSymbol(
        symbol="NEWCO",
        name="New Co",
        exchange="NYSE",
        asset_type="Stock",
        ipo_date=TUESDAY,
    )
    config = EmulatorConfig(
        universe=(listed,), premium_keys=frozenset({KEY}), now=lambda: _at(TUESDAY, 11)
    )
    service = EmulatorService(config)
    reply = service.handle_query(
        {"function": "TIME_SERIES_DAILY", "symbol": "NEWCO", "apikey": KEY}
    )
    assert reply.response.outcome == "not_found"


def test_a_publication_lag_beyond_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="publication_lag"):
        EmulatorConfig(publication_lag=timedelta(hours=25))
