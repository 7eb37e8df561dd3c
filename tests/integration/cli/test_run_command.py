"""
``stocks-elt run`` and ``stocks-elt demo`` through the real entry point, in
subprocesses with a clean environment: exit codes, messages and the JSON summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from stocks_elt.emulator import RunningEmulator
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EMULATOR_TODAY


def test_run_succeeds_and_its_json_summary_matches_the_warehouse(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    done = run_stocks_elt(
        ["run", "--symbols", "IBM,msft", "--as-of", str(EMULATOR_TODAY), "--json"],
        tmp_path,
        pipeline_env(emulator, warehouse),
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["outcome"] == "success"
    assert summary["symbols"] == ["IBM", "MSFT"]
    outcomes = {
        o["symbol"]: o["outcome"] for o in summary["stages"]["extract"]["outcomes"]
    }
    assert outcomes == {"IBM": "fetched", "MSFT": "fetched"}
    with psycopg.connect(warehouse) as conn:
        raw_rows = conn.execute("select count(*) from raw.daily_prices").fetchone()
        all_raw_rows = conn.execute(
            "select (select count(*) from raw.daily_prices)"
            " + (select count(*) from raw.splits)"
            " + (select count(*) from raw.dividends)"
            " + (select count(*) from raw.symbols)"
        ).fetchone()
        bars = conn.execute(
            "select symbol, count(*), max(trade_date) from marts.fct_daily_bars "
            "group by symbol order by symbol"
        ).fetchall()
        recorded = conn.execute(
            "select outcome from audit.pipeline_runs where run_id = %s",
            (summary["run_id"],),
        ).fetchone()
    assert raw_rows is not None
    assert all_raw_rows is not None
    # A first load inserts every row it keeps: prices, splits, dividends, symbols.
    assert summary["stages"]["load"]["rows_inserted"] == all_raw_rows[0]
    assert summary["stages"]["load"]["rows_quarantined"] == 0
    assert [(symbol, latest) for symbol, _, latest in bars] == [
        ("IBM", EMULATOR_TODAY),
        ("MSFT", EMULATOR_TODAY),
    ]
    assert sum(count for _, count, _ in bars) == raw_rows[0]
    assert summary["stages"]["transform"]["tests_failed"] == 0
    assert recorded == ("success",)


def test_a_blocking_quality_failure_stops_run_with_exit_code_1(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    # A row that no loader would let through (high below low), written by hand on
    # a Saturday inside the range the run loads, so the run's API answers never
    # touch it: the gate must catch it and stop the chain before the transform.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into raw.daily_prices (symbol, trade_date, open, high, low, close,"
            " volume, source_object) values ('IBM', '2024-06-15', 10, 9, 11, 10, 5,"
            " 'hand-written')"
        )

    done = run_stocks_elt(
        ["run", "--symbols", "IBM", "--as-of", str(EMULATOR_TODAY)],
        tmp_path,
        pipeline_env(emulator, warehouse),
    )

    assert done.returncode == 1, done.stderr
    assert "ohlc_consistency" in done.stderr
    assert "IBM" in done.stderr
    with psycopg.connect(warehouse) as conn:
        marts = conn.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts'"
        ).fetchone()
    assert marts == (0,)


def test_a_bad_symbol_exits_2_naming_it_and_the_rule(tmp_path: Path) -> None:
    done = run_stocks_elt(["run", "--symbols", "IBM,IBM;DROP TABLE x"], tmp_path, {})

    assert done.returncode == 2
    assert "'IBM;DROP TABLE x'" in done.stderr
    assert "a symbol is" in done.stderr


def test_a_bad_configuration_value_exits_2_naming_the_variable(tmp_path: Path) -> None:
    done = run_stocks_elt(
        ["run", "--symbols", "IBM"],
        tmp_path,
        {"STOCKS_ELT_EXTRACT_CONCURRENCY": "lots"},
    )

    assert done.returncode == 2
    assert "STOCKS_ELT_EXTRACT_CONCURRENCY='lots'" in done.stderr
    assert "for example STOCKS_ELT_EXTRACT_CONCURRENCY=4" in done.stderr


def test_an_unreachable_warehouse_is_named_without_its_password(
    tmp_path: Path,
) -> None:
    done = run_stocks_elt(
        ["run", "--symbols", "IBM"],
        tmp_path,
        {"STOCKS_ELT_WAREHOUSE_URL": "postgresql://alice:hunter2@127.0.0.1:1/stocks"},
    )

    assert done.returncode == 1
    assert "postgresql://alice:***@127.0.0.1:1/stocks" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_demo_on_a_clean_data_directory_completes_and_writes_the_report(
    tmp_path: Path,
) -> None:
    done = run_stocks_elt(
        ["demo", "--symbols", "IBM,KO", "--json"], tmp_path, {}, timeout=600
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["outcome"] == "success"
    report = tmp_path / "data" / "demo" / "report.html"
    page = report.read_text(encoding="utf-8")
    assert "IBM" in page
    assert "KO" in page
    assert "<script src=" not in page  # self-contained: nothing to fetch
    assert str(report.resolve()) in done.stderr
    # The demo says how to look at its data, and those commands reach it: the
    # emulator followed the close, so every symbol is 0 sessions behind the last
    # completed session, whatever the time of day the test runs at.
    assert "stocks-elt status --demo" in done.stderr
    assert "stocks-elt report --demo" in done.stderr
    status = run_stocks_elt(["status", "--demo", "--json"], tmp_path, {})
    assert status.returncode == 0, status.stderr
    answer = json.loads(status.stdout)
    demo_symbols = {
        s["symbol"]: s for s in answer["symbols"] if s["symbol"] in ("IBM", "KO")
    }
    assert set(demo_symbols) == {"IBM", "KO"}
    for symbol in demo_symbols.values():
        assert symbol["last_session"] == answer["last_completed_session"], symbol
        assert symbol["sessions_behind"] == 0, symbol
    plain = run_stocks_elt(["status", "--json"], tmp_path, {})
    assert json.loads(plain.stdout)["nothing_loaded"] is True  # not the demo's
    history = run_stocks_elt(["history", "--demo", "--json"], tmp_path, {})
    assert [(r["run_id"], r["outcome"]) for r in json.loads(history.stdout)] == [
        (summary["run_id"], "success")
    ]
    charted = tmp_path / "demo-report.html"
    report_done = run_stocks_elt(
        ["report", "--demo", "--symbols", "KO", "--out", str(charted)], tmp_path, {}
    )
    assert report_done.returncode == 0, report_done.stderr
    assert "KO" in charted.read_text(encoding="utf-8")
