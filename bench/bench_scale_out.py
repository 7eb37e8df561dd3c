"""
Benchmark: the extract of 500 tickers on LocalExecutor, and on CeleryExecutor with
one and with two workers, against an API that answers each call 200 ms late and
allows 600 calls a minute.

Every case starts its own Airflow (``stocks_elt.orchestration.local.LocalAirflow``,
the code behind ``stocks-elt airflow --executor ...``) on a metadata database of
its own, with a fresh warehouse database, a fresh lake bucket on an S3 protocol
server (moto) and a fresh emulator, so every case makes the same calls: one
TIME_SERIES_DAILY_ADJUSTED and one OVERVIEW per symbol (a premium key), and the
two LISTING_STATUS lists the universe ``listing:limit=500`` is read from.

The pipeline settings are the same in every case: the key's limits
(``calls_per_minute=600``; ``calls_per_second=20``, a burst limit above 600 / 60,
so that the minute's window binds: the ledger keeps a 10 % margin on the
one-second window, and ``calls_per_second=10`` alone would cap the rate at 9.1
calls a second), ``extract_concurrency=1``
(one call at a time per task, so one task makes at most 1 / 0.2 s = 5 calls a
second, half of what the key allows) and ``batch_size=50`` (10 mapped tasks).
What differs is how many extract tasks run at once:

* ``local``: LocalExecutor, the ``alpha_vantage`` pool's 4 slots, on one machine
  (what users run before they scale out);
* ``celery x1``: one Celery worker with one task slot;
* ``celery x2``: two Celery workers with one task slot each;
* ``celery x2s2``: two Celery workers with two task slots each.

Printed per case: the extract's wall time (first extract task started to last
one finished), the calls, the fraction of the per-minute quota sustained (calls in
the extract's full minutes / 600 a minute; target >= 0.9 where the quota, not the
tasks, bounds the rate), the busiest 60-second window (the key's limit: never above
600), and the API's limit notices (0). Then two workers against one (target >=
1.6x: the latency bounds one slot to 5 calls a second, so a second slot on a second
worker doubles the rate until the quota caps it) and each case against
LocalExecutor.

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_scale_out.py

``--chain`` also waits for load_stocks_from_minio and dbt_run_models (otherwise
paused) and prints the whole chain's time. ``--tickers`` and ``--cases`` shrink
the run while iterating. Needs Postgres (``STOCKS_ELT_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``) and Redis
(``redis://127.0.0.1:6379``). Not collected by pytest.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import EmulatorConfig, RunningEmulator, start_emulator
from stocks_elt.emulator.universe import ListedSymbol, synthetic_universe
from stocks_elt.orchestration.local import LocalAirflow

# The REST client and the S3 server the e2e tests use drive this benchmark too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.airflow_api import AirflowApi
from tests.fixtures.databases import throwaway_database
from tests.fixtures.s3 import free_port

#: What bench_airflow_scale.py takes from here, besides the helpers below.
__all__ = ["AirflowApi", "free_port"]

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BROKER = "redis://127.0.0.1:6379"
TODAY = date(2024, 6, 21)  # a Friday session
LOGICAL_DATE = datetime(2024, 6, 21, 22, 30, tzinfo=UTC)
PREMIUM_KEY = "bench-premium-key"
#: Short histories (IPO in March 2024): answers are small, the API's latency and
#: quota are what the extract waits on.
IPO_DATE = date(2024, 3, 1)
PER_MINUTE = 600
BURST_PER_SECOND = 20
LATENCY = "200ms"
DOWNSTREAM = ("load_stocks_from_minio", "dbt_run_models")
TARGET_QUOTA_FRACTION = 0.9
TARGET_SPEEDUP = 1.6
RUN_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Case:
    """How the extract tasks are run: executor, workers, task slots."""

    name: str
    executor: str
    workers: int = 0
    worker_concurrency: int = 1
    pool_slots: int = 4

    @property
    def slots(self) -> int:
        """Extract tasks that can run at once."""
        if self.executor == "local":
            return self.pool_slots
        return min(self.pool_slots, self.workers * self.worker_concurrency)


CASES = (
    Case("local", "local"),
    Case("celery x1", "celery", workers=1),
    Case("celery x2", "celery", workers=2),
    Case("celery x2s2", "celery", workers=2, worker_concurrency=2),
)
#: The cases run unless --cases says otherwise.
DEFAULT_CASES = ("local", "celery x1", "celery x2", "celery x2s2")


@dataclass(frozen=True)
class Measured:
    """One case's figures."""

    case: Case
    extract_s: float
    calls: int
    quota_fraction: float
    full_minutes: int
    busiest_window: int
    notices: int
    chain_s: float | None
    hosts: dict[str, int]


