"""
Every stage resumes what an interrupted run left: the next plain ``run`` loads the
objects an earlier extract stored, checks the loads no gate checked, fetches again
what a corrupted lake object held, and marks the dead run ``abandoned``.

The interruptions here are exact (a run that stopped after a given stage); the
crash suite (``test_crash_suite.py``) kills real processes at random moments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg

from stocks_elt import pipeline
from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import RunningEmulator
from stocks_elt.lake.local import LocalLake
from stocks_elt.pipeline import run_pipeline
from stocks_elt.warehouse import locks
from stocks_elt.warehouse.audit import PipelineRunRecorder
from stocks_elt.warehouse.audit.runs import run_lock_id
from tests.fixtures.checksums import business_checksums
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY
from tests.fixtures.lakes import fresh_warehouse

SYMBOLS = ("IBM", "KO")


def _settings(emulator: RunningEmulator, warehouse: str, data_dir: Path) -> Settings:
    return load_settings(
        alpha_vantage_api_key=PREMIUM_KEY,
        alpha_vantage_base_url=emulator.base_url,
        alpha_vantage_is_premium=True,
        alpha_vantage_calls_per_second=50,
        alpha_vantage_daily_quota=0,
        data_dir=data_dir,
        lake_url=None,
        warehouse_url=warehouse,
    )


def _clean_raw(
    emulator: RunningEmulator, admin_url: str, tmp_path: Path, day: date
) -> dict[str, tuple[int, str]]:
    """What one uninterrupted run (load and gate, no transform) stores."""
    with fresh_warehouse(admin_url) as url:
        settings = _settings(emulator, url, tmp_path / "clean")
        summary = run_pipeline(settings, SYMBOLS, as_of=day, transform=False)
        assert summary.outcome == "success"
        return business_checksums(url, marts=False)


def test_a_run_that_died_after_its_extract_is_loaded_by_the_next_run(
    emulator: RunningEmulator,
    warehouse: str,
    postgres_admin_url: str,
    tmp_path: Path,
) -> None:
    settings = _settings(emulator, warehouse, tmp_path / "data")
    # The killed run: its extract stored every answer, its load never ran.
    extracted = pipeline.extract_batch(SYMBOLS, settings, as_of=EMULATOR_TODAY)
    assert extracted.object_keys

    summary = run_pipeline(settings, SYMBOLS, as_of=EMULATOR_TODAY, transform=False)

    # Nothing new to fetch (the lake has it all), yet everything gets loaded.
    assert summary.stages["extract"]["object_keys"] == []
    assert summary.stages["load"]["objects_loaded"] == len(extracted.object_keys)
    assert business_checksums(warehouse, marts=False) == _clean_raw(
        emulator, postgres_admin_url, tmp_path, EMULATOR_TODAY
    )
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.pending_objects").fetchone() == (
            0,
        )


def test_a_corrupted_lake_object_is_moved_aside_and_fetched_again(
    emulator: RunningEmulator,
    warehouse: str,
    postgres_admin_url: str,
    tmp_path: Path,
) -> None:
    settings = _settings(emulator, warehouse, tmp_path / "data")
    extracted = pipeline.extract_batch(SYMBOLS, settings, as_of=EMULATOR_TODAY)
    lake = LocalLake(settings.resolved_lake_url)
    daily = next(key for key in extracted.object_keys if "symbol=KO/" in key)
    path = lake.root.joinpath(*daily.split("/"))
    path.write_bytes(path.read_bytes()[:-200] + b"garbage")  # a disk gone bad

    first = run_pipeline(settings, SYMBOLS, as_of=EMULATOR_TODAY, transform=False)
    second = run_pipeline(settings, SYMBOLS, as_of=EMULATOR_TODAY, transform=False)

    assert first.stages["load"]["objects_refused"] == 1
    assert lake.head(daily) is None
    moved = lake.head(f"quarantine/{daily}")
    assert moved is not None
    assert moved.metadata["quarantine_reason"].startswith("checksum mismatch")
    ko = {o["symbol"]: o for o in second.stages["extract"]["outcomes"]}["KO"]
    assert ko["outcome"] == "fetched"  # not "unchanged": fetched again
    assert business_checksums(warehouse, marts=False) == _clean_raw(
        emulator, postgres_admin_url, tmp_path, EMULATOR_TODAY
    )


_HOLD_A_RUN = textwrap.dedent(
    """
    import sys, time
    from stocks_elt.warehouse.audit import PipelineRunRecorder
    with PipelineRunRecorder(sys.argv[1], sys.argv[2], command="run"):
        print("started", flush=True)
        time.sleep(600)
    """
)


def _hold_a_run(url: str, run_id: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_RUN, url, run_id],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    return process


def _outcome(url: str, run_id: str) -> tuple[str, str | None]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select outcome, message from audit.pipeline_runs where run_id = %s",
            (run_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _wait_until_released(url: str, run_id: str, timeout: float = 30.0) -> None:
    """Wait until the server has let go of a killed run's lock (it notices the
    closed connection), polling rather than guessing how long that takes."""
    key = (locks.RUN_CLASS, run_lock_id(uuid.UUID(run_id)))
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            held = conn.execute(
                "select count(*) from pg_locks where locktype = 'advisory'"
                " and classid = %s::oid and objid = %s::oid and granted",
                key,
            ).fetchone()
            if held == (0,):
                return
            conn.execute("select pg_sleep(0.05)")
    raise AssertionError(f"run {run_id}'s lock is still held")


def test_a_killed_run_is_marked_abandoned_and_a_live_one_is_not(warehouse: str) -> None:
    killed_id, alive_id = str(uuid.uuid4()), str(uuid.uuid4())
    killed = _hold_a_run(warehouse, killed_id)
    alive = _hold_a_run(warehouse, alive_id)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
        _wait_until_released(warehouse, killed_id)

        with PipelineRunRecorder(warehouse, str(uuid.uuid4()), command="run"):
            pass

        outcome, message = _outcome(warehouse, killed_id)
        assert outcome == "abandoned"
        assert message is not None
        assert f":{killed.pid} ended before the run finished" in message
        assert _outcome(warehouse, alive_id) == ("running", None)
    finally:
        alive.kill()
        alive.wait(timeout=10)
