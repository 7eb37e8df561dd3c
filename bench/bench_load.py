"""
Benchmark of the load stage against its baselines, every figure measured in one run.

    flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_load.py [--quick]

Data: the emulator's deterministic market, 500 symbols (50 with ``--quick``) listed
since 1999-11-01, as of 2024-12-31 (about 6,300 sessions, 25 years each). Full
TIME_SERIES_DAILY answers are written to a local lake under /tmp (kept between
runs, rebuilt when missing), plus next-session compact answers (100 rows, 99 of
them unchanged) and a second lake whose full answers hold the last 10 % of each
history. Each case runs against a fresh database on the Postgres server at
``STOCKS_ELT_BENCH_POSTGRES_URL`` (default: the local one), dropped afterwards.

Cases (ratio as the target states it):

    first_load        lake JSON -> merged raw rows, vs COPY (FORMAT csv) of the
                      same rows pre-made as CSV into a table with the same key;
                      ratio = loader rows/s / COPY rows/s, target >= 0.8
    poc_insert_rows   the loader (full run) vs the proof of concept's load:
                      per file, json.loads, one row per day of "Time Series
                      (Daily)", Airflow's PostgresHook.insert_rows(table, rows,
                      commit_every=1000) with the hook's default driver (psycopg 3
                      under SQLAlchemy 2, as installed), on a 6-symbol sample,
                      after one warm-up call (Airflow's first hook call spends
                      seconds reading its configuration); ratio = loader rows/s /
                      PoC rows/s, target >= 20
    poc_insert_rows_psycopg2  the same on psycopg2, the driver the hook chose
                      under the PoC's Airflow 2 (SQLAlchemy 1.4): second baseline
    psycopg3_executemany  the loader vs psycopg 3's pipelined executemany INSERT
                      (pandas DataFrame.from_dict, 1,000-row chunks, a commit per
                      chunk) on a 20-symbol sample: the fastest row-by-row
                      insert (third baseline, no target)
    rerun_skipped     the same objects again (the ledger skips them all), vs the
                      first load; ratio = rerun s / first load s
    forced_remerge    the same objects with their ledger rows deleted: merged
                      again, nothing changes; ratio = rows/s / COPY rows/s,
                      target >= 0.6
    daily_increment   500 compact answers into the full history vs into a
                      10 %-size history; ratio = full s / small s, target <= 1.5
    gate_increment    the quality gate on that increment, same comparison
    peak_memory       loader max RSS loading 500 vs 50 symbols (subprocesses);
                      ratio = big / small, target <= 1.5 (flat)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import psycopg

# The tests' throwaway databases serve the benchmark's cases too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.databases import throwaway_database

BENCH_ROOT = Path("/tmp/stocks-elt-bench")
TODAY = date(2024, 12, 31)
NEXT_SESSION = date(2025, 1, 2)
FULL_FETCHED = datetime(2024, 12, 31, 22, 0, tzinfo=UTC)
COMPACT_FETCHED = datetime(2025, 1, 2, 22, 0, tzinfo=UTC)
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Row:
    """One printed line."""

    case: str
    rows: int
    baseline_s: float
    candidate_s: float
    ratio: float
    target: str
    note: str = ""

    def passed(self) -> str:
        if not self.target:
            return ""
        op, _, bound = self.target.partition(" ")
        value = float(bound)
        ok = self.ratio >= value if op == ">=" else self.ratio <= value
        return "ok" if ok else "MISSED"


# -- the lake -------------------------------------------------------------------


def symbols_for(count: int) -> list[str]:
    return [f"B{index:03d}" for index in range(count)]


def lake_dir(count: int) -> Path:
    return BENCH_ROOT / f"lake-{count}-{TODAY:%Y%m%d}-v{FORMAT_VERSION}"


def put(lake: object, function: str, symbol: str, body: bytes, at: datetime) -> str:
    from stocks_elt.lake.keys import answer_key

    digest = hashlib.sha256(body).hexdigest()
    key = answer_key(function, symbol, at, digest, "json")
    lake.put(key, body, {"function": function, "symbol": symbol, "sha256": digest})  # type: ignore[attr-defined]
    return key


def shrink(body: bytes, fraction: float) -> bytes:
    """The same answer holding only the newest ``fraction`` of its sessions."""
    document = orjson.loads(body)
    series = document["Time Series (Daily)"]
    keep = max(1, round(len(series) * fraction))
    document["Time Series (Daily)"] = dict(list(series.items())[:keep])
    return json.dumps(document, indent=4).encode()


@dataclass(frozen=True)
class Lakes:
    full: Path
    small: Path
    full_keys: list[str]
    small_keys: list[str]
    compact_keys: list[str]


def build_lakes(count: int) -> Lakes:
    """Write (or reuse) the full lake, the 10 % lake and the compact answers."""
    from stocks_elt.emulator.market import Market
    from stocks_elt.emulator.render import render_response
    from stocks_elt.emulator.universe import universe_for_symbols
    from stocks_elt.lake.local import LocalLake

    root = lake_dir(count)
    manifest = root / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        return Lakes(
            root / "full",
            root / "small",
            saved["full"],
            saved["small"],
            saved["compact"],
        )
    shutil.rmtree(root, ignore_errors=True)
    symbols = symbols_for(count)
    market = Market(universe_for_symbols(symbols), cache_size=2)
    full, small = LocalLake(root / "full"), LocalLake(root / "small")
    full_keys, small_keys, compact_keys = [], [], []
    started = time.perf_counter()
    for index, symbol in enumerate(symbols):
        at = FULL_FETCHED + timedelta(milliseconds=index)
        body = render_response(
            "TIME_SERIES_DAILY",
            {"symbol": symbol, "outputsize": "full"},
            market,
            TODAY,
        ).body
        full_keys.append(put(full, "TIME_SERIES_DAILY", symbol, body, at))
        small_keys.append(
            put(small, "TIME_SERIES_DAILY", symbol, shrink(body, 0.1), at)
        )
        compact = render_response(
            "TIME_SERIES_DAILY", {"symbol": symbol}, market, NEXT_SESSION
        ).body
        later = COMPACT_FETCHED + timedelta(milliseconds=index)
        compact_keys.append(put(full, "TIME_SERIES_DAILY", symbol, compact, later))
        put(small, "TIME_SERIES_DAILY", symbol, compact, later)
        if (index + 1) % 50 == 0:
            print(
                f"  generated {index + 1}/{count} symbols "
                f"({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    manifest.write_text(
        json.dumps({"full": full_keys, "small": small_keys, "compact": compact_keys})
    )
    return Lakes(root / "full", root / "small", full_keys, small_keys, compact_keys)


# -- databases --------------------------------------------------------------------


@contextmanager
def database(admin_url: str, *, migrated: bool = True) -> Iterator[str]:
    """A new database for one case (a migrated warehouse unless told otherwise)."""
    with throwaway_database(admin_url, "stocks_elt_bench", migrated=migrated) as url:
        yield url


def checkpoint(url: str) -> None:
    """Flush dirty pages so one case's writes do not slow the next one down."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")


