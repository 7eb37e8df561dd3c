"""Every notice and fault class the emulator can produce, through the whole stage."""

from __future__ import annotations

import psycopg
import pytest

from stocks_elt.alpha_vantage.client import AlphaVantageClient
from stocks_elt.emulator import RunningEmulator
from stocks_elt.errors import RateLimited
from stocks_elt.stages.extract import extract
from tests.fixtures.emulator import EMULATOR_TODAY, FREE_KEY, EmulatorFactory
from tests.integration.extract.conftest import (
    SettingsFactory,
    assert_only_data_in_lake,
    functions_by_symbol,
    most_in_window,
    table_rows,
)


@pytest.mark.parametrize(
    "fault", ["500", "502", "503", "drop", "truncate", "malformed", "empty"]
)
def test_a_passing_fault_is_retried_and_the_symbol_fetched(
    emulator: RunningEmulator, make_settings: SettingsFactory, fault: str
) -> None:
    emulator.set_faults(
        f"{fault}:first=1@IBM/TIME_SERIES_DAILY,{fault}:first=1@IBM/SPLITS"
    )
    settings = make_settings(emulator, FREE_KEY)

    result = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [o.outcome for o in result.outcomes] == ["fetched", "fetched"]
    outcomes = [c.outcome for c in emulator.calls() if c.symbol == "IBM"]
    assert outcomes.count(f"fault:{fault}") == 2
    grouped = functions_by_symbol(result.object_keys)
    assert sorted(grouped["IBM"]) == sorted(
        ["TIME_SERIES_DAILY", "SPLITS", "DIVIDENDS", "OVERVIEW"]
    )
    assert_only_data_in_lake(settings)


def test_a_slow_answer_times_out_and_is_retried(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    emulator.set_faults("latency=2s:first=1@IBM/TIME_SERIES_DAILY")
    settings = make_settings(emulator, FREE_KEY, alpha_vantage_timeout_seconds=0.5)

    result = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)

    assert result.outcomes[0].outcome == "fetched"
    daily = [c for c in emulator.calls() if c.function == "TIME_SERIES_DAILY"]
    assert len(daily) == 2


def test_a_lasting_fault_fails_that_symbol_with_its_reason_only(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    emulator.set_faults("503:1@MSFT")
    settings = make_settings(emulator, FREE_KEY, alpha_vantage_max_retries=2)

    result = extract(settings, ["IBM", "MSFT", "KO"], as_of=EMULATOR_TODAY)

    assert [(o.symbol, o.outcome) for o in result.outcomes] == [
        ("IBM", "fetched"),
        ("MSFT", "failed"),
        ("KO", "fetched"),
    ]
    assert result.outcomes[1].reason == (
        "MSFT: TIME_SERIES_DAILY failed after 3 attempts: HTTP 503"
    )
    assert [c.outcome for c in emulator.calls() if c.symbol == "MSFT"] == [
        "fault:503"
    ] * 3
    assert not result.is_success


def test_burst_notices_are_waited_out_and_never_stored(
    emulator_factory: EmulatorFactory, make_settings: SettingsFactory
) -> None:
    emulator = emulator_factory(per_second_limit=1)
    # The client is told a limit five times the server's: bursts must follow.
    settings = make_settings(
        emulator,
        FREE_KEY,
        alpha_vantage_calls_per_second=5,
        alpha_vantage_max_retries=8,
    )

    result = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [o.outcome for o in result.outcomes] == ["fetched", "fetched"]
    assert "burst" in {c.outcome for c in emulator.calls()}
    assert_only_data_in_lake(settings)


def test_with_the_right_limit_the_api_never_says_burst(
    emulator_factory: EmulatorFactory, make_settings: SettingsFactory
) -> None:
    emulator = emulator_factory(per_second_limit=1)
    settings = make_settings(emulator, FREE_KEY, alpha_vantage_calls_per_second=1)

    result = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [o.outcome for o in result.outcomes] == ["fetched", "fetched"]
    calls = emulator.calls()
    assert {c.outcome for c in calls} == {"data"}
    assert most_in_window([c.at for c in calls], 1.0) == 1


def test_a_per_minute_note_is_retried_then_reported_as_rate_limited(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(per_minute_limit=1)
    waits: list[float] = []
    client = AlphaVantageClient(
        FREE_KEY, base_url=emulator.base_url, max_retries=2, sleep=waits.append
    )
    with client:
        client.splits("IBM")
        with pytest.raises(RateLimited, match="still rate limited after 3 attempts"):
            client.splits("MSFT")

    # Each retry waits for the minute to pass (60 s plus up to 0.25 s of jitter).
    assert len(waits) == 2
    assert all(60.0 <= wait <= 60.25 for wait in waits)
    assert [c.outcome for c in emulator.calls()] == ["data"] + ["per_minute"] * 3


def _shift_ledger_one_day_back(warehouse: str) -> None:
    """Make the ledger's calls belong to the previous API day (a night passed)."""
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "update audit.api_calls set api_day = api_day - 1,"
            " called_at = called_at - interval '1 day'"
        )


def test_the_apis_daily_cap_defers_the_rest_and_the_next_run_fetches_them_first(
    emulator_factory: EmulatorFactory, make_settings: SettingsFactory, warehouse: str
) -> None:
    emulator = emulator_factory(daily_limit=7)
    settings = make_settings(emulator, FREE_KEY, extract_concurrency=1)
    symbols = ["IBM", "MSFT", "AAPL", "NVDA"]

    first = extract(settings, symbols, as_of=EMULATOR_TODAY)

    # IBM 3 calls, MSFT 3, AAPL's series is the 7th; its SPLITS hits the cap.
    assert [(o.symbol, o.outcome) for o in first.outcomes] == [
        ("IBM", "fetched"),
        ("MSFT", "fetched"),
        ("AAPL", "deferred"),
        ("NVDA", "deferred"),
    ]
    assert functions_by_symbol(first.outcomes[2].object_keys) == {
        "AAPL": ["TIME_SERIES_DAILY"]
    }
    assert "day's quota is spent" in (first.outcomes[3].reason or "")
    assert first.is_success
    assert [c.outcome for c in emulator.calls()][-1] == "daily_cap"
    assert len(emulator.calls()) == 8
    assert_only_data_in_lake(settings)

    next_day = emulator.advance(1)
    _shift_ledger_one_day_back(warehouse)
    emulator.clear_calls()
    second = extract(settings, symbols, as_of=next_day)

    assert [o.symbol for o in second.outcomes] == ["AAPL", "NVDA", "IBM", "MSFT"]
    assert [o.outcome for o in second.outcomes[:2]] == ["fetched", "fetched"]
    assert [c.symbol for c in emulator.calls()][:6] == ["AAPL"] * 3 + ["NVDA"] * 3
    recorded = table_rows(warehouse, "audit.extract_outcomes")
    assert len(recorded) == 8


def test_the_ledgers_daily_quota_defers_without_asking_the_api(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        emulator, FREE_KEY, alpha_vantage_daily_quota=4, extract_concurrency=1
    )

    result = extract(settings, ["IBM", "MSFT", "AAPL"], as_of=EMULATOR_TODAY)

    assert [o.outcome for o in result.outcomes] == ["fetched", "deferred", "deferred"]
    assert "quota of 4 calls is spent" in (result.outcomes[1].reason or "")
    calls = emulator.calls()
    assert len(calls) == 4
    assert {c.outcome for c in calls} == {"data"}
    assert result.calls_made == 4
