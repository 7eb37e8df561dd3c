"""
Incremental runs give the same marts as a full refresh.

Raw data grows one session a day for 30 sessions, with a split, a reverse split,
dividends, a symbol listed mid-way and a vendor correction of a past session; the
transform runs after each day. Then every mart is compared with a full refresh,
row for row (floats to 1e-12 relative). The daily runs build the marts only; the
last one is a whole ``dbt build`` with its tests.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg

from stocks_elt.config import Settings
from stocks_elt.emulator.universe import ListedSymbol
from stocks_elt.market.calendar import all_sessions, session_index_on_or_after
from stocks_elt.transform.dbt import run_dbt, run_dbt_build

from .conftest import MARTS, fetch_rows, load_market, values_match

_FIRST = session_index_on_or_after(date(2024, 5, 1))
WINDOW = all_sessions()[_FIRST : _FIRST + 30]
EARLY_DIVIDEND = all_sessions()[_FIRST - 120]

UNIVERSE = (
    # long history (lookback and resumed states), a split and a dividend mid-way
    ListedSymbol(
        "SPLT",
        "Split Holdings",
        ipo_date=date(2023, 2, 1),
        profile="growth",
        splits=((WINDOW[9], Decimal("2")),),
        dividends=((EARLY_DIVIDEND, Decimal("0.35")), (WINDOW[19], Decimal("0.40"))),
    ),
    # a dividend early and a 1:10 reverse split late
    ListedSymbol(
        "DIVY",
        "Dividend Holdings",
        ipo_date=date(2023, 6, 1),
        profile="decline",
        splits=((WINDOW[24], Decimal("0.1")),),
        dividends=((WINDOW[4], Decimal("0.05")),),
    ),
    # fewer than 199 sessions before the window: recomputed from its first one
    ListedSymbol(
        "PLAIN",
        "Plain Holdings",
        ipo_date=date(2023, 11, 1),
        profile="flat",
        splits=(),
        dividends=(),
    ),
    # listed on the window's third session
    ListedSymbol(
        "FRSH",
        "Fresh Holdings",
        ipo_date=WINDOW[2],
        profile="growth",
        splits=(),
        dividends=(),
    ),
)

_KEYS = {
    "dim_symbols": "symbol",
    "fct_daily_bars": "symbol, trade_date",
    "fct_daily_indicators": "symbol, trade_date",
    "fct_weekly_bars": "symbol, week_start_date",
    "fct_monthly_bars": "symbol, month_start_date",
}


def _correct_a_past_close(url: str, symbol: str, day: date) -> None:
    """Move a stored close to the middle of its range, as a vendor fix would."""
    with psycopg.connect(url) as conn:
        changed = conn.execute(
            """
            update raw.daily_prices
            set close = round((high + low) / 2, 2), updated_at = now()
            where symbol = %s and trade_date = %s
                and close <> round((high + low) / 2, 2)
            """,
            (symbol, day),
        ).rowcount
    assert changed == 1, f"{symbol} {day}: no close to correct"


def _snapshot_marts(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("create schema incremental_copy")
        for mart in MARTS:
            conn.execute(
                psycopg.sql.SQL("create table {} as table {}").format(
                    psycopg.sql.Identifier("incremental_copy", mart),
                    psycopg.sql.Identifier("marts", mart),
                )
            )


def test_thirty_daily_incremental_runs_equal_a_full_refresh(
    transform_settings: Settings, warehouse: str
) -> None:
    load_market(warehouse, UNIVERSE, WINDOW[0])
    run_dbt_build(transform_settings)
    for offset, day in enumerate(WINDOW[1:], start=1):
        load_market(warehouse, UNIVERSE, day)
        if offset == 15:
            _correct_a_past_close(warehouse, "PLAIN", WINDOW[3])
        if day == WINDOW[-1]:
            run_dbt_build(transform_settings)
        else:  # the models only: the data tests run on the last day
            assert run_dbt(transform_settings, ["run", "--select", "marts"]).success

    _snapshot_marts(warehouse)
    run_dbt_build(transform_settings, full_refresh=True)

    for mart, key in _KEYS.items():
        incremental = fetch_rows(
            warehouse, f"select * from incremental_copy.{mart} order by {key}"
        )
        full = fetch_rows(warehouse, f"select * from marts.{mart} order by {key}")
        assert len(incremental) == len(full), mart
        for got, expected in zip(incremental, full, strict=True):
            assert len(got) == len(expected)
            assert all(
                values_match(a, b) for a, b in zip(got, expected, strict=True)
            ), f"{mart}: incremental {got} != full refresh {expected}"
    sessions = fetch_rows(
        warehouse,
        "select symbol, count(*) from marts.fct_daily_indicators group by symbol",
    )
    assert dict(sessions)["FRSH"] == 28
