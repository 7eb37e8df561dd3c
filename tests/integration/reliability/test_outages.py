"""
Outages under a real ``stocks-elt run``: the warehouse stopped mid-load, the S3 lake
server stopped mid-extract and mid-load. A lasting outage ends the run with one
line naming what is unreachable (exit 1), and once it is back a plain ``run`` ends
equal to a clean run; a short one is retried and the run succeeds.

The servers are the test's own, so it can stop them: a Postgres cluster of its own
(``pgserver``, on a Unix socket; stopped with ``pg_ctl -m immediate``, as a crash
or a power cut would) and a moto S3 server on its own port (its buckets live in
this process, so they survive a stop and a start on the same port).

"Mid-load" is made exact with the loader's own lock: the test holds the advisory
lock every writer of a symbol's rows takes, so the load stops at that object, with
a transaction open, until the test lets go after stopping the server. "Mid-extract"
is made exact by the emulator answering one symbol late: the test stops the lake
once the other symbol's answer is stored.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from stocks_elt.emulator import RunningEmulator
from stocks_elt.warehouse import locks
from stocks_elt.warehouse.loader import encode
from tests.fixtures.checksums import business_checksums
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EmulatorFactory
from tests.fixtures.lakes import fresh_warehouse
from tests.fixtures.processes import Finished, WatchedProcess
from tests.fixtures.s3 import free_port
from tests.integration.reliability.runs import CleanRun, run_args

pytestmark = pytest.mark.timeout(300)

#: Enough symbols that the load reads some lake objects only after the writer
#: passes its first object: the loader parses at most ``_QUEUE_DEPTH`` objects
#: ahead (plus one in hand and one waiting to be queued), and each symbol gives
#: two objects (daily series, overview) besides the one listing.
_SYMBOL_COUNT = math.ceil((encode._QUEUE_DEPTH + 2) / 2)
SYMBOLS = ",".join(("IBM", "KO", "MSFT", "AAPL", "XOM")[:_SYMBOL_COUNT])
#: The symbol the emulator answers late, so the extract is caught between two.
LATE_SYMBOL = "KO"
_AWS = {
    "AWS_ACCESS_KEY_ID": "testing-access",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def clean(clean_runs: Callable[[str], CleanRun]) -> CleanRun:
    return clean_runs(SYMBOLS)


# --- the servers -------------------------------------------------------------------


class OwnPostgres:
    """A Postgres cluster of this module's own, which the test may stop."""

    def __init__(self, pgdata: Path) -> None:
        import pgserver

        self.pgdata = pgdata
        self.server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self.admin_url = str(self.server.get_uri())

    def stop(self) -> None:
        """Stop it at once, as a crash would (no checkpoint, sessions cut)."""
        from pgserver import _commands

        _commands.pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def is_up(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    """The cluster lives outside pytest's temporary folder: as root, pgserver runs
    Postgres as another user, and any pytest session that starts meanwhile resets
    ``/tmp/pytest-of-root`` to mode 0700, which would lock that user out."""
    folder = Path(tempfile.mkdtemp(prefix="stocks-elt-outage-pg-"))
    folder.chmod(0o755)
    cluster = OwnPostgres(folder / "pgdata")
    try:
        yield cluster
    finally:
        if not cluster.is_up():
            cluster.start()
        cluster.server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


class OwnS3:
    """A moto S3 server on a port of its own, stopped and started by the test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        """Serve again on the same port (a no-op while it serves)."""
        from moto.server import ThreadedMotoServer

        if self._server is not None:
            return
        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture(scope="module")
def own_s3() -> Iterator[OwnS3]:
    server = OwnS3()
    server.start()
    yield server
    server.stop()


# --- helpers -----------------------------------------------------------------------


@contextmanager
def _holding_symbol_locks(url: str, symbols: str) -> Iterator[psycopg.Connection]:
    """Hold the loader's lock of every symbol's prices: a load stops at its first
    daily series (with its transaction open) until the connection closes."""
    conn = psycopg.connect(url, autocommit=True)
    try:
        for symbol in symbols.split(","):
            conn.execute(
                "select pg_advisory_lock(%s, hashtext(%s))",
                (locks.LOADER_CLASS, f"prices:{symbol}"),
            )
        yield conn
    finally:
        conn.close()


def _wait_until_a_load_waits_for(url: str, timeout: float = 60) -> None:
    """Wait until a loader waits for a symbol lock (the one the test holds)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*) from pg_locks"
                " where locktype = 'advisory' and not granted"
                " and classid = %s::oid and objsubid = 2",
                (locks.LOADER_CLASS,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.05)
    raise AssertionError("no load waited for the symbol lock")


