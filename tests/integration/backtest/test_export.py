"""
``stocks-elt export``: Parquet files that DuckDB and pandas read back row for row,
rewritten only where rows changed, never half-written, with one clear message and
exit code for bad input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import psycopg
import pytest

from stocks_elt.backtest import export as export_module
from stocks_elt.backtest.export import DATE_COLUMNS, TABLES, export_marts
from stocks_elt.config import Settings
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.errors import ExportError
from stocks_elt.market.calendar import all_sessions as nyse_sessions
from stocks_elt.market.calendar import session_index_on_or_after
from stocks_elt.transform.dbt import run_dbt, run_dbt_build
from tests.integration.transform.conftest import fetch_rows, load_market

pytestmark = pytest.mark.integration

#: A split and dividends (IBM), a delisting (TWTR), a dot (BRK.B) and a symbol
#: of digits only, which a reader inferring types from folder names would turn
#: into a number.
SYMBOLS = ("IBM", "TWTR", "BRK.B", "7203")
TODAY = date(2024, 3, 28)
TOMORROW = nyse_sessions()[session_index_on_or_after(TODAY) + 1]


@pytest.fixture
def settings(warehouse: str, tmp_path: Path) -> Settings:
    return Settings(warehouse_url=warehouse, data_dir=tmp_path / "data")


#: Listing names a CSV round trip could break: a comma, quotes, a line break,
#: an empty string (not null) and a null.
NAMES = {
    "IBM": 'International Business Machines, "Big Blue"\nCorp',
    "TWTR": "",
    "BRK.B": None,
}


@pytest.fixture
def built(settings: Settings, warehouse: str) -> Settings:
    """A warehouse whose marts hold :data:`SYMBOLS` up to :data:`TODAY`."""
    load_market(warehouse, universe_for_symbols(SYMBOLS), TODAY)
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into raw.symbols (symbol, name, source_object)"
            " values (%s, %s, 'test')",
            list(NAMES.items()),
        )
    run_dbt_build(settings)
    return settings


def _key(table: str) -> str:
    date_column = DATE_COLUMNS.get(table)
    return f"symbol, {date_column}" if date_column else "symbol"


def _same(warehouse_value: Any, parquet_value: Any) -> bool:
    if isinstance(warehouse_value, Decimal) and isinstance(parquet_value, float):
        return float(warehouse_value) == parquet_value  # numeric without a scale
    return bool(warehouse_value == parquet_value)


def _assert_duckdb_reads_every_table_back(warehouse: str, out: Path) -> None:
    manifest = json.loads((out / "_manifest.json").read_text())
    for table in TABLES:
        expected = fetch_rows(
            warehouse, f"select * from marts.{table} order by {_key(table)}"
        )
        glob = str(out / manifest["tables"][table]["glob"])
        got = duckdb.sql(
            f"select * from read_parquet('{glob}') order by {_key(table)}"
        ).fetchall()
        assert len(got) == len(expected) == manifest["tables"][table]["rows"], table
        for parquet_row, warehouse_row in zip(got, expected, strict=True):
            assert len(parquet_row) == len(warehouse_row), table
            assert all(
                _same(w, p) for w, p in zip(warehouse_row, parquet_row, strict=True)
            ), f"{table}: {parquet_row} != {warehouse_row}"


@pytest.mark.parametrize("partition_by", ["symbol", "year"])
def test_duckdb_reads_every_mart_back_row_for_row(
    built: Settings, warehouse: str, tmp_path: Path, partition_by: str
) -> None:
    out = tmp_path / "export"
    result = export_marts(
        built, out, partition_by="year" if partition_by == "year" else "symbol"
    )

    assert result.changed
    _assert_duckdb_reads_every_table_back(warehouse, out)
    names = duckdb.sql(
        f"select symbol, name from read_parquet('{out}/dim_symbols/*.parquet')"
    ).fetchall()
    assert dict(names) == {**NAMES, "7203": None}
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["data_through"] == TODAY.isoformat()
    assert manifest["tables"]["fct_daily_bars"]["data_through"] == TODAY.isoformat()
    files = sorted(path.name for path in (out / "fct_daily_bars").iterdir())
    if partition_by == "symbol":
        assert files == sorted(f"{symbol}.parquet" for symbol in SYMBOLS)
    else:
        assert files == [f"{year}.parquet" for year in range(1999, 2025)]
    columns = {
        column["name"]: column["parquet_type"]
        for column in manifest["tables"]["fct_daily_bars"]["columns"]
    }
    assert columns["symbol"] == "string"
    assert columns["trade_date"] == "date32[day]"
    assert columns["volume"] == "int64"
    assert columns["source_changed_at"] == "timestamp[us, tz=UTC]"


def test_pandas_and_polars_read_the_export_as_it_is(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export_marts(built, out)

    labels = pl.scan_parquet(out / "fct_forward_returns" / "*.parquet")
    per_symbol = dict(
        labels.group_by("symbol")
        .agg(pl.col("label_forward_return_21").is_not_null().sum())
        .collect()
        .iter_rows()
    )
    assert per_symbol == dict(
        fetch_rows(
            warehouse,
            "select symbol, count(label_forward_return_21)::int"
            " from marts.fct_forward_returns group by symbol",
        )
    )
    assert labels.collect_schema()["label_end_date_21"] == pl.Date

    bars = pd.read_parquet(out / "fct_daily_bars")
    membership = pd.read_parquet(out / "fct_universe_membership")

    assert sorted(bars["symbol"].unique()) == sorted(SYMBOLS)  # "7203" stays text
    assert bars["trade_date"].max() == TODAY
    twtr = membership[membership["symbol"] == "TWTR"]
    assert twtr["trade_date"].max() == date(2022, 10, 27)


def _inodes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): path.stat().st_ino
        for path in folder.rglob("*.parquet")
    }


def test_a_new_session_rewrites_only_the_files_whose_rows_changed(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export_marts(built, out)
    before = _inodes(out)

    load_market(warehouse, universe_for_symbols(["IBM"]), TOMORROW)  # IBM only
    run_dbt_build(built)
    result = export_marts(built, out)

    after = _inodes(out)
    rewritten = sorted(name for name in after if after[name] != before[name])
    assert rewritten == sorted(
        [
            "dim_symbols/data.parquet",  # IBM's last trade date and count
            "fct_daily_bars/IBM.parquet",
            "fct_daily_indicators/IBM.parquet",
            "fct_forward_returns/IBM.parquet",
            "fct_monthly_bars/IBM.parquet",
            # no listing data here: the others count as listed through their
            # last bar, so only IBM's membership grows
            "fct_universe_membership/IBM.parquet",
            "fct_weekly_bars/IBM.parquet",
        ]
    )
    assert result.files_written == len(rewritten)
    assert result.files_kept == len(after) - len(rewritten)
    _assert_duckdb_reads_every_table_back(warehouse, out)

    unchanged = export_marts(built, out)  # nothing new: the folder is left alone
    assert not unchanged.changed
    assert _inodes(out) == after


def test_a_failure_while_writing_leaves_the_previous_export_whole(
    built: Settings, warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "export"
    export_marts(built, out)
    manifest_before = (out / "_manifest.json").read_text()
    before = _inodes(out)
    load_market(warehouse, universe_for_symbols(["IBM"]), TOMORROW)
    run_dbt_build(built)

    written: list[str] = []
    original = export_module._write_partition

    def fail_on_the_third(*args: Any) -> int:
        written.append(args[2].name)
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        return original(*args)

    monkeypatch.setattr(export_module, "_write_partition", fail_on_the_third)
    with pytest.raises(OSError, match="No space left"):
        export_marts(built, out, full=True)

    assert (out / "_manifest.json").read_text() == manifest_before
    assert _inodes(out) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".export.lock",
        "data",
        "export",
    ]


def test_a_crash_between_the_two_renames_is_repaired_by_the_next_export(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export_marts(built, out)
    aside = tmp_path / ".export.previous-deadbeef"
    out.rename(aside)  # the state a crash after the first rename leaves
    (tmp_path / ".export.tmp-half").mkdir()  # and a half-built new export

    result = export_marts(built, out)

    assert not result.changed  # the previous export is back and up to date
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".export.lock",
        "data",
        "export",
    ]
    _assert_duckdb_reads_every_table_back(warehouse, out)


def _stocks_elt(
    args: list[str], tmp_path: Path, warehouse: str
) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STOCKS_ELT_", "ALPHA_", "AWS_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "stocks_elt.cli", *args],
        cwd=tmp_path,
        env={
            **clean,
            "STOCKS_ELT_DATA_DIR": str(tmp_path / "data"),
            "STOCKS_ELT_WAREHOUSE_URL": warehouse,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_writes_an_export_and_reports_it(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    first = _stocks_elt(["export", "--out", "out", "--json"], tmp_path, warehouse)
    second = _stocks_elt(["export", "--out", "out"], tmp_path, warehouse)

    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["changed"] is True
    assert summary["files_written"] == 1 + 6 * len(SYMBOLS)
    assert summary["data_through"] == TODAY.isoformat()
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        f"export: {tmp_path / 'out'} is up to date (data through {TODAY})"
    )


def test_a_warehouse_without_marts_or_rows_has_nothing_to_export(
    settings: Settings, warehouse: str, tmp_path: Path
) -> None:
    no_marts = _stocks_elt(["export", "--out", "out"], tmp_path, warehouse)
    run_dbt_build(settings)  # the marts exist, empty
    no_rows = _stocks_elt(["export", "--out", "out"], tmp_path, warehouse)

    for finished, reason in ((no_marts, "no marts yet"), (no_rows, "has no rows")):
        assert finished.returncode == 1
        assert finished.stdout == ""
        assert len(finished.stderr.strip().splitlines()) == 1
        assert reason in finished.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_that_cannot_hold_an_export_is_bad_input(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    cases = {
        "a-file": "exists and is not a folder",
        "a-file/export": "cannot create",
        "notes": "holds files but no _manifest.json",
        "/proc/stocks-elt-export": "cannot write in /proc",
    }
    for out, message in cases.items():
        finished = _stocks_elt(["export", "--out", out], tmp_path, warehouse)
        assert finished.returncode == 2, (out, finished.stderr)
        assert message in finished.stderr, (out, finished.stderr)
        assert len(finished.stderr.strip().splitlines()) == 1, finished.stderr
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"

    unknown = _stocks_elt(["export", "--tables", "fct_nope"], tmp_path, warehouse)
    assert unknown.returncode == 2
    assert "unknown mart(s) fct_nope" in unknown.stderr


def test_a_symbol_that_cannot_name_a_file_stops_the_export(
    built: Settings, warehouse: str, tmp_path: Path
) -> None:
    with psycopg.connect(warehouse) as conn:  # only a hand-written row could
        conn.execute(
            "insert into raw.daily_prices"
            " (symbol, trade_date, open, high, low, close, volume, source_object)"
            " values ('../ESC', %s, 1, 1, 1, 1, 1, 'test')",
            (TODAY,),
        )
    assert run_dbt(built, ["run", "--select", "fct_daily_bars"]).success

    with pytest.raises(ExportError, match="cannot name a file"):
        export_marts(built, tmp_path / "export", tables=["fct_daily_bars"])
    assert sorted(path.name for path in tmp_path.iterdir()) == [".export.lock", "data"]


def test_unknown_tables_are_refused_before_the_warehouse_is_asked(
    tmp_path: Path,
) -> None:
    settings = Settings(
        warehouse_url="postgresql://nobody@127.0.0.1:1/none", data_dir=tmp_path
    )
    with pytest.raises(ExportError, match="unknown table"):
        export_marts(settings, tmp_path / "out", tables=["fct_nope"])
