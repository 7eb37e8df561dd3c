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
from stocks_elt.warehouse.connection import connection_parameters
from tests.e2e.conftest import (
    AIRFLOW_PASSWORD,
    lineage_events,
    local_airflow,
    local_filesystem_secrets,
    metadata_dump,
)
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
    tmp_path: Path,
    emulator_url: str,
    s3_endpoint: str,
    warehouse: str,
    smtp: SmtpServer,
    webhook: WebhookReceiver,
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

        # A symbol the API does not know fails check_symbol_outcomes; its
        # failure callback sends one notice on each channel, nothing before it.
        assert smtp_server.messages == []
        assert webhook_receiver.bodies == []
        failing = api.trigger_dag("ingest_stocks", {"tickers": ["NOSUCH"]})
        assert api.wait_for_dag_run("ingest_stocks", failing)["state"] == "failed"
        wait_for(lambda: bool(smtp_server.messages and webhook_receiver.bodies))

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
