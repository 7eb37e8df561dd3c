"""
The three DAGs on Airflow's CeleryExecutor with two workers, as on two machines:
the lake on an S3 protocol server, the warehouse and the metadata database on
Postgres, the broker on Redis (127.0.0.1:6379 on every machine here).

A universe of 200 symbols is chosen from the emulator's listing
(``STOCKS_ELT_UNIVERSE``); the emulator answers a premium key within a per-minute
limit, each answer 300 ms late. Half-way through the extract one worker is killed
with SIGKILL: its tasks run again on the other, and the chain still ends with the
warehouse an in-process ``run`` of the same universe builds (business columns),
with no limit notice from the API and the key in no task log.
"""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import synthetic_universe
from stocks_elt.pipeline import run_pipeline
from tests.e2e.conftest import AIRFLOW_PASSWORD, local_airflow
from tests.fixtures.airflow_api import AirflowApi
from tests.fixtures.checksums import business_checksums
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY, EmulatorFactory
from tests.fixtures.lakes import fresh_warehouse

pytestmark = pytest.mark.timeout(1200)

CHAIN = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")
UNIVERSE = "listing:exchange=NYSE,NASDAQ;type=Stock;limit=200"
PER_MINUTE = 1200
RUN_TIMEOUT = 600.0
BROKER_HOST, BROKER_PORT = "127.0.0.1", 6379


def _universe() -> tuple[Any, ...]:
    """220 synthetic stocks listed in March 2024 (short histories), on two
    exchanges, and a few ETFs the universe leaves out."""
    listed = synthetic_universe(230, prefix="CEL")
    return tuple(
        replace(
            symbol,
            ipo_date=date(2024, 3, 1),
            exchange="NYSE" if n % 2 else "NASDAQ",
            asset_type="ETF" if n % 23 == 0 else "Stock",
        )
        for n, symbol in enumerate(listed)
    )


def _settings(
    tmp_path: Path, name: str, emulator_url: str, s3_endpoint: str, warehouse: str
) -> Settings:
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=emulator_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_calls_per_minute=PER_MINUTE,
        alpha_vantage_daily_quota=0,
        extract_concurrency=2,
        batch_size=20,
        universe=UNIVERSE,
        data_dir=tmp_path / name,
        lake_url=f"s3://celery-{name}/stocks",
        s3_endpoint_url=s3_endpoint,
        aws_access_key_id="e2e-access-key",
        aws_secret_access_key="e2e-secret-key-9271",
        aws_default_region="us-east-1",
        warehouse_url=warehouse,
        airflow_user="e2e",
        airflow_password=AIRFLOW_PASSWORD,
        airflow_broker_url=f"redis://{BROKER_HOST}:{BROKER_PORT}/{_broker_db()}",
    )


def _broker_db() -> int:
    """A Redis database of this run's own, so no other Airflow takes its tasks."""
    return random.SystemRandom().randint(1, 15)


def _broker_answers() -> bool:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=3):
            return True
    except OSError:
        return False


def _extract_instances(api: AirflowApi, run_id: str) -> list[dict[str, Any]]:
    return [
        ti
        for ti in api.task_instances("ingest_stocks", run_id)
        if ti["task_id"] == "extract_batch"
    ]