def _error_line(finished: Finished) -> str:
    """The run's one error line (the last line of stderr), checked to be alone."""
    assert "Traceback" not in finished.stderr, finished.stderr[-3000:]
    errors = [
        line for line in finished.stderr.splitlines() if line.startswith("error:")
    ]
    assert len(errors) == 1, finished.stderr[-3000:]
    assert finished.stderr.rstrip().endswith(errors[0])
    return errors[0]


def _failed_then_finished(
    finished: Finished,
    names: tuple[str, ...],
    *,
    url: str,
    cwd: Path,
    env: dict[str, str],
    clean: CleanRun,
) -> str:
    """Check the outage ended the run in one line (exit 1) naming ``names``, then
    that a plain re-run ends equal to a clean run; return the line."""
    assert finished.returncode == 1, finished.stderr[-3000:]
    line = _error_line(finished)
    for name in names:
        assert name in line, line
    rerun = run_stocks_elt(run_args(symbols=SYMBOLS), cwd, env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert business_checksums(url) == clean.checksums
    return line


def _s3_env(s3: OwnS3, bucket: str) -> dict[str, str]:
    return {
        **_AWS,
        "STOCKS_ELT_LAKE_URL": f"s3://{bucket}/raw",
        "STOCKS_ELT_S3_ENDPOINT_URL": s3.url,
    }


# --- the warehouse -----------------------------------------------------------------


def test_a_warehouse_stopped_mid_load_is_one_line_and_the_next_run_finishes(
    own_postgres: OwnPostgres,
    shared_emulator: RunningEmulator,
    clean: CleanRun,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    started = time.monotonic()
    with fresh_warehouse(own_postgres.admin_url) as url:
        env = pipeline_env(shared_emulator, url)
        with _holding_symbol_locks(url, SYMBOLS):
            victim = WatchedProcess(run_args(symbols=SYMBOLS), tmp_path, env)
            try:
                _wait_until_a_load_waits_for(url)
                own_postgres.stop()
            except BaseException:
                victim.stop()
                raise
        try:
            finished = victim.finish(timeout=120)
        finally:
            own_postgres.start()

        assert "warehouse connection lost" in finished.stderr  # it retried first
        line = _failed_then_finished(
            finished,
            ("the warehouse at", str(own_postgres.pgdata.parent)),
            url=url,
            cwd=tmp_path,
            env=env,
            clean=clean,
        )
    reliability_figures.append(
        f"outage: warehouse stopped mid-load: exit 1 in one line ({line[:90]}...), "
        f"re-run equal to a clean run; {time.monotonic() - started:.1f} s"
    )


def test_a_warehouse_back_within_the_retries_does_not_fail_the_run(
    own_postgres: OwnPostgres,
    shared_emulator: RunningEmulator,
    clean: CleanRun,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    with fresh_warehouse(own_postgres.admin_url) as url:
        env = pipeline_env(shared_emulator, url)
        with _holding_symbol_locks(url, SYMBOLS):
            victim = WatchedProcess(run_args(symbols=SYMBOLS), tmp_path, env)
            try:
                _wait_until_a_load_waits_for(url)
                stopped = time.monotonic()
                own_postgres.stop()
            except BaseException:
                victim.stop()
                raise
        own_postgres.start()
        down_for = time.monotonic() - stopped
        finished = victim.finish(timeout=120)

        assert finished.returncode == 0, finished.stderr[-3000:]
        assert "warehouse connection lost" in finished.stderr
        assert "Traceback" not in finished.stderr
        assert business_checksums(url) == clean.checksums
    reliability_figures.append(
        f"outage: warehouse down {down_for:.1f} s mid-load: reconnected, run "
        "succeeded, equal to a clean run"
    )


# --- the S3 lake -------------------------------------------------------------------


def _late_emulator(
    emulator_factory: EmulatorFactory, seconds: float
) -> RunningEmulator:
    from tests.fixtures.emulator import PREMIUM_KEY

    return emulator_factory(
        premium_keys=frozenset({PREMIUM_KEY}),
        faults=f"latency={seconds:g}s:first=1@{LATE_SYMBOL}",
    )


def _stored_line(symbol: str) -> str:
    return f"stored function=TIME_SERIES_DAILY_ADJUSTED symbol={symbol} "


def test_an_s3_lake_stopped_mid_extract_is_one_line_and_the_next_run_finishes(
    own_s3: OwnS3,
    emulator_factory: EmulatorFactory,
    postgres_admin_url: str,
    clean: CleanRun,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    emulator = _late_emulator(emulator_factory, 3)
    bucket = f"stocks-lake-{uuid.uuid4().hex[:8]}"
    with fresh_warehouse(postgres_admin_url) as url:
        env = {**pipeline_env(emulator, url), **_s3_env(own_s3, bucket)}
        victim = WatchedProcess(run_args("-v", symbols=SYMBOLS), tmp_path, env)
        try:
            victim.wait_for(_stored_line("IBM"))
            own_s3.stop()
            finished = victim.finish(timeout=120)
        finally:
            victim.stop()
            own_s3.start()

        stored = re.findall(r"stored function=\S+ symbol=(\S+)", finished.stderr)
        assert LATE_SYMBOL not in stored  # the outage came mid-extract
        line = _failed_then_finished(
            finished,
            (f"the lake s3://{bucket}/raw is unreachable", "tried 3 more times"),
            url=url,
            cwd=tmp_path,
            env=env,
            clean=clean,
        )
    reliability_figures.append(
        f"outage: S3 lake stopped mid-extract: exit 1 in one line ({line[:90]}...), "
        "re-run equal to a clean run"
    )


def test_an_s3_lake_stopped_mid_load_is_one_line_and_the_next_run_finishes(
    own_s3: OwnS3,
    shared_emulator: RunningEmulator,
    postgres_admin_url: str,
    clean: CleanRun,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    bucket = f"stocks-lake-{uuid.uuid4().hex[:8]}"
    with fresh_warehouse(postgres_admin_url) as url:
        env = {**pipeline_env(shared_emulator, url), **_s3_env(own_s3, bucket)}
        with _holding_symbol_locks(url, SYMBOLS):
            victim = WatchedProcess(run_args("-v", symbols=SYMBOLS), tmp_path, env)
            try:
                _wait_until_a_load_waits_for(url)
                own_s3.stop()
            except BaseException:
                victim.stop()
                own_s3.start()
                raise
        try:
            finished = victim.finish(timeout=120)
        finally:
            victim.stop()
            own_s3.start()

        assert "loaded object=" in finished.stderr  # it was mid-load
        line = _failed_then_finished(
            finished,
            (f"the lake s3://{bucket}/raw is unreachable", "tried 3 more times"),
            url=url,
            cwd=tmp_path,
            env=env,
            clean=clean,
        )
    reliability_figures.append(
        f"outage: S3 lake stopped mid-load: exit 1 in one line ({line[:90]}...), "
        "re-run equal to a clean run"
    )


def test_an_s3_lake_back_within_the_retries_does_not_fail_the_run(
    own_s3: OwnS3,
    emulator_factory: EmulatorFactory,
    postgres_admin_url: str,
    clean: CleanRun,
    tmp_path: Path,
    reliability_figures: list[str],
) -> None:
    # The late symbol's answer comes 1.5 s after the other's is stored; the lake
    # is down from then until 3 s later, so its write meets the outage.
    emulator = _late_emulator(emulator_factory, 1.5)
    bucket = f"stocks-lake-{uuid.uuid4().hex[:8]}"
    with fresh_warehouse(postgres_admin_url) as url:
        env = {**pipeline_env(emulator, url), **_s3_env(own_s3, bucket)}
        victim = WatchedProcess(run_args("-v", symbols=SYMBOLS), tmp_path, env)
        try:
            victim.wait_for(_stored_line("IBM"))
            stopped = time.monotonic()
            own_s3.stop()
            time.sleep(max(0.0, stopped + 3.0 - time.monotonic()))
            own_s3.start()
            down_for = time.monotonic() - stopped
            finished = victim.finish(timeout=120)
        finally:
            victim.stop()
            own_s3.start()

        assert finished.returncode == 0, finished.stderr[-3000:]
        assert "lake unreachable" in finished.stderr  # it was retried, not lucky
        assert business_checksums(url) == clean.checksums
    reliability_figures.append(
        f"outage: S3 lake down {down_for:.1f} s mid-extract: retried, run "
        "succeeded, equal to a clean run"
    )
