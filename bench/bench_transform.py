"""
Benchmark of the transform: full build, one incremental day, and a hand-written
baseline.

Builds a fresh database with ``--symbols`` symbols x ``--years`` years of the
emulator's deterministic market (about 3.15 million sessions for 500 x 25),
bulk-COPYs them into the raw tables, then measures:

* ``incremental_day_run``: ``dbt run`` after one new session per symbol, against
  the full ``dbt run`` (target: ratio <= 0.1);
* ``incremental_day_build``: the same with ``dbt build`` (models and tests)
  against the full ``dbt build`` (target: ratio <= 0.1; its time should barely
  grow with ``--years``);
* ``full_run_vs_handwritten``: the full ``dbt run`` against one hand-written SQL
  statement computing the same adjusted closes and indicators over the same rows
  (target: ratio <= 2);
* ``full_vs_io_limit``: the full ``dbt run`` against the I/O it cannot avoid,
  measured on the same database: COPY the adjusted closes out to the client, and
  COPY as many indicator rows in (target: ratio <= 3).

Prints ``case  baseline_s  candidate_s  ratio``. Heavy: run it under the shared
lock, ``flock /tmp/stocks-elt-heavy.lock uv run python bench/bench_transform.py``.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from stocks_elt.config import Settings
from stocks_elt.emulator.market import symbol_history
from stocks_elt.emulator.universe import ListedSymbol
from stocks_elt.market.calendar import all_sessions, session_index_on_or_before
from stocks_elt.transform.dbt import run_dbt
from stocks_elt.warehouse.migrate import migrate

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LAST_DAY = date(2024, 10, 31)

HANDWRITTEN = """
create table public.handwritten_indicators as
with
actions as (
    select symbol, effective_date as action_date, 1 as event_order,
        1.0::float8 / split_factor::float8 as price_factor
    from raw.splits
    union all
    select d.symbol, d.ex_dividend_date, 2,
        1.0::float8 - d.amount::float8 / reference.close::float8
    from raw.dividends as d
    cross join lateral (
        select p.close from raw.daily_prices as p
        where p.symbol = d.symbol and p.trade_date < d.ex_dividend_date
        order by p.trade_date desc limit 1
    ) as reference
),
events as (
    select symbol, trade_date as event_date, 0 as event_order, close,
        null::float8 as price_factor
    from raw.daily_prices
    union all
    select symbol, action_date, event_order, null, price_factor from actions
),
factored as (
    select symbol, event_date, event_order,
        close::float8 * intermediate.float8_product(price_factor) over (
            partition by symbol order by event_date desc, event_order
            rows between unbounded preceding and current row
        ) as c
    from events
),
prices as (
    select symbol, event_date as trade_date, c,
        row_number() over (partition by symbol order by event_date) as n,
        ln(c / lag(c) over (partition by symbol order by event_date)) as r
    from factored where event_order = 0
),
changed as (
    select *, c - lag(c) over (partition by symbol order by n) as change
    from prices
),
windowed as (
    select symbol, trade_date, n, c,
        case when n >= 20 then intermediate.moving_sum(c) over w20 / 20 end
            as sma_20,
        case when n >= 50 then intermediate.moving_sum(c) over w50 / 50 end
            as sma_50,
        case when n >= 200 then intermediate.moving_sum(c) over w200 / 200 end
            as sma_200,
        intermediate.moving_sum(c * c) over w20 / 20 as mean_square_20,
        intermediate.moving_sum(r) over w20 as r_sum_20,
        intermediate.moving_sum(r * r) over w20 as r_square_sum_20,
        intermediate.ta_ema(c, n, 12, 2.0::float8 / 13) over w as ema_12,
        intermediate.ta_ema(c, n, 26, 2.0::float8 / 27) over w as ema_26,
        intermediate.ta_ema(case when n >= 15 then c end, n - 14, 12,
            2.0::float8 / 13) over w as fast,
        intermediate.ta_wilder(greatest(change, 0), n - 1, 14) over w as gain,
        intermediate.ta_wilder(greatest(-change, 0), n - 1, 14) over w as loss,
        max(c) over w as peak
    from changed
    window w as (partition by symbol order by n
            rows between unbounded preceding and current row),
        w20 as (partition by symbol order by n rows 19 preceding),
        w50 as (partition by symbol order by n rows 49 preceding),
        w200 as (partition by symbol order by n rows 199 preceding)
),
signalled as (
    select *, intermediate.ta_ema(case when n >= 26 then fast - ema_26 end,
        n - 25, 9, 2.0::float8 / 10) over (
        partition by symbol order by n
        rows between unbounded preceding and current row) as signal
    from windowed
)
select symbol, trade_date, c as adjusted_close_price, sma_20, sma_50, sma_200,
    case when n >= 12 then ema_12 end as ema_12,
    case when n >= 26 then ema_26 end as ema_26,
    case when n >= 34 then fast - ema_26 end as macd,
    case when n >= 34 then signal end as signal,
    case when n >= 34 then fast - ema_26 - signal end as histogram,
    case when n >= 15 then 100 * gain / nullif(gain + loss, 0) end as rsi_14,
    case when n >= 20 then sma_20 + 2 * sqrt(greatest(
        mean_square_20 - sma_20 * sma_20, 0)) end as bollinger_upper,
    case when n >= 20 then sma_20 - 2 * sqrt(greatest(
        mean_square_20 - sma_20 * sma_20, 0)) end as bollinger_lower,
    case when n >= 21 then sqrt(252.0::float8) * sqrt(greatest(
        (r_square_sum_20 - r_sum_20 * r_sum_20 / 20) / 19, 0)) end
        as volatility_20,
    c / peak - 1 as drawdown
