"""
``raw.pending_objects``: lake objects written (or about to be) and not yet loaded.

Extract announces each key before it puts the object in the lake; the loader
forgets the key in the transaction that writes the object's ledger row. So the
objects a killed run left behind are found with one index scan, and a load's cost
follows the new objects, not the size of the lake.

    announce(conn, key, function, symbol, run_id)   before lake.put
    pending_keys(conn)                               what a load must pick up
    forget(conn, key)                                with the ledger row
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack, suppress
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from stocks_elt.errors import WarehouseError
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]

#: An announced key whose object is still not in the lake after this long was
#: never written (its extract died between the announcement and the put).
NEVER_WRITTEN_AFTER = timedelta(minutes=30)


def announce(
    conn: Connection,
    object_key: str,
    function: str,
    symbol: str | None,
    run_id: UUID | None,
) -> None:
    """Record that ``object_key`` is about to be written to the lake.

    Idempotent: announcing a key twice keeps the first row.
    """
    conn.execute(
        """
        insert into raw.pending_objects (object_key, function, symbol, run_id)
        values (%s, %s, %s, %s)
        on conflict (object_key) do nothing
        """,
        (object_key, function, symbol, run_id),
    )


def pending_keys(conn: Connection) -> list[tuple[str, datetime]]:
    """Return ``(key, announced at)`` of every pending object, oldest first."""
    rows = conn.execute(
        "select object_key, recorded_at from raw.pending_objects"
        " order by recorded_at, object_key"
    ).fetchall()
    return [(str(key), at) for key, at in rows]


def keys_of_run(conn: Connection, run_id: UUID) -> list[str]:
    """Return the pending objects one run announced (a run's new, unloaded keys)."""
    rows = conn.execute(
        "select object_key from raw.pending_objects where run_id = %s"
        " order by object_key",
        (run_id,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def forget(conn: Connection, object_key: str) -> None:
    """Drop ``object_key`` from the pending objects (it is loaded or refused)."""
    conn.execute("delete from raw.pending_objects where object_key = %s", (object_key,))


def drop_never_written(conn: Connection, object_key: str, reason: str) -> None:
    """Drop a pending key whose object never reached the lake, saying why."""
    forget(conn, object_key)
    logger.warning("pending object dropped object=%s reason=%s", object_key, reason)


class PendingRecorder:
    """Announces keys through one connection, shared by an extract's threads.

    The connection opens on first use and is reopened once if it was lost.
    """

    def __init__(self, url: str, run_id: UUID | None) -> None:
        self._url = url
        self._run_id = run_id
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._conn: Connection | None = None

    def announce(self, object_key: str, function: str, symbol: str | None) -> None:
        """Record ``object_key`` as about to be written (see ``announce``).

        Raises:
            WarehouseError: the warehouse cannot be reached.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None:
                        self._conn = self._stack.enter_context(
                            connect(self._url, autocommit=True)
                        )
                    announce(self._conn, object_key, function, symbol, self._run_id)
                    return
                except psycopg.OperationalError as exc:
                    self._reset()
                    if attempt == 2:
                        raise WarehouseError(
                            f"cannot record the lake object {object_key} as "
                            f"pending: {str(exc).strip().splitlines()[0]}"
                        ) from None

    def _reset(self) -> None:
        self._conn = None
        with suppress(psycopg.Error):
            self._stack.close()
        self._stack = ExitStack()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._reset()

    def __enter__(self) -> PendingRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
