"""
The benchmarks' throwaway databases: one created per case on the Postgres server,
migrated as a warehouse when asked, dropped (with force) afterwards. A helper
module, not a benchmark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from stocks_elt.warehouse.migrate import migrate


@contextmanager
def database(admin_url: str, prefix: str, *, migrated: bool) -> Iterator[str]:
    """A new database named ``<prefix>_<random>`` on ``admin_url``'s server."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        if migrated:
            with psycopg.connect(url) as conn:
                migrate(conn)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )
