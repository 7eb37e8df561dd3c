"""
The notifier every task of the DAGs calls when it fails for good
(``StocksEltNotifier``, Airflow's notifier interface), called as Airflow's task
runner calls it: with the task's context. E-mail goes through the smtp
provider's ``SmtpHook`` and the ``stocks_smtp`` connection to a real SMTP server
on loopback; the webhook to a real HTTP receiver.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from stocks_elt.errors import QualityGateFailed, WarehouseError
from stocks_elt.orchestration.notifiers import StocksEltNotifier, notify_task_failure
from stocks_elt.warehouse.audit.runs import as_run_uuid
from tests.fixtures.receivers import SmtpServer, WebhookReceiver
from tests.fixtures.s3 import free_port

NY = ZoneInfo("America/New_York")
RUN_ID = "scheduled__2024-07-05T22:30:00+00:00"
API_KEY = "AIRFLOW-NOTIFY-KEY-3307"


@dataclass
class FakeTaskInstance:
    """What the notifier reads of Airflow's RuntimeTaskInstance."""

    dag_id: str
    task_id: str
    run_id: str = RUN_ID
    map_index: int = -1
    try_number: int = 4
    max_tries: int = 3
    log_url: str = "http://airflow.example/dags/x/runs/y/tasks/z?try_number=4"


@dataclass
class FakeDagRun:
    logical_date: datetime | None
    run_after: datetime


