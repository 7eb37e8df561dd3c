"""
Benchmark the extract stage against the emulator (run by hand, under the heavy lock).

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_extract.py

Cases, one row each (``case  baseline_s  candidate_s  ratio``):

* ``per_minute_pacing``: the emulator allows Q calls a minute; the client is told
  the same Q. A run that needs C calls (free key: TIME_SERIES_DAILY, SPLITS,
  DIVIDENDS and OVERVIEW per symbol, plus one LISTING_STATUS) must finish within
  the budget 1.05 x C/Q minutes + 5 s with no limit notice. baseline_s is that
  budget, candidate_s the run; ratio = candidate / budget (<= 1 passes).
* ``full_history_symbols``: no limits, a premium key, full adjusted histories
  (about 2 MB each), from an emulator in its own process. baseline_s runs one
  symbol at a time, candidate_s runs ``extract_concurrency`` at a time; ratio =
  baseline / candidate (the speed-up), and the symbols per second of each are
  printed below the table (best of ``--repeat`` runs, each into a new lake).
  ``full_history_symbols_<N>ms`` repeats it with N ms of latency injected on every
  answer, closer to a real network than loopback.

The emulator's answers are rendered once before timing (with another key), so the
rows measure the client, the ledger and the lake, not the market generator.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import EmulatorConfig, start_emulator
from stocks_elt.emulator.universe import default_universe
from stocks_elt.stages.extract import extract

TODAY = date(2024, 6, 21)
FREE_KEY = "bench-free-key"
PREMIUM_KEY = "bench-premium-key"
WARM_KEY = "bench-warm-up-key"
LIMIT_NOTICES = {"burst", "per_minute", "daily_cap"}
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the local server (or an embedded one); dropped after."""
    admin = os.environ.get("STOCKS_ELT_TEST_POSTGRES_URL", DEFAULT_SERVER)
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        import pgserver

        server = pgserver.get_server(  # type: ignore[attr-defined]
            Path(tempfile.mkdtemp()) / "pg", cleanup_mode="stop"
        )
        admin = str(server.get_uri())
    name = f"bench_extract_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


def warm_up(base_url: str, symbols: Sequence[str], *, full: bool) -> None:
    """Render every answer the runs will ask for once, then forget the calls."""
    requests: list[dict[str, str]] = [{"function": "LISTING_STATUS", "state": "active"}]
    for symbol in symbols:
        requests.append({"function": "OVERVIEW", "symbol": symbol})
        if full:
            requests.append(
                {
                    "function": "TIME_SERIES_DAILY_ADJUSTED",
                    "symbol": symbol,
                    "outputsize": "full",
                }
            )
        else:
            requests.append(
                {
                    "function": "TIME_SERIES_DAILY",
                    "symbol": symbol,
                    "outputsize": "compact",
                }
            )
            requests.append({"function": "SPLITS", "symbol": symbol})
            requests.append({"function": "DIVIDENDS", "symbol": symbol})
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for params in requests:
            client.get(
                "/query", params={**params, "apikey": WARM_KEY}
            ).raise_for_status()
        client.post("/_admin/reset").raise_for_status()


def settings_for(
    base_url: str, warehouse: str, folder: Path, key: str, **values: object
) -> Settings:
    return load_settings(
        warehouse_url=warehouse,
        lake_url=(folder / f"lake-{uuid.uuid4().hex[:8]}").as_uri(),
        data_dir=folder,
        alpha_vantage_base_url=base_url,
        alpha_vantage_api_key=key,
        alpha_vantage_daily_quota=0,
        **values,
    )


def bench_pacing(
    warehouse: str, folder: Path, per_minute: int, symbols: Sequence[str]
) -> tuple[float, float, int, int]:
    """Return (budget_s, run_s, calls, limit_notices) for the per-minute case."""
    config = EmulatorConfig(
        today=TODAY,
        per_minute_limit=per_minute,
        premium_keys=frozenset({WARM_KEY}),
    )
    with start_emulator(config) as emulator:
        warm_up(emulator.base_url, symbols, full=False)
        settings = settings_for(
            emulator.base_url,
            warehouse,
            folder,
            FREE_KEY,
            alpha_vantage_calls_per_second=1000,
            alpha_vantage_calls_per_minute=per_minute,
            extract_concurrency=4,
        )
        started = time.perf_counter()
        result = extract(settings, symbols, as_of=TODAY)
        elapsed = time.perf_counter() - started
        calls = emulator.calls(FREE_KEY)
    needed = 4 * len(symbols) + 1
    if result.calls_made != needed or not result.is_success:
        raise SystemExit(
            f"pacing run made {result.calls_made} calls, expected {needed}"
        )
    notices = sum(1 for call in calls if call.outcome in LIMIT_NOTICES)
    budget = 1.05 * needed / per_minute * 60.0 + 5.0
    return budget, elapsed, len(calls), notices


