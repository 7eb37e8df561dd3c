"""
Each notification event, sent for real: to an SMTP server (aiosmtpd) and an HTTP
receiver on loopback, from facts recorded in a real warehouse. The tests read
what arrived: the subject, the body, the Slack payload, the audit rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.notifications.events import (
    deferred_notice,
    fetch_notice,
    freshness_notice,
    quality_notice,
    where_to_look,
)
from stocks_elt.notifications.messages import task_failed
from stocks_elt.notifications.send import send_notice
from stocks_elt.warehouse.audit.runs import as_run_uuid
from tests.fixtures.receivers import SmtpServer, WebhookReceiver
from tests.fixtures.s3 import free_port

NY = ZoneInfo("America/New_York")
API_KEY = "NOTIFY-TEST-KEY-8812"
AIRFLOW_RUN = "manual__2026-12-01T23:30:00+00:00"
RECIPIENT = "data-team@example.com"


def _settings(
    warehouse: str,
    tmp_path: Path,
    smtp: SmtpServer,
    webhook: WebhookReceiver,
    **more: Any,
) -> Settings:
    return load_settings(
        warehouse_url=warehouse,
        data_dir=tmp_path,
        alpha_vantage_api_key=API_KEY,
        smtp_url=smtp.url,
        notify_email_to=RECIPIENT,
        notify_email_from="stocks-elt@example.com",
        notify_webhook_url=webhook.url,
        tickers="IBM,MSFT",
        **more,
    )


def _attempts(warehouse: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(warehouse) as conn:
        return conn.execute(
            "select event, channel, status, run_id, error from audit.notifications"
            " order by notification_id"
        ).fetchall()


def _one_of_each(
    smtp: SmtpServer, webhook: WebhookReceiver
) -> tuple[str, str, dict[str, Any]]:
    assert len(smtp.messages) == 1, [m["Subject"] for m in smtp.messages]
    assert len(webhook.bodies) == 1
    message = smtp.messages[0]
    return str(message["Subject"]), smtp.body(message), webhook.bodies[0]


def test_a_failed_task_reaches_both_channels_with_run_id_and_where_to_look(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = _settings(warehouse, tmp_path, smtp_server, webhook_receiver)
    audit_id = str(as_run_uuid(AIRFLOW_RUN))
    notice = task_failed(
        source="airflow load_stocks_from_minio.load_new_objects",
        what="load_stocks_from_minio.load_new_objects",
        # An error that quotes the key twice, as an httpx error on a URL would.
        error=f"LoadError: GET https://www.alphavantage.co/query?apikey={API_KEY}"
        f"&function=SPLITS failed; key {API_KEY}",
        run_id=AIRFLOW_RUN,
        audit_run_id=audit_id,
        where=where_to_look(AIRFLOW_RUN, "http://airflow.example/log/1"),
        facts={"try": "4 of 4"},
    )

    deliveries = send_notice(settings, notice)

    assert [(d.channel, d.status) for d in deliveries] == [
        ("email", "sent"),
        ("webhook", "sent"),
    ]
    subject, body, payload = _one_of_each(smtp_server, webhook_receiver)
    assert subject == "[stocks-elt] load_stocks_from_minio.load_new_objects failed"
    assert smtp_server.envelopes == [("stocks-elt@example.com", [RECIPIENT])]
    assert f"run id: {AIRFLOW_RUN}" in body
    assert f"audit run id: {audit_id}" in body
    assert "http://airflow.example/log/1" in body
    assert f"stocks-elt history --run {audit_id}" in body
    assert "try: 4 of 4" in body
    assert "LoadError: GET https://www.alphavantage.co/query?apikey=***" in body
    assert payload["stocks_elt"]["event"] == "task_failed"
    assert payload["stocks_elt"]["run_id"] == AIRFLOW_RUN
    assert payload["text"].startswith(subject)
    assert [block["type"] for block in payload["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
    ]
    for text in (subject, body, str(payload), str(smtp_server.messages[0])):
        assert API_KEY not in text
    assert webhook_receiver.paths == ["/services/T0/B0/hook-token-5531"]
    assert [(e, c, s, str(r)) for e, c, s, r, _ in _attempts(warehouse)] == [
        ("task_failed", "email", "sent", audit_id),
        ("task_failed", "webhook", "sent", audit_id),
    ]


def test_a_blocking_quality_failure_names_check_symbol_observed_and_threshold(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = _settings(warehouse, tmp_path, smtp_server, webhook_receiver)
    run = as_run_uuid(AIRFLOW_RUN)
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into audit.dq_results (run_id, check_name, severity, symbol,"
            " status, observed_value, threshold, details)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run,
                    "extreme_moves",
                    "blocking",
                    "AAPL",
                    "fail",
                    0.62,
                    0.5,
                    "2024-06-20 +62%",
                ),
                (run, "ohlc_consistency", "blocking", "MSFT", "fail", 3, 0, "3 rows"),
                (run, "stale_prices", "warning", "KO", "warn", 4, 3, None),
                (run, "duplicate_keys", "blocking", None, "pass", 0, 0, None),
                # Another run's failure is not this run's.
                (
                    uuid.uuid4(),
                    "extreme_moves",
                    "blocking",
                    "TSLA",
                    "fail",
                    9,
                    0.5,
                    None,
                ),
            ],
        )

    notice = quality_notice(
        settings,
        AIRFLOW_RUN,
        source="airflow load_stocks_from_minio.run_quality_gate",
        where=where_to_look(AIRFLOW_RUN),
    )
    send_notice(settings, notice)

    subject, body, payload = _one_of_each(smtp_server, webhook_receiver)
    assert subject == (
        "[stocks-elt] quality gate failed: extreme_moves, ohlc_consistency; "
        "the transform did not run"
    )
    assert (
        "extreme_moves: AAPL observed 0.62 vs threshold 0.5 (2024-06-20 +62%)" in body
    )
    assert "ohlc_consistency: MSFT observed 3 vs threshold 0 (3 rows)" in body
    assert "KO" not in body  # a warning does not block
    assert "TSLA" not in body
    assert payload["stocks_elt"]["failed"] == [
        "extreme_moves: AAPL observed 0.62 vs threshold 0.5 (2024-06-20 +62%)",
        "ohlc_consistency: MSFT observed 3 vs threshold 0 (3 rows)",
    ]


def test_symbols_not_fetched_lists_each_symbol_with_its_reason(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = _settings(warehouse, tmp_path, smtp_server, webhook_receiver)
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into audit.extract_outcomes (run_id, symbol, outcome, reason)"
            " values (%s, %s, %s, %s)",
            [
                (as_run_uuid(AIRFLOW_RUN), "IBM", "fetched", None),
                (
                    as_run_uuid(AIRFLOW_RUN),
                    "NOSUCH",
                    "not_found",
                    "the API knows no NOSUCH",
                ),
                (
                    as_run_uuid(AIRFLOW_RUN),
                    "BRK.B",
                    "failed",
                    f"ApiError: HTTP 503 (apikey={API_KEY})",
                ),
                (as_run_uuid(AIRFLOW_RUN), "KO", "deferred", "daily quota spent"),
            ],
        )

    notice = fetch_notice(
        settings,
        AIRFLOW_RUN,
        source="airflow ingest_stocks.check_symbol_outcomes",
        where=where_to_look(AIRFLOW_RUN),
    )
    assert notice is not None
    send_notice(settings, notice)

    subject, body, payload = _one_of_each(smtp_server, webhook_receiver)
    assert subject == "[stocks-elt] 2 symbol(s) could not be fetched: BRK.B, NOSUCH"
    assert "BRK.B: failed: ApiError: HTTP 503 (apikey=***)" in body
    assert "NOSUCH: not_found: the API knows no NOSUCH" in body
    assert "KO" not in body
    assert "IBM" not in subject
    assert API_KEY not in str(payload)
    assert fetch_notice(settings, "another-run", source="x", where=()) is None


def _deferrals(warehouse: str, now: datetime) -> None:
    rows = [
        ("MSFT", "fetched", now - timedelta(days=10)),
        ("MSFT", "deferred", now - timedelta(days=5)),
        ("MSFT", "deferred", now - timedelta(days=4)),
        ("MSFT", "deferred", now - timedelta(days=1)),
        ("KO", "deferred", now - timedelta(days=1)),  # deferred, but not for long
        ("AAPL", "deferred", now - timedelta(days=6)),  # fetched since: not waiting
        ("AAPL", "fetched", now - timedelta(days=2)),
    ]
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into audit.extract_outcomes (symbol, outcome, reason, recorded_at)"
            " values (%s, %s, 'daily quota spent', %s)",
            rows,
        )


def test_deferred_symbols_piling_up_are_announced_once_a_day(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = _settings(
        warehouse, tmp_path, smtp_server, webhook_receiver, notify_deferred_days=3
    )
    now = datetime(2026, 12, 1, 23, 40, tzinfo=UTC)
    _deferrals(warehouse, now)

    notice = deferred_notice(
        settings,
        now=now,
        run_id=AIRFLOW_RUN,
        source="airflow ingest_stocks",
        where=where_to_look(AIRFLOW_RUN),
    )
    assert notice is not None
    send_notice(settings, notice)
    again = send_notice(settings, notice)  # a retry, the same day

    subject, body, _ = _one_of_each(smtp_server, webhook_receiver)
    assert [d.status for d in again] == ["skipped", "skipped"]
    assert subject == "[stocks-elt] 1 symbol(s) deferred for more than 3 day(s)"
    since = (now - timedelta(days=5)).astimezone(NY)
    assert (
        f"MSFT: deferred since {since:%Y-%m-%d %H:%M %Z} (3 run(s)): daily quota spent"
        in body
    )
    assert "KO" not in body
    assert "AAPL" not in body
    # With a longer patience nobody has waited long enough.
    patient = load_settings(
        warehouse_url=warehouse, data_dir=tmp_path, notify_deferred_days=6
    )
    assert deferred_notice(patient, now=now, run_id=None, source="x", where=()) is None


def test_a_missed_freshness_deadline_lists_what_the_marts_lack_once_per_session(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    settings = _settings(
        warehouse, tmp_path, smtp_server, webhook_receiver, freshness_deadline="21:00"
    )
    at = datetime(2024, 7, 5, 21, 0, tzinfo=NY)  # Friday: its session closed at 16:00
    with psycopg.connect(warehouse) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.fct_daily_bars (symbol text, trade_date date)")
        conn.execute(
            "insert into marts.fct_daily_bars values ('IBM', '2024-07-03'),"
            " ('IBM', '2024-07-05'), ('MSFT', '2024-07-03')"
        )
        conn.execute(
            "insert into audit.pipeline_runs"
            " (run_id, command, started_at, outcome, message)"
            " values (%s, 'ingest_stocks', %s, 'failed', %s)",
            (
                uuid.uuid4(),
                datetime(2024, 7, 5, 18, 30, tzinfo=NY),
                "1 symbol(s) could not be fetched: MSFT",
            ),
        )

    notice = freshness_notice(
        settings,
        at=at,
        run_id="scheduled__check",
        source="airflow check_freshness",
        where=("stocks-elt status",),
    )
    assert notice is not None
    send_notice(settings, notice)
    send_notice(settings, notice)  # a second check of the same session

    subject, body, payload = _one_of_each(smtp_server, webhook_receiver)
    assert subject == (
        "[stocks-elt] freshness deadline 21:00 New York missed for 2024-07-05: "
        "1 symbol(s) not in the marts"
    )
    assert "MSFT: marts end at 2024-07-03, expected 2024-07-05" in body
    assert "IBM:" not in body
    assert (
        "ingest_stocks failed 2024-07-05 18:30: 1 symbol(s) could not be fetched: MSFT"
        in body
    )
    assert "load_stocks_from_minio: no run recorded" in body
    assert payload["stocks_elt"]["event"] == "freshness_missed"
    # Before the close the last completed session is the day before: all fresh.
    morning = datetime(2024, 7, 5, 9, 0, tzinfo=NY)
    assert (
        freshness_notice(
            settings, at=morning, run_id=None, source="x", where=(), symbols=["IBM"]
        )
        is None
    )


def test_unreachable_channels_are_logged_and_counted_never_raised(
    warehouse: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()
    settings = load_settings(
        warehouse_url=warehouse,
        data_dir=tmp_path,
        smtp_url=f"smtp://127.0.0.1:{closed}",
        notify_email_to=RECIPIENT,
        notify_webhook_url=f"http://127.0.0.1:{closed}/services/T0/B0/hook-token-9911",
        notify_timeout_seconds=2,
    )
    notice = task_failed(
        source="stocks-elt run",
        what="stocks-elt run",
        error="boom",
        run_id=None,
        audit_run_id=None,
        where=(),
    )

    deliveries = send_notice(settings, notice)

    assert [(d.channel, d.status) for d in deliveries] == [
        ("email", "failed"),
        ("webhook", "failed"),
    ]
    attempts = _attempts(warehouse)
    assert [(e, c, s) for e, c, s, _, _ in attempts] == [
        ("task_failed", "email", "failed"),
        ("task_failed", "webhook", "failed"),
    ]
    assert f"127.0.0.1:{closed}" in attempts[0][4]
    assert "hook-token-9911" not in str(attempts) + caplog.text
    assert "notification failed event=task_failed channel=webhook" in caplog.text


def test_a_webhook_that_refuses_the_payload_is_a_counted_failure(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    webhook_receiver.status = 500
    settings = _settings(warehouse, tmp_path, smtp_server, webhook_receiver)
    notice = task_failed(
        source="s", what="w", error="e", run_id=None, audit_run_id=None, where=()
    )

    deliveries = send_notice(settings, notice)

    assert [(d.channel, d.status) for d in deliveries] == [
        ("email", "sent"),
        ("webhook", "failed"),
    ]
    assert (
        deliveries[1].error == "webhook at 127.0.0.1 answered HTTP 500: invalid_payload"
    )


def test_the_smtp_login_is_never_sent_without_tls(
    warehouse: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = load_settings(
        warehouse_url=warehouse,
        data_dir=tmp_path,
        smtp_url=f"smtp://alerts:smtp-pw-4471@127.0.0.1:{smtp_server.port}",
        notify_email_to=RECIPIENT,
    )
    notice = task_failed(
        source="s", what="w", error="e", run_id=None, audit_run_id=None, where=()
    )

    [delivery] = send_notice(settings, notice)

    assert delivery.status == "failed"
    assert "refusing to send the login without TLS" in str(delivery.error)
    assert smtp_server.messages == []
    assert "smtp-pw-4471" not in str(_attempts(warehouse))


def test_notifications_are_off_without_a_channel(
    warehouse: str, tmp_path: Path
) -> None:
    settings = load_settings(warehouse_url=warehouse, data_dir=tmp_path)
    notice = task_failed(
        source="s", what="w", error="e", run_id=None, audit_run_id=None, where=()
    )

    assert send_notice(settings, notice) == []
    assert _attempts(warehouse) == []


def test_nothing_is_recorded_or_started_on_a_data_directory_without_warehouse(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = load_settings(
        data_dir=tmp_path, smtp_url=smtp_server.url, notify_email_to=RECIPIENT
    )
    notice = task_failed(
        source="s", what="w", error="e", run_id=None, audit_run_id=None, where=()
    )

    assert [d.status for d in send_notice(settings, notice)] == ["sent"]
    assert not (tmp_path / "postgres").exists()
