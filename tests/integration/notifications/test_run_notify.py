"""
``stocks-elt run --notify`` through the real entry point: the same messages as the
DAGs send, to a real SMTP server and HTTP receiver; a channel that cannot be
reached never changes the run's exit code; a bad setting is exit 2 at start-up.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from stocks_elt.emulator import RunningEmulator
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY
from tests.fixtures.receivers import SmtpServer, WebhookReceiver, wait_for
from tests.fixtures.s3 import free_port

RECIPIENT = "oncall@example.com"


def _run(
    args: list[str], tmp_path: Path, env: dict[str, str]
) -> tuple[int, dict[str, object], str]:
    done = run_stocks_elt(
        ["run", "--as-of", str(EMULATOR_TODAY), "--no-transform", "--json", *args],
        tmp_path,
        env,
    )
    summary = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, summary, done.stderr


def test_run_notify_sends_the_symbols_it_could_not_fetch_with_the_run_id(
    emulator: RunningEmulator,
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    env = {
        **pipeline_env(emulator, warehouse),
        "STOCKS_ELT_SMTP_URL": smtp_server.url,
        "STOCKS_ELT_NOTIFY_EMAIL_TO": RECIPIENT,
        "STOCKS_ELT_NOTIFY_WEBHOOK_URL": webhook_receiver.url,
    }

    code, summary, stderr = _run(["--symbols", "IBM,NOSUCH", "--notify"], tmp_path, env)

    # An unknown symbol does not fail a CLI run (the others are loaded); it is
    # announced all the same, as ingest_stocks' check_symbol_outcomes does.
    assert code == 0, stderr
    run_id = str(summary["run_id"])
    wait_for(
        lambda: len(smtp_server.messages) == 1 and len(webhook_receiver.bodies) == 1
    )
    message = smtp_server.messages[0]
    body = smtp_server.body(message)
    assert message["Subject"] == (
        "[stocks-elt] 1 symbol(s) could not be fetched: NOSUCH"
    )
    assert "NOSUCH: not_found:" in body
    assert f"run id: {run_id}" in body
    assert f"stocks-elt history --run {run_id}" in body
    assert "source: stocks-elt run" in body
    payload = webhook_receiver.bodies[0]
    assert payload["stocks_elt"]["event"] == "symbols_not_fetched"
    assert payload["stocks_elt"]["run_id"] == run_id
    assert PREMIUM_KEY not in body + json.dumps(payload) + stderr
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select event, channel, status from audit.notifications"
            " where run_id = %s order by channel",
            (run_id,),
        ).fetchall()
    assert rows == [
        ("symbols_not_fetched", "email", "sent"),
        ("symbols_not_fetched", "webhook", "sent"),
    ]


def test_run_without_notify_sends_nothing(
    emulator: RunningEmulator,
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
) -> None:
    env = {
        **pipeline_env(emulator, warehouse),
        "STOCKS_ELT_SMTP_URL": smtp_server.url,
        "STOCKS_ELT_NOTIFY_EMAIL_TO": RECIPIENT,
    }

    code, _, stderr = _run(["--symbols", "IBM,NOSUCH"], tmp_path, env)

    assert code == 0, stderr
    assert smtp_server.messages == []


def test_unreachable_channels_never_change_the_exit_code_and_are_counted(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    closed = free_port()
    env = {
        **pipeline_env(emulator, warehouse),
        "STOCKS_ELT_SMTP_URL": f"smtp://127.0.0.1:{closed}",
        "STOCKS_ELT_NOTIFY_EMAIL_TO": RECIPIENT,
        "STOCKS_ELT_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{closed}/T/B/tok-6610",
        "STOCKS_ELT_NOTIFY_TIMEOUT_SECONDS": "2",
    }

    failed_run = _run(["--symbols", "IBM,NOSUCH", "--notify"], tmp_path, env)
    clean_run = _run(["--symbols", "IBM", "--notify"], tmp_path, env)

    assert failed_run[0] == 0, failed_run[2]  # as without --notify
    assert clean_run[0] == 0, clean_run[2]  # nothing to say, nothing sent
    assert (
        "notification failed event=symbols_not_fetched channel=email" in (failed_run[2])
    )
    assert "tok-6610" not in failed_run[2]
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select channel, status from audit.notifications order by channel"
        ).fetchall()
    assert rows == [("email", "failed"), ("webhook", "failed")]


def test_a_bad_notification_setting_stops_the_run_at_start_up_with_exit_2(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    for variable, value in (
        ("STOCKS_ELT_FRESHNESS_DEADLINE", "24:30"),
        ("STOCKS_ELT_SMTP_URL", "mail.example.com:25"),
        ("STOCKS_ELT_NOTIFY_WEBHOOK_URL", "not a url"),
    ):
        env = {**pipeline_env(emulator, warehouse), variable: value}
        code, _, stderr = _run(["--symbols", "IBM", "--notify"], tmp_path, env)

        assert code == 2, (variable, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, stderr
        assert lines[0].startswith(f"error: bad configuration: {variable}=")
    assert emulator.calls() == []  # refused before any API call


def test_a_run_that_raises_is_announced_then_the_error_goes_on(
    warehouse: str,
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    from stocks_elt.commands.notify import notify_outcome
    from stocks_elt.config import load_settings
    from stocks_elt.errors import QualityGateFailed, TransformError

    settings = load_settings(
        warehouse_url=warehouse,
        data_dir=tmp_path,
        smtp_url=smtp_server.url,
        notify_email_to=RECIPIENT,
        notify_webhook_url=webhook_receiver.url,
    )
    gate_run, dbt_run = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into audit.dq_results (run_id, check_name, severity, symbol,"
            " status, observed_value, threshold)"
            " values (%s, 'ohlc_consistency', 'blocking', 'KO', 'fail', 1, 0)",
            (gate_run,),
        )

    with (
        pytest.raises(QualityGateFailed),
        notify_outcome(settings, gate_run, enabled=True),
    ):
        raise QualityGateFailed("quality gate failed: ohlc_consistency: 1 in KO")
    with (
        pytest.raises(TransformError),
        notify_outcome(settings, dbt_run, enabled=True),
    ):
        raise TransformError("dbt build failed: model.fct_daily_bars")

    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    assert subjects == [
        "[stocks-elt] quality gate failed: ohlc_consistency; the transform did not run",
        "[stocks-elt] stocks-elt run failed",
    ]
    assert "ohlc_consistency: KO observed 1 vs threshold 0" in smtp_server.body(
        smtp_server.messages[0]
    )
    failed_body = smtp_server.body(smtp_server.messages[1])
    assert "TransformError: dbt build failed: model.fct_daily_bars" in failed_body
    assert f"run id: {dbt_run}" in failed_body
    assert [b["stocks_elt"]["event"] for b in webhook_receiver.bodies] == [
        "quality_gate_failed",
        "task_failed",
    ]