# -- baselines --------------------------------------------------------------------

PRICE_TABLE = """
create table bench_prices (
    symbol text not null,
    trade_date date not null,
    open numeric(18, 4) not null,
    high numeric(18, 4) not null,
    low numeric(18, 4) not null,
    close numeric(18, 4) not null,
    volume bigint not null,
    primary key (symbol, trade_date)
)
"""


def write_csv(lake_root: Path, keys: Sequence[str], path: Path) -> int:
    """The rows of ``keys`` as CSV, as they stand in the answers (newest first)."""
    rows = 0
    with path.open("w", encoding="ascii") as out:
        for key in keys:
            document = orjson.loads((lake_root / key).read_bytes())
            symbol = document["Meta Data"]["2. Symbol"]
            lines = [
                f"{symbol},{day},{e['1. open']},{e['2. high']},{e['3. low']},"
                f"{e['4. close']},{e['5. volume']}\n"
                for day, e in document["Time Series (Daily)"].items()
            ]
            out.writelines(lines)
            rows += len(lines)
    return rows


def copy_baseline(admin_url: str, csv_path: Path) -> float:
    """Seconds to COPY the pre-made CSV into an empty keyed table and commit."""
    with database(admin_url, migrated=False) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PRICE_TABLE)
        checkpoint(url)
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            with (
                conn.cursor() as cur,
                csv_path.open("rb") as source,
                cur.copy("copy bench_prices from stdin (format csv)") as copy,
            ):
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
            conn.commit()
        return time.perf_counter() - started


PRICE_COLUMNS = ["symbol", "trade_date", "open", "high", "low", "close", "volume"]
POC_CONN_ID = "stocks_elt_bench_poc"


