"""
A universe chosen from the listing: the listing is fetched when the lake has none,
the spec selects from it, explicit tickers win, and the run records its universe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import RunningEmulator, default_universe
from stocks_elt.pipeline import choose_universe, run_pipeline
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY


def _settings(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path, **overrides: Any
) -> Settings:
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=emulator.base_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_daily_quota=0,
        data_dir=tmp_path / "data",
        warehouse_url=warehouse,
        **overrides,
    )


def _listed(exchange: str) -> list[str]:
    return sorted(
        s.symbol
        for s in default_universe()
        if s.exchange == exchange
        and s.asset_type == "Stock"
        and s.is_listed_on(EMULATOR_TODAY)
    )


def test_a_listing_universe_fetches_the_listing_first_and_is_recorded(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(
        emulator,
        warehouse,
        tmp_path,
        universe="listing:exchange=NASDAQ;type=Stock;limit=3",
    )

    summary = run_pipeline(settings, as_of=EMULATOR_TODAY, transform=False)

    assert summary.symbols == tuple(_listed("NASDAQ")[:3])
    assert summary.universe == "listing:exchange=NASDAQ;type=Stock;limit=3"
    first_call = emulator.calls()[0]
    assert first_call.function == "LISTING_STATUS"
    with psycopg.connect(warehouse) as conn:
        recorded = conn.execute(
            "select universe from audit.pipeline_runs where run_id = %s",
            (summary.run_id,),
        ).fetchone()
    assert recorded == (summary.universe,)


def test_the_stored_listing_is_reused_and_exclusions_apply(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(emulator, warehouse, tmp_path)
    nyse = _listed("NYSE")
    first = choose_universe(settings, universe="listing:exchange=NYSE;type=Stock")
    calls = len(emulator.calls())

    second = choose_universe(
        settings, universe=f"listing:exchange=NYSE;type=Stock;exclude={nyse[0]}"
    )

    assert first.symbols == tuple(nyse)
    assert second.symbols == tuple(nyse[1:])
    assert second.listing_key == first.listing_key
    assert len(emulator.calls()) == calls  # the lake's listing is read, not fetched


def test_explicit_tickers_win_over_the_configured_universe(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(
        emulator,
        warehouse,
        tmp_path,
        tickers="KO,IBM",
        universe="listing:exchange=NASDAQ",
    )

    assert choose_universe(settings).symbols == ("KO", "IBM")
    assert choose_universe(settings, ["XOM"]).symbols == ("XOM",)
    assert emulator.calls() == []


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("listing:exchange=BATS", "selects no symbol from a listing of"),
        ("listing:exchange=LSE", "unknown exchange LSE"),
    ],
)
def test_a_universe_that_selects_nothing_is_one_line_and_exit_2(
    emulator: RunningEmulator,
    warehouse: str,
    tmp_path: Path,
    spec: str,
    words: str,
) -> None:
    done = run_stocks_elt(
        ["run", "--universe", spec], tmp_path, pipeline_env(emulator, warehouse)
    )

    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert words in lines[0]
    assert "for example" in lines[0]
    assert not any(c.function != "LISTING_STATUS" for c in emulator.calls())
