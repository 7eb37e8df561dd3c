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


def test_five_thousand_tickers_in_default_batches_fit_the_map_unchanged(
    common: Any,
) -> None:
    symbols = _universe(5000)
    batches = _batches(symbols, load_settings().batch_size)

    fitted = common.fit_batches(batches, DEFAULT_MAX_MAP_LENGTH)

    assert len(fitted) == math.ceil(5000 / 20) == 250
    assert fitted == batches


def test_five_thousand_single_ticker_batches_are_merged_under_the_limit(
    common: Any,
) -> None:
    symbols = _universe(5000)

    fitted = common.fit_batches(_batches(symbols, 1), DEFAULT_MAX_MAP_LENGTH)

    # ceil(5000 / 1024) = 5 symbols a batch, hence ceil(5000 / 5) = 1000 batches.
    assert len(fitted) == 1000
    assert {len(batch) for batch in fitted} == {5}
    assert [symbol for batch in fitted for symbol in batch] == symbols


def test_fit_batches_refuses_a_limit_below_one(common: Any) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        common.fit_batches([["IBM"]], 0)


def test_extract_summaries_are_combined_into_sorted_keys_and_counts(
    common: Any,
) -> None:
    summary = common.summarize_extracts(
        [
            {
                "objects": ["raw/b.json", "raw/a.json"],
                "deferred": [],
                "outcomes": {"fetched": 2},
            },
            {
                "objects": ["raw/c.json"],
                "deferred": ["ZZZ", "MSFT"],
                "failed": {"NOPE": "not_found: no such symbol"},
                "outcomes": {"fetched": 1, "deferred": 2, "not_found": 1},
            },
        ]
    )

    assert summary == {
        "objects": ["raw/a.json", "raw/b.json", "raw/c.json"],
        "deferred": ["MSFT", "ZZZ"],
        "failed": {"NOPE": "not_found: no such symbol"},
        "outcomes": {"deferred": 2, "fetched": 3, "not_found": 1},
        "batches": 2,
    }


def test_events_of_the_lake_asset_give_the_union_of_their_objects(
    common: Any,
) -> None:
    events = {
        common.LAKE_RAW: [
            FakeEvent({"objects": ["raw/k2.json", "raw/k1.json"]}),
            FakeEvent({"objects": ["raw/k2.json", "raw/k3.json"]}),
        ]
    }

    keys = common.objects_from_events(events, common.LAKE_RAW)

    assert keys == ["raw/k1.json", "raw/k2.json", "raw/k3.json"]


def test_events_of_other_assets_are_ignored(common: Any) -> None:
    events = {
        common.WAREHOUSE_RAW: [FakeEvent({"objects": ["raw/other.json"]})],
        common.LAKE_RAW: [FakeEvent({"objects": ["raw/mine.json"]})],
    }

    assert common.objects_from_events(events, common.LAKE_RAW) == ["raw/mine.json"]


def test_a_run_without_events_loads_everything_not_yet_loaded(common: Any) -> None:
    assert common.objects_from_events({}, common.LAKE_RAW) is None
    assert common.objects_from_events(None, common.LAKE_RAW) is None


def test_an_event_without_an_object_list_loads_everything_not_yet_loaded(
    common: Any,
) -> None:
    events = {
        common.LAKE_RAW: [
            FakeEvent({"objects": ["raw/k1.json"]}),
            FakeEvent({"from_rest_api": True}),
        ]
    }

    assert common.objects_from_events(events, common.LAKE_RAW) is None


def test_an_event_whose_objects_are_not_keys_is_refused_naming_its_run(
    common: Any,
) -> None:
    events = {common.LAKE_RAW: [FakeEvent({"objects": "raw/k1.json"})]}

    with pytest.raises(ValueError, match=r"manual__2024-06-21T22:30:00\+00:00"):
        common.objects_from_events(events, common.LAKE_RAW)


def _connection(**fields: Any) -> Any:
    from airflow.sdk import Connection

    if "extra" in fields:
        fields["extra"] = json.dumps(fields["extra"])
    return Connection(conn_id=fields.pop("conn_id", "test"), **fields)


