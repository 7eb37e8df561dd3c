"""
Connections to the warehouse.

``STOCKS_ELT_WAREHOUSE_URL`` names a Postgres server. When it is unset, an embedded
Postgres (the ``pgserver`` package: real Postgres binaries shipped in a wheel) is
started on demand under ``<data dir>/postgres`` and reused across runs and processes;
it listens on a Unix socket inside that folder only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from stocks_elt.config import Settings, redact_url
from stocks_elt.errors import WarehouseError

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "stocks"


def warehouse_url(settings: Settings) -> str:
    """Return the warehouse URL, starting the embedded Postgres when none is set.

    Raises:
        WarehouseError: the embedded Postgres could not be started.
    """
    if settings.warehouse_url is not None:
        return settings.warehouse_url.get_secret_value()
    return _embedded_url(settings.data_dir.resolve() / "postgres")


def has_warehouse(settings: Settings) -> bool:
    """Tell whether there is a warehouse to read without creating one: a
    configured URL, or an embedded Postgres some earlier command started (a new
    data directory has none, and a read-only command should not make one)."""
    if settings.warehouse_url is not None:
        return True
    return (settings.data_dir.resolve() / "postgres" / "PG_VERSION").is_file()


def describe_warehouse(settings: Settings) -> str:
    """Where the warehouse is, for people: its URL without the password, or the
    embedded one's folder."""
    if settings.warehouse_url is not None:
        return redact_url(settings.warehouse_url.get_secret_value())
    return f"the embedded Postgres in {settings.data_dir.resolve() / 'postgres'}"


def _embedded_url(pgdata: Path) -> str:
    try:
        import pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process, so the next run (and
        # a dbt subprocess, and a parallel worker) reuses it instead of restarting.
        server = pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        admin_url: str = server.get_uri()
    except Exception as exc:  # pgserver raises bare exceptions of several kinds
        raise WarehouseError(
            f"could not start the embedded Postgres in {pgdata}: {exc}"
        ) from exc
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if exists is None:
            conn.execute(
                psycopg.sql.SQL("create database {}").format(
                    psycopg.sql.Identifier(EMBEDDED_DATABASE)
                )
            )
            logger.info("created embedded warehouse database=%s", EMBEDDED_DATABASE)
    embedded: str = server.get_uri(EMBEDDED_DATABASE)
    return embedded


def connection_parameters(url: str) -> dict[str, str | int]:
    """Split a ``postgresql://`` URL into libpq parameters (for dbt profiles).

    A socket directory given as ``?host=/path`` (the embedded Postgres) becomes the
    host.
    """
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "host": query.get("host") or parts.hostname or "localhost",
        "port": int(query.get("port") or parts.port or 5432),
        "user": unquote(parts.username or "") or query.get("user") or "postgres",
        "password": unquote(parts.password or "") or query.get("password") or "",
        "dbname": parts.path.lstrip("/") or query.get("dbname") or "postgres",
    }


@contextmanager
def connect(
    settings_or_url: Settings | str, *, autocommit: bool = False
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Open a connection to the warehouse; committed on success, rolled back on error.

    Raises:
        WarehouseError: the server cannot be reached; the message names the URL
            without its password.
    """
    url = (
        settings_or_url
        if isinstance(settings_or_url, str)
        else warehouse_url(settings_or_url)
    )
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        # libpq's message is several lines (what failed, then a hint): one line.
        lines = [line.strip() for line in str(exc).strip().splitlines()]
        reason = "; ".join(line for line in lines if line) or "no answer"
        raise WarehouseError(
            f"cannot connect to the warehouse at {redact_url(url)}: {reason}"
        ) from None
    with conn:
        yield conn
