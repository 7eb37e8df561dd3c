"""
``stocks-elt history``: the last runs with their stages, durations, row counts,
data-quality warnings and failures, from audit.pipeline_runs and audit.dq_results.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from stocks_elt.config import load_settings
from stocks_elt.emulator import RunningEmulator
from stocks_elt.history import collect_history
from stocks_elt.warehouse.audit.runs import as_run_uuid
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EMULATOR_TODAY

AIRFLOW_RUN = "scheduled__2026-11-30T23:30:00+00:00"


def test_a_cli_run_is_listed_with_its_stages_counts_and_outcome(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    env = pipeline_env(emulator, warehouse)
    ran = run_stocks_elt(
        ["run", "--symbols", "IBM", "--as-of", str(EMULATOR_TODAY), "--json"],
        tmp_path,
        env,
    )
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)

    listed = run_stocks_elt(["history", "--json"], tmp_path, env)
    table = run_stocks_elt(["history"], tmp_path, {**env, "COLUMNS": "200"})

    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["run_id"] == run["run_id"]
    assert (entry["command"], entry["outcome"]) == ("run", "success")
    assert [s["stage"] for s in entry["stages"]] == [
        "extract",
        "load",
        "quality",
        "transform",
    ]
    load = entry["stages"][1]
    assert load["counts"]["rows_inserted"] == run["stages"]["load"]["rows_inserted"]
    assert load["summary"].startswith(
        f"{run['stages']['load']['objects_loaded']} objects, "
        f"{run['stages']['load']['rows_inserted']} rows inserted"
    )
    assert entry["seconds"] >= sum(s["seconds"] for s in entry["stages"]) - 0.01
    assert table.returncode == 0, table.stderr
    assert run["run_id"] in table.stdout
    assert "rows inserted" in table.stdout
    assert "models built" in table.stdout


def test_warnings_failures_and_notifications_are_listed_per_run(
    warehouse: str, tmp_path: Path
) -> None:
    started = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    failed_run, older_run = as_run_uuid(AIRFLOW_RUN), uuid.uuid4()
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into audit.pipeline_runs"
            " (run_id, command, started_at, finished_at, outcome, message, stages)"
            " values (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    failed_run,
                    "load_stocks_from_minio",
                    started,
                    started + timedelta(seconds=42),
                    "failed",
                    "quality: quality gate failed: extreme_moves ...",
                    json.dumps(
                        [
                            {
                                "stage": "load",
                                "duration_s": 30.5,
                                "counts": {"objects_loaded": 3, "rows_inserted": 5},
                            },
                            {
                                "stage": "quality",
                                "duration_s": 1.2,
                                "counts": {"error": "quality gate failed"},
                            },
                        ]
                    ),
                ),
                (
                    older_run,
                    "run",
                    started - timedelta(days=1),
                    started - timedelta(days=1) + timedelta(seconds=9),
                    "success",
                    None,
                    "[]",
                ),
            ],
        )
        conn.cursor().executemany(
            "insert into audit.dq_results (run_id, check_name, severity, symbol,"
            " status, observed_value, threshold, details) values"
            " (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    failed_run,
                    "extreme_moves",
                    "blocking",
                    "AAPL",
                    "fail",
                    0.6,
                    0.5,
                    None,
                ),
                (
                    failed_run,
                    "stale_symbols",
                    "warning",
                    "KO",
                    "warn",
                    2,
                    1,
                    "2 behind",
                ),
                (failed_run, "duplicate_keys", "blocking", None, "pass", 0, 0, None),
            ],
        )
        conn.execute(
            "insert into audit.notifications (run_id, event, channel, status, subject)"
            " values (%s, 'quality_gate_failed', 'email', 'sent', 's'),"
            " (%s, 'quality_gate_failed', 'webhook', 'failed', 's')",
            (failed_run, failed_run),
        )
    settings = load_settings(warehouse_url=warehouse, data_dir=tmp_path)

    newest, older = collect_history(settings, limit=5)
    by_airflow_id = collect_history(settings, run_id=AIRFLOW_RUN)
    only_runs = collect_history(settings, command="run")

    assert newest.run.run_id == failed_run
    assert older.run.run_id == older_run
    assert (newest.failures, newest.warnings) == (1, 1)
    assert [f.check_name for f in newest.findings] == ["extreme_moves", "stale_symbols"]
    assert newest.notifications == {"sent": 1, "failed": 1}
    assert newest.run.seconds == 42
    assert [s.summary for s in newest.stages] == [
        "3 objects, 5 rows inserted, 0 updated, 0 quarantined",
        "failed: quality gate failed",
    ]
    assert [h.run.run_id for h in by_airflow_id] == [failed_run]
    assert [h.run.run_id for h in only_runs] == [older_run]
    assert [h.run.run_id for h in collect_history(settings, limit=1)] == [failed_run]


def test_history_on_a_new_data_directory_says_how_to_start(tmp_path: Path) -> None:
    done = run_stocks_elt(["history"], tmp_path, {})

    assert done.returncode == 0, done.stderr
    assert "no run recorded yet" in done.stdout
    assert "stocks-elt demo" in done.stdout
    assert not (tmp_path / "data" / "postgres").exists()
    assert json.loads(run_stocks_elt(["history", "--json"], tmp_path, {}).stdout) == []
