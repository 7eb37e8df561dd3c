"""collect_status and ``stocks-elt status`` against a real Postgres warehouse.

The clock is fixed at Friday 5 July 2024, 10:00 New York: the last completed XNYS
session is Wednesday 3 July (4 July is a holiday).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from stocks_elt.alpha_vantage.limits import key_hash
from stocks_elt.config import Settings, load_settings
from stocks_elt.status import collect_status
from tests.fixtures.cli import run_stocks_elt

NY = ZoneInfo("America/New_York")
AS_OF = datetime(2024, 7, 5, 10, 0, tzinfo=NY)
KEY = "STATUS-TEST-KEY"
OTHER_KEY = "SOMEONE-ELSES-KEY"
LATEST_RUN = "00000000-0000-4000-8000-000000000002"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def status_warehouse(warehouse: str) -> str:
    """IBM loaded to 3 July, MSFT to 28 June, TSLA failed, AAPL configured only."""
    with psycopg.connect(warehouse) as conn, conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into raw.daily_prices (
                symbol, trade_date, open, high, low, close, volume, source_object
            )
            values (%s, %s, 10, 11, 9, 10.5, 1000, 'raw/x.json')
            """,
            [
                ("IBM", date(2024, 7, 1)),
                ("IBM", date(2024, 7, 2)),
                ("IBM", date(2024, 7, 3)),
                ("MSFT", date(2024, 6, 27)),
                ("MSFT", date(2024, 6, 28)),
            ],
        )
        morning = datetime(2024, 7, 4, 22, 0, tzinfo=UTC)
        cursor.executemany(
            """
            insert into audit.extract_outcomes
                (symbol, outcome, reason, has_history_gap, recorded_at)
            values (%s, %s, %s, %s, %s)
            """,
            [
                ("MSFT", "fetched", None, False, morning - timedelta(days=1)),
                ("MSFT", "deferred", "daily quota spent", False, morning),
                ("IBM", "fetched", "compact only", True, morning),
                ("TSLA", "failed", "ApiError: Invalid API call", False, morning),
            ],
        )
        earlier = datetime(2024, 7, 3, 22, 0, tzinfo=UTC)
        cursor.executemany(
            """
            insert into audit.dq_results
                (run_id, check_name, severity, symbol, status, details, checked_at)
            values (%s, %s, %s, %s, %s, %s, %s)
            """,
            [
                # An old warning for IBM that the latest run no longer raises.
                (None, "volume_spike", "warning", "IBM", "warn", None, earlier),
                (LATEST_RUN, "volume_spike", "warning", "IBM", "pass", None, morning),
                (
                    LATEST_RUN,
                    "stale_prices",
                    "warning",
                    "MSFT",
                    "warn",
                    "4 behind",
                    morning,
                ),
                (LATEST_RUN, "row_count", "warning", None, "warn", "few rows", morning),
                (LATEST_RUN, "stale_prices", "warning", "NVDA", "warn", None, morning),
            ],
        )
        # API days are New York dates: 4 July 23:30 New York is 5 July in UTC.
        calls = [
            (key_hash(KEY), date(2024, 7, 5), "TIME_SERIES_DAILY", "data"),
            (key_hash(KEY), date(2024, 7, 5), "TIME_SERIES_DAILY", "data"),
            (key_hash(KEY), date(2024, 7, 5), "SPLITS", "daily_cap"),
            (key_hash(OTHER_KEY), date(2024, 7, 5), "TIME_SERIES_DAILY", "data"),
            *[(key_hash(KEY), date(2024, 7, 4), "TIME_SERIES_DAILY", "data")] * 5,
        ]
        cursor.executemany(
            """
            insert into audit.api_calls (key_hash, api_day, function, outcome)
            values (%s, %s, %s, %s)
            """,
            calls,
        )
    return warehouse


def _settings(url: str, tmp_path: Path) -> Settings:
    return load_settings(
        warehouse_url=url,
        data_dir=tmp_path,
        tickers="AAPL,IBM",
        alpha_vantage_api_key=KEY,
        alpha_vantage_daily_quota=25,
    )