from signalled
"""


def _server_url() -> str:
    url = os.environ.get("STOCKS_ELT_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)
    try:
        with psycopg.connect(url, connect_timeout=3):
            return url
    except psycopg.OperationalError:
        import pgserver

        folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        server = pgserver.get_server(  # type: ignore[attr-defined]
            folder / "pgdata", cleanup_mode="stop"
        )
        return str(server.get_uri())


@contextmanager
def _fresh_database(admin_url: str, keep: bool) -> Iterator[str]:
    name = f"bench_transform_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(
                        sql.Identifier(name)
                    )
                )


def _universe(count: int, years: float) -> tuple[ListedSymbol, ...]:
    if years == int(years):
        ipo = date(LAST_DAY.year - int(years), LAST_DAY.month, LAST_DAY.day)
    else:
        ipo = LAST_DAY - timedelta(days=round(365.25 * years))
    return tuple(
        ListedSymbol(symbol=f"B{index:04d}", name=f"Bench {index}", ipo_date=ipo)
        for index in range(count)
    )


def _load(url: str, universe: tuple[ListedSymbol, ...], today: date) -> int:
    """COPY every symbol's sessions, splits and dividends as of ``today``."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for listed in universe:
            history = symbol_history(listed, today)
            with cursor.copy(
                "copy raw.daily_prices (symbol, trade_date, open, high, low,"
                " close, volume, source_object) from stdin"
            ) as copy:
                for bar in history.bars:
                    copy.write_row(
                        (
                            listed.symbol,
                            bar.trade_date,
                            bar.open,
                            bar.high,
                            bar.low,
                            bar.close,
                            bar.volume,
                            "bench",
                        )
                    )
            rows += len(history.bars)
            with cursor.copy(
                "copy raw.splits (symbol, effective_date, split_factor,"
                " source_object) from stdin"
            ) as copy:
                for split in history.splits:
                    copy.write_row(
                        (listed.symbol, split.effective_date, split.ratio, "bench")
                    )
            with cursor.copy(
                "copy raw.dividends (symbol, ex_dividend_date, amount,"
                " source_object) from stdin"
            ) as copy:
                for dividend in history.dividends:
                    copy.write_row(
                        (listed.symbol, dividend.ex_date, dividend.amount, "bench")
                    )
        conn.execute("analyze")
    return rows


def _load_next_session(url: str, universe: tuple[ListedSymbol, ...], day: date) -> int:
    """Insert the session ``day`` of every symbol, and its split or dividend."""
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        for listed in universe:
            history = symbol_history(listed, day)
            bar = history.bars[-1]
            if bar.trade_date != day:
                continue
            cursor.execute(
                "insert into raw.daily_prices (symbol, trade_date, open, high, low,"
                " close, volume, source_object) values (%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    listed.symbol,
                    day,
                    bar.open,
                    bar.high,
                    bar.low,
                    bar.close,
                    bar.volume,
                    "bench",
                ),
            )
            rows += 1
            for split in history.splits:
                if split.effective_date == day:
                    cursor.execute(
                        "insert into raw.splits (symbol, effective_date,"
                        " split_factor, source_object) values (%s, %s, %s, %s)",
                        (listed.symbol, day, split.ratio, "bench"),
                    )
            for dividend in history.dividends:
                if dividend.ex_date == day:
                    cursor.execute(
                        "insert into raw.dividends (symbol, ex_dividend_date,"
                        " amount, source_object) values (%s, %s, %s, %s)",
                        (listed.symbol, day, dividend.amount, "bench"),
                    )
    return rows


