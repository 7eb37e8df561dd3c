"""The extract stage's fetch strategy: compact or full, from NYSE session counts.

Hand count for 2024 (NYSE holidays Jan 1, Jan 15, Feb 19, Mar 29, May 27, Jun 19):
sessions Jan 21, Feb 20, Mar 20, Apr 22, May 22, Jun 1-21 14, so 119 sessions
from Jan 2 through Fri Jun 21. January: 2-5 (4), 8-12 (9), 16-19 (13), 22-26 (18),
29, 30, 31: so the 100 sessions ending Jun 21 start at the 20th, Tue Jan 30 (the 19th
is Mon Jan 29).
"""

from __future__ import annotations

from datetime import date

import pytest

from stocks_elt.stages.extract import (
    ExtractResult,
    SymbolOutcome,
    choose_output_size,
    last_session_on_or_before,
    sessions_after,
)

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


@pytest.mark.parametrize("is_premium", [True, False])
def test_compact_is_enough_when_it_overlaps_the_stored_history(
    is_premium: bool,
) -> None:
    assert choose_output_size(date(2024, 1, 30), FRIDAY, is_premium=is_premium) == (
        "compact",
        False,
    )


def test_a_premium_key_fetches_full_when_compact_would_leave_a_gap() -> None:
    assert choose_output_size(date(2024, 1, 29), FRIDAY, is_premium=True) == (
        "full",
        False,
    )
    assert choose_output_size(None, FRIDAY, is_premium=True) == ("full", False)


def test_a_free_key_fetches_compact_and_records_the_gap() -> None:
    assert choose_output_size(date(2024, 1, 29), FRIDAY, is_premium=False) == (
        "compact",
        True,
    )
    assert choose_output_size(None, FRIDAY, is_premium=False) == ("compact", True)


def test_the_result_turns_into_plain_json_types() -> None:
    result = ExtractResult(
        run_id="r1",
        object_keys=("k1", "k2"),
        outcomes=(
            SymbolOutcome("IBM", "fetched", None, ("k1", "k2"), True),
            SymbolOutcome("MSFT", "deferred", "quota spent"),
        ),
        calls_made=4,
    )

    assert result.as_dict() == {
        "run_id": "r1",
        "object_keys": ["k1", "k2"],
        "outcomes": [
            {
                "symbol": "IBM",
                "outcome": "fetched",
                "reason": None,
                "object_keys": ["k1", "k2"],
                "has_history_gap": True,
            },
            {
                "symbol": "MSFT",
                "outcome": "deferred",
                "reason": "quota spent",
                "object_keys": [],
                "has_history_gap": False,
            },
        ],
        "calls_made": 4,
    }
    assert result.is_success
    assert result.count("deferred") == 1


def test_a_failed_or_unknown_symbol_makes_the_run_unsuccessful() -> None:
    for outcome in ("failed", "not_found"):
        result = ExtractResult("r", (), (SymbolOutcome("X", outcome),), 1)  # type: ignore[arg-type]
        assert not result.is_success
