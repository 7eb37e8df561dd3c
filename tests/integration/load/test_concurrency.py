"""Loaders that crash, loaders that race, and the embedded Postgres."""

from __future__ import annotations

import multiprocessing
import random
import shutil
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from stocks_elt import pipeline
from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator.market import Market
from stocks_elt.lake.local import LocalLake
from stocks_elt.results import LoadResult
from stocks_elt.stages.load import load
from stocks_elt.warehouse.connection import warehouse_url
from tests.fixtures.lakes import (
    at,
    count,
    fresh_warehouse,
    put_emulated,
    put_ibm_correction,
    table_checksums,
)

SYMBOLS = ("IBM", "AAPL", "KO", "MSFT", "XOM", "TSLA")
#: NYSE sessions from 2024-05-28 to 2024-06-24 (Juneteenth closed): enough
#: objects (6 x 19 compact answers) that ten killed loaders never finish them.
SESSIONS = tuple(
    day
    for day in (date(2024, 5, 28) + timedelta(days=n) for n in range(28))
    if day.weekday() < 5 and day != date(2024, 6, 19)
)


def fill_lake_with_small_objects(lake: LocalLake, market: Market) -> list[str]:
    """Small objects: compact answers of each session, splits, dividends, a fix."""
    keys = []
    minute = 0
    for day_index, today in enumerate(SESSIONS):
        for symbol in SYMBOLS:
            minute += 1
            keys.append(
                put_emulated(
                    lake,
                    market,
                    "TIME_SERIES_DAILY",
                    symbol,
                    at(day_index * 1440 + minute),
                    today=today,
                )
            )
    for symbol in SYMBOLS[:3]:
        minute += 1
        keys.append(put_emulated(lake, market, "DIVIDENDS", symbol, at(minute)))
        keys.append(put_emulated(lake, market, "SPLITS", symbol, at(minute)))
    keys.append(put_ibm_correction(lake, at((len(SESSIONS) + 1) * 1440)))
    return keys


def clean_run_checksums(
    postgres_admin_url: str, lake: LocalLake, tmp_path: Path
) -> dict[str, tuple[int, str]]:
    """The tables one uninterrupted load of the whole lake gives."""
    with fresh_warehouse(postgres_admin_url) as url:
        load(load_settings(lake_url=lake.url, warehouse_url=url, data_dir=tmp_path))
        return table_checksums(url)


def orphans(url: str) -> int:
    """Rows whose object the ledger does not have: a partly loaded object."""
    return count(
        url,
        """
        select count(*) from (
            select source_object as key from raw.daily_prices
            union all select source_object from raw.splits
            union all select source_object from raw.dividends
            union all select object_key from raw.quarantine
            union all select object_key from raw.revisions
        ) as written
        where key not in (select object_key from raw.load_ledger)
        """,
    )


def load_in_child(lake_url: str, url: str, data_dir: str) -> None:
    load(load_settings(lake_url=lake_url, warehouse_url=url, data_dir=data_dir))


def ledger_rows(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("select count(*) from raw.load_ledger").fetchone()
    assert row is not None
    return int(row[0])


def test_a_loader_killed_at_random_points_resumes_to_the_clean_result(
    settings: Settings,
    lake: LocalLake,
    market: Market,
    tmp_path: Path,
    postgres_admin_url: str,
) -> None:
    keys = fill_lake_with_small_objects(lake, market)
    assert settings.warehouse_url is not None
    url = settings.warehouse_url.get_secret_value()
    # Forked, so the child starts with everything imported: a real process with
    # its own connection, killed with SIGKILL like a crashed worker.
    context = multiprocessing.get_context("fork")
    rng = random.Random(7)
    kills = 0
    with psycopg.connect(url, autocommit=True) as watcher:
        for _attempt in range(10):
            before = ledger_rows(watcher)
            process = context.Process(
                target=load_in_child, args=(lake.url, url, str(tmp_path / "data"))
            )
            process.start()
            deadline = time.monotonic() + 60
            # Kill it a random moment after it committed an object: inside a
            # later object's transaction, between two, or while it plans.
            while process.is_alive() and time.monotonic() < deadline:
                if ledger_rows(watcher) > before:
                    time.sleep(rng.uniform(0.0, 0.03))
                    break
                time.sleep(0.005)
            if process.is_alive():
                process.kill()
                kills += 1
            process.join(timeout=60)
            assert orphans(url) == 0
    assert kills == 10

    load(settings)

    assert count(url, "select count(*) from raw.load_ledger") == len(keys)
    assert table_checksums(url) == clean_run_checksums(
        postgres_admin_url, lake, tmp_path
    )


def test_two_loaders_at_once_load_each_object_once_without_deadlock(
    settings: Settings,
    lake: LocalLake,
    market: Market,
    tmp_path: Path,
    postgres_admin_url: str,
) -> None:
    keys = fill_lake_with_small_objects(lake, market)
    start = threading.Barrier(2)
    results: list[LoadResult] = []
    errors: list[BaseException] = []

    def run(object_keys: list[str] | None) -> None:
        try:
            start.wait()
            results.append(load(settings, object_keys))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(keys[: 2 * len(keys) // 3],)),
        threading.Thread(target=run, args=(None,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sum(result.objects_loaded for result in results) == len(keys)
    assert settings.warehouse_url is not None
    url = settings.warehouse_url.get_secret_value()
    assert table_checksums(url) == clean_run_checksums(
        postgres_admin_url, lake, tmp_path
    )


def test_loading_into_the_embedded_postgres_needs_no_configuration(
    lake: LocalLake, market: Market
) -> None:
    import pgserver

    # Not under pytest's tmp_path: pytest keeps that folder private to root, and
    # the embedded Postgres runs as its own user when the tests run as root.
    data_dir = Path(tempfile.mkdtemp(prefix="stocks-elt-embedded-"))
    data_dir.chmod(0o755)
    settings = load_settings(lake_url=lake.url, warehouse_url=None, data_dir=data_dir)
    key = put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))
    try:
        result = pipeline.load_objects(None, settings)  # the door migrates

        assert result.objects_loaded == 1
        with psycopg.connect(warehouse_url(settings)) as conn:
            ledger = conn.execute("select object_key from raw.load_ledger").fetchall()
            rows = conn.execute("select count(*) from raw.daily_prices").fetchone()
        assert ledger == [(key,)]
        assert rows == (100,)
    finally:
        pgdata = data_dir.resolve() / "postgres"
        if pgdata.exists():
            server = pgserver.get_server(pgdata, cleanup_mode=None)
            server.cleanup_mode = "stop"
            server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
