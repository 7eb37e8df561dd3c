"""run_dbt_build and dbt docs against a real warehouse."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.errors import TransformError
from stocks_elt.transform.dbt import generate_docs, run_dbt_build

from .conftest import fetch_rows, load_market

TODAY = date(2024, 3, 28)


def test_a_build_reports_every_model_and_test_and_fills_the_marts(
    transform_settings: Settings, warehouse: str
) -> None:
    (history,) = load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    result = run_dbt_build(transform_settings)
    assert result.models_built == 13  # 4 staging, 2 intermediate, 7 marts
    assert result.tests_failed == 0
    assert result.tests_passed >= 50
    assert fetch_rows(
        warehouse,
        "select symbol, first_trade_date, last_trade_date, session_count"
        " from marts.dim_symbols",
    ) == [("IBM", history.dates[0], history.dates[-1], len(history))]


def test_a_failing_data_test_raises_naming_the_test(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    with psycopg.connect(warehouse) as conn:  # a low above the close
        conn.execute(
            "update raw.daily_prices set low = close + 1"
            " where symbol = 'IBM' and trade_date = %s",
            (TODAY,),
        )
    with pytest.raises(TransformError, match="bar_prices_are_consistent_fct_daily"):
        run_dbt_build(transform_settings)


def test_dbt_docs_generate_works_against_the_warehouse(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    run_dbt_build(transform_settings, select=["staging"])
    target = generate_docs(transform_settings)
    assert (target / "index.html").is_file()
    assert '"marts"' in (target / "catalog.json").read_text() or (
        '"staging"' in (target / "catalog.json").read_text()
    )


def test_a_raw_table_that_lost_its_primary_key_fails_the_build_naming_it(
    transform_settings: Settings, warehouse: str
) -> None:
    """Keys are held by Postgres; the tests fail the day a key is dropped."""
    load_market(warehouse, universe_for_symbols(["IBM"]), TODAY)
    with psycopg.connect(warehouse) as conn:
        conn.execute("alter table raw.splits drop constraint splits_pkey")
    with pytest.raises(TransformError, match="source_primary_key_alpha_vantage_splits"):
        run_dbt_build(transform_settings, select=["staging"])


def test_dim_symbols_counts_sessions_from_staging_as_the_fact_numbers_them(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, universe_for_symbols(["IBM", "AAPL"]), TODAY)
    run_dbt_build(transform_settings)
    assert fetch_rows(
        warehouse,
        "select symbol, session_count from marts.dim_symbols order by symbol",
    ) == fetch_rows(
        warehouse,
        "select symbol, max(session_number) from marts.fct_daily_bars"
        " group by symbol order by symbol",
    )
