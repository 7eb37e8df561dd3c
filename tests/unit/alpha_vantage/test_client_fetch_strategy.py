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

from stocks_elt.results import ExtractResult, SymbolOutcome
from stocks_elt.stages.extract import choose_output_size

FRIDAY = date(2024, 6, 21)


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