def test_an_aws_connection_becomes_the_lake_settings(common: Any) -> None:
    lake = _connection(
        conn_type="aws",
        login="access-id",
        password="secret-key",
        extra={
            "endpoint_url": "http://minio:9000",
            "region_name": "eu-west-1",
            "lake_url": "s3://stocks-lake/raw",
        },
    )

    overrides = common.settings_overrides(lake=lake)
    settings = load_settings(**overrides)

    assert settings.aws_access_key_id is not None
    assert settings.aws_access_key_id.get_secret_value() == "access-id"
    assert settings.aws_secret_access_key is not None
    assert settings.aws_secret_access_key.get_secret_value() == "secret-key"
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.aws_default_region == "eu-west-1"
    assert settings.resolved_lake_url == "s3://stocks-lake/raw"


def test_a_postgres_connection_becomes_the_warehouse_url(common: Any) -> None:
    warehouse = _connection(
        conn_type="postgres",
        host="db.internal",
        port=5433,
        login="loader",
        password="p@ss:w/rd",
        schema="stocks",
        extra={"sslmode": "require"},
    )

    url = common.postgres_url(warehouse)

    assert url == (
        "postgresql://loader:p%40ss%3Aw%2Frd@db.internal:5433/stocks?sslmode=require"
    )
    settings = load_settings(**common.settings_overrides(warehouse=warehouse))
    assert settings.warehouse_url is not None
    assert settings.warehouse_url.get_secret_value() == url


def test_a_postgres_connection_to_a_socket_directory_keeps_it_as_host(
    common: Any,
) -> None:
    warehouse = _connection(
        conn_type="postgres",
        host="/srv/pgdata",
        port=5432,
        login="postgres",
        schema="stocks",
    )

    assert common.postgres_url(warehouse) == (
        "postgresql://postgres@/stocks?host=%2Fsrv%2Fpgdata&port=5432"
    )


def test_the_api_connection_gives_key_and_base_url_and_beats_the_variable(
    common: Any,
) -> None:
    api = _connection(
        conn_type="http", host="http://127.0.0.1:8765", password="CONN-KEY-123"
    )

    overrides = common.settings_overrides(alpha_vantage=api, api_key="VAR-KEY-456")

    assert overrides == {
        "alpha_vantage_base_url": "http://127.0.0.1:8765",
        "alpha_vantage_api_key": "CONN-KEY-123",
    }


def test_the_variable_gives_the_key_when_the_connection_has_none(
    common: Any,
) -> None:
    api = _connection(conn_type="http", host="www.alphavantage.co", schema="https")

    overrides = common.settings_overrides(alpha_vantage=api, api_key="VAR-KEY-456")

    assert overrides == {
        "alpha_vantage_base_url": "https://www.alphavantage.co",
        "alpha_vantage_api_key": "VAR-KEY-456",
    }


def test_without_connections_nothing_is_overridden(common: Any) -> None:
    assert common.settings_overrides() == {}


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
    common: Any, error: Exception
) -> None:
    from airflow.sdk import RetryAction

    decision = common.RETRY_POLICY.evaluate(error, try_number=1, max_tries=4)

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
def test_transient_failures_keep_the_retries_with_backoff(
    common: Any, error: Exception
) -> None:
    from airflow.sdk import RetryAction

    decision = common.RETRY_POLICY.evaluate(error, try_number=1, max_tries=4)

    assert decision.action == RetryAction.DEFAULT
    assert common.DEFAULT_ARGS["retries"] >= 1
    assert common.DEFAULT_ARGS["retry_exponential_backoff"] >= 2


@dataclass
class FakeDagRun:
    """The two moments a DAG run carries."""

    run_after: datetime
    data_interval_end: datetime | None = None


def test_a_scheduled_run_is_for_the_new_york_day_of_its_interval_end(
    common: Any,
) -> None:
    # 02:00 UTC on Saturday is 22:00 on Friday in New York (EDT, UTC-4).
    run = FakeDagRun(
        run_after=datetime(2024, 6, 22, 2, 0, tzinfo=UTC),
        data_interval_end=datetime(2024, 6, 22, 2, 0, tzinfo=UTC),
    )

    assert common.trading_date(run) == date(2024, 6, 21)


def test_a_manual_run_without_logical_date_is_for_the_day_it_was_triggered(
    common: Any,
) -> None:
    run = FakeDagRun(run_after=datetime(2024, 12, 2, 3, 30, tzinfo=UTC))

    # 03:30 UTC in December is 22:30 the day before in New York (EST, UTC-5).
    assert common.trading_date(run) == date(2024, 12, 1)
