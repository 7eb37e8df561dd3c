"""
The reliability suites' figures (kills survived, where they landed, faults injected,
seconds taken) printed in pytest's terminal summary, where a CI log keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from stocks_elt.emulator import EmulatorConfig, RunningEmulator, start_emulator
from tests.fixtures.checksums import business_checksums
from tests.fixtures.cli import pipeline_env
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY
from tests.fixtures.lakes import fresh_warehouse
from tests.fixtures.processes import WatchedProcess, stage_durations
from tests.integration.reliability.runs import SYMBOLS, CleanRun, run_args

FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def reliability_figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines to print under "reliability figures" at the end of the session."""
    return request.config.stash.setdefault(FIGURES, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("reliability figures")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[RunningEmulator]:
    """One emulator for every scenario: a premium key has no limit to exhaust, and
    its market is deterministic, so every scenario fetches the same answers."""
    config = EmulatorConfig(today=EMULATOR_TODAY, premium_keys=frozenset({PREMIUM_KEY}))
    with start_emulator(config) as running:
        yield running


@pytest.fixture(scope="session")
def clean_runs(
    shared_emulator: RunningEmulator,
    postgres_admin_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], CleanRun]:
    """``clean_runs(symbols)``: one uninterrupted ``stocks-elt -v run`` of
    ``symbols`` on a fresh warehouse and lake (once per session and symbol list),
    what every crashed, concurrent or interrupted scenario must end equal to."""
    done: dict[str, CleanRun] = {}

    def clean_run_of(symbols: str) -> CleanRun:
        if symbols not in done:
            cwd = tmp_path_factory.mktemp("clean-run")
            with fresh_warehouse(postgres_admin_url) as url:
                watched = WatchedProcess(
                    run_args("-v", symbols=symbols),
                    cwd,
                    pipeline_env(shared_emulator, url),
                )
                finished = watched.finish()
                assert finished.returncode == 0, finished.stderr[-3000:]
                clean = CleanRun(business_checksums(url), stage_durations(watched))
            assert clean.checksums["raw.daily_prices"][0] > 0
            assert clean.checksums["marts.fct_daily_bars"][0] > 0
            done[symbols] = clean
        return done[symbols]

    return clean_run_of


@pytest.fixture(scope="session")
def clean_run(clean_runs: Callable[[str], CleanRun]) -> CleanRun:
    """The clean run of the suites' two symbols (:data:`SYMBOLS`)."""
    return clean_runs(SYMBOLS)