def hook_baseline(
    admin_url: str, lake_root: Path, keys: Sequence[str], *, psycopg3: bool | None
) -> tuple[int, float]:
    """The proof of concept's load: each file parsed with ``json.loads``, one row
    per day of its "Time Series (Daily)" object, written with Airflow's
    ``PostgresHook.insert_rows(table, rows, commit_every=1000)``.

    The hook is built from an ``AIRFLOW_CONN_*`` URI (no Airflow metadata
    database). The provider chooses its driver once, at import, from the
    SQLAlchemy version (psycopg 3 from SQLAlchemy 2, psycopg2 before);
    ``psycopg3`` overrides that choice for this call (None keeps it).
    """
    from airflow.providers.postgres.hooks import postgres as hook_module
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    env = f"AIRFLOW_CONN_{POC_CONN_ID.upper()}"
    chosen = hook_module.USE_PSYCOPG3
    with database(admin_url, migrated=False) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PRICE_TABLE)
            conn.execute("create table warm_up (x int)")
        checkpoint(url)
        os.environ[env] = url
        if psycopg3 is not None:
            hook_module.USE_PSYCOPG3 = psycopg3
        try:
            hook = PostgresHook(postgres_conn_id=POC_CONN_ID)
            hook.insert_rows("warm_up", [(1,)], commit_every=1000)  # type: ignore[no-untyped-call]
            rows = 0
            started = time.perf_counter()
            hook = PostgresHook(postgres_conn_id=POC_CONN_ID)
            for key in keys:
                document = json.loads((lake_root / key).read_bytes())
                symbol = document["Meta Data"]["2. Symbol"]
                records = [
                    (
                        symbol,
                        day,
                        entry["1. open"],
                        entry["2. high"],
                        entry["3. low"],
                        entry["4. close"],
                        entry["5. volume"],
                    )
                    for day, entry in document["Time Series (Daily)"].items()
                ]
                hook.insert_rows(  # type: ignore[no-untyped-call]
                    "bench_prices",
                    records,
                    target_fields=PRICE_COLUMNS,
                    commit_every=1000,
                )
                rows += len(records)
            seconds = time.perf_counter() - started
        finally:
            hook_module.USE_PSYCOPG3 = chosen
            del os.environ[env]
        with psycopg.connect(url) as conn:
            stored = conn.execute("select count(*) from bench_prices").fetchone()
        assert stored == (rows,), (stored, rows)
        return rows, seconds


def executemany_baseline(
    admin_url: str, lake_root: Path, keys: Sequence[str]
) -> tuple[int, float]:
    """psycopg 3: DataFrame.from_dict, executemany in 1,000-row chunks."""
    import pandas as pd  # type: ignore[import-untyped]

    with database(admin_url, migrated=False) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PRICE_TABLE)
        rows = 0
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            for key in keys:
                document = json.loads((lake_root / key).read_bytes())
                symbol = document["Meta Data"]["2. Symbol"]
                frame = pd.DataFrame.from_dict(
                    document["Time Series (Daily)"], orient="index"
                )
                frame.columns = ["open", "high", "low", "close", "volume"]
                frame = frame.astype(
                    {
                        "open": float,
                        "high": float,
                        "low": float,
                        "close": float,
                        "volume": int,
                    }
                )
                records = [
                    (symbol, day, *values)
                    for day, values in zip(
                        frame.index, frame.itertuples(index=False), strict=True
                    )
                ]
                for first in range(0, len(records), 1000):
                    with conn.cursor() as cur:
                        cur.executemany(
                            "insert into bench_prices (symbol, trade_date, open, high,"
                            " low, close, volume) values (%s, %s, %s, %s, %s, %s, %s)"
                            " on conflict do nothing",
                            records[first : first + 1000],
                        )
                    conn.commit()
                rows += len(records)
        return rows, time.perf_counter() - started


# -- the loader ---------------------------------------------------------------------