def _kill_a_worker_mid_extract(api: AirflowApi, run_id: str) -> list[int]:
    """Once worker1 finished an extract task and runs others, SIGKILL it; return
    the map indexes it was running."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        instances = _extract_instances(api, run_id)
        on_one = [ti for ti in instances if ti.get("hostname") == "worker1"]
        running = [ti["map_index"] for ti in on_one if ti["state"] == "running"]
        if running and any(ti["state"] == "success" for ti in on_one):
            api.airflow.kill_worker("worker1")
            return running
        if instances and all(ti["state"] == "success" for ti in instances):
            seen = [(ti["map_index"], ti.get("hostname")) for ti in instances]
            raise AssertionError(f"the extract ended before worker1 was killed: {seen}")
        time.sleep(0.25)
    raise AssertionError("worker1 never ran two extract tasks")


def _tries(api: AirflowApi, run_id: str, map_index: int) -> list[dict[str, Any]]:
    path = (
        f"/dags/ingest_stocks/dagRuns/{quote(run_id, safe='')}"
        f"/taskInstances/extract_batch/{map_index}/tries"
    )
    response = api.airflow.api.get(path)
    response.raise_for_status()
    tries: list[dict[str, Any]] = response.json()["task_instances"]
    return sorted(tries, key=lambda t: t["try_number"])


def test_two_celery_workers_run_the_chain_and_survive_losing_one(
    tmp_path: Path,
    emulator_factory: EmulatorFactory,
    s3_endpoint: str,
    s3_credentials: dict[str, str],
    warehouse: str,
    postgres_admin_url: str,
    airflow_metadata_url: str,
) -> None:
    if not _broker_answers():
        pytest.fail(
            f"no Redis answers at {BROKER_HOST}:{BROKER_PORT}: the Celery test needs "
            "a broker (redis-server --port 6379)"
        )
    config = {
        "universe": _universe(),
        "premium_per_minute_limit": PER_MINUTE,
        "faults": "latency=300ms:1",
    }
    emulator = emulator_factory(**config)
    settings = _settings(tmp_path, "airflow", emulator.base_url, s3_endpoint, warehouse)

    with local_airflow(
        settings,
        airflow_metadata_url,
        executor="celery",
        workers=2,
        worker_concurrency=2,
        extra_env={
            # A killed worker's task instance is found within seconds, not minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": (
                "5"
            ),
        },
    ) as airflow:
        api = AirflowApi(airflow)
        api.wait_for_dags()
        seen = {d: {r["dag_run_id"] for r in api.dag_runs(d)} for d in CHAIN}
        logical = datetime(2024, 6, 21, 22, 30, tzinfo=UTC)
        ingest = api.trigger_dag("ingest_stocks", {}, logical_date=logical)
        killed = _kill_a_worker_mid_extract(api, ingest)

        extracts = api.assert_every_task_succeeded("ingest_stocks", ingest, RUN_TIMEOUT)
        run_ids = {"ingest_stocks": ingest}
        for dag_id in CHAIN[1:]:
            run_ids[dag_id] = api.new_run_id(dag_id, seen[dag_id], RUN_TIMEOUT)
            api.assert_every_task_succeeded(dag_id, run_ids[dag_id], RUN_TIMEOUT)
        events = api.airflow.api.get("/assets/events", params={"limit": 100}).text
        tries = {map_index: _tries(api, ingest, map_index) for map_index in killed}

    hosts = {
        ti["hostname"] for (task, _), ti in extracts.items() if task == "extract_batch"
    }
    assert hosts == {"worker1", "worker2"}
    for runs in tries.values():  # what worker1 ran when it died ran again on worker2
        assert runs[0]["hostname"] == "worker1", runs
        assert (runs[-1]["hostname"], runs[-1]["state"]) == ("worker2", "success"), runs
    notices = [c for c in emulator.calls() if c.outcome in ("burst", "per_minute")]
    assert notices == []
    assert '"manifest"' in events
    assert PREMIUM_KEY not in events
    for log in airflow.home.rglob("*.log"):
        assert PREMIUM_KEY not in log.read_text(encoding="utf-8", errors="replace"), log

    # The same universe, the same emulated day, in-process: the same warehouse.
    reference_emulator = emulator_factory(**config)
    with fresh_warehouse(postgres_admin_url) as reference:
        local = _settings(
            tmp_path, "inprocess", reference_emulator.base_url, s3_endpoint, reference
        )
        summary = run_pipeline(local, as_of=EMULATOR_TODAY)
        assert summary.outcome == "success"
        assert len(summary.symbols) == 200
        assert business_checksums(warehouse) == business_checksums(reference)
    assert os.environ.get("STOCKS_ELT_WORKER_NAME") is None
