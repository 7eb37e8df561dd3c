"""
Advisory locks: how concurrent runs on one warehouse stay out of each other's way.

Every lock the pipeline takes is named here, so two modules never pick the same
numbers. Locks are Postgres advisory locks in the two-key form ``(class, id)``,
which ``pg_locks`` shows as ``classid``/``objid``, so a waiting run can say who holds
what it waits for.

=================  =====  ==========================================================
lock               class  held
=================  =====  ==========================================================
loader object      0x10AD per transaction, per symbol (``prices:IBM``) or ``symbols``
transform          0x7F0A for a whole ``dbt build``: exclusive for a run's transform,
                          shared for one model's task in Airflow, so a CLI run never
                          builds while an Airflow task does, and the reverse
pipeline run       0x7F0B for the life of a run, by its process; a run left
                          ``running`` whose lock is free lost its process
=================  =====  ==========================================================

The migration lock and the quota ledger's per-key lock are transaction locks in the
one-key form (``stocks_elt.warehouse.migrate``, ``stocks_elt.alpha_vantage.quota``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg

from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]

LOADER_CLASS = 0x10AD
TRANSFORM_CLASS = 0x7F0A
RUN_CLASS = 0x7F0B
#: The transform lock's id within its class (there is one transform per warehouse).
TRANSFORM_ID = 1


def process_name() -> str:
    """Return ``host:pid`` of this process, for audit rows and lock holders."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holders(conn: Connection, lock_class: int, lock_id: int) -> list[str]:
    """Return the application names of the sessions holding ``(class, id)``."""
    rows = conn.execute(
        """
        select coalesce(nullif(activity.application_name, ''), 'pid ' || locks.pid)
        from pg_locks as locks
        join pg_stat_activity as activity using (pid)
        where
            locks.locktype = 'advisory'
            and locks.granted
            and locks.classid = %s::oid
            and locks.objid = %s::oid
            and locks.objsubid = 2
            and locks.pid <> pg_backend_pid()
        order by 1
        """,
        (lock_class, lock_id & 0xFFFFFFFF),
    ).fetchall()
    return [str(row[0]) for row in rows]


@contextmanager
def transform_lock(
    url: str,
    *,
    holder: str,
    shared: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse's transform lock for the block.

    A run's transform takes it exclusively; one model's task (Airflow) takes it
    shared, so tasks of one DAG run build side by side while a CLI run waits for
    them, and the reverse. A caller that must wait is told so once, with who
    holds the lock, then waits; a process that dies lets go of it at once.

    Args:
        url: the warehouse URL.
        holder: how this caller appears to a waiting one (``stocks-elt run <id>``).
        shared: take the lock in shared mode.
        on_wait: called with a one-line message before waiting (then the
            message is logged at info level only, so a terminal shows it once);
            None logs it as a warning.

    Raises:
        WarehouseError: the warehouse cannot be reached.
    """
    statements = _SHARED if shared else _EXCLUSIVE
    key = (TRANSFORM_CLASS, TRANSFORM_ID)
    with connect(url, autocommit=True) as conn:
        conn.execute("select set_config('application_name', %s, false)", (holder,))
        (taken,) = _one(conn, statements.try_lock, key)
        if not taken:
            busy = holders(conn, TRANSFORM_CLASS, TRANSFORM_ID)
            message = (
                "transform: waiting for the transform of "
                + (", ".join(busy) if busy else "another run")
                + " to finish"
            )
            if on_wait is None:
                logger.warning(message)
            else:  # the caller says it, once; the log keeps it for -v
                logger.info(message)
                on_wait(message)
            conn.execute(statements.lock, key)
            logger.info("transform lock taken holder=%s", holder)
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute(statements.unlock, key)


@dataclass(frozen=True)
class _Statements:
    try_lock: LiteralString
    lock: LiteralString
    unlock: LiteralString


_EXCLUSIVE = _Statements(
    "select pg_try_advisory_lock(%s, %s)",
    "select pg_advisory_lock(%s, %s)",
    "select pg_advisory_unlock(%s, %s)",
)
_SHARED = _Statements(
    "select pg_try_advisory_lock_shared(%s, %s)",
    "select pg_advisory_lock_shared(%s, %s)",
    "select pg_advisory_unlock_shared(%s, %s)",
)


def _one(
    conn: Connection, query: LiteralString, params: tuple[Any, ...]
) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row
