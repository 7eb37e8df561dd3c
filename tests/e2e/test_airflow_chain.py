"""
The three DAGs on a real Airflow: ingest_stocks is triggered through the REST API,
its lake Asset starts load_stocks_from_minio, whose warehouse Asset starts
dbt_run_models; the marts then hold exactly what the emulator serves, and one more
emulated session adds exactly one row per ticker.

The API key comes from Airflow's secrets backend (a ``LocalFilesystemBackend``
variable): the environment of every Airflow process holds only the public
``demo`` key. After both chains, the key is looked for, and never found, in every
task log, XCom, Asset event, rendered template and in a dump of every table of the
metadata database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import default_universe, symbol_history
from tests.e2e.conftest import (
    AIRFLOW_PASSWORD,
    local_airflow,
    local_filesystem_secrets,
    metadata_dump,
)
from tests.fixtures.airflow_api import AirflowApi
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY, EmulatorFactory

pytestmark = pytest.mark.timeout(900)

TICKERS = ["IBM", "AAPL", "MSFT", "NVDA", "JPM"]
CHAIN = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")
RUN_TIMEOUT = 420.0


@dataclass(frozen=True)
class ChainRun:
    """The runs one trigger of ingest_stocks caused, one per DAG of the chain."""

    run_ids: dict[str, str]
    seconds: float


def _run_chain(api: AirflowApi, trading_day: date) -> ChainRun:
    """Trigger ingest_stocks for ``trading_day`` 18:30 New York; wait for the chain."""
    started = time.monotonic()
    # 22:30 UTC is 18:30 in New York in June (EDT): the DAG's scheduled time.
    logical_date = datetime(
        trading_day.year, trading_day.month, trading_day.day, 22, 30, tzinfo=UTC
    )
    run_ids = api.run_chain(CHAIN, {"tickers": TICKERS}, logical_date, RUN_TIMEOUT)
    return ChainRun(run_ids=run_ids, seconds=time.monotonic() - started)


def _marts_bars(warehouse: str) -> dict[str, dict[date, Decimal]]:
    bars: dict[str, dict[date, Decimal]] = {}
    with psycopg.connect(warehouse) as conn:
        for symbol, trade_date, close_price in conn.execute(
            "select symbol, trade_date, close_price from marts.fct_daily_bars"
        ):
            bars.setdefault(symbol, {})[trade_date] = close_price
    return bars


def _served_bars(today: date) -> dict[str, dict[date, Decimal]]:
    """The as-traded closes the emulator serves on ``today`` (ticks of 0.0001)."""
    universe = {listed.symbol: listed for listed in default_universe()}
    served: dict[str, dict[date, Decimal]] = {}
    for symbol in TICKERS:
        history = symbol_history(universe[symbol], today)
        served[symbol] = {
            day: Decimal(ticks).scaleb(-4)
            for day, ticks in zip(history.dates, history.closes, strict=True)
        }
    return served


def _task_instances_as_served(api: AirflowApi, chains: list[ChainRun]) -> str:
    """The REST API's task instances of every run (their rendered templates
    included), as the JSON texts it served."""
    return "\n".join(
        api.airflow.api.get(
            f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances",
            params={"limit": 1000},
        ).text
        for chain in chains
        for dag_id, run_id in chain.run_ids.items()
    )


def _settings(
    tmp_path: Path, emulator_url: str, s3_endpoint: str, warehouse: str
) -> Settings:
    """Everything but the API key: the environment holds the public demo key (a
    task that missed the backend's key would fetch IBM only, and fail the test)."""
    return load_settings(
        alpha_vantage_api_key="demo",
        alpha_vantage_base_url=emulator_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_daily_quota=0,
        extract_concurrency=4,
        tickers=["IBM"],
        data_dir=tmp_path / "data",
        lake_url="s3://e2e-lake/stocks",
        s3_endpoint_url=s3_endpoint,
        aws_access_key_id="e2e-access-key",
        aws_secret_access_key="e2e-secret-key-9271",
        aws_default_region="us-east-1",
        warehouse_url=warehouse,
        airflow_user="e2e",
        airflow_password=AIRFLOW_PASSWORD,
    )


def test_two_sessions_flow_through_the_asset_chain_into_the_marts(
    tmp_path: Path,
    emulator_factory: EmulatorFactory,
    s3_endpoint: str,
    warehouse: str,
    airflow_metadata_url: str,
) -> None:
    emulator = emulator_factory()
    settings = _settings(tmp_path, emulator.base_url, s3_endpoint, warehouse)
    secrets = local_filesystem_secrets(
        tmp_path / "secrets", {"alpha_vantage_api_key": PREMIUM_KEY}, emulator.base_url
    )

    with local_airflow(settings, airflow_metadata_url, secrets) as airflow:
        api = AirflowApi(airflow)
        api.wait_for_dags()

        first = _run_chain(api, EMULATOR_TODAY)

        served = _served_bars(EMULATOR_TODAY)
        assert _marts_bars(warehouse) == served

        next_session = emulator.advance(1)
        second = _run_chain(api, next_session)

        events = airflow.api.get("/assets/events", params={"limit": 100}).text
        assert '"objects"' in events
        assert PREMIUM_KEY not in events
        rendered = _task_instances_as_served(api, [first, second])
        assert '"rendered_fields"' in rendered
        assert PREMIUM_KEY not in rendered

    # Every call reached the API with the backend's key, none with the demo key.
    keys = {call.key for call in emulator.calls()}
    assert keys == {PREMIUM_KEY}, keys
    logs = list((airflow.home / "logs").rglob("*.log"))
    assert logs
    for log in logs:
        assert PREMIUM_KEY not in log.read_text(encoding="utf-8", errors="replace"), log
    dump = metadata_dump(airflow_metadata_url)
    for table in ("xcom", "asset_event", "rendered_task_instance_fields"):
        assert dump[table], f"{table} is empty: the scan would prove nothing"
    assert b"load_stocks_from_minio" in dump["dag_run"]  # the dump is readable
    leaking = [table for table, rows in dump.items() if PREMIUM_KEY.encode() in rows]
    assert leaking == []

    after = _marts_bars(warehouse)
    for symbol in TICKERS:
        new_days = set(after[symbol]) - set(served[symbol])
        assert new_days == {next_session}, symbol
    assert after == _served_bars(next_session)
    assert set(first.run_ids) == set(second.run_ids) == set(CHAIN)
