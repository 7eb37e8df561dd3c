"""
The three DAGs on a real Airflow: ingest_stocks is triggered through the REST API,
its lake Asset starts load_stocks_from_minio, whose warehouse Asset starts
dbt_run_models; the marts then hold exactly what the emulator serves, and one more
emulated session adds exactly one row per ticker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import default_universe, symbol_history
from stocks_elt.warehouse.connection import connection_parameters
from tests.e2e.conftest import AIRFLOW_PASSWORD, lineage_events, local_airflow
from tests.fixtures.airflow_api import AirflowApi
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY, EmulatorFactory
from tests.fixtures.lineage import LineageGraph, read_events
from tests.fixtures.receivers import SmtpServer, WebhookReceiver, wait_for

pytestmark = pytest.mark.timeout(900)

TICKERS = ["IBM", "AAPL", "MSFT", "NVDA", "JPM"]
CHAIN = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")
RUN_TIMEOUT = 420.0


@dataclass(frozen=True)
class ChainRun:
    """The runs one trigger of ingest_stocks caused, one per DAG of the chain."""

    run_ids: dict[str, str]
    seconds: float


def _new_run_id(api: AirflowApi, dag_id: str, seen: set[str]) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        fresh = [run for run in api.dag_runs(dag_id) if run["dag_run_id"] not in seen]
        if fresh:
            run_id: str = fresh[-1]["dag_run_id"]
            return run_id
        time.sleep(1.0)
    raise AssertionError(f"the asset chain never started {dag_id}")


def _assert_every_task_succeeded(api: AirflowApi, dag_id: str, run_id: str) -> None:
    run = api.wait_for_dag_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    states = {
        (ti["task_id"], ti["map_index"]): ti["state"]
        for ti in api.task_instances(dag_id, run_id)
    }
    assert run["state"] == "success", (
        f"{dag_id} {run_id}: {states}; logs in {api.airflow.home / 'logs'}"
    )
    assert states, f"{dag_id} {run_id} ran no task"
    assert set(states.values()) == {"success"}, f"{dag_id}: {states}"


def _run_chain(api: AirflowApi, trading_day: date) -> ChainRun:
    """Trigger ingest_stocks for ``trading_day`` 18:30 New York; wait for the chain."""
    seen = {dag_id: {r["dag_run_id"] for r in api.dag_runs(dag_id)} for dag_id in CHAIN}
    started = time.monotonic()
    # 22:30 UTC is 18:30 in New York in June (EDT): the DAG's scheduled time.
    logical_date = datetime(
        trading_day.year, trading_day.month, trading_day.day, 22, 30, tzinfo=UTC
    )
    run_ids = {
        "ingest_stocks": api.trigger_dag(
            "ingest_stocks", {"tickers": TICKERS}, logical_date=logical_date
        )
    }
    _assert_every_task_succeeded(api, "ingest_stocks", run_ids["ingest_stocks"])
    for dag_id in CHAIN[1:]:
        run_ids[dag_id] = _new_run_id(api, dag_id, seen[dag_id])
        _assert_every_task_succeeded(api, dag_id, run_ids[dag_id])
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


def _settings(
    tmp_path: Path,
    emulator_url: str,
    s3_endpoint: str,
    warehouse: str,
    smtp: SmtpServer,
    webhook: WebhookReceiver,
) -> Settings:
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
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
        # Alerts: e-mail through the stocks_smtp connection (the smtp
        # provider's hook), and a webhook.
        smtp_url=smtp.url,
        notify_email_to="oncall@example.com",
        notify_webhook_url=webhook.url,
    )


def test_two_sessions_flow_through_the_asset_chain_into_the_marts(
    tmp_path: Path,
    emulator_factory: EmulatorFactory,
    s3_endpoint: str,
    warehouse: str,
    airflow_metadata_url: str,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    emulator = emulator_factory()
    settings = _settings(
        tmp_path,
        emulator.base_url,
        s3_endpoint,
        warehouse,
        smtp_server,
        webhook_receiver,
    )

    with local_airflow(settings, airflow_metadata_url) as airflow:
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

        # A symbol the API does not know fails check_symbol_outcomes; its
        # failure callback sends one notice on each channel, nothing before it.
        assert smtp_server.messages == []
        assert webhook_receiver.bodies == []
        failing = api.trigger_dag("ingest_stocks", {"tickers": ["NOSUCH"]})
        assert api.wait_for_dag_run("ingest_stocks", failing)["state"] == "failed"
        wait_for(lambda: bool(smtp_server.messages and webhook_receiver.bodies))

    for log in (airflow.home / "logs").rglob("*.log"):
        assert PREMIUM_KEY not in log.read_text(encoding="utf-8", errors="replace"), log

    after = _marts_bars(warehouse)
    for symbol in TICKERS:
        new_days = set(after[symbol]) - set(served[symbol])
        assert new_days == {next_session}, symbol
    assert after == _served_bars(next_session)
    assert set(first.run_ids) == set(second.run_ids) == set(CHAIN)
    _assert_one_notice_for(failing, smtp_server, webhook_receiver)
    _assert_lineage_from_lake_to_marts(settings, warehouse)


def _assert_one_notice_for(
    run_id: str, smtp: SmtpServer, webhook: WebhookReceiver
) -> None:
    """The failed ingest run's notice, as the notifier sent it from Airflow."""
    assert len(smtp.messages) == 1, [m["Subject"] for m in smtp.messages]
    assert len(webhook.bodies) == 1, webhook.bodies
    subject = "[stocks-elt] 1 symbol(s) could not be fetched: NOSUCH"
    assert smtp.messages[0]["Subject"] == subject
    html = smtp.messages[0].get_body(preferencelist=("html",))
    assert html is not None
    assert f"run id: {run_id}" in str(html.get_content())
    notice = webhook.bodies[0]["stocks_elt"]
    assert notice["event"] == "symbols_not_fetched"
    assert notice["run_id"] == run_id
    assert notice["failed"][0].startswith("NOSUCH: not_found")
    assert PREMIUM_KEY not in str(webhook.bodies) + str(smtp.messages[0])


def _assert_lineage_from_lake_to_marts(settings: Settings, warehouse: str) -> None:
    """OpenLineage events of the run join the lake objects extract wrote to
    raw.daily_prices (the load task) and on to marts.fct_daily_indicators (the
    dbt tasks, through Cosmos)."""
    params = connection_parameters(warehouse)
    namespace = f"postgres://{params['host']}:{params['port']}"
    database = params["dbname"]
    graph = LineageGraph.of(read_events(lineage_events(settings)))
    raw = (namespace, f"{database}.raw.daily_prices")
    indicators = (namespace, f"{database}.marts.fct_daily_indicators")

    def in_the_lake(dataset: tuple[str, str]) -> bool:
        return (
            dataset[0] == "s3://e2e-lake"
            and "function=TIME_SERIES_DAILY" in (dataset[1])
        )

    to_raw = graph.path(in_the_lake, raw)
    assert to_raw is not None, sorted(graph.datasets)
    assert graph.path(lambda dataset: dataset == raw, indicators) is not None, sorted(
        graph.datasets
    )
    # extract_batch wrote the object the load read; the load and dbt jobs join
    # the rest.
    lake_object, first_table = to_raw[0], to_raw[1]
    assert first_table == raw, to_raw  # the load reads the object, writes raw
    assert any(job.endswith("extract_batch") for job in graph.written_by[lake_object])
    assert any(
        job.endswith("load_new_objects") for job in graph.jobs[(lake_object, raw)]
    )
