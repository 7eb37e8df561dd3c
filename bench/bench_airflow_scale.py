"""
Benchmark: what a universe of 50, 500 and 5,000 tickers costs Airflow itself.

One local Airflow (LocalExecutor, Postgres metadata database) runs ingest_stocks
for ``listing:limit=N`` at each size, one run after the other, against an emulator
listing 5,000 synthetic stocks that answers at once (no injected latency, a
premium key without a per-minute limit), so the extract is as fast as this machine
allows and the figures are Airflow's: load_stocks_from_minio and dbt_run_models
are paused (the lake Asset event is still recorded). For each size it prints:

* the size of the lake Asset event's ``extra`` (compact JSON, bytes): it names the
  run's manifest in the lake, so it must not grow with the universe;
* the XComs: ``plan_batches`` (the batches of symbols the map expands over), each
  ``extract_batch`` (largest and total), ``announce_new_objects`` and
  ``check_symbol_outcomes``;
* the mapped extract's task count against ``[core] max_map_length`` (1024 unless
  ``AIRFLOW__CORE__MAX_MAP_LENGTH`` says otherwise);
* the scheduler's planning time: from the run queued to every mapped
  ``extract_batch`` scheduled, and from ``plan_batches`` finished to the last
  mapped instance scheduled (the expansion);
* the DAG processor's last parse time of the three DAG files (``last_parse_duration``
  of their DAGs), read after each size.

The symbols of the smaller sizes are in the larger ones; a symbol extracted before
costs one call instead of two (its OVERVIEW is known), which changes the extract's
time, not the sizes measured.

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_airflow_scale.py

``--sizes 50,500`` shrinks the run; ``--batch-size`` changes the batch (the map
merges batches past ``max_map_length``). On a busy 2-core machine 5,000 tickers
in the default batches of 20 (250 task processes) take over 15 minutes;
``--batch-size 100`` measured them in 7. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench_scale_out import (
    LOGICAL_DATE,
    AirflowApi,
    database,
    emulator,
    free_port,
    mapped_instances,
    metadata_url,
    pause,
    pipeline_settings,
    seconds_between,
    wait_for_success,
)
from stocks_elt.orchestration.assets import DAG_IDS, LAKE_RAW
from stocks_elt.orchestration.local import LocalAirflow

DEFAULT_MAX_MAP_LENGTH = 1024  # Airflow's [core] max_map_length
INGEST = "ingest_stocks"


@dataclass(frozen=True)
class Sized:
    """The figures of one universe size."""

    tickers: int
    extract_tasks: int
    event_extra: dict[str, Any]
    event_bytes: int
    xcom_plan: int
    xcom_extract_max: int
    xcom_extract_total: int
    xcom_announce: int
    xcom_check: int
    queued_to_expanded_s: float
    expansion_s: float
    run_s: float
    parse_s: dict[str, float]


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def _xcom_bytes(api: AirflowApi, run_id: str, task_id: str, map_index: int) -> int:
    """The stored size of a task's return value (as the metadata DB holds it)."""
    path = (
        f"/dags/{INGEST}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        "/xcomEntries/return_value"
    )
    response = api.airflow.api.get(path, params={"map_index": map_index})
    if response.status_code == 404:
        return 0
    response.raise_for_status()
    return _compact(response.json()["value"])


def _lake_event(api: AirflowApi, run_id: str) -> dict[str, Any]:
    response = api.airflow.api.get(
        "/assets/events",
        params={"source_dag_id": INGEST, "source_run_id": run_id, "limit": 10},
    )
    response.raise_for_status()
    events = [
        event
        for event in response.json()["asset_events"]
        if event.get("uri") == LAKE_RAW.uri
    ]
    if len(events) != 1:
        raise SystemExit(f"{run_id}: expected one lake Asset event, got {events}")
    extra: dict[str, Any] = events[0]["extra"] or {}
    return extra


def _parse_times(api: AirflowApi) -> dict[str, float]:
    times: dict[str, float] = {}
    for dag_id in DAG_IDS:
        dag = api.airflow.api.get(f"/dags/{dag_id}").json()
        times[dag_id] = float(dag.get("last_parse_duration") or 0.0)
    return times


def measure_size(api: AirflowApi, tickers: int, days_before: int) -> Sized:
    """Run ingest_stocks for the first ``tickers`` of the listing, for the day
    ``days_before`` the emulator's today (a run per logical date); measure."""
    run_id = api.trigger_dag(
        INGEST,
        {"universe": f"listing:limit={tickers}"},
        logical_date=LOGICAL_DATE - timedelta(days=days_before),
    )
    run = wait_for_success(api, INGEST, run_id)
    instances = {ti["task_id"]: ti for ti in api.task_instances(INGEST, run_id)}
    extracts = mapped_instances(api, INGEST, run_id, "extract_batch")
    scheduled = max(ti["scheduled_when"] for ti in extracts)
    extract_xcoms = [
        _xcom_bytes(api, run_id, "extract_batch", ti["map_index"]) for ti in extracts
    ]
    extra = _lake_event(api, run_id)
    return Sized(
        tickers=tickers,
        extract_tasks=len(extracts),
        event_extra=extra,
        event_bytes=_compact(extra),
        xcom_plan=_xcom_bytes(api, run_id, "plan_batches", -1),
        xcom_extract_max=max(extract_xcoms),
        xcom_extract_total=sum(extract_xcoms),
        xcom_announce=_xcom_bytes(api, run_id, "announce_new_objects", -1),
        xcom_check=_xcom_bytes(api, run_id, "check_symbol_outcomes", -1),
        queued_to_expanded_s=seconds_between(run["queued_at"], scheduled),
        expansion_s=seconds_between(instances["plan_batches"]["end_date"], scheduled),
        run_s=seconds_between(run["start_date"], run["end_date"]),
        parse_s=_parse_times(api),
    )


