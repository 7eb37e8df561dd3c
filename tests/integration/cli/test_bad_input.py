"""
Every bad setting and bad argument is refused at the edge: one line naming what
is wrong (the variable the user set, or the option), exit code 2, no traceback,
nothing written and no API call spent.

The commands run in-process through the entry point (``stocks_elt.cli.main``),
with a clean environment and the emulator as the API, so a call that slipped
through would show up in its call log.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stocks_elt.cli import main
from stocks_elt.emulator import RunningEmulator
from tests.fixtures.emulator import PREMIUM_KEY

KEY = (
    "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date=2024-06-21/"
    "20240621T220000000000Z-0123456789ab.json"
)

#: (what is bad, extra environment, arguments, words the message must contain)
CASES: list[tuple[str, dict[str, str], list[str], list[str]]] = [
    (
        "empty key",
        {"ALPHA_VANTAGE_API_KEY": ""},
        ["run"],
        ["ALPHA_VANTAGE_API_KEY=", "empty"],
    ),
    (
        "blank PoC key",
        {"ALPHA_VANTAGE_API_KEY": "<unset>", "ALPHA_ADVANTAGE_API_KEY": "  "},
        ["run"],
        ["ALPHA_ADVANTAGE_API_KEY="],
    ),
    (
        "infinite pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "inf"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND=", "finite", "0.01 to 100"],
    ),
    (
        "overflowing pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "1e309"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND=", "finite"],
    ),
    (
        "vanishing pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "1e-300"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND=", "0.01"],
    ),
    (
        "NaN pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "nan"},
        ["extract"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND="],
    ),
    (
        "negative pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "-1"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND="],
    ),
    (
        "wordy pace",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND": "fast"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND="],
    ),
    (
        "overflowing timeout",
        {"STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS": "1e309"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS=", "finite"],
    ),
    (
        "zero timeout",
        {"STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS": "0"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS=", "0.1 to 600"],
    ),
    (
        "day-long timeout",
        {"STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS": "86400"},
        ["extract"],
        ["STOCKS_ELT_ALPHA_VANTAGE_TIMEOUT_SECONDS="],
    ),
    (
        "negative per-minute limit",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE": "-1"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE="],
    ),
    (
        "fractional per-minute limit",
        {"STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE": "1.5"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_MINUTE="],
    ),
    (
        "negative quota",
        {"STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA": "-3"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA="],
    ),
    (
        "absurd quota",
        {"STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA": "99999999999"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_DAILY_QUOTA="],
    ),
    (
        "too many retries",
        {"STOCKS_ELT_ALPHA_VANTAGE_MAX_RETRIES": "21"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_MAX_RETRIES=", "0 to 20"],
    ),
    (
        "no workers",
        {"STOCKS_ELT_EXTRACT_CONCURRENCY": "0"},
        ["extract"],
        ["STOCKS_ELT_EXTRACT_CONCURRENCY="],
    ),
    (
        "a thousand workers",
        {"STOCKS_ELT_EXTRACT_CONCURRENCY": "1000"},
        ["run"],
        ["STOCKS_ELT_EXTRACT_CONCURRENCY="],
    ),
    (
        "empty batches",
        {"STOCKS_ELT_BATCH_SIZE": "0"},
        ["run"],
        ["STOCKS_ELT_BATCH_SIZE="],
    ),
    (
        "not a boolean",
        {"STOCKS_ELT_ALPHA_VANTAGE_IS_PREMIUM": "maybe"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_IS_PREMIUM="],
    ),
    (
        "ftp base URL",
        {"STOCKS_ELT_ALPHA_VANTAGE_BASE_URL": "ftp://example.com"},
        ["run"],
        ["STOCKS_ELT_ALPHA_VANTAGE_BASE_URL=", "http"],
    ),
    (
        "base URL without scheme",
        {"STOCKS_ELT_ALPHA_VANTAGE_BASE_URL": "www.alphavantage.co"},
        ["extract"],
        ["STOCKS_ELT_ALPHA_VANTAGE_BASE_URL="],
    ),
    (
        "bad ticker",
        {"STOCKS_ELT_TICKERS": "IBM,B@D"},
        ["run"],
        ["STOCKS_ELT_TICKERS=", "B@D"],
    ),
    (
        "no ticker",
        {"STOCKS_ELT_TICKERS": " , "},
        ["run"],
        ["STOCKS_ELT_TICKERS=", "no ticker"],
    ),
    (
        "http lake",
        {"STOCKS_ELT_LAKE_URL": "http://bucket/raw"},
        ["run"],
        ["STOCKS_ELT_LAKE_URL=", "s3://"],
    ),
    (
        "bucketless lake",
        {"STOCKS_ELT_LAKE_URL": "s3://"},
        ["load"],
        ["STOCKS_ELT_LAKE_URL="],
    ),
    (
        "not a Postgres URL",
        {"STOCKS_ELT_WAREHOUSE_URL": "mysql://u:secretpw@h/db"},
        ["run"],
        ["STOCKS_ELT_WAREHOUSE_URL=", "postgresql://"],
    ),
    (
        "S3 endpoint without scheme",
        {"STOCKS_ELT_S3_ENDPOINT_URL": "localhost:9000"},
        ["run"],
        ["STOCKS_ELT_S3_ENDPOINT_URL="],
    ),
    (
        "bad Airflow login",
        {"STOCKS_ELT_AIRFLOW_USER": "bad user!"},
        ["airflow"],
        ["STOCKS_ELT_AIRFLOW_USER="],
    ),
    (
        "data dir that cannot exist",
        {"STOCKS_ELT_DATA_DIR": "/proc/stocks-elt"},
        ["run"],
        ["STOCKS_ELT_DATA_DIR", "/proc/stocks-elt", "cannot be created"],
    ),
    (
        "data dir that is a file",
        {"STOCKS_ELT_DATA_DIR": "{tmp}/a-file"},
        ["extract"],
        ["STOCKS_ELT_DATA_DIR", "a-file"],
    ),
    (
        "lake folder that cannot exist",
        {"STOCKS_ELT_LAKE_URL": "file:///proc/stocks-lake"},
        ["run"],
        ["STOCKS_ELT_LAKE_URL", "/proc/stocks-lake"],
    ),
    (
        "Celery with a lake folder",
        {},
        ["airflow", "--executor", "celery"],
        ["--executor celery", "STOCKS_ELT_LAKE_URL=s3://"],
    ),
    (
        "Celery with the embedded warehouse",
        {"STOCKS_ELT_LAKE_URL": "s3://lake/raw", "STOCKS_ELT_WAREHOUSE_URL": "<unset>"},
        ["airflow", "--executor", "celery"],
        ["embedded Postgres", "STOCKS_ELT_WAREHOUSE_URL=postgresql://"],
    ),
    (
        "Celery with a SQLite metadata database",
        {"STOCKS_ELT_LAKE_URL": "s3://lake/raw"},
        ["airflow", "--executor", "celery"],
        ["sqlite", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql"],
    ),
    (
        "Celery broker that does not answer",
        {
            "STOCKS_ELT_LAKE_URL": "s3://lake/raw",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://u@h/airflow",
            "STOCKS_ELT_AIRFLOW_BROKER_URL": "redis://127.0.0.1:1/0",
        },
        ["airflow", "--executor", "celery"],
        ["broker at redis://127.0.0.1:1/0 does not answer"],
    ),
    (
        "broker that is not a broker URL",
        {"STOCKS_ELT_AIRFLOW_BROKER_URL": "http://127.0.0.1:6379"},
        ["airflow", "--executor", "celery"],
        ["STOCKS_ELT_AIRFLOW_BROKER_URL=", "redis://"],
    ),
    (
        "no Celery workers",
        {},
        ["airflow", "--executor", "celery", "--workers", "0"],
        ["--workers"],
    ),
    ("bad --symbols", {}, ["run", "--symbols", "IB M"], ["'IB M'", "not allowed"]),
    ("empty --symbols", {}, ["run", "--symbols", ""], ["--symbols", "no symbol"]),
    ("bad extract --symbols", {}, ["extract", "--symbols", "IBM,$$$"], ["'$$$'"]),
    ("impossible --as-of", {}, ["run", "--as-of", "2024-13-01"], ["--as-of"]),
    (
        "a path for --object",
        {},
        ["load", "--object", "../../etc/passwd"],
        ["--object", "not a lake object key"],
    ),
    (
        "--rebuild with --object",
        {},
        ["load", "--rebuild", "--object", KEY],
        ["--rebuild"],
    ),
    ("unknown option", {}, ["run", "--symbol", "IBM"], ["--symbol"]),
    ("unknown command", {}, ["fetch"], ["fetch"]),
    ("sessions out of range", {}, ["report", "--sessions", "0"], ["--sessions"]),
    ("--select without a value", {}, ["transform", "--select"], ["--select"]),
]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer settings, no .env; the data dir under the test's folder."""
    for name in list(os.environ):
        if name.startswith(("STOCKS_ELT_", "ALPHA_", "AWS_", "AIRFLOW__DATABASE")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_table_holds_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("env", "args", "words"),
    [pytest.param(env, args, words, id=name) for name, env, args, words in CASES],
)
def test_bad_input_is_one_line_exit_2_and_nothing_done(
    env: dict[str, str],
    args: list[str],
    words: list[str],
    clean_environment: Path,
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tmp = clean_environment
    (tmp / "a-file").write_text("not a folder")
    data_dir = tmp / "data"
    monkeypatch.setenv("STOCKS_ELT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", PREMIUM_KEY)
    monkeypatch.setenv("STOCKS_ELT_ALPHA_VANTAGE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("STOCKS_ELT_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:1/x")
    for name, value in env.items():
        if value == "<unset>":
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value.replace("{tmp}", str(tmp)))

    with pytest.raises(SystemExit) as exited:
        main(args)

    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert exited.value.code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert "secretpw" not in captured.err
    assert not data_dir.exists()  # nothing written
    assert emulator.calls() == []  # no API call spent
