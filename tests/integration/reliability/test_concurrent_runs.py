"""
Two ``stocks-elt run`` processes started together on one warehouse: both succeed,
the second transform waits for the first (saying so in one line) instead of failing
in dbt, and the warehouse ends equal to one clean run.

They share the lake as well as the warehouse, as two users of one deployment (or a
CLI run beside an Airflow run) do: the lake is the warehouse's source of truth, so
one warehouse has one lake. It is also the harder case: both runs fetch and store
the same symbols, both load them, and each may pick up the other's announced
objects. Each round starts on a new warehouse and an empty lake, where the issue
saw dbt fail (``relation ... does not exist``) while the other run created it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stocks_elt.emulator import RunningEmulator
from tests.fixtures.checksums import business_checksums
from tests.fixtures.cli import pipeline_env
from tests.fixtures.lakes import fresh_warehouse
from tests.fixtures.processes import WatchedProcess
from tests.integration.reliability.runs import CleanRun, run_args

pytestmark = pytest.mark.timeout(300)

#: Seconds between the two starts: five rounds started together, and the issue's
#: "2 s apart" once (the first run is then mid-extract when the second starts).
STAGGERS = (0.0, 0.0, 0.0, 0.0, 0.0, 2.0)


@pytest.mark.parametrize(
    ("round_number", "stagger"),
    list(enumerate(STAGGERS, start=1)),
    ids=[f"round{n}-{s:g}s-apart" for n, s in enumerate(STAGGERS, start=1)],
)
def test_two_runs_started_together_both_succeed_and_build_the_marts_once(
    round_number: int,
    stagger: float,
    clean_run: CleanRun,
    shared_emulator: RunningEmulator,
    postgres_admin_url: str,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    started = time.monotonic()
    with fresh_warehouse(postgres_admin_url) as url:
        env = pipeline_env(shared_emulator, url)
        first = WatchedProcess(run_args(), tmp_path, env)
        time.sleep(stagger)
        second = WatchedProcess(run_args(), tmp_path, env)
        try:
            runs = [first.finish(), second.finish()]
        finally:
            first.stop()
            second.stop()

        for done in runs:
            assert done.returncode == 0, done.stderr[-3000:]
            assert "Compilation Error" not in done.stdout + done.stderr
            assert "Traceback" not in done.stderr
        waits = [
            line
            for done in runs
            for line in done.stderr.splitlines()
            if "waiting for the transform" in line
        ]
        assert len(waits) <= 1, waits  # said once, not once per handler
        assert all(line.endswith("to finish") for line in waits), waits  # unwrapped
        assert business_checksums(url) == clean_run.checksums
    reliability_figures.append(
        f"concurrent runs round {round_number} ({stagger:g} s apart): both exit 0, "
        f"{len(waits)} waited for the transform lock, "
        f"{time.monotonic() - started:.1f} s"
    )
