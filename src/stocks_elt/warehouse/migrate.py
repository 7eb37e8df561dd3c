"""
Apply the versioned SQL files in ``migrations/`` once each, in name order.

Applied versions are recorded in ``public.stocks_elt_migrations``. A transaction-level
advisory lock serialises concurrent callers (two Airflow tasks starting at once), and
each file runs in the same transaction as its record, so a file is applied wholly or
not at all.

Migrations run at the edge, once per process and warehouse: every entry of
``stocks_elt.pipeline`` (and the read side, ``status``) calls ``ensure_migrated``
before anything else; the stages below assume a migrated warehouse.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from stocks_elt.config import Settings

from stocks_elt.errors import WarehouseError

logger = logging.getLogger(__name__)

_LOCK_ID = 0x5170C45  # any constant shared by every caller
_MIGRATIONS_PACKAGE = "stocks_elt.warehouse.migrations"
_migrated: set[str] = set()
_migrated_lock = threading.Lock()


def available_migrations() -> list[tuple[str, str]]:
    """Return ``(version, sql)`` for every migration file, in apply order."""
    files = resources.files(_MIGRATIONS_PACKAGE)
    found = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in files.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Bring the warehouse schema up to date.

    Args:
        conn: a connection not in autocommit mode; committed here.

    Returns:
        The versions applied by this call (empty when already up to date).

    Raises:
        WarehouseError: a migration failed; nothing of it was applied.
    """
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        # Asked first, not "create ... if not exists": that needs the right to
        # create in public, which a least-privilege login (stocks_elt_loader)
        # lacks; such a login only checks that the schema is up to date.
        found = conn.execute(
            "select to_regclass('public.stocks_elt_migrations')"
        ).fetchone()
        if found is None or found[0] is None:
            conn.execute(
                """
                create table public.stocks_elt_migrations (
                    version text primary key,
                    applied_at timestamptz not null default now()
                )
                """
            )
        done = {
            row[0]
            for row in conn.execute(
                "select version from public.stocks_elt_migrations"
            ).fetchall()
        }
        for version, sql in available_migrations():
            if version in done:
                continue
            try:
                conn.execute(sql.encode())
            except psycopg.Error as exc:
                raise WarehouseError(
                    f"migration {version} failed: {str(exc).strip()}"
                ) from exc
            conn.execute(
                "insert into public.stocks_elt_migrations (version) values (%s)",
                (version,),
            )
            logger.info("applied migration version=%s", version)
            applied_now.append(version)
    return applied_now


def ensure_migrated(url: str) -> None:
    """Migrate the warehouse at ``url`` unless this process already did.

    Raises:
        WarehouseError: the warehouse cannot be reached or a migration failed.
    """
    from stocks_elt.warehouse.connection import connect

    with _migrated_lock:
        if url in _migrated:
            return
        with connect(url) as conn:
            migrate(conn)
        _migrated.add(url)


def migrated_url(settings: Settings) -> str:
    """Return the warehouse URL of ``settings``, migrated (once per process).

    Raises:
        WarehouseError: the warehouse cannot be reached, started (embedded) or
            migrated.
    """
    from stocks_elt.warehouse.connection import warehouse_url

    url = warehouse_url(settings)
    ensure_migrated(url)
    return url