def _without_airflow_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget connections other tests of the session set (the DAG tests' warehouse
    connection would win over STOCKS_ELT_WAREHOUSE_URL inside a task)."""
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(name)


def _context(ti: FakeTaskInstance, error: BaseException, **more: Any) -> dict[str, Any]:
    return {
        "ti": ti,
        "task_instance": ti,
        "run_id": ti.run_id,
        "exception": error,
        **more,
    }


@pytest.fixture
def airflow_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warehouse: str,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> str:
    """The environment a task of `stocks-elt airflow` sees: settings as variables,
    the SMTP server as the ``stocks_smtp`` connection."""
    monkeypatch.chdir(tmp_path)
    _without_airflow_connections(monkeypatch)
    for name, value in {
        "STOCKS_ELT_WAREHOUSE_URL": warehouse,
        "STOCKS_ELT_DATA_DIR": str(tmp_path),
        "ALPHA_VANTAGE_API_KEY": API_KEY,
        "STOCKS_ELT_TICKERS": "IBM,MSFT",
        "STOCKS_ELT_NOTIFY_EMAIL_TO": "oncall@example.com",
        "STOCKS_ELT_NOTIFY_WEBHOOK_URL": webhook_receiver.url,
        "AIRFLOW_CONN_STOCKS_SMTP": json.dumps(
            {
                "conn_type": "smtp",
                "host": smtp_server.host,
                "port": smtp_server.port,
                "extra": {
                    "from_email": "airflow@example.com",
                    "disable_ssl": True,
                    "disable_tls": True,
                    "retry_limit": 0,
                    "timeout": 5,
                },
            }
        ),
    }.items():
        monkeypatch.setenv(name, value)
    return warehouse


def _mail(smtp: SmtpServer) -> tuple[str, str]:
    assert len(smtp.messages) == 1, [m["Subject"] for m in smtp.messages]
    message = smtp.messages[0]
    part = message.get_body(preferencelist=("html", "plain"))
    assert part is not None
    return str(message["Subject"]), str(part.get_content())


def test_a_failed_task_sends_its_error_log_and_run_through_the_smtp_provider(
    airflow_env: str, smtp_server: SmtpServer, webhook_receiver: WebhookReceiver
) -> None:
    ti = FakeTaskInstance("load_stocks_from_minio", "load_new_objects")
    error = WarehouseError(
        "load: the warehouse (postgresql://stocks:***@db:5432/stocks) stopped answering"
    )

    StocksEltNotifier()(_context(ti, error))

    subject, html = _mail(smtp_server)
    assert subject == "[stocks-elt] load_stocks_from_minio.load_new_objects failed"
    assert smtp_server.envelopes == [("airflow@example.com", ["oncall@example.com"])]
    assert "WarehouseError: load: the warehouse" in html
    assert f"run id: {RUN_ID}" in html
    assert "try: 4 of 4" in html
    assert "task log: http://airflow.example/dags/x/runs/y/tasks/z?try_number=4" in html
    assert f"stocks-elt history --run {as_run_uuid(RUN_ID)}" in html
    payload = webhook_receiver.bodies[0]["stocks_elt"]
    assert payload["event"] == "task_failed"
    assert payload["source"] == "airflow load_stocks_from_minio.load_new_objects"


def test_a_failed_quality_gate_sends_the_findings_not_a_bare_error(
    airflow_env: str, smtp_server: SmtpServer, webhook_receiver: WebhookReceiver
) -> None:
    with psycopg.connect(airflow_env) as conn:
        conn.execute(
            "insert into audit.dq_results (run_id, check_name, severity, symbol,"
            " status, observed_value, threshold) values"
            " (%s, 'missing_sessions', 'blocking', 'MSFT', 'fail', 2, 0)",
            (as_run_uuid(RUN_ID),),
        )
    ti = FakeTaskInstance("load_stocks_from_minio", "run_quality_gate")

    notify_task_failure(_context(ti, QualityGateFailed("quality gate failed: ...")))

    subject, html = _mail(smtp_server)
    assert subject == (
        "[stocks-elt] quality gate failed: missing_sessions; the transform did not run"
    )
    assert "missing_sessions: MSFT observed 2 vs threshold 0" in html
    assert webhook_receiver.bodies[0]["stocks_elt"]["event"] == "quality_gate_failed"


def test_check_symbol_outcomes_failing_sends_the_symbols_and_reasons(
    airflow_env: str, smtp_server: SmtpServer, webhook_receiver: WebhookReceiver
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with psycopg.connect(airflow_env) as conn:
        conn.execute(
            "insert into audit.extract_outcomes (run_id, symbol, outcome, reason)"
            " values (%s, 'NOSUCH', 'not_found', 'empty answer: unknown symbol')",
            (as_run_uuid(RUN_ID),),
        )
    ti = FakeTaskInstance("ingest_stocks", "check_symbol_outcomes", try_number=1)

    notify_task_failure(_context(ti, AirflowFailException("1 symbol(s) ...")))

    subject, html = _mail(smtp_server)
    assert subject == "[stocks-elt] 1 symbol(s) could not be fetched: NOSUCH"
    assert "NOSUCH: not_found: empty answer: unknown symbol" in html


def test_the_freshness_check_failing_sends_what_the_marts_lack(
    airflow_env: str, smtp_server: SmtpServer, webhook_receiver: WebhookReceiver
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with psycopg.connect(airflow_env) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.fct_daily_bars (symbol text, trade_date date)")
        conn.execute("insert into marts.fct_daily_bars values ('IBM', '2024-07-05')")
    deadline = datetime(2024, 7, 5, 21, 0, tzinfo=NY)
    ti = FakeTaskInstance("check_freshness", "check_marts_are_current", try_number=1)
    context = _context(
        ti,
        AirflowFailException("freshness deadline missed"),
        dag_run=FakeDagRun(logical_date=deadline, run_after=deadline),
    )

    notify_task_failure(context)
    notify_task_failure(context)  # the same session again: announced once

    subject, html = _mail(smtp_server)
    assert subject.startswith(
        "[stocks-elt] freshness deadline 21:00 New York missed for 2024-07-05"
    )
    assert "MSFT: marts end at nothing, expected 2024-07-05" in html
    assert len(webhook_receiver.bodies) == 1


def test_an_unreachable_smtp_server_never_raises_and_is_counted(
    airflow_env: str, monkeypatch: pytest.MonkeyPatch, webhook_receiver: WebhookReceiver
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_STOCKS_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": free_port(),
                "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0},
            }
        ),
    )
    ti = FakeTaskInstance("dbt_run_models", "fct_daily_bars_model_build")

    deliveries = notify_task_failure(_context(ti, RuntimeError("dbt failed")))

    assert [(d.channel, d.status) for d in deliveries] == [
        ("email", "failed"),
        ("webhook", "sent"),
    ]
    assert "connection stocks_smtp failed" in str(deliveries[0].error)
    with psycopg.connect(airflow_env) as conn:
        rows = conn.execute(
            "select channel, status from audit.notifications order by channel"
        ).fetchall()
    assert rows == [("email", "failed"), ("webhook", "sent")]


def test_without_a_channel_the_notifier_does_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _without_airflow_connections(monkeypatch)
    monkeypatch.setenv("STOCKS_ELT_WAREHOUSE_URL", warehouse)
    for name in ("STOCKS_ELT_NOTIFY_EMAIL_TO", "STOCKS_ELT_NOTIFY_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    ti = FakeTaskInstance("ingest_stocks", "plan_batches")

    assert notify_task_failure(_context(ti, RuntimeError("x"))) == []


def test_a_broken_configuration_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    _without_airflow_connections(monkeypatch)
    monkeypatch.setenv("STOCKS_ELT_NOTIFY_WEBHOOK_URL", "not-a-url")
    ti = FakeTaskInstance("ingest_stocks", "plan_batches")

    assert notify_task_failure(_context(ti, RuntimeError("x"))) == []
    assert "failure notice not built" in caplog.text


def test_a_failure_whose_details_cannot_be_read_is_still_announced(
    airflow_env: str,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    # The deadline check failed because the warehouse is gone: what the marts
    # lack cannot be read, so the task's own error is sent instead.
    monkeypatch.setenv(
        "STOCKS_ELT_WAREHOUSE_URL",
        f"postgresql://stocks:pg-pw-1@127.0.0.1:{free_port()}/x",
    )
    deadline = datetime(2024, 7, 5, 21, 0, tzinfo=NY)
    ti = FakeTaskInstance("check_freshness", "check_marts_are_current", try_number=4)
    error = WarehouseError(
        "cannot connect to the warehouse at postgresql://stocks:***@..."
    )

    deliveries = notify_task_failure(
        _context(
            ti, error, dag_run=FakeDagRun(logical_date=deadline, run_after=deadline)
        )
    )

    assert [d.status for d in deliveries] == ["sent", "sent"]
    subject, html = _mail(smtp_server)
    assert subject == "[stocks-elt] check_freshness.check_marts_are_current failed"
    assert "WarehouseError: cannot connect to the warehouse" in html
    assert "pg-pw-1" not in html + str(webhook_receiver.bodies)
