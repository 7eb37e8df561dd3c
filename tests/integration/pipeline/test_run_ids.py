"""
One run id, one UUID: an Airflow run id (not a UUID) names the same run in every
table a run writes, so ``audit.extract_outcomes``, ``audit.pipeline_runs``,
``audit.dq_results`` and ``raw.load_ledger`` join on it.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from stocks_elt import pipeline
from stocks_elt.config import load_settings
from stocks_elt.emulator import RunningEmulator
from stocks_elt.warehouse.audit import as_run_uuid
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY

AIRFLOW_RUN_ID = "scheduled__2024-06-21T22:30:00+00:00"


def test_an_airflow_run_id_is_one_uuid_in_every_table(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=emulator.base_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_daily_quota=0,
        data_dir=tmp_path / "data",
        warehouse_url=warehouse,
    )
    extracted = pipeline.extract_batch(
        ["IBM"], settings, AIRFLOW_RUN_ID, EMULATOR_TODAY, record_as="ingest_stocks"
    )
    pipeline.load_objects(
        list(extracted.object_keys), settings, AIRFLOW_RUN_ID, record_as="load"
    )
    pipeline.run_quality_gate(settings, AIRFLOW_RUN_ID, record_as="load")

    with psycopg.connect(warehouse) as conn:
        found = {
            table: {
                row[0]
                for row in conn.execute(
                    f"select distinct run_id from {table}"
                ).fetchall()
            }
            for table in (
                "audit.extract_outcomes",
                "audit.pipeline_runs",
                "audit.dq_results",
                "raw.load_ledger",
            )
        }
    expected = as_run_uuid(AIRFLOW_RUN_ID)
    assert found == {table: {expected} for table in found}


def test_a_run_manifest_lists_the_objects_the_run_wrote(
    emulator: RunningEmulator, warehouse: str, tmp_path: Path
) -> None:
    settings = load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=emulator.base_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_daily_quota=0,
        data_dir=tmp_path / "data",
        warehouse_url=warehouse,
    )
    first = pipeline.extract_batch(["IBM"], settings, AIRFLOW_RUN_ID, EMULATOR_TODAY)
    second = pipeline.extract_batch(["KO"], settings, AIRFLOW_RUN_ID, EMULATOR_TODAY)

    written = pipeline.write_run_manifest(
        settings, AIRFLOW_RUN_ID, dag_id="ingest_stocks"
    )

    assert written is not None
    key, count = written
    expected = sorted({*first.object_keys, *second.object_keys})
    assert count == len(expected)
    assert pipeline.read_run_manifest(settings, key) == expected
    assert pipeline.write_run_manifest(settings, "another-run", dag_id="x") is None