CHILD = """
import json, resource, sys, time
from stocks_elt.config import load_settings
from stocks_elt.stages.load import load
lake_url, url, keys_file = sys.argv[1:4]
keys = json.loads(open(keys_file).read())
settings = load_settings(lake_url=lake_url, warehouse_url=url)
started = time.perf_counter()
result = load(settings, keys)
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": seconds,
    "rows": result.rows_parsed,
    "inserted": result.rows_inserted,
    "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def load_in_subprocess(
    lake_root: Path, url: str, keys: Sequence[str]
) -> dict[str, float]:
    """Run ``load`` in a fresh interpreter; return its seconds, rows and max RSS."""
    keys_file = BENCH_ROOT / f"keys-{uuid.uuid4().hex[:8]}.json"
    keys_file.write_text(json.dumps(list(keys)))
    try:
        output = subprocess.run(
            [sys.executable, "-c", CHILD, lake_root.as_uri(), url, str(keys_file)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        keys_file.unlink()
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def load_here(
    lake_root: Path, url: str, keys: Sequence[str] | None
) -> tuple[float, object]:
    from stocks_elt.config import load_settings
    from stocks_elt.stages.load import load

    settings = load_settings(lake_url=lake_root.as_uri(), warehouse_url=url)
    started = time.perf_counter()
    result = load(settings, keys)
    return time.perf_counter() - started, result


def mark_gated(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Record the history's loads as checked, as the gate after each real run
    does: the increment's gate then checks the increment alone."""
    conn.execute("update raw.load_ledger set checked_at = now()")


def gate_here(url: str, run_id: str) -> float:
    from stocks_elt.config import load_settings
    from stocks_elt.quality.gate import run_quality_gate

    started = time.perf_counter()
    run_quality_gate(load_settings(warehouse_url=url), run_id=run_id)
    return time.perf_counter() - started


# -- the cases ----------------------------------------------------------------------