def test_status_reports_freshness_extracts_findings_and_quota(
    status_warehouse: str, tmp_path: Path
) -> None:
    report = collect_status(_settings(status_warehouse, tmp_path), as_of=AS_OF)

    assert report.last_completed_session == date(2024, 7, 3)
    by_symbol = {s.symbol: s for s in report.symbols}
    # Configured tickers first, then the other known symbols, sorted.
    assert list(by_symbol) == ["AAPL", "IBM", "MSFT", "TSLA"]
    assert (by_symbol["AAPL"].last_session, by_symbol["AAPL"].freshness) == (
        None,
        "never loaded",
    )
    assert by_symbol["IBM"].sessions_behind == 0
    # 1, 2 and 3 July.
    assert by_symbol["MSFT"].sessions_behind == 3
    assert by_symbol["MSFT"].extract is not None
    assert by_symbol["MSFT"].extract.outcome == "deferred"
    assert by_symbol["IBM"].extract is not None
    assert not by_symbol["IBM"].extract.is_healthy  # a history gap
    assert [f.check_name for f in by_symbol["MSFT"].findings] == ["stale_prices"]
    assert by_symbol["IBM"].findings == ()  # the old warning is not open
    assert [(f.check_name, f.symbol) for f in report.other_findings] == [
        ("row_count", None),
        ("stale_prices", "NVDA"),
    ]
    assert report.quota.api_day == date(2024, 7, 5)
    assert report.quota.calls_used == 3  # this key only, this day only
    assert report.quota.remaining == 22
    assert report.quota.is_capped


def test_api_day_is_the_new_york_date(status_warehouse: str, tmp_path: Path) -> None:
    late_evening = datetime(2024, 7, 5, 1, 30, tzinfo=UTC)  # 4 July, 21:30 New York

    report = collect_status(
        _settings(status_warehouse, tmp_path), ["IBM"], as_of=late_evening
    )

    assert report.quota.api_day == date(2024, 7, 4)
    assert report.quota.calls_used == 5


def test_listed_symbols_only_when_asked(status_warehouse: str, tmp_path: Path) -> None:
    report = collect_status(
        _settings(status_warehouse, tmp_path), ["msft", "NVDA"], as_of=AS_OF
    )

    assert [s.symbol for s in report.symbols] == ["MSFT", "NVDA"]
    assert report.symbols[1].freshness == "never loaded"
    assert [f.check_name for f in report.symbols[1].findings] == ["stale_prices"]


def test_empty_warehouse_reports_nothing_loaded(warehouse: str, tmp_path: Path) -> None:
    report = collect_status(_settings(warehouse, tmp_path), as_of=AS_OF)

    assert [(s.symbol, s.freshness) for s in report.symbols] == [
        ("AAPL", "never loaded"),
        ("IBM", "never loaded"),
    ]
    assert report.quality_run is None
    assert report.quota.calls_used == 0