@contextmanager
def emulator_process(premium_keys: Sequence[str], faults: str) -> Iterator[str]:
    """An emulator in its own process (its threads do not share our GIL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "stocks_elt.cli",
        "emulator",
        "--port",
        str(port),
        "--today",
        TODAY.isoformat(),
        "--premium-keys",
        ",".join(premium_keys),
    ]
    if faults:
        command += ["--faults", faults]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base_url}/_admin/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the emulator process did not start") from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_concurrency(
    warehouse: str,
    folder: Path,
    symbols: Sequence[str],
    concurrency: int,
    repeat: int,
    latency_ms: int,
) -> tuple[float, float]:
    """Return the best (sequential_s, concurrent_s) of ``repeat`` runs each, for
    full histories without limits (every run into a new lake)."""
    faults = f"latency={latency_ms}ms:1" if latency_ms else ""
    timings: dict[int, float] = {}
    with emulator_process([PREMIUM_KEY, WARM_KEY], faults) as base_url:
        warm_up(base_url, symbols, full=True)
        for workers in [1, concurrency] * repeat:
            settings = settings_for(
                base_url,
                warehouse,
                folder,
                PREMIUM_KEY,
                alpha_vantage_is_premium=True,
                alpha_vantage_calls_per_second=1000,
                extract_concurrency=workers,
            )
            started = time.perf_counter()
            result = extract(settings, symbols, as_of=TODAY)
            elapsed = time.perf_counter() - started
            timings[workers] = min(elapsed, timings.get(workers, elapsed))
            if result.count("fetched") != len(symbols):
                raise SystemExit(f"full-history run with {workers} workers failed")
    return timings[1], timings[concurrency]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-minute", type=int, default=60, help="Q")
    parser.add_argument(
        "--pacing-symbols", type=int, default=22, help="C = 4 x this + 1"
    )
    parser.add_argument("--full-symbols", type=int, default=36)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument(
        "--latency-ms", type=int, default=100, help="injected network latency"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    universe = [
        listed.symbol for listed in default_universe() if listed.delisting_date is None
    ]
    pacing_symbols = universe[: args.pacing_symbols]
    full_symbols = universe[: args.full_symbols]

    with fresh_database() as warehouse, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        budget, paced, calls, notices = bench_pacing(
            warehouse, folder, args.per_minute, pacing_symbols
        )
        concurrency_rows = [
            (
                name,
                *bench_concurrency(
                    warehouse, folder, full_symbols, args.concurrency, args.repeat, ms
                ),
            )
            for name, ms in (
                ("full_history_symbols", 0),
                (f"full_history_symbols_{args.latency_ms}ms", args.latency_ms),
            )
        ]

    print(f"{'case':<28}{'baseline_s':>12}{'candidate_s':>13}{'ratio':>8}")
    print(
        f"{'per_minute_pacing':<28}{budget:>12.2f}{paced:>13.2f}{paced / budget:>8.2f}"
    )
    for name, sequential, concurrent in concurrency_rows:
        print(
            f"{name:<28}{sequential:>12.2f}{concurrent:>13.2f}"
            f"{sequential / concurrent:>8.2f}"
        )
    print(
        f"\nper_minute_pacing: Q={args.per_minute}/min, C={calls} calls, "
        f"limit notices={notices}"
    )
    n = len(full_symbols)
    for name, sequential, concurrent in concurrency_rows:
        print(
            f"{name}: {n} symbols, sequential {n / sequential:.2f}/s, "
            f"{args.concurrency} workers {n / concurrent:.2f}/s"
        )
    if notices or paced > budget:
        sys.exit(1)


if __name__ == "__main__":
    main()