def run(
    count: int, sample: int, hook_sample: int, small_count: int, admin_url: str
) -> list[Row]:
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    print(f"building lakes for {count} symbols under {BENCH_ROOT}", file=sys.stderr)
    lakes = build_lakes(count)
    rows: list[Row] = []
    csv_path = BENCH_ROOT / f"copy-{count}.csv"
    total = write_csv(lakes.full, lakes.full_keys, csv_path)

    print("baseline: COPY of pre-made CSV", file=sys.stderr)
    copy_s = copy_baseline(admin_url, csv_path)
    with database(admin_url) as url:
        checkpoint(url)
        print("candidate: first load", file=sys.stderr)
        first = load_in_subprocess(lakes.full, url, lakes.full_keys)
        assert first["inserted"] == total, (first, total)
        rows.append(
            Row(
                "first_load",
                total,
                copy_s,
                first["seconds"],
                copy_s / first["seconds"],
                ">= 0.8",
                f"COPY {total / copy_s:,.0f} rows/s, loader "
                f"{total / first['seconds']:,.0f} rows/s",
            )
        )
        print("candidate: rerun (all skipped)", file=sys.stderr)
        rerun_s, _ = load_here(lakes.full, url, lakes.full_keys)
        rows.append(
            Row(
                "rerun_skipped",
                0,
                first["seconds"],
                rerun_s,
                rerun_s / first["seconds"],
                "",
                f"{len(lakes.full_keys)} objects skipped in {rerun_s:.2f} s",
            )
        )
        print("candidate: forced re-merge", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw.load_ledger")
        checkpoint(url)
        remerge_s, remerged = load_here(lakes.full, url, lakes.full_keys)
        assert remerged.rows_unchanged == total, remerged  # type: ignore[attr-defined]
        rows.append(
            Row(
                "forced_remerge",
                total,
                copy_s,
                remerge_s,
                copy_s / remerge_s,
                ">= 0.6",
                f"{total / remerge_s:,.0f} rows/s, nothing changed",
            )
        )
        print("candidate: increment into the full history", file=sys.stderr)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze raw.daily_prices")
            mark_gated(conn)
        checkpoint(url)
        increment_full_s, increment_full = load_here(
            lakes.full, url, lakes.compact_keys
        )
        from stocks_elt.market.calendar import sessions_between

        sessions_between(TODAY, TODAY)  # the calendar's import is not the gate's cost
        gate_full_s = gate_here(url, increment_full.run_id)  # type: ignore[attr-defined]
    with database(admin_url) as url:
        load_here(lakes.small, url, lakes.small_keys)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze raw.daily_prices")
            mark_gated(conn)
        checkpoint(url)
        print("candidate: increment into the 10 % history", file=sys.stderr)
        increment_small_s, increment_small = load_here(
            lakes.small, url, lakes.compact_keys
        )
        gate_small_s = gate_here(url, increment_small.run_id)  # type: ignore[attr-defined]
    assert increment_full.rows_inserted == increment_small.rows_inserted == count  # type: ignore[attr-defined]
    rows.append(
        Row(
            "daily_increment",
            count * 100,
            increment_small_s,
            increment_full_s,
            increment_full_s / increment_small_s,
            "<= 1.5",
            "baseline: 10 % history; candidate: full history",
        )
    )
    rows.append(
        Row(
            "gate_increment",
            count * 100,
            gate_small_s,
            gate_full_s,
            gate_full_s / gate_small_s,
            "<= 1.5",
            "quality gate on the increment's run",
        )
    )

    loader_rate = total / first["seconds"]
    print(f"baseline: insert_rows on {hook_sample} symbols", file=sys.stderr)
    hook_keys = lakes.full_keys[:hook_sample]
    poc_rows, poc_s = hook_baseline(admin_url, lakes.full, hook_keys, psycopg3=None)
    with database(admin_url) as url:
        checkpoint(url)
        hook_run = load_in_subprocess(lakes.full, url, hook_keys)
    from airflow.providers.postgres.hooks import postgres as hook_module

    driver = "psycopg 3" if hook_module.USE_PSYCOPG3 else "psycopg2"
    rows.append(
        Row(
            "poc_insert_rows",
            poc_rows,
            poc_s,
            hook_run["seconds"],
            loader_rate / (poc_rows / poc_s),
            ">= 20",
            f"PoC (insert_rows, {driver}) {poc_rows / poc_s:,.0f} rows/s; loader "
            f"{loader_rate:,.0f} rows/s full run, "
            f"{poc_rows / hook_run['seconds']:,.0f} rows/s on the sample; a bare "
            f"COPY is {(total / copy_s) / (poc_rows / poc_s):.1f}x the PoC",
        )
    )
    pg2_rows, pg2_s = hook_baseline(admin_url, lakes.full, hook_keys, psycopg3=False)
    rows.append(
        Row(
            "poc_insert_rows_psycopg2",
            pg2_rows,
            pg2_s,
            hook_run["seconds"],
            loader_rate / (pg2_rows / pg2_s),
            "",
            f"insert_rows on psycopg2 {pg2_rows / pg2_s:,.0f} rows/s",
        )
    )

    print(f"baseline: psycopg 3 executemany on {sample} symbols", file=sys.stderr)
    many_rows, many_s = executemany_baseline(
        admin_url, lakes.full, lakes.full_keys[:sample]
    )
    with database(admin_url) as url:
        checkpoint(url)
        sample_run = load_in_subprocess(lakes.full, url, lakes.full_keys[:sample])
    rows.append(
        Row(
            "psycopg3_executemany",
            many_rows,
            many_s,
            sample_run["seconds"],
            loader_rate / (many_rows / many_s),
            "",
            f"executemany {many_rows / many_s:,.0f} rows/s; loader "
            f"{many_rows / sample_run['seconds']:,.0f} rows/s on the sample",
        )
    )

    print(f"memory: {small_count} symbols in a subprocess", file=sys.stderr)
    with database(admin_url) as url:
        small_run = load_in_subprocess(lakes.full, url, lakes.full_keys[:small_count])
    rows.append(
        Row(
            "peak_memory",
            0,
            small_run["max_rss_kb"] / 1024,
            first["max_rss_kb"] / 1024,
            first["max_rss_kb"] / small_run["max_rss_kb"],
            "<= 1.5",
            f"max RSS MiB: {small_count} symbols (baseline) vs {count} (candidate)",
        )
    )
    csv_path.unlink()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="50 symbols instead of 500."
    )
    args = parser.parse_args(argv)
    admin_url = os.environ.get("STOCKS_ELT_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    # The hook logs each 1,000 rows on stdout, where the table goes.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    count, sample, hook_sample, small_count = (
        (50, 5, 2, 5) if args.quick else (500, 20, 6, 50)
    )
    rows = run(count, sample, hook_sample, small_count, admin_url)
    print(
        f"{'case':<24} {'rows':>10} {'baseline_s':>11} {'candidate_s':>12} "
        f"{'ratio':>7} {'target':>7} {'':>6}  note"
    )
    for row in rows:
        print(
            f"{row.case:<24} {row.rows:>10,} {row.baseline_s:>11.2f} "
            f"{row.candidate_s:>12.2f} {row.ratio:>7.2f} {row.target:>7} "
            f"{row.passed():>6}  {row.note}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