def _cli(args: list[str], url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv is not None
    env = {
        **os.environ,
        "STOCKS_ELT_WAREHOUSE_URL": url,
        "STOCKS_ELT_DATA_DIR": str(tmp_path),
        "STOCKS_ELT_TICKERS": "AAPL,IBM",
        "ALPHA_VANTAGE_API_KEY": KEY,
        "STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA": "25",
        "COLUMNS": "160",
    }
    return subprocess.run(
        [uv, "run", "--no-sync", "--project", str(ROOT), "stocks-elt", *args],
        cwd=tmp_path,  # no .env of the developer's
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_command_prints_json_for_scripts(
    status_warehouse: str, tmp_path: Path
) -> None:
    done = _cli(
        ["status", "--json", "--as-of", "2024-07-05T10:00"], status_warehouse, tmp_path
    )

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["last_completed_session"] == "2024-07-03"
    assert answer["as_of"] == "2024-07-05T10:00:00-04:00"
    msft = next(s for s in answer["symbols"] if s["symbol"] == "MSFT")
    assert msft["sessions_behind"] == 3
    assert msft["last_extract"]["outcome"] == "deferred"
    assert msft["open_findings"][0]["check_name"] == "stale_prices"
    assert answer["api_quota"]["calls"] == 3
    assert answer["api_quota"]["remaining"] == 22
    assert answer["quality_run"]["run_id"] == LATEST_RUN
    assert KEY not in done.stdout + done.stderr


def test_status_command_prints_a_table_and_exits_zero_when_stale(
    status_warehouse: str, tmp_path: Path
) -> None:
    done = _cli(["status", "--as-of", "2024-07-05T10:00"], status_warehouse, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "last completed XNYS session: 2024-07-03" in done.stdout
    assert "never loaded" in done.stdout
    assert "deferred" in done.stdout
    assert "with the configured key: 3 of 25 (22 left)" in done.stdout
    assert KEY not in done.stdout + done.stderr


def test_status_command_refuses_a_bad_symbol_with_exit_code_2(
    warehouse: str, tmp_path: Path
) -> None:
    done = _cli(["status", "--symbols", "IBM,$$$"], warehouse, tmp_path)

    assert done.returncode == 2
    assert "'$$$'" in done.stderr


def test_status_command_refuses_a_bad_instant_with_exit_code_2(
    warehouse: str, tmp_path: Path
) -> None:
    done = _cli(["status", "--as-of", "yesterday"], warehouse, tmp_path)

    assert done.returncode == 2
    assert "'yesterday' is not an ISO date-time" in done.stderr


# -- any state: new data directory, empty warehouse, unreachable, stale ----------


def test_status_on_a_new_data_directory_says_nothing_loaded_and_creates_nothing(
    tmp_path: Path,
) -> None:
    done = run_stocks_elt(["status"], tmp_path, {})

    assert done.returncode == 0, done.stderr
    assert "nothing loaded yet" in done.stdout
    assert "stocks-elt demo" in done.stdout
    assert "stocks-elt run --symbols IBM" in done.stdout
    assert "Traceback" not in done.stderr
    # No embedded Postgres was started (or written to disk) to say so.
    assert not (tmp_path / "data" / "postgres").exists()

    as_json = run_stocks_elt(["status", "--json"], tmp_path, {})
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["nothing_loaded"] is True
    assert "stocks-elt demo" in answer["hint"]
    assert [s["freshness"] for s in answer["symbols"]] == ["never loaded"]


def test_status_on_an_empty_warehouse_says_nothing_loaded_and_where(
    warehouse: str, tmp_path: Path
) -> None:
    done = run_stocks_elt(["status"], tmp_path, {"STOCKS_ELT_WAREHOUSE_URL": warehouse})

    assert done.returncode == 0, done.stderr
    assert f"nothing loaded yet into {warehouse}" in " ".join(done.stdout.split())


def test_status_on_an_unreachable_warehouse_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://alice:s3cret-pw@127.0.0.1:1/stocks"
    done = run_stocks_elt(["status"], tmp_path, {"STOCKS_ELT_WAREHOUSE_URL": url})

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "postgresql://alice:***@127.0.0.1:1/stocks" in lines[0]
    assert "Connection refused" in lines[0]
    assert "s3cret-pw" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--symbols", "IBM", "--fail-if-stale", "0"], 0, []),
        (["--symbols", "IBM,MSFT", "--fail-if-stale", "3"], 0, []),
        (["--symbols", "IBM,MSFT", "--fail-if-stale", "2"], 1, ["MSFT 3 behind"]),
        (["--fail-if-stale", "5"], 1, ["AAPL never loaded"]),
    ],
)
def test_fail_if_stale_exits_1_naming_each_symbol_behind(
    status_warehouse: str,
    tmp_path: Path,
    args: list[str],
    code: int,
    named: list[str],
) -> None:
    done = _cli(
        ["status", "--as-of", "2024-07-05T10:00", *args], status_warehouse, tmp_path
    )

    assert done.returncode == code, done.stderr
    for words in named:
        assert words in done.stderr
    if code == 0:
        assert "stale:" not in done.stderr
