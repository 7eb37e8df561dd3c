"""The quality gate on a real Postgres: what blocks, what warns, what is kept."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.market import Market
from stocks_elt.errors import QualityGateFailed
from stocks_elt.lake.local import LocalLake
from stocks_elt.quality.gate import run_quality_gate
from stocks_elt.results import LoadResult, QualityResult
from stocks_elt.stages.load import load
from tests.fixtures.lakes import at, daily_body, put_answer, put_emulated, url_of

#: Five sessions of one week: a flat, consistent price.
WEEK = {
    "2024-06-17": ("10.0000", "10.5000", "9.5000", "10.0000", "100"),
    "2024-06-18": ("10.0000", "10.5000", "9.5000", "10.0000", "100"),
    "2024-06-20": ("10.0000", "10.5000", "9.5000", "10.0000", "100"),
    "2024-06-21": ("10.0000", "10.5000", "9.5000", "10.0000", "100"),
}


def load_week(
    settings: Settings, lake: LocalLake, rows: dict[str, object]
) -> LoadResult:
    put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", rows, last_refreshed="2024-06-21"),
        at(1),
    )
    return load(settings)


def summary(result: QualityResult, name: str) -> tuple[str, float, tuple[str, ...]]:
    (check,) = [c for c in result.checks if c.name == name]
    return check.status, check.observed, check.symbols


def test_a_clean_load_passes_and_every_check_is_recorded(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    for minute, symbol in enumerate(("IBM", "AAPL")):
        put_emulated(lake, market, "TIME_SERIES_DAILY", symbol, at(minute))
    loaded = load(settings)

    result = run_quality_gate(settings, run_id=loaded.run_id)

    assert (result.passed, result.warned, result.failed) == (10, 0, 0)
    assert result.run_id == loaded.run_id
    with psycopg.connect(url_of(settings)) as conn:
        recorded = conn.execute(
            "select check_name, status from audit.dq_results where run_id = %s",
            (uuid.UUID(loaded.run_id),),
        ).fetchall()
    assert len(recorded) == 10
    assert {status for _, status in recorded} == {"pass"}


def test_results_are_appended_to_the_history_not_replaced(
    settings: Settings, lake: LocalLake
) -> None:
    loaded = load_week(settings, lake, WEEK)

    run_quality_gate(settings, run_id=loaded.run_id)
    run_quality_gate(settings, run_id=loaded.run_id)

    with psycopg.connect(url_of(settings)) as conn:
        row = conn.execute("select count(*) from audit.dq_results").fetchone()
    assert row == (20,)


def corrupt(settings: Settings, statement: str) -> None:
    """Change stored rows behind the loader's back (as a bad migration might)."""
    with psycopg.connect(url_of(settings)) as conn:
        conn.execute(statement.encode())


def test_a_row_breaking_ohlc_fails_the_gate_naming_check_symbol_and_count(
    settings: Settings, lake: LocalLake
) -> None:
    loaded = load_week(settings, lake, WEEK)
    corrupt(
        settings,
        "update raw.daily_prices set low = 11 where trade_date in"
        " ('2024-06-18', '2024-06-20')",
    )

    with pytest.raises(QualityGateFailed) as raised:
        run_quality_gate(settings, run_id=loaded.run_id)

    message = str(raised.value)
    assert message.startswith("quality gate failed: ohlc_consistency: 2 in 1 symbol")
    assert "(IBM)" in message
    assert "first: 2024-06-18" in message
    with psycopg.connect(url_of(settings)) as conn:
        recorded = conn.execute(
            "select symbol, status, observed_value from audit.dq_results"
            " where check_name = 'ohlc_consistency'"
        ).fetchall()
    assert recorded == [("IBM", "fail", Decimal(2))]


def test_a_negative_volume_fails_the_gate(settings: Settings, lake: LocalLake) -> None:
    loaded = load_week(settings, lake, WEEK)
    corrupt(
        settings,
        "update raw.daily_prices set volume = -5 where trade_date = '2024-06-21'",
    )

    with pytest.raises(QualityGateFailed, match=r"non_negative_volume: 1 in 1 symbol"):
        run_quality_gate(settings, run_id=loaded.run_id)


def test_ledger_counts_that_do_not_add_up_fail_the_gate(
    settings: Settings, lake: LocalLake
) -> None:
    loaded = load_week(settings, lake, WEEK)
    corrupt(settings, "update raw.load_ledger set rows_parsed = rows_parsed + 1")

    with pytest.raises(QualityGateFailed) as raised:
        run_quality_gate(settings, run_id=loaded.run_id)

    assert "row_count_reconciliation: 1 in 1 symbol(s) (IBM)" in str(raised.value)
    assert "parsed 5 accounted 4" in str(raised.value)


def test_a_ledger_that_forgot_quarantined_rows_fails_the_gate(
    settings: Settings, lake: LocalLake
) -> None:
    bad = {**WEEK, "2024-06-19": ("10.0000", "9.0000", "9.5000", "10.0000", "1")}
    loaded = load_week(settings, lake, bad)
    corrupt(settings, "delete from raw.quarantine")

    with pytest.raises(QualityGateFailed, match="quarantined 1 in quarantine 0"):
        run_quality_gate(settings, run_id=loaded.run_id)


