"""
Benchmark: the pipeline through Airflow against ``stocks-elt run`` in-process.

Both sides extract ``--tickers`` synthetic symbols (full history, 25 years each)
from the same emulator, land them in a lake folder of their own and build a
warehouse database of their own on the local Postgres:

* baseline: ``stocks_elt.commands.run.run_pipeline`` (extract, load, quality gate,
  dbt build) in this process;
* candidate: a local Airflow 3 (``stocks-elt airflow``, LocalExecutor, Postgres
  metadata database) running ingest_stocks -> load_stocks_from_minio ->
  dbt_run_models, timed from the REST trigger until the dbt run finished. Airflow's
  start-up is printed separately and not counted.

Both warehouses must end with the same rows in ``marts.fct_daily_bars``. Target:
ratio (candidate / baseline) at most 2.

Then the emulator publishes one more session and both sides run the daily
pipeline for it. The second case compares what the transform costs on each side
for that day: baseline, the transform stage of ``run_pipeline`` (``dbt build``
in-process, the manifest read from the data dir's cache as a new process would);
candidate, the ``dbt_run_models`` DAG run, from its start to its end. Target: at
most 1.5.

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_airflow.py

Prints ``case  baseline_s  candidate_s  ratio``, then each DAG run's duration with
its tasks' summed run time, the slowest tasks and the mean wait from queued to
running (the scheduler's and executor's share).
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import EmulatorConfig, start_emulator
from stocks_elt.emulator.universe import synthetic_universe
from stocks_elt.orchestration.local import LocalAirflow
from stocks_elt.pipeline import run_pipeline
from stocks_elt.transform.manifest import forget_warm_manifests
from stocks_elt.warehouse.migrate import migrate

# The REST client the e2e tests use drives this benchmark too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.airflow_api import AirflowApi

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TODAY = date(2024, 6, 21)  # a Friday session
PREMIUM_KEY = "bench-premium-key"
CHAIN = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")
TARGET_RATIO = 2.0
TARGET_DAILY_RATIO = 1.5


@contextmanager
def _database(admin_url: str, prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


def _settings(
    base_url: str, data_dir: Path, warehouse: str, tickers: list[str]
) -> Settings:
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=base_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=100,
        alpha_vantage_daily_quota=0,
        extract_concurrency=4,
        batch_size=20,
        tickers=tickers,
        data_dir=data_dir,
        lake_url=None,
        warehouse_url=warehouse,
        airflow_user="bench",
        airflow_password="bench-airflow-pass-4821",  # noqa: S106 - a throwaway login
    )


def _fact_rows(warehouse: str) -> int:
    with psycopg.connect(warehouse) as conn:
        row = conn.execute("select count(*) from marts.fct_daily_bars").fetchone()
    assert row is not None
    return int(row[0])


def _run_baseline(
    settings: Settings, tickers: list[str], as_of: date = TODAY
) -> tuple[float, dict[str, float]]:
    # Like a new `stocks-elt run`: no manifest kept from an earlier run in memory.
    forget_warm_manifests()
    started = time.perf_counter()
    summary = run_pipeline(settings, tickers, as_of=as_of)
    elapsed = time.perf_counter() - started
    if summary.outcome != "success":
        raise SystemExit(f"baseline run failed: {summary.message}")
    return elapsed, summary.durations


@dataclass
class _AirflowTimes:
    """What the Airflow side measured: start-up, the first chain, the daily one."""

    startup: float = 0.0
    chain: float = 0.0
    runs: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)
    daily_runs: dict[str, float] = field(default_factory=dict)
    daily_tasks: dict[str, str] = field(default_factory=dict)


def _run_chain(
    api: AirflowApi, tickers: list[str], day: date
) -> tuple[float, dict[str, float], dict[str, str]]:
    """Trigger ingest_stocks for ``day``; wait for the chain's three runs."""
    known = {dag_id: len(api.dag_runs(dag_id)) for dag_id in CHAIN}
    logical = datetime(day.year, day.month, day.day, 22, 30, tzinfo=UTC)
    started = time.perf_counter()
    run_ids = {
        "ingest_stocks": api.trigger_dag(
            "ingest_stocks", {"tickers": tickers}, logical_date=logical
        )
    }
    runs: dict[str, float] = {}
    tasks: dict[str, str] = {}
    for dag_id in CHAIN:
        while dag_id not in run_ids:
            found = api.dag_runs(dag_id)
            if len(found) > known[dag_id]:
                run_ids[dag_id] = found[-1]["dag_run_id"]
            else:
                time.sleep(0.5)
        run = api.wait_for_dag_run(dag_id, run_ids[dag_id], timeout=1800)
        if run["state"] != "success":
            raise SystemExit(f"{dag_id} {run_ids[dag_id]} ended {run['state']}")
        runs[dag_id] = _seconds(run["start_date"], run["end_date"])
        tasks[dag_id] = _task_summary(api.task_instances(dag_id, run_ids[dag_id]))
    return time.perf_counter() - started, runs, tasks


