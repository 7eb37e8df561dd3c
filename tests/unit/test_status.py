"""The status read model's pieces that need no warehouse."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from stocks_elt.config import load_settings
from stocks_elt.results import OUTCOMES
from stocks_elt.status import SymbolStatus, _universe
from stocks_elt.warehouse.audit.extract import (
    DEFERRED_OUTCOMES,
    FAILED_OUTCOMES,
    HEALTHY_OUTCOMES,
    ExtractOutcome,
)

NY = ZoneInfo("America/New_York")


def test_freshness_words() -> None:
    assert SymbolStatus("A", date(2024, 7, 5), 0, None).freshness == "fresh"
    assert SymbolStatus("A", date(2024, 7, 3), 1, None).freshness == "stale"
    assert SymbolStatus("A", None, None, None).freshness == "never loaded"


def test_every_extract_outcome_is_classified_once() -> None:
    groups = (HEALTHY_OUTCOMES, DEFERRED_OUTCOMES, FAILED_OUTCOMES)

    assert set(OUTCOMES) == set().union(*groups)
    assert sum(len(group) for group in groups) == len(set(OUTCOMES))


def test_a_history_gap_makes_a_fetch_unhealthy() -> None:
    now = datetime(2024, 7, 5, tzinfo=UTC)

    assert ExtractOutcome("A", "fetched", None, False, now).is_healthy
    assert not ExtractOutcome("A", "fetched", "gap", True, now).is_healthy
    assert ExtractOutcome("A", "deferred", "quota", False, now).is_deferred


def test_universe_lists_configured_tickers_first_then_the_rest_sorted(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings = load_settings(tickers="MSFT,IBM", data_dir=tmp_path)
    now = datetime(2024, 7, 5, tzinfo=UTC)

    listed = _universe(
        settings,
        {"ZZ": date(2024, 7, 5), "IBM": date(2024, 7, 5)},
        {"AA": ExtractOutcome("AA", "failed", None, False, now)},
    )

    assert listed == ("MSFT", "IBM", "AA", "ZZ")
