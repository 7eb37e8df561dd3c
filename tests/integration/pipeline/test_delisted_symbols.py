"""
Delisted symbols, the extract side: both LISTING_STATUS lists are fetched (the
delisted one first, so the active one is always the newer), a universe may hold
symbols that stopped trading, their histories are fetched once and then no longer
asked for, and status and the freshness deadline count them current.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import RunningEmulator, default_universe
from stocks_elt.lake import open_lake
from stocks_elt.lake.keys import answer_prefix, read_answer_key
from stocks_elt.market.calendar import NEW_YORK, last_session_on_or_before
from stocks_elt.notifications.events import freshness_notice
from stocks_elt.pipeline import choose_universe, run_pipeline
from stocks_elt.stages.extract import extract
from stocks_elt.status import collect_status
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY

LISTINGS = answer_prefix("LISTING_STATUS", None)


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


def _listings(settings: Settings) -> list[tuple[str, str]]:
    """(state, key) of every stored LISTING_STATUS answer, oldest first."""
    lake = open_lake(settings)
    found = []
    for item in lake.list(LISTINGS):
        head = lake.head(item.key)
        assert head is not None
        found.append((json.loads(head.metadata["parameters"])["state"], item.key))
    return found


def _listing_calls(emulator: RunningEmulator) -> list[str | None]:
    """The ``state`` of every LISTING_STATUS call, in order."""
    calls = emulator.calls()
    return [c.params.get("state") for c in calls if c.function == "LISTING_STATUS"]


def _delisted(on: Any = EMULATOR_TODAY) -> dict[str, Any]:
    return {
        s.symbol: s.delisting_date
        for s in default_universe()
        if s.delisting_date is not None and s.delisting_date < on
    }


def test_both_lists_are_fetched_the_delisted_first_and_kept_apart(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(emulator, warehouse, tmp_path)

    first = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)
    calls = _listing_calls(emulator)
    emulator.clear_calls()
    again = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)

    assert calls == ["delisted", "active"]
    stored = _listings(settings)
    assert [state for state, _ in stored] == ["delisted", "active"]
    assert {key for _, key in stored} <= set(first.object_keys)
    # Each list is fresh for a week: a re-run asks for neither.
    assert [c.function for c in emulator.calls()] == ["TIME_SERIES_DAILY_ADJUSTED"]
    assert again.object_keys == ()


def test_a_newer_delisted_list_makes_the_active_one_stored_again(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    """A lake from before both lists were fetched holds the active list only:
    the delisted list is fetched, and the active list, although unchanged, is
    stored after it, so a ticker in both lists keeps its active listing."""
    settings = _settings(emulator, warehouse, tmp_path)
    extract(settings, ["IBM"], as_of=EMULATOR_TODAY)
    lake = open_lake(settings)
    active_only = [key for state, key in _listings(settings) if state == "active"]
    for state, key in _listings(settings):
        if state == "delisted":
            lake_path = settings.data_dir / "lake" / key
            lake_path.unlink()
    assert [state for state, _ in _listings(settings)] == ["active"]
    emulator.clear_calls()

    extract(settings, ["IBM"], as_of=EMULATOR_TODAY)

    stored = _listings(settings)
    assert [state for state, _ in stored] == ["active", "delisted", "active"]
    assert stored[0][1] == active_only[0]
    newest = [read_answer_key(key).name for _, key in stored]
    assert newest == sorted(newest)
    assert lake.get(stored[0][1]) == lake.get(stored[2][1])  # unchanged, stored again


def test_a_delisted_history_is_fetched_once_then_no_longer_asked_for(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(emulator, warehouse, tmp_path)
    delisted_on = _delisted()["TWTR"]

    first = run_pipeline(settings, ["IBM", "TWTR"], as_of=EMULATOR_TODAY)
    emulator.clear_calls()
    second = extract(settings, ["IBM", "TWTR"], as_of=EMULATOR_TODAY)

    assert first.outcome == "success"
    twtr = next(o for o in second.outcomes if o.symbol == "TWTR")
    final = last_session_on_or_before(delisted_on)
    assert twtr.outcome == "unchanged"
    assert twtr.reason is not None
    assert f"last session {final}" in twtr.reason
    assert [c.symbol for c in emulator.calls()] == ["IBM"]
    with psycopg.connect(warehouse) as conn:
        stored = conn.execute(
            "select max(trade_date) from raw.daily_prices where symbol = 'TWTR'"
        ).fetchone()
        listed = conn.execute(
            "select status, delisting_date from raw.symbols where symbol = 'TWTR'"
        ).fetchone()
    assert stored == (final,)
    assert listed == ("Delisted", delisted_on)

    # status and the freshness deadline count it current, not 400 sessions behind
    at = datetime(2024, 6, 21, 21, 0, tzinfo=NEW_YORK)
    report = collect_status(settings, ["IBM", "TWTR"], as_of=at)
    behind = {s.symbol: (s.sessions_behind, s.final_session) for s in report.symbols}
    assert behind == {"IBM": (0, None), "TWTR": (0, final)}
    notice = freshness_notice(
        settings, at=at, run_id=None, source="test", where=(), symbols=["IBM", "TWTR"]
    )
    assert notice is None


def test_a_universe_may_hold_symbols_that_stopped_trading(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = _settings(emulator, warehouse, tmp_path)
    delisted = _delisted()
    listed_stocks = sorted(
        s.symbol
        for s in default_universe()
        if s.asset_type == "Stock" and s.is_listed_on(EMULATOR_TODAY)
    )

    gone = choose_universe(settings, universe="listing:type=Stock;status=delisted")
    everything = choose_universe(settings, universe="listing:type=Stock;status=all")
    today = choose_universe(settings, universe="listing:type=Stock")

    assert gone.symbols == tuple(sorted(delisted))
    assert gone.source == "listing:type=Stock;status=delisted"
    assert everything.symbols == tuple(sorted([*listed_stocks, *delisted]))
    assert today.symbols == tuple(listed_stocks)
    # each list fetched once, then read from the lake
    assert _listing_calls(emulator) == ["delisted", "active"]