# -- services shared with bench_airflow_scale.py ------------------------------------


def admin_url() -> str:
    """The Postgres server's superuser URL (``STOCKS_ELT_TEST_POSTGRES_URL``)."""
    return os.environ.get("STOCKS_ELT_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)


@contextmanager
def database(prefix: str, *, migrated: bool = False) -> Iterator[str]:
    """A new database on the Postgres server (migrated as a warehouse if asked);
    dropped afterwards."""
    with throwaway_database(admin_url(), prefix, migrated=migrated) as url:
        yield url


def metadata_url(url: str) -> str:
    """A postgresql:// URL as Airflow's SQLAlchemy wants it."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


@contextmanager
def s3_server() -> Iterator[str]:
    """An S3 protocol server (moto) on loopback; its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def universe(count: int) -> tuple[ListedSymbol, ...]:
    """``count`` synthetic NYSE stocks with short histories."""
    return tuple(
        replace(listed, ipo_date=IPO_DATE)
        for listed in synthetic_universe(count, prefix="SC")
    )


def emulator(count: int, **overrides: Any) -> RunningEmulator:
    """An emulator listing ``count`` symbols, today = :data:`TODAY`, the premium
    key :data:`PREMIUM_KEY`; ``overrides`` change ``EmulatorConfig`` fields."""
    config = EmulatorConfig(
        today=TODAY,
        universe=universe(count),
        premium_keys=frozenset({PREMIUM_KEY}),
        **overrides,
    )
    return start_emulator(config)


def pipeline_settings(data_dir: Path, **values: Any) -> Settings:
    """The benchmark's settings: a premium key, no daily quota, an Airflow login;
    ``values`` add the rest (limits, lake, warehouse, batch size...)."""
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_is_premium=True,
        alpha_vantage_daily_quota=0,
        data_dir=data_dir,
        aws_access_key_id="bench-access-key",
        aws_secret_access_key="bench-secret-key-5310",  # noqa: S106 - moto's
        aws_default_region="us-east-1",
        airflow_user="bench",
        airflow_password="bench-airflow-pass-4821",  # noqa: S106 - a throwaway login
        **values,
    )


def pause(api: AirflowApi, dag_ids: Sequence[str]) -> None:
    """Pause DAGs (an Asset event then starts no run of theirs)."""
    for dag_id in dag_ids:
        response = api.airflow.api.patch(f"/dags/{dag_id}", json={"is_paused": True})
        response.raise_for_status()


