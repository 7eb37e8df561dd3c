"""
Least privilege in the warehouse (migration 0005_roles): each group role, given to
a real login made by the test, can do its job and nothing more.

The jobs run through the command line, as an operator splits them: the loader's
login runs extract, load and the gate (``run --no-transform``), the transformer's
runs ``transform`` (dbt), the reader's runs ``status`` and ``report``. Then each
login tries what its role must not do. Logins are cluster-wide, so their names are
unique and they are dropped afterwards (with what they own in the test database).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors, sql

from stocks_elt.emulator import EmulatorConfig, RunningEmulator, start_emulator
from stocks_elt.warehouse.migrate import migrate
from tests.fixtures.cli import pipeline_env, run_stocks_elt
from tests.fixtures.emulator import EMULATOR_TODAY, PREMIUM_KEY
from tests.fixtures.lakes import fresh_warehouse

pytestmark = pytest.mark.timeout(300)

ROLES = ("loader", "transformer", "reader")
SYMBOLS = "IBM,KO"


def as_user(url: str, user: str) -> str:
    """``url`` with another user name (the servers here trust local logins)."""
    parts = urlsplit(url)
    netloc = f"{user}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def logins(admin_url: str, database_url: str) -> Iterator[dict[str, str]]:
    """One login per group role, named uniquely; yields role -> login name.

    Each login sets its group role at connection (``alter role ... set role``),
    as docs/security.md says: what a transformer builds is then owned by
    ``stocks_elt_transformer``, whichever login built it.
    """
    tag = uuid.uuid4().hex[:8]
    names = {role: f"stocks_test_{tag}_{role}" for role in ROLES}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for role, name in names.items():
            conn.execute(
                sql.SQL("create role {} login in role {}").format(
                    sql.Identifier(name), sql.Identifier(f"stocks_elt_{role}")
                )
            )
            conn.execute(
                sql.SQL("alter role {} set role {}").format(
                    sql.Identifier(name), sql.Identifier(f"stocks_elt_{role}")
                )
            )
    try:
        yield names
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for name in names.values():
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in names.values():
                conn.execute(
                    sql.SQL("drop role if exists {}").format(sql.Identifier(name))
                )


@dataclass(frozen=True)
class Split:
    """A warehouse built by three logins, one per role."""

    url: str
    logins: dict[str, str]

    def url_of(self, role: str) -> str:
        return as_user(self.url, self.logins[role])


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[RunningEmulator]:
    config = EmulatorConfig(today=EMULATOR_TODAY, premium_keys=frozenset({PREMIUM_KEY}))
    with start_emulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def split(
    postgres_admin_url: str,
    module_emulator: RunningEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Split]:
    """The pipeline run as an operator splits it: loader, transformer, reader."""
    cwd = tmp_path_factory.mktemp("split")
    with (
        fresh_warehouse(postgres_admin_url) as url,
        logins(postgres_admin_url, url) as names,
    ):
        built = Split(url, names)

        def run_as(role: str, *args: str) -> None:
            env = pipeline_env(module_emulator, built.url_of(role))
            done = run_stocks_elt(list(args), cwd, env)
            assert done.returncode == 0, (role, args, done.stderr[-3000:])
            assert "Traceback" not in done.stderr

        run_as(
            "loader",
            *("run", "--no-transform", "--symbols", SYMBOLS),
            *("--as-of", str(EMULATOR_TODAY)),
        )
        run_as("transformer", "transform")
        run_as("reader", "status", "--symbols", SYMBOLS)
        run_as("reader", "report", "--symbols", SYMBOLS, "--out", str(cwd / "r.html"))
        assert (cwd / "r.html").stat().st_size > 0
        yield built


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode()).fetchone()
    assert row is not None
    return int(row[0])


def test_each_role_does_its_job_through_the_command_line(split: Split) -> None:
    # The loader's run loaded raw, the transformer's build filled the marts, the
    # reader read both through status and report (the fixture checked exit 0).
    assert _count(split.url, "select count(*) from raw.daily_prices") > 0
    assert _count(split.url_of("reader"), "select count(*) from marts.fct_daily_bars")
    with psycopg.connect(split.url) as conn:
        owners = {
            row[0]
            for row in conn.execute(
                "select tableowner from pg_tables where schemaname = 'marts'"
            )
        }
    assert owners == {"stocks_elt_transformer"}


#: (role, statement) pairs each login must be refused.
REFUSED = [
    ("reader", "insert into raw.daily_prices (symbol) values ('X')"),
    ("reader", "select open from raw.daily_prices limit 1"),
    ("reader", "select raw_values from raw.quarantine limit 1"),
    ("reader", "select * from raw.load_ledger limit 1"),
    ("reader", "select * from audit.pipeline_runs limit 1"),
    ("reader", "delete from marts.fct_daily_bars"),
    ("reader", "drop table marts.fct_daily_bars"),
    ("reader", "create table marts.sneaky (x int)"),
    ("loader", "drop table marts.fct_daily_bars"),
    ("loader", "delete from marts.fct_daily_bars"),
    ("loader", "select * from marts.fct_daily_bars limit 1"),
    ("loader", "create table marts.sneaky (x int)"),
    ("loader", "drop table raw.daily_prices"),
    ("loader", "alter table raw.daily_prices add column sneaky int"),
    ("loader", "create table public.sneaky (x int)"),
    ("transformer", "insert into raw.daily_prices (symbol) values ('X')"),
    ("transformer", "update raw.load_ledger set status = 'loaded'"),
    ("transformer", "delete from raw.splits"),
    ("transformer", "truncate raw.symbols"),
    ("transformer", "drop table raw.daily_prices"),
    (
        "transformer",
        "insert into audit.pipeline_runs (run_id) values (gen_random_uuid())",
    ),
    ("transformer", "select * from audit.api_calls limit 1"),
]


@pytest.mark.parametrize(("role", "statement"), REFUSED)
def test_each_role_is_refused_what_is_not_its_job(
    split: Split, role: str, statement: str
) -> None:
    with (
        psycopg.connect(split.url_of(role)) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement.encode())


#: (role, statement) pairs each login may run: its job, at the SQL level.
ALLOWED = [
    ("reader", "select * from marts.fct_daily_bars limit 1"),
    ("reader", "select * from marts.dim_symbols limit 1"),
    ("reader", "select symbol, max(trade_date) from raw.daily_prices group by 1"),
    (
        "loader",
        "insert into audit.dq_results (check_name, severity, status)"
        " values ('t', 'warning', 'pass')",
    ),
    ("loader", "delete from raw.pending_objects"),
    ("transformer", "create table marts.scratch as select 1 as x"),
    ("transformer", "select count(*) from raw.daily_prices"),
]


@pytest.mark.parametrize(("role", "statement"), ALLOWED)
def test_each_role_may_do_its_job_in_sql(
    split: Split, role: str, statement: str
) -> None:
    with psycopg.connect(split.url_of(role)) as conn:
        conn.execute(statement.encode())
        conn.rollback()  # leave the shared warehouse as it was


def test_a_database_owner_that_is_no_superuser_applies_the_grants(
    postgres_admin_url: str,
) -> None:
    """The migrating user owns the database and has neither SUPERUSER nor
    CREATEROLE: with the roles made by an administrator beforehand (here, by the
    earlier migrations), the migration still applies every grant."""
    owner = f"stocks_test_{uuid.uuid4().hex[:8]}_owner"
    database = f"stocks_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(owner)))
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(database), sql.Identifier(owner)
            )
        )
    url = as_user(
        urlunsplit(urlsplit(postgres_admin_url)._replace(path=f"/{database}")), owner
    )
    try:
        with psycopg.connect(url) as conn:
            applied = migrate(conn)
            assert "0005_roles" in applied
            checks = conn.execute(
                """
                select
                    has_table_privilege('stocks_elt_loader', 'raw.daily_prices',
                        'insert'),
                    has_column_privilege('stocks_elt_reader', 'raw.daily_prices',
                        'trade_date', 'select'),
                    has_column_privilege('stocks_elt_reader', 'raw.daily_prices',
                        'close', 'select'),
                    has_schema_privilege('stocks_elt_transformer', 'marts',
                        'create'),
                    (select rolsuper or rolcreaterole from pg_roles
                        where rolname = current_user)
                """
            ).fetchone()
            again = conn.execute("select audit.grant_stocks_elt_roles()").fetchone()
        assert checks == (True, True, False, True, False)
        assert again == ("granted",)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(database)
                )
            )
            conn.execute(
                sql.SQL("drop role if exists {}").format(sql.Identifier(owner))
            )
