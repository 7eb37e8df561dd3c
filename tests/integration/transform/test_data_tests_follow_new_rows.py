"""
Data tests on the incremental marts read the rows the mart's latest build wrote:
every row after a full build, the new sessions after a daily one. Uniqueness over
all rows is the primary key's.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from psycopg import sql

from stocks_elt.config import Settings
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.market.calendar import all_sessions, session_index_on_or_after
from stocks_elt.transform.dbt import run_dbt, run_dbt_build

from .conftest import fetch_rows, load_market

_FIRST = session_index_on_or_after(date(2024, 3, 1))
DAY, NEXT_DAY = all_sessions()[_FIRST : _FIRST + 2]
UNIVERSE = universe_for_symbols(["IBM", "AAPL"])
INCREMENTAL_MARTS = {
    "fct_daily_bars": "trade_date",
    "fct_daily_indicators": "trade_date",
    "fct_weekly_bars": "week_start_date",
    "fct_monthly_bars": "month_start_date",
    "fct_forward_returns": "trade_date",
    "fct_universe_membership": "trade_date",
}


def _rsi_test_fails(settings: Settings) -> bool:
    """Run the rsi_14 range test of fct_daily_indicators; True when it fails."""
    outcome = run_dbt(
        settings,
        ["test", "--select", "fct_daily_indicators,test_name:expression_is_true"],
    )
    failed = [
        result.node.name
        for result in outcome.result.results
        if result.status in ("fail", "error")
    ]
    return any("rsi_14" in name for name in failed)


def _set_rsi(url: str, day: date, value: float) -> None:
    with psycopg.connect(url) as conn:
        updated = conn.execute(
            "update marts.fct_daily_indicators set rsi_14 = %s"
            " where symbol = 'IBM' and trade_date = %s",
            (value, day),
        ).rowcount
    assert updated == 1, f"IBM has no indicator row on {day}"


def test_after_a_full_build_the_data_tests_read_every_row(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, UNIVERSE, DAY)
    run_dbt_build(transform_settings)
    assert fetch_rows(
        warehouse,
        "select model_name, is_full_build from intermediate.mart_builds"
        " order by model_name",
    ) == sorted((mart, True) for mart in INCREMENTAL_MARTS)

    _set_rsi(warehouse, date(2020, 3, 2), 140.0)  # an old row out of range
    assert _rsi_test_fails(transform_settings)


def test_after_a_daily_build_the_data_tests_read_the_new_sessions_only(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, UNIVERSE, DAY)
    run_dbt_build(transform_settings)
    _set_rsi(warehouse, date(2020, 3, 2), 140.0)  # tested by the full build

    load_market(warehouse, UNIVERSE, NEXT_DAY)
    run_dbt_build(transform_settings)  # passes: the old row is not read again
    written = dict(
        fetch_rows(
            warehouse,
            "select model_name, first_written from intermediate.mart_builds"
            " where not is_full_build",
        )
    )
    assert written["fct_daily_bars"] == {
        "IBM": NEXT_DAY.isoformat(),
        "AAPL": NEXT_DAY.isoformat(),
    }
    assert written["fct_daily_indicators"] == written["fct_daily_bars"]
    assert set(written) == set(INCREMENTAL_MARTS)
    assert not _rsi_test_fails(transform_settings)

    _set_rsi(warehouse, NEXT_DAY, 140.0)  # a row the daily build wrote
    assert _rsi_test_fails(transform_settings)


def test_every_incremental_mart_has_its_grain_as_primary_key(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, UNIVERSE, DAY)
    run_dbt_build(transform_settings)
    load_market(warehouse, UNIVERSE, NEXT_DAY)
    run_dbt_build(transform_settings, full_refresh=True)

    for mart, order_column in INCREMENTAL_MARTS.items():
        keys = fetch_rows(
            warehouse,
            """
            select array_agg(attribute.attname order by key.position)
            from pg_constraint as constraint_row
            cross join unnest(constraint_row.conkey) with ordinality
                as key (attnum, position)
            inner join pg_attribute as attribute
                on attribute.attrelid = constraint_row.conrelid
                and attribute.attnum = key.attnum
            where constraint_row.conrelid = %s::regclass
                and constraint_row.contype = 'p'
            """,
            f"marts.{mart}",
        )
        assert keys == [(["symbol", order_column],)], mart
        # the unique index the model declares became the key: no second one
        unique_indexes = fetch_rows(
            warehouse,
            "select count(*)::int from pg_index where indrelid = %s::regclass"
            " and indisunique and indkey::text = ("
            " select indkey::text from pg_index inner join pg_constraint"
            " on conindid = indexrelid where conrelid = %s::regclass"
            " and contype = 'p')",
            f"marts.{mart}",
            f"marts.{mart}",
        )
        assert unique_indexes == [(1,)], mart
        with (
            psycopg.connect(warehouse) as conn,
            pytest.raises(psycopg.errors.UniqueViolation),
        ):
            conn.execute(
                sql.SQL(
                    "insert into {mart} select * from {mart}"
                    " where symbol = 'IBM'"
                    " and {column} = (select min({column}) from {mart}"
                    " where symbol = 'IBM')"
                ).format(
                    mart=sql.Identifier("marts", mart),
                    column=sql.Identifier(order_column),
                )
            )
