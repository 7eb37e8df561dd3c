"""
``kill -9`` of a real ``stocks-elt run`` at random moments, then a plain ``run``:
the warehouse must end equal to a clean run's, with no manual step.

The moments are drawn from a seeded generator, so a failure names a scenario that
runs again the same way: kill ``i`` falls in stage ``STAGES[i % 4]`` (extract, load,
quality gate, transform), at a random fraction of how long that stage took in the
clean run, counted from the log line that starts it (``stocks-elt -v``). Each
scenario has a database and a lake of its own; the emulator (premium key, no
limits) is shared.

``STOCKS_ELT_CRASH_SEED`` and ``STOCKS_ELT_CRASH_KILLS`` draw other or more
moments (``STOCKS_ELT_CRASH_KILLS=60 pytest tests/integration/reliability/
test_crash_suite.py`` hunts further).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from stocks_elt.emulator import RunningEmulator
from tests.fixtures.checksums import business_checksums
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.lakes import fresh_warehouse
from tests.fixtures.processes import STAGE_BOUNDARIES, WatchedProcess, stage_at
from tests.integration.reliability.runs import CleanRun, run_args

pytestmark = pytest.mark.timeout(600)

STAGES = tuple(STAGE_BOUNDARIES)
SEED = int(os.environ.get("STOCKS_ELT_CRASH_SEED", "20261201"))
KILLS = int(os.environ.get("STOCKS_ELT_CRASH_KILLS", "20"))


@dataclass(frozen=True)
class Kill:
    """One scenario: kill the run ``fraction`` of the way through ``stage``."""

    number: int
    stage: str
    fraction: float

    def __str__(self) -> str:
        return f"{self.number:02d}-{self.stage}-{self.fraction:.2f}"


def _draw_kills(seed: int, count: int) -> list[Kill]:
    rng = random.Random(seed)
    return [
        Kill(number, STAGES[number % len(STAGES)], rng.random())
        for number in range(count)
    ]


KILL_PLAN = _draw_kills(SEED, KILLS)
#: Where each kill actually landed (the stage the killed run's log was in).
_LANDED: dict[str, str] = {}
#: The scenarios whose next run ended equal to the clean run.
_SURVIVED: list[str] = []
#: Kills that came after the run had finished, and were tried again earlier.
_TOO_LATE: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _report_landings(
    clean_run: CleanRun, reliability_figures: list[str]
) -> Iterator[None]:
    started = time.monotonic()
    yield
    if _LANDED:
        landed = Counter(_LANDED.values())
        reliability_figures.append(
            f"crash suite: seed={SEED} kills={len(_LANDED)} "
            f"survived={len(_SURVIVED)} too-late-then-earlier={len(_TOO_LATE)} landed="
            + ", ".join(f"{stage}:{landed[stage]}" for stage in (*STAGES, "finished"))
            + "; clean-run stages "
            + ", ".join(f"{s}:{d:.2f}s" for s, d in clean_run.durations.items())
            + f"; {time.monotonic() - started:.0f} s"
        )


def _outcome(url: str, run_id: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select outcome from audit.pipeline_runs where run_id = %s", (run_id,)
        ).fetchone()
    return None if row is None else str(row[0])


def _run_id(lines: list[str]) -> str:
    for line in lines:
        if "pipeline run started run_id=" in line:
            return line.split("run_id=")[1].split()[0]
    raise AssertionError("the killed run logged no run id")


def _outcomes_after(lines: list[str]) -> set[str]:
    """What the killed run may be recorded as, once the next run has looked.

    The run logs ``pipeline run finished`` just before it commits its outcome: a
    kill between the two leaves it abandoned, a kill after them leaves it a
    success. Before that line, it can only be abandoned.
    """
    if any("pipeline run finished" in line for line in lines):
        return {"abandoned", "success"}
    return {"abandoned"}


#: A run faster than the clean one may finish before a late kill; the scenario is
#: then run again (new warehouse, new lake) with the moment halved, at most this
#: many times in all.
ATTEMPTS = 3


def _kill_a_run(
    kill: Kill, fraction: float, clean: CleanRun, env: dict[str, str], cwd: Path
) -> list[str] | None:
    """Start ``stocks-elt -v run``, ``kill -9`` it ``fraction`` of the way into
    ``kill.stage``; return all it logged before it died, or None when it finished
    first."""
    begin, _ = STAGE_BOUNDARIES[kill.stage]
    victim = WatchedProcess(run_args("-v"), cwd, env)
    try:
        started = victim.wait_for(begin)
        delay = fraction * clean.durations[kill.stage]
        time.sleep(max(0.0, started + delay - time.monotonic()))
        victim.kill()
    finally:
        victim.stop()
    if victim.process.returncode == 0:
        return None
    assert victim.process.returncode == -9, victim.stderr_text()[-3000:]
    return victim.logged_after_death()


@pytest.mark.parametrize("kill", KILL_PLAN, ids=str)
def test_a_run_killed_at_a_random_moment_is_finished_by_the_next_plain_run(
    kill: Kill,
    clean_run: CleanRun,
    shared_emulator: RunningEmulator,
    postgres_admin_url: str,
    tmp_path: Path,
) -> None:
    for attempt in range(ATTEMPTS):
        cwd = tmp_path / f"attempt-{attempt}"
        cwd.mkdir()
        with fresh_warehouse(postgres_admin_url) as url:
            env = pipeline_env(shared_emulator, url)
            logged = _kill_a_run(kill, kill.fraction / 2**attempt, clean_run, env, cwd)
            if logged is None:
                _TOO_LATE.append(str(kill))
                continue  # it finished before the kill: try earlier
            _LANDED[str(kill)] = stage_at(logged)

            rerun = run_stocks_elt(run_args(), cwd, env)

            assert rerun.returncode == 0, rerun.stderr[-3000:]
            assert "Traceback" not in rerun.stderr
            assert business_checksums(url) == clean_run.checksums
            assert _outcome(url, _run_id(logged)) in _outcomes_after(logged)
        _SURVIVED.append(str(kill))
        return
    pytest.fail(f"every run finished before its kill ({ATTEMPTS} attempts)")
