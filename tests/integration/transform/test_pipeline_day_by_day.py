"""
End to end: the emulator's clock moves one session a day; extract, load and the
transform run after each move, as the daily schedule does. MSFT goes ex-dividend
on the second day and splits on the last; IBM only gains sessions. The marts then
equal a full refresh, row for row (floats to 1e-12 relative).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from stocks_elt import pipeline
from stocks_elt.config import load_settings
from stocks_elt.emulator import EmulatorConfig, start_emulator
from stocks_elt.market.calendar import all_sessions, session_index_on_or_after
from stocks_elt.stages.extract import extract
from stocks_elt.transform.dbt import run_dbt

from .conftest import MARTS, fetch_rows, values_match

KEY = "transform-premium-key"
SYMBOLS = ("IBM", "MSFT")
_FIRST = session_index_on_or_after(date(2024, 5, 3))
DAYS = all_sessions()[_FIRST : _FIRST + 10]  # 2024-05-03 .. 2024-05-16


def test_daily_extract_load_transform_equals_a_full_refresh(
    warehouse: str, dbt_data_dir: Path, tmp_path: Path
) -> None:
    assert DAYS[1] == date(2024, 5, 6)
    assert DAYS[-1] == date(2024, 5, 16)
    config = EmulatorConfig(today=DAYS[0], premium_keys=frozenset({KEY}))
    with start_emulator(config) as emulator:
        settings = load_settings(
            warehouse_url=warehouse,
            data_dir=dbt_data_dir,
            lake_url=(tmp_path / "lake").as_uri(),
            alpha_vantage_api_key=KEY,
            alpha_vantage_base_url=emulator.base_url,
            alpha_vantage_is_premium=True,
            alpha_vantage_calls_per_second=50,
            alpha_vantage_daily_quota=0,
        )
        for day in DAYS:
            emulator.set_today(day)
            extracted = extract(settings, SYMBOLS, as_of=day)
            pipeline.load_objects(list(extracted.object_keys), settings=settings)
            assert run_dbt(settings, ["run"]).success, day

    incremental = {
        mart: fetch_rows(warehouse, f"select * from marts.{mart} order by 1")
        for mart in MARTS
    }
    assert run_dbt(settings, ["run", "--full-refresh"]).success
    for mart, rows in incremental.items():
        full = fetch_rows(warehouse, f"select * from marts.{mart} order by 1")
        assert len(rows) == len(full), mart
        for got, expected in zip(rows, full, strict=True):
            assert all(
                values_match(a, b) for a, b in zip(got, expected, strict=True)
            ), f"{mart}: incremental {got} != full refresh {expected}"
    splits = fetch_rows(
        warehouse,
        "select count(*) from marts.fct_daily_bars"
        " where symbol = 'MSFT' and volume_adjustment_factor > 1",
    )
    assert splits[0][0] > 0, "the split of the last day adjusted MSFT's history"