def _io_limit(url: str) -> float:
    """Seconds to COPY the adjusted closes out and as many indicator rows in.

    The indicator rows are the built mart's, staged in a local file first (not
    timed); they go into a new table with the mart's columns and no index.
    """
    with tempfile.TemporaryFile() as staged, psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "copy marts.fct_daily_indicators to stdout (format binary)"
        ) as copy:
            for chunk in copy:
                staged.write(chunk)
        conn.execute(
            "create table public.io_limit_indicators (like marts.fct_daily_indicators)"
        )
        conn.commit()
        staged.seek(0)
        started = time.perf_counter()
        with conn.cursor().copy(
            "copy (select symbol, trade_date, adjusted_close_price"
            " from marts.fct_daily_bars) to stdout (format binary)"
        ) as copy:
            for _chunk in copy:
                pass
        with conn.cursor().copy(
            "copy public.io_limit_indicators from stdin (format binary)"
        ) as copy:
            while chunk := staged.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("drop table public.io_limit_indicators")
    return elapsed


def _timed_dbt(settings: Settings, args: list[str], project_dir: Path | None) -> float:
    started = time.perf_counter()
    outcome = run_dbt(settings, args, project_dir=project_dir)
    elapsed = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {outcome.exception}")
    return elapsed


def _row(case: str, baseline: float, candidate: float) -> None:
    print(f"{case:<28}{baseline:>12.2f}{candidate:>13.2f}{candidate / baseline:>8.3f}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one row per case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=float, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--skip-build", action="store_true", help="skip the dbt build (tests) cases"
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        help="another copy of the dbt project (say, the last release's)",
    )
    options = parser.parse_args(argv)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    sessions = all_sessions()
    last = session_index_on_or_before(LAST_DAY)
    day_before, new_day = sessions[last - 1], sessions[last]
    universe = _universe(options.symbols, options.years)
    with _fresh_database(_server_url(), options.keep) as url:
        with psycopg.connect(url) as conn:
            migrate(conn)
        started = time.perf_counter()
        rows = _load(url, universe, day_before)
        print(
            f"# {options.symbols} symbols x {options.years:g} years: {rows} sessions"
            f" loaded in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        data_dir = Path(tempfile.mkdtemp(prefix="bench-transform-"))
        settings = Settings(warehouse_url=url, data_dir=data_dir)
        project = options.project_dir
        _timed_dbt(settings, ["parse"], project)  # parsing is not part of either case

        full_run = _timed_dbt(settings, ["run", "--full-refresh"], project)
        handwritten: float | None = None
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            try:
                conn.execute(HANDWRITTEN)
                handwritten = time.perf_counter() - started
            except psycopg.errors.UndefinedFunction:  # an older --project-dir
                print("# no handwritten case: other functions", file=sys.stderr)
        io_limit = _io_limit(url)
        full_build = (
            None
            if options.skip_build
            else _timed_dbt(settings, ["build", "--full-refresh"], project)
        )
        new_rows = _load_next_session(url, universe, new_day)
        incremental_run = _timed_dbt(settings, ["run"], project)
        print(f"# one new session: {new_rows} rows", file=sys.stderr)

        print(f"{'case':<28}{'baseline_s':>12}{'candidate_s':>13}{'ratio':>8}")
        _row("incremental_day_run", full_run, incremental_run)
        if full_build is not None:
            _load_next_session(url, universe, sessions[last + 1])
            incremental_build = _timed_dbt(settings, ["build"], project)
            _row("incremental_day_build", full_build, incremental_build)
        if handwritten is not None:
            _row("full_run_vs_handwritten", handwritten, full_run)
        _row("full_vs_io_limit", io_limit, full_run)


if __name__ == "__main__":
    main()