def _row(r: Sized, max_map_length: int) -> str:
    return (
        f"{r.tickers:7d} {r.extract_tasks:5d} "
        f"{r.extract_tasks / max_map_length:6.1%} {r.event_bytes:5d} "
        f"{r.xcom_plan:6d} {r.xcom_extract_max:8d} {r.xcom_extract_total:8d} "
        f"{r.xcom_announce:8d} {r.xcom_check:5d} "
        f"{r.queued_to_expanded_s:16.1f} {r.expansion_s:8.1f} {r.run_s:6.1f} "
        + " ".join(f"{r.parse_s[d]:.2f}" for d in DAG_IDS)
    )


HEADER = (
    f"{'tickers':>7} {'tasks':>5} {'of_max':>6} {'event':>5} {'plan':>6} "
    f"{'extr_max':>8} {'extr_sum':>8} {'announce':>8} {'check':>5} "
    f"{'queued->mapped_s':>16} {'expand_s':>8} {'run_s':>6} parse_s"
)


def _report(results: list[Sized], max_map_length: int, batch_size: int) -> int:
    print()
    print(
        f"batch_size={batch_size}, max_map_length={max_map_length}; "
        "sizes in bytes of compact JSON"
    )
    print(HEADER)
    for r in results:
        print(_row(r, max_map_length))
    print()
    print("DAG processor, last parse duration (s) after each size:")
    print(f"{'tickers':>7} " + " ".join(f"{d:>24}" for d in DAG_IDS))
    for r in results:
        print(f"{r.tickers:7d} " + " ".join(f"{r.parse_s[d]:24.2f}" for d in DAG_IDS))
    print()
    for r in results:
        print(f"lake event extra at {r.tickers}: {json.dumps(r.event_extra)}")
    failed = False
    first, last = results[0], results[-1]
    if len(results) > 1:
        growth = last.event_bytes - first.event_bytes
        ratio = last.tickers / first.tickers
        print(
            f"event extra {first.event_bytes} -> {last.event_bytes} bytes while the "
            f"universe grew {ratio:.0f}x (difference {growth:+d} bytes: digits of "
            "the object count)"
        )
        # The object count gains a digit or two; anything more grows with the keys.
        failed |= growth > 8
    if any(r.extract_tasks > max_map_length for r in results):
        failed = True
        print("a mapped extract exceeded max_map_length")
    return 1 if failed else 0


def main() -> int:
    """Run each size on one Airflow and print the figures; 1 when the event grows
    with the universe or the map exceeds its limit."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,500,5000")
    parser.add_argument("--batch-size", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the emulator's request lines
    sizes = [int(size) for size in args.sizes.split(",")]
    max_map_length = int(
        os.environ.get("AIRFLOW__CORE__MAX_MAP_LENGTH", DEFAULT_MAX_MAP_LENGTH)
    )
    started = time.perf_counter()
    results: list[Sized] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-airflow-scale-") as tmp,
        emulator(max(sizes)) as api_server,
        database("bench_scale_wh", migrated=True) as warehouse,
        database("bench_scale_meta") as metadata,
    ):
        settings = pipeline_settings(
            Path(tmp),
            alpha_vantage_base_url=api_server.base_url,
            alpha_vantage_calls_per_second=100,
            alpha_vantage_calls_per_minute=0,
            extract_concurrency=8,
            batch_size=args.batch_size,
            lake_url=None,
            warehouse_url=warehouse,
        )
        airflow = LocalAirflow(
            settings,
            port=free_port(),
            log_server_ports=(free_port(), free_port()),
            parallelism=8,
            pool_slots=8,
            stop_timeout=10.0,
            extra_env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(metadata)},
        )
        with airflow:
            api = AirflowApi(airflow)
            api.wait_for_dags()
            pause(api, DAG_IDS[1:])
            print(f"  Airflow up in {time.perf_counter() - started:.0f} s", flush=True)
            for number, size in enumerate(sizes):
                results.append(measure_size(api, size, len(sizes) - 1 - number))
                if number == 0:
                    print(HEADER)
                print(_row(results[-1], max_map_length), flush=True)
                print(f"  extra: {json.dumps(results[-1].event_extra)}", flush=True)
    code = _report(results, max_map_length, args.batch_size)
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