def seconds_between(start: str, end: str) -> float:
    """Seconds from one ISO timestamp of the REST API to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def wait_for_success(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, Any]:
    """Wait for a run; exit with its task states when it did not succeed."""
    run = api.wait_for_dag_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    if run["state"] != "success":
        states = {
            (ti["task_id"], ti["map_index"]): ti["state"]
            for ti in api.task_instances(dag_id, run_id)
        }
        raise SystemExit(
            f"{dag_id} {run_id} ended {run['state']}: {states}; "
            f"logs in {api.airflow.home / 'logs'}"
        )
    return run


def mapped_instances(
    api: AirflowApi, dag_id: str, run_id: str, task_id: str
) -> list[dict[str, Any]]:
    """Every mapped task instance of one task of a run (paged past 100)."""
    path = (
        f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        "/listMapped"
    )
    found: list[dict[str, Any]] = []
    while True:
        response = api.airflow.api.get(
            path, params={"limit": 100, "offset": len(found)}
        )
        response.raise_for_status()
        page = response.json()
        found.extend(page["task_instances"])
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


# -- the scale-out cases ------------------------------------------------------------


def quota_figures(
    moments: Sequence[datetime], per_minute: int
) -> tuple[float, int, int]:
    """Return the fraction of the per-minute quota the calls sustained, the full
    minutes it was measured over, and the most calls in any 60-second window.

    The extract is cut into consecutive full minutes from its first call; the
    fraction is the calls in those minutes over ``per_minute`` times their number.
    An extract shorter than a minute has none: its rate over its own length is
    used instead (and 0 full minutes reported).
    """
    if len(moments) < 2:
        return 0.0, 0, len(moments)
    times = sorted(m.timestamp() for m in moments)
    first, last = times[0], times[-1]
    busiest, end = 0, 0
    for start, at in enumerate(times):  # sliding window [at, at + 60)
        while end < len(times) and times[end] < at + 60.0:
            end += 1
        busiest = max(busiest, end - start)
    minutes = math.floor((last - first) / 60.0)
    if minutes == 0:
        rate = len(times) / (last - first) * 60.0
        return rate / per_minute, 0, busiest
    inside = sum(1 for at in times if at < first + 60.0 * minutes)
    return inside / (per_minute * minutes), minutes, busiest


def _case_settings(
    case: Case, data_dir: Path, base_url: str, s3: str, warehouse: str, tickers: int
) -> Settings:
    return pipeline_settings(
        data_dir,
        alpha_vantage_base_url=base_url,
        alpha_vantage_calls_per_second=BURST_PER_SECOND,
        alpha_vantage_calls_per_minute=PER_MINUTE,
        extract_concurrency=1,
        batch_size=50,
        universe=f"listing:limit={tickers}",
        lake_url=f"s3://scale-{uuid.uuid4().hex[:8]}/stocks",
        s3_endpoint_url=s3,
        warehouse_url=warehouse,
        airflow_broker_url=f"{BROKER}/{random.SystemRandom().randint(1, 15)}",
    )


def run_case(case: Case, tickers: int, s3: str, tmp: Path, chain: bool) -> Measured:
    """Run one case on services of its own; return its figures."""
    with (
        emulator(
            tickers,
            premium_per_minute_limit=PER_MINUTE,
            faults=f"latency={LATENCY}:1",
        ) as api_server,
        database("bench_scale_wh", migrated=True) as warehouse,
        database("bench_scale_meta") as metadata,
    ):
        settings = _case_settings(
            case,
            tmp / case.name.replace(" ", "_"),
            api_server.base_url,
            s3,
            warehouse,
            tickers,
        )
        airflow = LocalAirflow(
            settings,
            port=free_port(),
            log_server_ports=(free_port(), free_port()),
            parallelism=8,
            pool_slots=case.pool_slots,
            stop_timeout=10.0,
            executor=case.executor,
            workers=max(case.workers, 1),
            worker_concurrency=case.worker_concurrency,
            extra_env={
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(metadata),
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            },
        )
        started = time.perf_counter()
        with airflow:
            api = AirflowApi(airflow)
            api.wait_for_dags()
            if not chain:
                pause(api, DOWNSTREAM)
            print(
                f"  {case.name}: Airflow up in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            seen = {d: {r["dag_run_id"] for r in api.dag_runs(d)} for d in DOWNSTREAM}
            run_id = api.trigger_dag("ingest_stocks", {}, logical_date=LOGICAL_DATE)
            run = wait_for_success(api, "ingest_stocks", run_id)
            extracts = mapped_instances(api, "ingest_stocks", run_id, "extract_batch")
            chain_s = None
            if chain:
                end = run["end_date"]
                for dag_id in DOWNSTREAM:
                    downstream = api.new_run_id(dag_id, seen[dag_id], RUN_TIMEOUT)
                    end = wait_for_success(api, dag_id, downstream)["end_date"]
                chain_s = seconds_between(run["start_date"], end)
        start = min(ti["start_date"] for ti in extracts)
        end = max(ti["end_date"] for ti in extracts)
        window = (datetime.fromisoformat(start), datetime.fromisoformat(end))
        calls = [
            c for c in api_server.calls(PREMIUM_KEY) if window[0] <= c.at <= window[1]
        ]
        fraction, minutes, busiest = quota_figures([c.at for c in calls], PER_MINUTE)
        notices = [
            c
            for c in api_server.calls()
            if c.outcome in ("burst", "per_minute", "daily_cap")
        ]
        hosts: dict[str, int] = {}
        for ti in extracts:
            hosts[ti.get("hostname") or "?"] = (
                hosts.get(ti.get("hostname") or "?", 0) + 1
            )
    return Measured(
        case=case,
        extract_s=seconds_between(start, end),
        calls=len(calls),
        quota_fraction=fraction,
        full_minutes=minutes,
        busiest_window=busiest,
        notices=len(notices),
        chain_s=chain_s,
        hosts=hosts,
    )


def _report(results: Mapping[str, Measured], tickers: int) -> int:
    print()
    print(
        f"{tickers} tickers, {PER_MINUTE} calls/min allowed, {LATENCY} per call, "
        "extract_concurrency=1, batch_size=50"
    )
    header = (
        f"{'case':11} {'slots':>5} {'extract_s':>9} {'calls':>6} {'calls/s':>7} "
        f"{'quota':>6} {'minutes':>7} {'peak_60s':>8} {'notices':>7} {'chain_s':>7}"
    )
    print(header)
    for measured in results.values():
        chain = (
            f"{measured.chain_s:7.1f}" if measured.chain_s is not None else "      -"
        )
        print(
            f"{measured.case.name:11} {measured.case.slots:5d} "
            f"{measured.extract_s:9.1f} {measured.calls:6d} "
            f"{measured.calls / measured.extract_s:7.2f} "
            f"{measured.quota_fraction:6.2f} {measured.full_minutes:7d} "
            f"{measured.busiest_window:8d} {measured.notices:7d} {chain}"
        )
    for measured in results.values():
        hosts = ", ".join(f"{h}: {n}" for h, n in sorted(measured.hosts.items()))
        print(f"  {measured.case.name}: extract tasks by host: {hosts}")
    failed = False
    print()
    print(f"{'ratio':34} {'baseline_s':>10} {'candidate_s':>11} {'ratio':>6}")
    local = results.get("local")
    for name, measured in results.items():
        if local is not None and name != "local":
            ratio = local.extract_s / measured.extract_s
            print(
                f"{f'{name} vs local (speed-up)':34} {local.extract_s:10.1f} "
                f"{measured.extract_s:11.1f} {ratio:6.2f}"
            )
    allowed = PER_MINUTE / 60
    one, two = results.get("celery x1"), results.get("celery x2")
    # What one task slot sustains: measured on one worker with one slot, else
    # the latency's bound (one call at a time, 200 ms each).
    per_slot = one.calls / one.extract_s if one is not None else 5.0
    if one is not None and two is not None:
        speedup = one.extract_s / two.extract_s
        print(
            f"{'celery x2 vs x1 (speed-up)':34} {one.extract_s:10.1f} "
            f"{two.extract_s:11.1f} {speedup:6.2f}"
        )
        print(
            f"  one slot sustains {per_slot:.2f} calls/s of the {allowed:.0f} "
            f"allowed: two can be at most {min(2.0, allowed / per_slot):.2f}x "
            f"faster; target >= {TARGET_SPEEDUP}x"
        )
        failed |= speedup < TARGET_SPEEDUP
    print()
    for measured in results.values():
        demand = measured.case.slots * per_slot / allowed
        bound = "the quota" if demand >= 1 else "the API latency"
        print(
            f"  {measured.case.name}: {measured.case.slots} slot(s) x "
            f"{per_slot:.2f} calls/s = {demand:.2f}x the quota; bound by {bound}; "
            f"quota sustained {measured.quota_fraction:.2f}"
        )
        if measured.notices:
            failed = True
            print(f"  {measured.case.name}: {measured.notices} limit notices")
        if measured.busiest_window > PER_MINUTE:
            failed = True
            print(f"  {measured.case.name}: {measured.busiest_window} calls in 60 s")
        if demand >= 1 and measured.quota_fraction < TARGET_QUOTA_FRACTION:
            failed = True
            print(
                f"  {measured.case.name}: quota fraction {measured.quota_fraction:.2f}"
                f" < {TARGET_QUOTA_FRACTION} although its slots could saturate it"
            )
    return 1 if failed else 0


def main() -> int:
    """Run the cases one after the other; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help="comma list of: " + ", ".join(case.name for case in CASES),
    )
    parser.add_argument("--chain", action="store_true", help="time the whole chain")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the emulator's and S3 server's request lines
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    wanted = [name.strip() for name in args.cases.split(",")]
    chosen = [case for case in CASES if case.name in wanted]
    started = time.perf_counter()
    results: dict[str, Measured] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp,
        s3_server() as s3,
    ):
        for case in chosen:
            results[case.name] = run_case(case, args.tickers, s3, Path(tmp), args.chain)
            measured = results[case.name]
            print(
                f"  {case.name}: extract {measured.extract_s:.1f} s, "
                f"{measured.calls} calls",
                flush=True,
            )
    code = _report(results, args.tickers)
    print(f"benchmark wall time {time.perf_counter() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
