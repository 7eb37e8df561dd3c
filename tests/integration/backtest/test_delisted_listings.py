"""
The warehouse side of survivorship-free universes: a delisted LISTING_STATUS
answer loads into raw.symbols with status, IPO and delisting dates, dim_symbols
carries them, and fct_universe_membership answers "which symbols existed on a day"
from them.

The listings come from the emulator through the real client
(``LISTING_STATUS&state=active`` and ``&state=delisted``), are stored in a lake as
extract stores answers, and are loaded by the real loader.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from stocks_elt import pipeline
from stocks_elt.alpha_vantage.client import AlphaVantageClient, ApiAnswer
from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import RunningEmulator
from stocks_elt.emulator.universe import default_universe, universe_for_symbols
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import answer_key
from stocks_elt.lake.local import LocalLake
from stocks_elt.market.calendar import all_sessions as nyse_sessions
from stocks_elt.transform.dbt import run_dbt_build
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY
from tests.integration.transform.conftest import fetch_rows, load_market

pytestmark = pytest.mark.integration

#: Delisted before 2015 (LEHMQ), after it (TWTR, XLNX), and never (IBM, META).
SYMBOLS = ("IBM", "META", "LEHMQ", "TWTR", "XLNX")
THE_DAY = date(2015, 3, 2)


def _store(lake: Lake, answer: ApiAnswer) -> str:
    """Store an answer under the key extract gives it; return the key."""
    key = answer_key(
        answer.function, answer.symbol, answer.fetched_at, answer.sha256, answer.ext
    )
    assert lake.put(key, answer.body, answer.metadata())
    return key


@pytest.fixture
def settings(warehouse: str, tmp_path: Path) -> Settings:
    return load_settings(
        lake_url=LocalLake(tmp_path / "lake").url,
        warehouse_url=warehouse,
        data_dir=tmp_path / "data",
    )


def _load_listings(settings: Settings, emulator: RunningEmulator) -> None:
    lake = LocalLake(Path(settings.lake_url.removeprefix("file://")))
    with AlphaVantageClient(PREMIUM_KEY, base_url=emulator.base_url) as client:
        keys = [_store(lake, client.listing_status(state="active"))]
        keys.append(_store(lake, client.listing_status(state="delisted")))
    result = pipeline.load_objects(keys, settings=settings)
    assert result.rows_quarantined == 0


def test_a_delisted_listing_loads_with_status_ipo_and_delisting_dates(
    settings: Settings, warehouse: str, emulator: RunningEmulator
) -> None:
    _load_listings(settings, emulator)

    stored = {
        row[0]: row[1:]
        for row in fetch_rows(
            warehouse,
            "select symbol, name, exchange, asset_type, ipo_date, delisting_date,"
            " status from raw.symbols",
        )
    }
    universe = default_universe()
    delisted = [
        listed
        for listed in universe
        if listed.delisting_date is not None and listed.delisting_date < EMULATOR_TODAY
    ]
    assert {listed.symbol for listed in delisted} == {
        "LEHMQ",
        "TWTR",
        "XLNX",
        "ATVI",
        "BBBY",
    }
    assert len(stored) == len(universe)
    for listed in universe:
        is_delisted = listed in delisted
        assert stored[listed.symbol] == (
            listed.name,
            listed.exchange,
            listed.asset_type,
            listed.ipo_date,
            listed.delisting_date if is_delisted else None,
            "Delisted" if is_delisted else "Active",
        ), listed.symbol


def test_dim_symbols_and_membership_follow_the_delisted_listing(
    settings: Settings, warehouse: str, emulator: RunningEmulator
) -> None:
    _load_listings(settings, emulator)
    universe = universe_for_symbols(SYMBOLS)
    load_market(warehouse, universe, EMULATOR_TODAY)
    run_dbt_build(settings)

    dim = {
        row[0]: row[1:]
        for row in fetch_rows(
            warehouse,
            "select symbol, status, ipo_date, delisting_date, last_trade_date"
            " from marts.dim_symbols",
        )
    }
    for listed in universe:
        status, ipo_date, delisting_date, last_trade_date = dim[listed.symbol]
        assert ipo_date == listed.ipo_date
        assert delisting_date == listed.delisting_date
        assert status == ("Active" if listed.delisting_date is None else "Delisted")
        if listed.delisting_date is not None:  # the last bar is the delisting day
            assert last_trade_date == listed.delisting_date

    existed = fetch_rows(
        warehouse,
        "select symbol from marts.fct_universe_membership where trade_date = %s"
        " order by symbol",
        THE_DAY,
    )
    assert existed == [("IBM",), ("META",), ("TWTR",), ("XLNX",)]
    assert existed == sorted(
        (listed.symbol,) for listed in universe if listed.is_listed_on(THE_DAY)
    )

    # each symbol: every NYSE session from its IPO to its delisting, no other
    sessions = [day for day in nyse_sessions() if day <= EMULATOR_TODAY]
    for listed in universe:
        rows = fetch_rows(
            warehouse,
            "select trade_date, has_daily_bar, is_last_listed_session"
            " from marts.fct_universe_membership where symbol = %s"
            " order by trade_date",
            listed.symbol,
        )
        expected = [day for day in sessions if listed.is_listed_on(day)]
        assert [row[0] for row in rows] == expected, listed.symbol
        assert all(row[1] for row in rows), listed.symbol
        last_listed = [row[0] for row in rows if row[2]]
        assert last_listed == (
            [listed.delisting_date] if listed.delisting_date else []
        ), listed.symbol
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select count(*) from marts.fct_universe_membership"
            " where symbol = 'LEHMQ' and trade_date > '2008-09-17'"
        ).fetchone() == (0,)