def _run_airflow(
    settings: Settings,
    tickers: list[str],
    metadata_url: str,
    next_day: Callable[[], date],
) -> _AirflowTimes:
    airflow = LocalAirflow(
        settings,
        port=18080,
        log_server_ports=(18793, 18794),
        stop_timeout=15.0,
        extra_env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url},
    )
    times = _AirflowTimes()
    started = time.perf_counter()
    with airflow:
        api = AirflowApi(airflow)
        api.wait_for_dags()
        times.startup = time.perf_counter() - started
        times.chain, times.runs, times.tasks = _run_chain(api, tickers, TODAY)
        _, times.daily_runs, times.daily_tasks = _run_chain(api, tickers, next_day())
    return times


def _task_summary(instances: list[dict[str, Any]]) -> str:
    """Tasks, their summed run time, the slowest, and the wait from queued to run."""
    ran = [ti for ti in instances if ti.get("start_date") and ti.get("end_date")]
    if not ran:
        return "no task ran"
    durations = sorted(
        ((_seconds(ti["start_date"], ti["end_date"]), ti["task_id"]) for ti in ran),
        reverse=True,
    )
    waits = [
        _seconds(ti["queued_when"], ti["start_date"])
        for ti in ran
        if ti.get("queued_when")
    ]
    slowest = ", ".join(f"{task} {sec:.1f}" for sec, task in durations[:3])
    mean_wait = sum(waits) / len(waits) if waits else 0.0
    return (
        f"{len(ran)} tasks, {sum(d for d, _ in durations):.1f} s of task time, "
        f"queued->running {mean_wait:.1f} s mean; slowest: {slowest}"
    )


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main() -> int:
    """Run both sides once and print the comparison; 1 if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    admin_url = os.environ.get("STOCKS_ELT_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)
    universe = synthetic_universe(args.tickers)
    tickers = [listed.symbol for listed in universe]
    config = EmulatorConfig(
        today=TODAY, universe=universe, premium_keys=frozenset({PREMIUM_KEY})
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-airflow-") as tmp,
        start_emulator(config) as emulator,
        _database(admin_url, "bench_run") as run_db,
        _database(admin_url, "bench_airflow") as airflow_db,
        _database(admin_url, "bench_airflow_meta") as metadata_db,
    ):
        for warehouse in (run_db, airflow_db):
            with psycopg.connect(warehouse) as conn:
                migrate(conn)
        baseline_settings = _settings(
            emulator.base_url, Path(tmp) / "run", run_db, tickers
        )
        airflow_settings = _settings(
            emulator.base_url, Path(tmp) / "airflow", airflow_db, tickers
        )
        baseline, stages = _run_baseline(baseline_settings, tickers)
        # Both sides' next day is the emulator's next session, published once
        # Airflow's first chain is done (the baseline's daily run comes after).
        days: list[date] = []

        def next_day() -> date:
            days.append(emulator.advance(1))
            return days[-1]

        metadata_url = metadata_db.replace("postgresql://", "postgresql+psycopg2://", 1)
        times = _run_airflow(airflow_settings, tickers, metadata_url, next_day)
        _, daily_stages = _run_baseline(baseline_settings, tickers, as_of=days[0])
        rows = _fact_rows(run_db), _fact_rows(airflow_db)
    if rows[0] != rows[1]:
        print(f"marts differ: run {rows[0]} rows, airflow {rows[1]} rows")
        return 1
    ratio = times.chain / baseline
    daily_baseline = daily_stages["transform"]
    daily_candidate = times.daily_runs["dbt_run_models"]
    daily_ratio = daily_candidate / daily_baseline
    print(f"{'case':36} {'baseline_s':>10} {'candidate_s':>11} {'ratio':>6}")
    print(
        f"{f'{args.tickers} tickers end to end':36} {baseline:10.1f} "
        f"{times.chain:11.1f} {ratio:6.2f}"
    )
    print(
        f"{'daily dbt_run_models vs transform':36} {daily_baseline:10.1f} "
        f"{daily_candidate:11.1f} {daily_ratio:6.2f}"
    )
    print(f"marts.fct_daily_bars rows: {rows[0]} on both sides")
    for title, by_stage in (("first", stages), ("daily", daily_stages)):
        print(f"stocks-elt run ({title}), by stage:")
        for stage, seconds in by_stage.items():
            print(f"  {stage:28} {seconds:6.1f} s")
    print(f"airflow, by DAG run (start-up {times.startup:.1f} s not counted):")
    for title, runs, tasks in (
        ("first", times.runs, times.tasks),
        ("daily", times.daily_runs, times.daily_tasks),
    ):
        for dag_id, seconds in runs.items():
            print(f"  {title} {dag_id:28} {seconds:6.1f} s  ({tasks[dag_id]})")
    met = ratio <= TARGET_RATIO and daily_ratio <= TARGET_DAILY_RATIO
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
