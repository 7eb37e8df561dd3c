"""
Prepared objects into the raw tables: one transaction per object, with its ledger
row, its quarantined rows and (for a refused object) its move to ``quarantine/``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from stocks_elt.alpha_vantage import parse as av
from stocks_elt.config import redact_url
from stocks_elt.errors import WarehouseError
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import AnswerKey
from stocks_elt.warehouse import locks, pending
from stocks_elt.warehouse.connection import connect
from stocks_elt.warehouse.loader.encode import (
    CopyBatch,
    PreparedObject,
    prepared_in_background,
)
from stocks_elt.warehouse.loader.merge_sql import MergeStatements, merge_statements
from stocks_elt.warehouse.loader.plan import list_lake_objects
from stocks_elt.warehouse.loader.tables import (
    MERGED_TABLES,
    PRICES_TABLE,
    RAW_TABLES,
    RawTable,
)

logger = logging.getLogger(__name__)

LOADED = "loaded"
SKIPPED = "skipped"
REFUSED = "refused"
#: An announced object that is not in the lake (yet, or ever).
MISSING = "missing"

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]
#: Called after each object with (objects done, objects in all).
Progress = Callable[[int, int], None]


def lock_name(ref: AnswerKey) -> str:
    """The advisory lock every writer of this object's rows takes.

    Every price, split and dividend object of one symbol shares ``prices:<symbol>``;
    LISTING_STATUS and OVERVIEW share ``symbols``. One lock per transaction, and
    the raw rows an object touches belong to its lock alone, so two loaders cannot
    deadlock: the second waits, then finds the ledger row.
    """
    if ref.function in (av.LISTING_STATUS, av.OVERVIEW) or ref.symbol is None:
        return "symbols"
    return f"prices:{ref.symbol}"


@dataclass(frozen=True)
class ObjectOutcome:
    """What loading one object did."""

    object_key: str
    function: str
    symbol: str | None
    status: str
    rows_parsed: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_quarantined: int = 0
    reason: str | None = None


def _dumps(value: object) -> str:
    # jsonb cannot hold U+0000; a raw value carrying one is kept readable.
    return json.dumps(value, default=str).replace("\\u0000", "\\ufffd")


class ObjectWriter:
    """Writes prepared objects through one connection (autocommit mode).

    ``write`` runs inside a transaction the caller opened: one per object for an
    incremental load, one for a whole rebuild. A refused object is moved aside in
    ``lake`` (under ``quarantine/``) inside that transaction, before its ledger row
    commits: its symbol is then fetched again by the next extract instead of being
    found unchanged.
    """

    def __init__(self, conn: Connection, run_id: UUID, lake: Lake) -> None:
        self.conn = conn
        self.run_id = run_id
        self.lake = lake
        self._statements: dict[tuple[str, tuple[str, ...]], MergeStatements] = {}
        self._dirty_stages: set[str] = set()
        #: Whether raw.daily_prices holds rows of a symbol, as read under the
        #: object's lock in this transaction (saves a query per object).
        self._prices_stored: dict[str | None, bool] = {}
        with conn.transaction():
            for table in MERGED_TABLES:
                conn.execute(
                    sql.SQL(
                        "create temporary table if not exists {} "
                        "(like {} including defaults) on commit delete rows"
                    ).format(
                        sql.Identifier(table.stage), sql.Identifier("raw", table.name)
                    )
                )

    def _sql(self, table: RawTable, columns: tuple[str, ...]) -> MergeStatements:
        cache_key = (table.name, columns)
        found = self._statements.get(cache_key)
        if found is None:
            found = self._statements[cache_key] = merge_statements(table, columns)
        return found

    def lock_and_check(self, ref: AnswerKey) -> bool:
        """Take the object's lock; return whether the ledger already has it."""
        self.conn.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))",
            (locks.LOADER_CLASS, lock_name(ref)),
        )
        # A statement of its own, so its snapshot follows the lock: a loader that
        # waited sees the ledger row the other one committed. The prices of the
        # symbol are looked up in the same round trip, for ``_merge``.
        seen, prices_stored = self._one(
            "select"
            " exists (select 1 from raw.load_ledger where object_key = %s),"
            " exists (select 1 from raw.daily_prices where symbol = %s)",
            (ref.key, ref.symbol),
        )
        self._prices_stored = {ref.symbol: bool(prices_stored)}
        return bool(seen)

    def _one(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row

    def write(self, prepared: PreparedObject) -> ObjectOutcome:
        """Write one object's rows, quarantine and ledger row (no commit here)."""
        ref = prepared.ref
        if prepared.refusal is not None:
            return self._refuse(prepared)
        inserted = updated = copied = 0
        with self.conn.cursor() as cur:
            for batch in prepared.batches:
                batch_inserted, batch_updated = self._merge(cur, batch, prepared)
                inserted += batch_inserted
                updated += batch_updated
                copied += batch.rows
            self._quarantine(cur, prepared)
        outcome = ObjectOutcome(
            object_key=ref.key,
            function=ref.function,
            symbol=ref.symbol,
            status=LOADED,
            rows_parsed=prepared.rows_parsed,
            rows_inserted=inserted,
            rows_updated=updated,
            rows_unchanged=copied - inserted - updated,
            rows_quarantined=len(prepared.rejected),
        )
        self._ledger(prepared, outcome)
        return outcome

    def _merge(
        self, cur: Cursor, batch: CopyBatch, prepared: PreparedObject
    ) -> tuple[int, int]:
        """Insert the batch's new rows and update its changed ones."""
        if batch.rows == 0:
            return 0, 0
        ref = prepared.ref
        statements = self._sql(batch.table, batch.columns)
        if batch.table is PRICES_TABLE and not self._has_prices(cur, ref.symbol):
            with cur.copy(statements.copy_direct) as copy:
                copy.write(batch.data)
            self._prices_stored[ref.symbol] = True
            return batch.rows, 0
        stage = batch.table.stage
        if stage in self._dirty_stages:
            cur.execute(sql.SQL("truncate {}").format(sql.Identifier(stage)))
        self._dirty_stages.add(stage)
        with cur.copy(statements.copy_stage) as copy:
            copy.write(batch.data)
        params = {
            "name": ref.name,
            "object_key": ref.key,
            "table": batch.table.name,
            "symbol": ref.symbol,
            "first": batch.first_date,
            "last": batch.last_date,
        }
        counts = cur.execute(statements.merge, params).fetchone()
        assert counts is not None
        return int(counts[0]), int(counts[1])

    def _has_prices(self, cur: Cursor, symbol: str | None) -> bool:
        known = self._prices_stored.get(symbol)
        if known is not None:
            return known
        row = cur.execute(
            "select exists (select 1 from raw.daily_prices where symbol = %s)",
            (symbol,),
        ).fetchone()
        return bool(row and row[0])

    def _quarantine(self, cur: Cursor, prepared: PreparedObject) -> None:
        if not prepared.rejected:
            return
        ref = prepared.ref
        with cur.copy(
            "copy raw.quarantine (object_key, symbol, row_key, raw_values, reason,"
            " reason_code, run_id) from stdin"
        ) as copy:
            for row in prepared.rejected:
                copy.write_row(
                    (
                        ref.key,
                        ref.symbol,
                        row.row_key,
                        Jsonb(row.raw_values, dumps=_dumps),
                        f"{row.reason.value}: {row.detail}",
                        row.reason.value,
                        self.run_id,
                    )
                )
        first = prepared.rejected[0]
        logger.warning(
            "quarantined rows object=%s rows=%d first_row=%s reason=%s",
            ref.key,
            len(prepared.rejected),
            first.row_key,
            first.reason.value,
        )

    def _refuse(self, prepared: PreparedObject) -> ObjectOutcome:
        ref = prepared.ref
        reason = prepared.refusal or "not data"
        moved_to = self.lake.quarantine(ref.key, reason)
        self.conn.execute(
            """
            insert into raw.quarantine
                (object_key, symbol, row_key, raw_values, reason, reason_code, run_id)
            values (%s, %s, null, %s, %s, 'refused_object', %s)
            """,
            (
                ref.key,
                ref.symbol,
                Jsonb({"bytes": prepared.body_size, "sha256": prepared.sha256}),
                reason,
                self.run_id,
            ),
        )
        outcome = ObjectOutcome(
            object_key=ref.key,
            function=ref.function,
            symbol=ref.symbol,
            status=REFUSED,
            reason=reason,
        )
        self._ledger(prepared, outcome, moved_to=moved_to)
        logger.error(
            "refused object=%s moved_to=%s reason=%s", ref.key, moved_to, reason
        )
        return outcome

    def _ledger(
        self,
        prepared: PreparedObject,
        outcome: ObjectOutcome,
        *,
        moved_to: str | None = None,
    ) -> None:
        ref = prepared.ref
        # Two statements, one round trip.
        with self.conn.pipeline():
            pending.forget(self.conn, ref.key)
            self._insert_ledger(prepared, outcome, moved_to)

    def _insert_ledger(
        self, prepared: PreparedObject, outcome: ObjectOutcome, moved_to: str | None
    ) -> None:
        ref = prepared.ref
        self.conn.execute(
            """
            insert into raw.load_ledger (
                object_key, sha256, function, symbol, fetched_at, rows_parsed,
                rows_inserted, rows_updated, rows_unchanged, rows_quarantined,
                run_id, status, reason, first_date, last_date, moved_to
            )
            values (
                %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s
            )
            """,
            (
                ref.key,
                prepared.sha256,
                ref.function,
                ref.symbol,
                ref.fetched_at,
                outcome.rows_parsed,
                outcome.rows_inserted,
                outcome.rows_updated,
                outcome.rows_unchanged,
                outcome.rows_quarantined,
                self.run_id,
                outcome.status,
                outcome.reason,
                prepared.first_date,
                prepared.last_date,
                moved_to,
            ),
        )

    def missing(
        self, prepared: PreparedObject, pending_since: Mapping[str, datetime]
    ) -> ObjectOutcome:
        """Handle an object that is not in the lake.

        An announced object is dropped from the pending objects once it is older
        than ``pending.NEVER_WRITTEN_AFTER`` (its extract died before the put);
        a younger one is left for a later load (its extract may be writing it).
        """
        ref = prepared.ref
        reason = "not in the lake yet"
        if ref.key in pending_since:
            dropped = self.conn.execute(
                "delete from raw.pending_objects"
                " where object_key = %s and recorded_at < now() - %s",
                (ref.key, pending.NEVER_WRITTEN_AFTER),
            ).rowcount
            if dropped:
                reason = "never written: its extract ended before storing it"
                logger.warning(
                    "pending object dropped object=%s reason=%s", ref.key, reason
                )
        return ObjectOutcome(
            object_key=ref.key,
            function=ref.function,
            symbol=ref.symbol,
            status=MISSING,
            reason=reason,
        )

    def committed(self) -> None:
        """Tell the writer its transaction ended (staging tables are empty again)."""
        self._dirty_stages.clear()
        self._prices_stored.clear()


def _skipped(ref: AnswerKey) -> ObjectOutcome:
    return ObjectOutcome(
        object_key=ref.key, function=ref.function, symbol=ref.symbol, status=SKIPPED
    )


def load_objects(
    url: str,
    lake: Lake,
    refs: Sequence[AnswerKey],
    *,
    run_id: UUID,
    pending_since: Mapping[str, datetime] | None = None,
    progress: Progress | None = None,
) -> list[ObjectOutcome]:
    """Load ``refs`` in the order given, each in its own transaction.

    An object another loader recorded in the meantime is skipped. A lost
    connection is reopened and the object tried again (``RECONNECTS`` times, with
    backoff): each object is its own transaction and the ledger says whether it
    committed, so a retry never loads anything twice.

    Args:
        url: the warehouse URL (migrated).
        lake: where the objects are.
        refs: the objects, in fetch order.
        run_id: recorded in the ledger and quarantine rows.
        pending_since: when each announced object was announced (see
            ``LoadPlan``).
        progress: called after each object with (done, total).

    Returns:
        One outcome per object, in order.

    Raises:
        LakeError: an object cannot be read; the objects before it stay loaded.
        WarehouseError: the warehouse cannot be reached, or stopped answering and
            did not come back; the objects before stay loaded.
    """
    outcomes: list[ObjectOutcome] = []
    if not refs:
        return outcomes
    session = _WriterSession(url, run_id, lake)
    try:
        with prepared_in_background(lake, refs) as prepared_objects:
            for prepared in prepared_objects:
                outcome = session.write(prepared, pending_since or {})
                outcomes.append(outcome)
                _log(outcome)
                if progress is not None:
                    progress(len(outcomes), len(refs))
    finally:
        session.close()
    return outcomes


#: How often a load reopens a lost warehouse connection before it gives up.
RECONNECTS = 3
_RECONNECT_BACKOFF_SECONDS = 1.0


class _WriterSession:
    """An ``ObjectWriter`` on a connection that is reopened when it drops."""

    def __init__(self, url: str, run_id: UUID, lake: Lake) -> None:
        self._url = url
        self._run_id = run_id
        self._lake = lake
        self._stack = ExitStack()
        self._writer: ObjectWriter | None = None

    def _open(self) -> ObjectWriter:
        if self._writer is None:
            conn = self._stack.enter_context(connect(self._url, autocommit=True))
            self._writer = ObjectWriter(conn, self._run_id, self._lake)
        return self._writer

    def close(self) -> None:
        self._writer = None
        with suppress(psycopg.Error):
            self._stack.close()
        self._stack = ExitStack()

    def write(
        self, prepared: PreparedObject, pending_since: Mapping[str, datetime]
    ) -> ObjectOutcome:
        for attempt in range(RECONNECTS + 1):
            try:
                return self._write_once(prepared, pending_since)
            except (psycopg.OperationalError, WarehouseError) as exc:
                self.close()
                reason = _first_line(exc)
                if attempt == RECONNECTS:
                    raise WarehouseError(
                        f"the warehouse at {redact_url(self._url)} stopped answering "
                        f"while loading {prepared.ref.key} (tried {RECONNECTS} "
                        f"reconnections): {reason}"
                    ) from None
                wait = _RECONNECT_BACKOFF_SECONDS * 2**attempt
                logger.warning(
                    "warehouse connection lost object=%s attempt=%d wait=%.1f "
                    "reason=%s",
                    prepared.ref.key,
                    attempt + 1,
                    wait,
                    reason,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_once(
        self, prepared: PreparedObject, pending_since: Mapping[str, datetime]
    ) -> ObjectOutcome:
        writer = self._open()
        with writer.conn.transaction():
            if writer.lock_and_check(prepared.ref):
                outcome = _skipped(prepared.ref)
            elif prepared.is_missing:
                outcome = writer.missing(prepared, pending_since)
            else:
                outcome = writer.write(prepared)
        writer.committed()
        return outcome


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rebuild_from_lake(
    url: str,
    lake: Lake,
    *,
    run_id: UUID,
    progress: Progress | None = None,
) -> list[ObjectOutcome]:
    """Empty the raw tables and the ledger, then reload every lake object.

    Everything happens in one transaction: readers see the old tables until the
    new ones are complete, and a failure leaves the old tables as they were.
    Concurrent loaders wait for it.

    Args:
        url: the warehouse URL (migrated).
        lake: the source of truth.
        run_id: recorded in the ledger and quarantine rows.
        progress: called after each object with (done, total).

    Returns:
        One outcome per lake object, in fetch order.

    Raises:
        LakeError: the lake cannot be listed or an object cannot be read.
    """
    refs = list_lake_objects(lake, include_quarantined=True)
    outcomes: list[ObjectOutcome] = []
    with connect(url, autocommit=True) as conn:
        writer = ObjectWriter(conn, run_id, lake)
        with conn.transaction():
            tables = sql.SQL(", ").join(sql.Identifier("raw", t) for t in RAW_TABLES)
            # The ledger first: a loader reads it before anything else, so it
            # waits there holding nothing this transaction needs.
            conn.execute(
                sql.SQL("lock table {} in access exclusive mode").format(tables)
            )
            conn.execute(sql.SQL("truncate {} restart identity").format(tables))
            logger.info("rebuild emptied raw tables objects=%d", len(refs))
            with prepared_in_background(lake, refs) as prepared_objects:
                for prepared in prepared_objects:
                    if prepared.is_missing:  # removed since the listing
                        outcome = writer.missing(prepared, {})
                    else:
                        outcome = writer.write(prepared)
                    outcomes.append(outcome)
                    _log(outcome)
                    if progress is not None:
                        progress(len(outcomes), len(refs))
        writer.committed()
    return outcomes


def _log(outcome: ObjectOutcome) -> None:
    if outcome.status == LOADED:
        logger.info(
            "loaded object=%s symbol=%s parsed=%d inserted=%d updated=%d "
            "unchanged=%d quarantined=%d",
            outcome.object_key,
            outcome.symbol,
            outcome.rows_parsed,
            outcome.rows_inserted,
            outcome.rows_updated,
            outcome.rows_unchanged,
            outcome.rows_quarantined,
        )
    elif outcome.status == SKIPPED:
        logger.info(
            "skipped object=%s reason=already in the ledger", outcome.object_key
        )