def test_a_missing_session_only_warns_and_names_the_date(
    settings: Settings, lake: LocalLake
) -> None:
    # 2024-06-19 (Juneteenth) is a holiday; nothing is missing yet.
    loaded = load_week(settings, lake, WEEK)
    assert summary(
        run_quality_gate(settings, run_id=loaded.run_id), "missing_sessions"
    )[0] == ("pass")
    corrupt(settings, "delete from raw.daily_prices where trade_date = '2024-06-18'")

    result = run_quality_gate(settings, run_id=loaded.run_id)

    assert summary(result, "missing_sessions") == ("warn", 1.0, ("IBM",))
    (check,) = [c for c in result.checks if c.name == "missing_sessions"]
    assert check.details == "IBM: first missing: 2024-06-18"
    assert result.failed == 0


def test_an_extreme_move_warns_unless_a_split_explains_it(
    settings: Settings, lake: LocalLake
) -> None:
    halved = {**WEEK, "2024-06-21": ("5.0000", "5.2000", "4.8000", "5.0000", "200")}
    loaded = load_week(settings, lake, halved)

    result = run_quality_gate(settings, run_id=loaded.run_id)

    assert summary(result, "extreme_moves") == ("warn", 0.5, ("IBM",))
    put_answer(
        lake,
        "SPLITS",
        "IBM",
        b'{"symbol": "IBM", "data": [{"effective_date": "2024-06-21",'
        b' "split_factor": "2.0000"}]}',
        at(2),
    )
    load(settings)
    assert summary(run_quality_gate(settings, run_id=loaded.run_id), "extreme_moves")[
        0
    ] == ("pass")


def test_a_symbol_without_new_sessions_is_stale(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    put_emulated(lake, market, "TIME_SERIES_DAILY", "AAPL", at(1))
    put_emulated(lake, market, "TIME_SERIES_DAILY", "KO", at(2), today=date(2024, 6, 7))
    loaded = load(settings)

    result = run_quality_gate(
        settings, run_id=loaded.run_id, symbols=["AAPL", "KO", "XOM"]
    )

    status, observed, symbols = summary(result, "stale_symbols")
    # KO's last session is 2024-06-07: 9 sessions before AAPL's 2024-06-21
    # (June 10-14, 17, 18, 20, 21; the 19th is a holiday). XOM has none at all.
    assert (status, observed, symbols) == ("warn", 9.0, ("KO", "XOM"))


def test_a_history_gap_recorded_by_extract_warns(
    settings: Settings, lake: LocalLake
) -> None:
    loaded = load_week(settings, lake, WEEK)
    with psycopg.connect(url_of(settings)) as conn:
        conn.execute(
            "insert into audit.extract_outcomes"
            " (run_id, symbol, outcome, reason, has_history_gap)"
            " values (%s, 'IBM', 'fetched', 'compact only: full is premium', true)",
            (uuid.UUID(loaded.run_id),),
        )

    result = run_quality_gate(settings, run_id=loaded.run_id)

    assert summary(result, "history_gap") == ("warn", 1.0, ("IBM",))
    assert result.failed == 0


def test_quarantined_rows_and_refused_objects_warn(
    settings: Settings, lake: LocalLake
) -> None:
    bad = {**WEEK, "2024-06-19": ("10.0000", "9.0000", "9.5000", "10.0000", "1")}
    put_answer(lake, "SPLITS", "IBM", b'{"Information": "premium"}', at(5))
    loaded = load_week(settings, lake, bad)

    result = run_quality_gate(settings, run_id=loaded.run_id)

    assert summary(result, "quarantined_rows") == ("warn", 1.0, ("IBM",))
    assert summary(result, "refused_objects") == ("warn", 1.0, ("IBM",))
    assert result.failed == 0


def test_a_run_only_checks_its_own_rows(settings: Settings, lake: LocalLake) -> None:
    first = load_week(settings, lake, WEEK)
    run_quality_gate(settings, run_id=first.run_id)
    corrupt(
        settings, "update raw.daily_prices set low = 11 where trade_date = '2024-06-17'"
    )
    _second_session(lake)
    second = load(settings)

    # The later run loaded only 2024-06-24: the broken 2024-06-17 is outside it.
    assert run_quality_gate(settings, run_id=second.run_id).failed == 0
    with pytest.raises(QualityGateFailed):
        run_quality_gate(settings, run_id=first.run_id)
    with pytest.raises(QualityGateFailed):
        run_quality_gate(settings, symbols=["IBM"])


def _second_session(lake: LocalLake) -> None:
    put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body(
            "IBM",
            {"2024-06-24": ("10.0000", "10.5000", "9.5000", "10.0000", "100")},
            last_refreshed="2024-06-24",
        ),
        at(2 * 1440),
    )


def test_a_gate_also_checks_loads_no_gate_checked(
    settings: Settings, lake: LocalLake
) -> None:
    # A run killed between its load and its gate: its rows were never checked.
    load_week(settings, lake, WEEK)
    corrupt(
        settings, "update raw.daily_prices set low = 11 where trade_date = '2024-06-17'"
    )
    _second_session(lake)
    second = load(settings)

    with pytest.raises(QualityGateFailed, match="ohlc_consistency"):
        run_quality_gate(settings, run_id=second.run_id)
    # Checked once, pass or fail: the next run's gate does not take them again.
    third = load(settings)
    assert run_quality_gate(settings, run_id=third.run_id).failed == 0
