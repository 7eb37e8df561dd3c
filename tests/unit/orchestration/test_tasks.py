"""The helpers the DAG tasks call: batching, event handling, connections, retries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from stocks_elt.config import load_settings
from stocks_elt.errors import (
    ConfigError,
    InvalidSymbol,
    LoadError,
    QualityGateFailed,
    RateLimited,
    WarehouseError,
)
from stocks_elt.orchestration import tasks
from stocks_elt.orchestration.assets import LAKE_RAW, WAREHOUSE_RAW
from stocks_elt.orchestration.defaults import DEFAULT_ARGS, RETRY_POLICY
from stocks_elt.results import LoadResult

DEFAULT_MAX_MAP_LENGTH = 1024  # Airflow's [core] max_map_length


@dataclass
class FakeEvent:
    """What Airflow puts in triggering_asset_events: an event with an extra."""

    extra: dict[str, Any] = field(default_factory=dict)
    source_run_id: str = "manual__2024-06-21T22:30:00+00:00"


def _universe(size: int) -> list[str]:
    return [f"T{number:04d}" for number in range(size)]


def _batches(symbols: list[str], size: int) -> list[list[str]]:
    return [symbols[start : start + size] for start in range(0, len(symbols), size)]


def test_five_thousand_tickers_in_default_batches_fit_the_map_unchanged() -> None:
    symbols = _universe(5000)
    batches = _batches(symbols, load_settings().batch_size)

    fitted = tasks.fit_batches(batches, DEFAULT_MAX_MAP_LENGTH)

    assert len(fitted) == math.ceil(5000 / 20) == 250
    assert fitted == batches


def test_five_thousand_single_ticker_batches_are_merged_under_the_limit() -> None:
    symbols = _universe(5000)

    fitted = tasks.fit_batches(_batches(symbols, 1), DEFAULT_MAX_MAP_LENGTH)

    # ceil(5000 / 1024) = 5 symbols a batch, hence ceil(5000 / 5) = 1000 batches.
    assert len(fitted) == 1000
    assert {len(batch) for batch in fitted} == {5}
    assert [symbol for batch in fitted for symbol in batch] == symbols


def test_fit_batches_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        tasks.fit_batches([["IBM"]], 0)


def test_extract_summaries_are_combined_into_counts() -> None:
    summary = tasks.summarize_extracts(
        [
            {
                "objects": 2,
                "deferred": [],
                "outcomes": {"fetched": 2},
            },
            {
                "objects": 1,
                "deferred": ["ZZZ", "MSFT"],
                "failed": {"NOPE": "not_found: no such symbol"},
                "outcomes": {"fetched": 1, "deferred": 2, "not_found": 1},
            },
        ]
    )

    assert summary == {
        "objects": 3,
        "deferred": 2,
        "failed": {"NOPE": "not_found: no such symbol"},
        "outcomes": {"deferred": 2, "fetched": 3, "not_found": 1},
        "batches": 2,
    }


def _deferred_batches(symbols: list[str], batch_size: int = 20) -> list[dict[str, Any]]:
    """The XComs of extract tasks whose whole batches were deferred (a free key
    whose day's quota is spent)."""
    return [
        {
            "objects": 0,
            "deferred": symbols[start : start + batch_size],
            "outcomes": {"deferred": len(symbols[start : start + batch_size])},
        }
        for start in range(0, len(symbols), batch_size)
    ]


def test_the_combined_extract_summary_does_not_grow_with_deferred_symbols() -> None:
    small = tasks.summarize_extracts(_deferred_batches(_universe(50)))
    large = tasks.summarize_extracts(_deferred_batches(_universe(5000)))

    assert large["deferred"] == 5000
    # Only the counts' digits differ: deferred and the outcome 50 -> 5000, and
    # batches 3 -> 250.
    assert _json_bytes(large) - _json_bytes(small) == 2 + 2 + 2


def _loaded(symbols: list[str]) -> dict[str, Any]:
    """A load's ``LoadResult.as_dict()``, as ``load_new_objects`` gets it."""
    return LoadResult(
        run_id="0f0e0d0c-0b0a-4909-8807-060504030201",
        objects_loaded=2 * len(symbols),
        objects_skipped=0,
        objects_refused=0,
        rows_parsed=100 * len(symbols),
        rows_inserted=100 * len(symbols),
        rows_updated=0,
        rows_unchanged=0,
        rows_quarantined=0,
        duration_seconds=12.5,
        symbols=tuple(symbols),
    ).as_dict()


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def test_the_load_xcom_and_warehouse_event_do_not_grow_with_the_universe() -> None:
    small, large = _loaded(_universe(50)), _loaded(_universe(5000))

    sizes = {}
    for name, loaded in (("small", small), ("large", large)):
        summary = tasks.summarize_load(loaded)
        extra = tasks.warehouse_event_extra(summary, "manual__2024-06-21")
        sizes[name] = (_json_bytes(summary), _json_bytes(extra))

    assert tasks.summarize_load(large)["symbol_count"] == 5000
    assert tasks.warehouse_event_extra(tasks.summarize_load(large), "r") == {
        "source_run_id": "r",
        "objects_loaded": 10000,
        "symbol_count": 5000,
    }
    # Only the counts' digits differ, two more each: symbols 50 -> 5000, objects
    # 100 -> 10000, rows parsed and inserted 5000 -> 500000.
    assert sizes["large"][0] - sizes["small"][0] == 4 * 2
    assert sizes["large"][1] - sizes["small"][1] == 2 * 2
    assert _json_bytes(large) > 40_000  # the list it leaves out


def test_events_of_the_lake_asset_give_the_union_of_their_objects() -> None:
    events = {
        LAKE_RAW: [
            FakeEvent({"objects": ["raw/k2.json", "raw/k1.json"]}),
            FakeEvent({"objects": ["raw/k2.json", "raw/k3.json"]}),
        ]
    }

    announced = tasks.announced_by_events(events)

    assert announced == tasks.Announced(
        objects=("raw/k1.json", "raw/k2.json", "raw/k3.json")
    )


def test_events_of_an_ingest_run_name_its_manifest_not_its_keys() -> None:
    manifest = "manifests/ingest_stocks/run=0f0e.json"
    events = {
        LAKE_RAW: [
            FakeEvent({"manifest": manifest, "objects": 5000, "deferred": 0}),
            FakeEvent({"manifest": manifest, "objects": 5000, "deferred": 0}),
        ]
    }

    assert tasks.announced_by_events(events) == tasks.Announced(manifests=(manifest,))


def test_events_of_other_assets_are_ignored() -> None:
    events = {
        WAREHOUSE_RAW: [FakeEvent({"objects": ["raw/other.json"]})],
        LAKE_RAW: [FakeEvent({"objects": ["raw/mine.json"]})],
    }

    assert tasks.announced_by_events(events) == tasks.Announced(
        objects=("raw/mine.json",)
    )


def test_a_run_without_events_loads_everything_not_yet_loaded() -> None:
    assert tasks.announced_by_events({}) is None
    assert tasks.announced_by_events(None) is None


def test_an_event_without_an_object_list_loads_everything_not_yet_loaded() -> None:
    events = {
        LAKE_RAW: [
            FakeEvent({"objects": ["raw/k1.json"]}),
            FakeEvent({"from_rest_api": True}),
        ]
    }

    assert tasks.announced_by_events(events) is None


def test_an_event_whose_objects_are_not_keys_is_refused_naming_its_run() -> None:
    events = {LAKE_RAW: [FakeEvent({"objects": "raw/k1.json"})]}

    with pytest.raises(ValueError, match=r"manual__2024-06-21T22:30:00\+00:00"):
        tasks.announced_by_events(events)


@pytest.mark.parametrize(
    "error",
    [
        InvalidSymbol("symbol 'A B' is not allowed"),
        ConfigError("bad configuration: STOCKS_ELT_BATCH_SIZE=0"),
        QualityGateFailed("raw.daily_prices: 3 rows with low > high"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bad_input_configuration_or_data_fails_without_retrying(
    error: Exception,
) -> None:
    from airflow.sdk import RetryAction

    decision = RETRY_POLICY.evaluate(error, try_number=1, max_tries=4)

    assert decision.action == RetryAction.FAIL


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("IBM: per-minute limit"),
        WarehouseError("cannot connect to the warehouse"),
        LoadError("raw/k1.json: connection lost"),
        ConnectionResetError("reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_failures_keep_the_retries_with_backoff(error: Exception) -> None:
    from airflow.sdk import RetryAction

    decision = RETRY_POLICY.evaluate(error, try_number=1, max_tries=4)

    assert decision.action == RetryAction.DEFAULT
    assert DEFAULT_ARGS["retries"] >= 1
    assert DEFAULT_ARGS["retry_exponential_backoff"] >= 2


@dataclass
class FakeDagRun:
    """The two moments a DAG run carries."""

    run_after: datetime
    data_interval_end: datetime | None = None


def test_a_scheduled_run_is_for_the_new_york_day_of_its_interval_end() -> None:
    # 02:00 UTC on Saturday is 22:00 on Friday in New York (EDT, UTC-4).
    run = FakeDagRun(
        run_after=datetime(2024, 6, 22, 2, 0, tzinfo=UTC),
        data_interval_end=datetime(2024, 6, 22, 2, 0, tzinfo=UTC),
    )

    assert tasks.trading_date(run) == date(2024, 6, 21)


def test_a_manual_run_without_logical_date_is_for_the_day_it_was_triggered() -> None:
    run = FakeDagRun(run_after=datetime(2024, 12, 2, 3, 30, tzinfo=UTC))

    # 03:30 UTC in December is 22:30 the day before in New York (EST, UTC-5).
    assert tasks.trading_date(run) == date(2024, 12, 1)
