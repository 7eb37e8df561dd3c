"""
Fixtures for the transform tests: settings pointing dbt at the test's warehouse,
and raw tables filled from the emulator's deterministic market.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.market import SymbolHistory, symbol_history
from stocks_elt.emulator.universe import ListedSymbol

MARTS = (
    "dim_symbols",
    "fct_daily_bars",
    "fct_daily_indicators",
    "fct_weekly_bars",
    "fct_monthly_bars",
)


@pytest.fixture(scope="session")
def dbt_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for every transform test, so dbt parses the project once."""
    return tmp_path_factory.mktemp("transform-data")


@pytest.fixture
def transform_settings(warehouse: str, dbt_data_dir: Path) -> Settings:
    """Settings whose warehouse is this test's migrated database."""
    return Settings(warehouse_url=warehouse, data_dir=dbt_data_dir)


def load_histories(url: str, histories: Iterable[SymbolHistory]) -> None:
    """Merge the histories' sessions, splits and dividends into the raw tables.

    New rows are inserted; a row whose values differ is updated with
    ``updated_at = now()``, as the loader does. One transaction, so every row
    written here shares one ``loaded_at``.
    """
    with psycopg.connect(url) as conn:
        for history in histories:
            symbol = history.listed.symbol
            conn.cursor().executemany(
                """
                insert into raw.daily_prices
                    (symbol, trade_date, open, high, low, close, volume,
                     source_object)
                values (%s, %s, %s, %s, %s, %s, %s, 'test')
                on conflict (symbol, trade_date) do update
                set open = excluded.open, high = excluded.high,
                    low = excluded.low, close = excluded.close,
                    volume = excluded.volume, updated_at = now()
                where (raw.daily_prices.open, raw.daily_prices.high,
                       raw.daily_prices.low, raw.daily_prices.close,
                       raw.daily_prices.volume)
                    is distinct from
                      (excluded.open, excluded.high, excluded.low,
                       excluded.close, excluded.volume)
                """,
                [
                    (
                        symbol,
                        bar.trade_date,
                        bar.open,
                        bar.high,
                        bar.low,
                        bar.close,
                        bar.volume,
                    )
                    for bar in history.bars
                ],
            )
            for split in history.splits:
                conn.execute(
                    """
                    insert into raw.splits
                        (symbol, effective_date, split_factor, source_object)
                    values (%s, %s, %s, 'test')
                    on conflict (symbol, effective_date) do nothing
                    """,
                    (symbol, split.effective_date, split.ratio),
                )
            for dividend in history.dividends:
                conn.execute(
                    """
                    insert into raw.dividends
                        (symbol, ex_dividend_date, amount, source_object)
                    values (%s, %s, %s, 'test')
                    on conflict (symbol, ex_dividend_date) do nothing
                    """,
                    (symbol, dividend.ex_date, dividend.amount),
                )


def load_market(
    url: str, universe: Sequence[ListedSymbol], today: date
) -> list[SymbolHistory]:
    """Load every listed symbol's history as of ``today``; return the histories."""
    histories = [
        symbol_history(listed, today) for listed in universe if listed.ipo_date <= today
    ]
    load_histories(url, histories)
    return histories


def fetch_rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``query`` and return every row."""
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def values_match(left: object, right: object, rel_tol: float = 1e-12) -> bool:
    """Equal, or both floats within ``rel_tol`` of each other (NaN never matches)."""
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=rel_tol, abs_tol=0.0)
    return left == right


def snapshot_marts(
    url: str, marts: Iterable[str], schema: str = "incremental_copy"
) -> None:
    """Copy each mart into ``schema`` (created here), to compare with a later build."""
    with psycopg.connect(url) as conn:
        conn.execute(
            psycopg.sql.SQL("create schema {}").format(psycopg.sql.Identifier(schema))
        )
        for mart in marts:
            conn.execute(
                psycopg.sql.SQL("create table {} as table {}").format(
                    psycopg.sql.Identifier(schema, mart),
                    psycopg.sql.Identifier("marts", mart),
                )
            )


def assert_marts_equal_snapshot(
    url: str, keys: dict[str, str], schema: str = "incremental_copy"
) -> None:
    """Each mart equals its snapshot row for row (floats to 1e-12 relative)."""
    for mart, key in keys.items():
        snapshot = fetch_rows(url, f"select * from {schema}.{mart} order by {key}")
        current = fetch_rows(url, f"select * from marts.{mart} order by {key}")
        assert len(snapshot) == len(current), mart
        for got, expected in zip(snapshot, current, strict=True):
            assert len(got) == len(expected), mart
            assert all(
                values_match(a, b) for a, b in zip(got, expected, strict=True)
            ), f"{mart}: snapshot {got} != rebuilt {expected}"
