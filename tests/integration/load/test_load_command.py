"""``stocks-elt load``: tables, JSON, and the exit codes the pipeline relies on."""

from __future__ import annotations

import json

import psycopg
import pytest

from stocks_elt.cli import main
from stocks_elt.config import Settings
from stocks_elt.emulator.market import Market
from stocks_elt.lake.local import LocalLake
from tests.fixtures.lakes import at, put_emulated


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    assert settings.warehouse_url is not None
    monkeypatch.setenv("STOCKS_ELT_LAKE_URL", settings.resolved_lake_url)
    monkeypatch.setenv(
        "STOCKS_ELT_WAREHOUSE_URL", settings.warehouse_url.get_secret_value()
    )
    monkeypatch.setenv("STOCKS_ELT_DATA_DIR", str(settings.data_dir))
    return settings


def run(args: list[str]) -> int:
    """Run the command line as the script does; return its exit code."""
    try:
        main(args)
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def test_load_prints_the_counts_and_the_gate_and_exits_0(
    environment: Settings,
    lake: LocalLake,
    market: Market,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))

    code = run(["load", "--json"])

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["load"]["objects_loaded"] == 1
    assert printed["load"]["rows_inserted"] == 100
    assert printed["quality"]["failed"] == 0


def test_load_exits_1_and_names_the_check_when_a_blocking_check_fails(
    environment: Settings,
    lake: LocalLake,
    market: Market,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))
    assert environment.warehouse_url is not None
    with psycopg.connect(environment.warehouse_url.get_secret_value()) as conn:
        # A broken trigger stands in for a loader bug: it stores negative volumes.
        conn.execute(
            """
            create function raw.break_volume() returns trigger language plpgsql as
            $$ begin new.volume := -new.volume; return new; end $$;
            create trigger break_volume before insert on raw.daily_prices
            for each row execute function raw.break_volume();
            """
        )

    code = run(["load"])

    assert code == 1
    captured = capsys.readouterr()
    assert "objects loaded" in captured.out
    assert "quality gate failed: non_negative_volume: 100 in 1 symbol(s) (IBM)" in (
        captured.err
    )


def test_rebuild_with_object_keys_is_a_usage_error(environment: Settings) -> None:
    assert run(["load", "--rebuild", "--object", "raw/alpha_vantage/x"]) == 2
