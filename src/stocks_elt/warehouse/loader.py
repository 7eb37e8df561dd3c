"""
Lake objects into the raw tables: parse, validate, COPY, merge.

Each lake object is loaded in one transaction, together with its row in
``raw.load_ledger``: it is loaded wholly or not at all, and never twice.

    1. take the object's lock: a transaction-level advisory lock on its symbol
       (``prices:IBM`` for every price, split and dividend object of IBM;
       ``symbols`` for LISTING_STATUS and OVERVIEW). One lock per transaction,
       and the raw rows an object touches belong to its lock alone, so two
       loaders cannot deadlock; the second waits, then finds the ledger row.
    2. skip it when the ledger already has it.
    3. COPY its valid rows: straight into ``raw.daily_prices`` when the symbol
       has no row yet (the first, full history), otherwise into a temporary
       staging table, then merge: rows with a new key are inserted, rows whose
       values differ are updated and their old values kept in ``raw.revisions``,
       equal rows are not touched.
    4. COPY its rejected rows into ``raw.quarantine`` with their reasons.
    5. insert the ledger row (key, sha256, row counts), commit.

Objects are loaded in fetch order (the time in their key), so a later answer wins.
An update also requires the stored row to come from an object fetched no later
than this one, so an object that reaches the loader late cannot overwrite a newer
answer. An object that is not data (a notice, an error, a body whose sha256 does
not match its key) is "refused": one quarantine row and a ledger row with the
reason, nothing else.

Parsing runs ahead of the database by a few objects, in a background thread, so
the parse and the COPY overlap and memory stays flat whatever the number of
objects. The COPY carries the validated
API strings as they are: prices reach ``numeric`` columns without a float, and
without the cost of formatting a ``Decimal`` back into text.

``rebuild_from_lake`` empties every raw table and the ledger and reloads every lake
object in fetch order, all in one transaction (the tables stay locked meanwhile).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from stocks_elt.alpha_vantage import parse as av
from stocks_elt.alpha_vantage.symbols import normalize_symbol
from stocks_elt.errors import InvalidSymbol, LoadError
from stocks_elt.lake.base import RAW_PREFIX, Lake
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

LOADED = "loaded"
SKIPPED = "skipped"
REFUSED = "refused"

#: First half of the loader's advisory locks (the second is hashtext(lock name)).
_LOCK_CLASS = 0x10AD
#: Parsed objects waiting for the database, at most.
_QUEUE_DEPTH = 3
_LEDGER_CHUNK = 5000
_KEY = re.compile(
    re.escape(RAW_PREFIX)
    + r"function=(?P<function>[A-Z0-9_]+)/symbol=(?P<symbol>[A-Za-z0-9_.\-]+)/"
    r"ingest_date=\d{4}-\d{2}-\d{2}/"
    r"(?P<name>(?P<time>\d{8}T\d{12}Z)-(?P<sha>[0-9a-f]{12})\.(?:json|csv))"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_RAW_TABLES = (
    "load_ledger",
    "daily_prices",
    "splits",
    "dividends",
    "symbols",
    "quarantine",
    "revisions",
)

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]
#: Called after each object with (objects done, objects in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ObjectRef:
    """A lake key and what its layout says: function, symbol, fetch time."""

    key: str
    function: str
    symbol: str | None
    fetched_at: datetime
    name: str
    sha_prefix: str

    @property
    def fetch_order(self) -> tuple[str, str]:
        """Sort key: fetch time first (the name starts with it), then the key."""
        return (self.name, self.key)

    @property
    def lock_name(self) -> str:
        """The advisory lock every writer of this object's rows takes."""
        if self.function in (av.LISTING_STATUS, av.OVERVIEW) or self.symbol is None:
            return "symbols"
        return f"prices:{self.symbol}"


def describe_key(key: str) -> ObjectRef:
    """Read function, symbol and fetch time from a lake key.

    Args:
        key: ``raw/alpha_vantage/function=F/symbol=S/ingest_date=D/<time>-<sha>.ext``.

    Returns:
        What the key says.

    Raises:
        LoadError: the key does not follow the lake's layout.
    """
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise LoadError(
            f"{key!r} is not a lake object key (expected {RAW_PREFIX}function=F/"
            "symbol=S/ingest_date=YYYY-MM-DD/<YYYYMMDDTHHMMSSffffffZ>-<sha12>.json)"
        )
    raw_symbol = match["symbol"]
    symbol: str | None = None
    if raw_symbol != "_ALL":
        try:
            symbol = normalize_symbol(raw_symbol)
        except InvalidSymbol as exc:
            raise LoadError(f"{key}: {exc}") from None
        if symbol != raw_symbol:
            raise LoadError(f"{key}: symbol {raw_symbol!r} is not in canonical form")
    try:
        fetched_at = datetime.strptime(match["time"], "%Y%m%dT%H%M%S%fZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        raise LoadError(f"{key}: {match['time']!r} is not a fetch time") from None
    return ObjectRef(
        key=key,
        function=match["function"],
        symbol=symbol,
        fetched_at=fetched_at,
        name=match["name"],
        sha_prefix=match["sha"],
    )


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


# -- listing what to load ---------------------------------------------------------


def list_lake_objects(lake: Lake) -> list[ObjectRef]:
    """Return every API answer in the lake, in fetch order.

    Keys outside the lake's layout (files someone dropped in the folder) are
    skipped with a warning: they are not API answers.

    Raises:
        LakeError: the lake cannot be listed.
    """
    refs = []
    for item in lake.list(RAW_PREFIX):
        try:
            refs.append(describe_key(item.key))
        except LoadError as exc:
            logger.warning("skipped lake key key=%s reason=%s", item.key, exc)
    refs.sort(key=lambda ref: ref.fetch_order)
    return refs


def loaded_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Return which of ``keys`` the ledger already has (loaded or refused)."""
    found: set[str] = set()
    batch: list[str] = []

    def flush() -> None:
        rows = conn.execute(
            "select object_key from raw.load_ledger where object_key = any(%s)",
            (batch,),
        ).fetchall()
        found.update(row[0] for row in rows)
        batch.clear()

    for key in keys:
        batch.append(key)
        if len(batch) >= _LEDGER_CHUNK:
            flush()
    if batch:
        flush()
    return found


def plan_objects(
    conn: Connection, lake: Lake, object_keys: Sequence[str] | None
) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Decide what to load: the given keys plus earlier ones not yet loaded.

    Args:
        conn: a warehouse connection (autocommit).
        lake: where the objects are.
        object_keys: keys to load; None means every object of the lake.

    Returns:
        ``(to_load, already_loaded)``: both in fetch order. With keys given,
        ``to_load`` also has every object fetched no later than the latest given
        key that the ledger has not seen (a run that failed before its load).

    Raises:
        LoadError: a given key is malformed or not in the lake.
        LakeError: the lake cannot be listed.
    """
    listed = list_lake_objects(lake)
    if object_keys is None:
        candidates = listed
    else:
        given = {key: describe_key(key) for key in object_keys}
        in_lake = {ref.key for ref in listed}
        missing = sorted(set(given) - in_lake)
        if missing:
            raise LoadError(
                f"{len(missing)} object(s) are not in the lake {lake.url}: "
                + ", ".join(missing[:5])
            )
        latest = max((ref.fetch_order for ref in given.values()), default=None)
        candidates = [
            ref
            for ref in listed
            if ref.key in given or (latest is not None and ref.fetch_order <= latest)
        ]
    done = loaded_keys(conn, (ref.key for ref in candidates))
    to_load = [ref for ref in candidates if ref.key not in done]
    already = [ref for ref in candidates if ref.key in done]
    return to_load, already


# -- parsing into COPY data -------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    name: str
    key: tuple[str, ...]
    #: The date column of a per-symbol table (its second key column).
    date_column: str | None

    @property
    def stage(self) -> str:
        return f"stage_{self.name}"


_DAILY_PRICES = _Table("daily_prices", ("symbol", "trade_date"), "trade_date")
_SPLITS = _Table("splits", ("symbol", "effective_date"), "effective_date")
_DIVIDENDS = _Table("dividends", ("symbol", "ex_dividend_date"), "ex_dividend_date")
_SYMBOLS = _Table("symbols", ("symbol",), None)
_TABLES = (_DAILY_PRICES, _SPLITS, _DIVIDENDS, _SYMBOLS)

_PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_ADJUSTED_COLUMNS = (
    *_PRICE_COLUMNS,
    "adjusted_close",
    "dividend_amount",
    "split_coefficient",
)
_DIVIDEND_COLUMNS = ("amount", "declaration_date", "record_date", "payment_date")
_LISTING_COLUMNS = (
    "name",
    "exchange",
    "asset_type",
    "ipo_date",
    "delisting_date",
    "status",
)
#: OVERVIEW's AssetType speaks another vocabulary ("Common Stock") than
#: LISTING_STATUS ("Stock", "ETF"): the listing owns that column.
_OVERVIEW_COLUMNS = (
    "name",
    "exchange",
    "currency",
    "country",
    "sector",
    "industry",
)


@dataclass(frozen=True)
class _Batch:
    """Rows of one object for one table, as COPY text (key, values, source)."""

    table: _Table
    columns: tuple[str, ...]
    data: bytes
    rows: int
    first_date: date | None = None
    last_date: date | None = None


@dataclass(frozen=True)
class PreparedObject:
    """A parsed object, ready for the database."""

    ref: ObjectRef
    sha256: str
    batches: tuple[_Batch, ...] = ()
    rejected: tuple[av.RejectedRow, ...] = ()
    rows_parsed: int = 0
    refusal: str | None = None
    body_size: int = 0
    first_date: date | None = None
    last_date: date | None = None


def _field(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _generic_batch(
    table: _Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    key: str,
) -> _Batch:
    """COPY text of ``rows`` (key values first, then ``columns``) with escaping."""
    tail = "\t" + _field(key) + "\n"
    data = "".join("\t".join(_field(value) for value in row) + tail for row in rows)
    dates = [row[1] for row in rows] if table.date_column else []
    return _Batch(
        table,
        columns,
        data.encode(),
        len(rows),
        min(dates, default=None),
        max(dates, default=None),
    )


def _daily_batch(series: av.DailySeries, key: str) -> _Batch:
    """COPY text of a series' sessions: the validated API strings as they are.

    Symbol and fields are plain text (the symbol rule; ``DailySeries.fields``),
    so only the key needs escaping.
    """
    head = series.symbol + "\t"
    tail = "\t" + _field(key) + "\n"
    join = "\t".join
    text = "".join([head + join(values) + tail for values in series.fields])
    return _Batch(
        _DAILY_PRICES,
        _ADJUSTED_COLUMNS if series.is_adjusted else _PRICE_COLUMNS,
        text.encode(),
        len(series.fields),
        series.first_date,
        series.last_date,
    )


def _batches(parsed: av.ParsedObject, key: str) -> list[_Batch]:
    """The COPY batches one parsed object yields, one per table it feeds."""
    if isinstance(parsed, av.DailySeries):
        batches = [_daily_batch(parsed, key)]
        if parsed.is_adjusted:
            # The adjusted series also carries the events: a dividend amount on
            # its ex-date, a split coefficient on its effective date.
            symbol = parsed.symbol
            dividends = [
                (symbol, date.fromisoformat(values[0]), Decimal(values[7]))
                for values in parsed.fields
                if Decimal(values[7]) != 0
            ]
            splits = [
                (symbol, date.fromisoformat(values[0]), Decimal(values[8]))
                for values in parsed.fields
                if Decimal(values[8]) != 1
            ]
            if dividends:
                batches.append(_generic_batch(_DIVIDENDS, ("amount",), dividends, key))
            if splits:
                batches.append(_generic_batch(_SPLITS, ("split_factor",), splits, key))
        return batches
    if isinstance(parsed, av.Splits):
        split_rows = [(parsed.symbol, *row) for row in parsed.rows]
        return [_generic_batch(_SPLITS, ("split_factor",), split_rows, key)]
    if isinstance(parsed, av.Dividends):
        dividend_rows = [(parsed.symbol, *row) for row in parsed.rows]
        return [_generic_batch(_DIVIDENDS, _DIVIDEND_COLUMNS, dividend_rows, key)]
    if isinstance(parsed, av.Listing):
        return [_generic_batch(_SYMBOLS, _LISTING_COLUMNS, parsed.rows, key)]
    row = parsed.row
    overview = (
        row.symbol,
        row.name,
        row.exchange,
        row.currency,
        row.country,
        row.sector,
        row.industry,
    )
    return [_generic_batch(_SYMBOLS, _OVERVIEW_COLUMNS, [overview], key)]


def prepare_object(lake: Lake, ref: ObjectRef) -> PreparedObject:
    """Read one object, check its sha256, parse it and build its COPY data.

    A body that is not data gives a ``PreparedObject`` with a ``refusal`` rather
    than an exception: the refusal is recorded in the ledger like a load.

    Raises:
        LakeError: the object cannot be read.
    """
    return prepare_body(ref, lake.get(ref.key))


def prepare_body(ref: ObjectRef, body: bytes) -> PreparedObject:
    """Check, parse and build the COPY data of an object already read.

    Pure computation (a worker process runs it): see ``prepare_object``.
    """
    digest = hashlib.sha256(body).hexdigest()
    if not digest.startswith(ref.sha_prefix):
        return PreparedObject(
            ref,
            digest,
            refusal=f"checksum mismatch: the body's sha256 is {digest[:12]}..., "
            f"the key says {ref.sha_prefix}...",
            body_size=len(body),
        )
    try:
        parsed = av.parse_object(ref.function, ref.symbol, body, object_key=ref.key)
    except LoadError as exc:
        return PreparedObject(
            ref,
            digest,
            refusal=str(exc).removeprefix(f"{ref.key}: "),
            body_size=len(body),
        )
    batches = _batches(parsed, ref.key)
    rejected = tuple(parsed.rejected) if not isinstance(parsed, av.Overview) else ()
    derived = sum(batch.rows for batch in batches[1:])
    firsts = [b.first_date for b in batches if b.first_date is not None]
    lasts = [b.last_date for b in batches if b.last_date is not None]
    return PreparedObject(
        ref,
        digest,
        tuple(batches),
        rejected,
        parsed.rows_parsed + derived,
        body_size=len(body),
        first_date=min(firsts, default=None),
        last_date=max(lasts, default=None),
    )


class _ResponsiveGil:
    """Shorten the interpreter's thread switch interval while loads run.

    The writer thread waits on the socket some ten times per object (each COPY
    chunk, each statement); each time it wants the GIL back it waits for the
    parse thread to yield it, up to the switch interval (5 ms by default). At
    0.5 ms the writer keeps the database busy and the load ran twice as fast
    (bench/bench_load.py). The previous interval is restored when the last
    concurrent load in this process ends.
    """

    interval = 0.0005

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = sys.getswitchinterval()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.interval))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    sys.setswitchinterval(self._saved)


_responsive_gil = _ResponsiveGil()


@contextmanager
def _prepared_in_background(
    lake: Lake, refs: Sequence[ObjectRef]
) -> Iterator[Iterator[PreparedObject]]:
    """Prepare ``refs`` in a thread, ahead of the consumer by a few objects."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for ref in refs:
                if stop.is_set() or not put(prepare_object(lake, ref)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
            return
        put(done)

    def consume() -> Iterator[PreparedObject]:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, PreparedObject)
            yield item

    thread = threading.Thread(target=produce, name="stocks-elt-parse", daemon=True)
    thread.start()
    try:
        with _responsive_gil():
            yield consume()
    finally:
        stop.set()
        while thread.is_alive():
            with suppress(queue.Empty):
                handoff.get(timeout=0.1)
        thread.join()


# -- writing ----------------------------------------------------------------------


def _columns(names: Iterable[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)
    return sql.SQL(", ").join(sql.Identifier(prefix, name) for name in names)


def _join(left: str, right: str, keys: Sequence[str]) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, k), sql.Identifier(right, k))
        for k in keys
    )


@dataclass
class _Statements:
    """SQL for one (table, carried columns), built once per loader."""

    copy_direct: sql.Composed
    copy_stage: sql.Composed
    merge: sql.Composed


def _statements(table: _Table, columns: tuple[str, ...]) -> _Statements:
    target = sql.Identifier("raw", table.name)
    stage = sql.Identifier("pg_temp", table.stage)
    copied = (*table.key, *columns, "source_object")
    scope: sql.Composable = sql.SQL("")
    if table.date_column is not None:
        # The object's own symbol and dates: the join reads only the rows it could
        # change, however long the stored history.
        scope = sql.SQL(
            "and d.symbol = %(symbol)s and d.{date} between %(first)s and %(last)s"
        ).format(date=sql.Identifier(table.date_column))
    old_values = sql.SQL(", ").join(
        sql.SQL("d.{} as {}").format(sql.Identifier(c), sql.Identifier(f"old_{c}"))
        for c in columns
    )
    new_values = sql.SQL(", ").join(
        sql.SQL("s.{} as {}").format(sql.Identifier(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = c.{}").format(sql.Identifier(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    old_json = sql.SQL(", ").join(
        sql.SQL("{}, c.{}").format(sql.Literal(c), sql.Identifier(f"old_{c}"))
        for c in columns
    )
    new_json = sql.SQL(", ").join(
        sql.SQL("{}, c.{}").format(sql.Literal(c), sql.Identifier(f"new_{c}"))
        for c in columns
    )
    row_key = table.key[-1]
    # A value filled in where there was none (the adjusted close an _ADJUSTED
    # answer adds to a row TIME_SERIES_DAILY loaded) is an update, not a revision.
    is_revision = sql.SQL(" or ").join(
        sql.SQL("(c.{old} is not null and c.{old} is distinct from c.{new})").format(
            old=sql.Identifier(f"old_{c}"), new=sql.Identifier(f"new_{c}")
        )
        for c in columns
    )
    # One pass over the object's rows: a row without a stored match is new;
    # one whose stored values differ (and come from an answer fetched no later
    # than this one) is a change; the rest are equal and left alone.
    merge = sql.SQL(
        """
        with incoming as (
            select
                {s_keys},
                {new_values},
                d.{row_key} is not null as is_stored,
                {old_values},
                d.source_object as old_source_object
            from {stage} as s
            left join {target} as d on {join_sd} {scope}
        ),
        inserted as (
            insert into {target} ({copied})
            select {keys}, {new_columns}, %(object_key)s
            from incoming
            where not is_stored
            on conflict ({keys}) do nothing
            returning 1
        ),
        changes as (
            select *
            from incoming
            where
                is_stored
                and ({old_columns}) is distinct from ({new_columns})
                and split_part(old_source_object, '/', -1) <= %(name)s
        ),
        updated as (
            update {target} as d
            set {assignments}, source_object = %(object_key)s, updated_at = now()
            from changes as c
            where {join_dc}
            returning 1
        ),
        revised as (
            insert into raw.revisions
                (table_name, symbol, row_key, old_values, new_values, object_key)
            select
                %(table)s,
                c.symbol,
                c.{row_key}::text,
                jsonb_build_object(
                    {old_json}, 'source_object', c.old_source_object
                ),
                jsonb_build_object({new_json}),
                %(object_key)s
            from changes as c
            where {is_revision}
            returning 1
        )
        select
            (select count(*) from inserted) as inserted,
            (select count(*) from updated) as updated,
            (select count(*) from revised) as revised
        """
    ).format(
        s_keys=_columns(table.key, "s"),
        keys=_columns(table.key),
        copied=_columns(copied),
        old_values=old_values,
        new_values=new_values,
        old_columns=_columns(f"old_{c}" for c in columns),
        new_columns=_columns(f"new_{c}" for c in columns),
        stage=stage,
        target=target,
        join_sd=_join("s", "d", table.key),
        scope=scope,
        assignments=assignments,
        join_dc=_join("d", "c", table.key),
        row_key=sql.Identifier(row_key),
        old_json=old_json,
        new_json=new_json,
        is_revision=is_revision,
    )
    return _Statements(
        copy_direct=sql.SQL("copy {} ({}) from stdin").format(target, _columns(copied)),
        copy_stage=sql.SQL("copy {} ({}) from stdin").format(stage, _columns(copied)),
        merge=merge,
    )


def _dumps(value: object) -> str:
    # jsonb cannot hold U+0000; a raw value carrying one is kept readable.
    return json.dumps(value, default=str).replace("\\u0000", "\\ufffd")


class ObjectWriter:
    """Writes prepared objects through one connection (autocommit mode).

    ``write`` runs inside a transaction the caller opened: one per object for an
    incremental load, one for a whole rebuild.
    """

    def __init__(self, conn: Connection, run_id: UUID) -> None:
        self.conn = conn
        self.run_id = run_id
        self._statements: dict[tuple[str, tuple[str, ...]], _Statements] = {}
        self._dirty_stages: set[str] = set()
        with conn.transaction():
            for table in _TABLES:
                conn.execute(
                    sql.SQL(
                        "create temporary table if not exists {} "
                        "(like {} including defaults including indexes) "
                        "on commit delete rows"
                    ).format(
                        sql.Identifier(table.stage), sql.Identifier("raw", table.name)
                    )
                )

    def _sql(self, table: _Table, columns: tuple[str, ...]) -> _Statements:
        cache_key = (table.name, columns)
        found = self._statements.get(cache_key)
        if found is None:
            found = self._statements[cache_key] = _statements(table, columns)
        return found

    def lock_and_check(self, ref: ObjectRef) -> bool:
        """Take the object's lock; return whether the ledger already has it."""
        self.conn.execute(
            "select pg_advisory_xact_lock(%s, hashtext(%s))",
            (_LOCK_CLASS, ref.lock_name),
        )
        seen = self.conn.execute(
            "select 1 from raw.load_ledger where object_key = %s", (ref.key,)
        ).fetchone()
        return seen is not None

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
        self, cur: Cursor, batch: _Batch, prepared: PreparedObject
    ) -> tuple[int, int]:
        """Insert the batch's new rows and update its changed ones."""
        if batch.rows == 0:
            return 0, 0
        ref = prepared.ref
        statements = self._sql(batch.table, batch.columns)
        if batch.table is _DAILY_PRICES and not self._has_prices(cur, ref.symbol):
            with cur.copy(statements.copy_direct) as copy:
                copy.write(batch.data)
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
        self._ledger(prepared, outcome)
        logger.error("refused object=%s reason=%s", ref.key, reason)
        return outcome

    def _ledger(self, prepared: PreparedObject, outcome: ObjectOutcome) -> None:
        ref = prepared.ref
        self.conn.execute(
            """
            insert into raw.load_ledger (
                object_key, sha256, function, symbol, fetched_at, rows_parsed,
                rows_inserted, rows_updated, rows_unchanged, rows_quarantined,
                run_id, status, reason, first_date, last_date
            )
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
            ),
        )

    def committed(self) -> None:
        """Tell the writer its transaction ended (staging tables are empty again)."""
        self._dirty_stages.clear()


def _skipped(ref: ObjectRef) -> ObjectOutcome:
    return ObjectOutcome(
        object_key=ref.key, function=ref.function, symbol=ref.symbol, status=SKIPPED
    )


def load_objects(
    url: str,
    lake: Lake,
    refs: Sequence[ObjectRef],
    *,
    run_id: UUID,
    progress: Progress | None = None,
) -> list[ObjectOutcome]:
    """Load ``refs`` in the order given, each in its own transaction.

    An object another loader recorded in the meantime is skipped.

    Args:
        url: the warehouse URL (migrated).
        lake: where the objects are.
        refs: the objects, in fetch order.
        run_id: recorded in the ledger and quarantine rows.
        progress: called after each object with (done, total).

    Returns:
        One outcome per object, in order.

    Raises:
        LakeError: an object cannot be read; the objects before it stay loaded.
        WarehouseError: the warehouse cannot be reached.
    """
    outcomes: list[ObjectOutcome] = []
    if not refs:
        return outcomes
    with connect(url, autocommit=True) as conn:
        writer = ObjectWriter(conn, run_id)
        with _prepared_in_background(lake, refs) as prepared_objects:
            for prepared in prepared_objects:
                with conn.transaction():
                    if writer.lock_and_check(prepared.ref):
                        outcome = _skipped(prepared.ref)
                    else:
                        outcome = writer.write(prepared)
                writer.committed()
                outcomes.append(outcome)
                _log(outcome)
                if progress is not None:
                    progress(len(outcomes), len(refs))
    return outcomes


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
    refs = list_lake_objects(lake)
    outcomes: list[ObjectOutcome] = []
    with connect(url, autocommit=True) as conn:
        writer = ObjectWriter(conn, run_id)
        with conn.transaction():
            tables = sql.SQL(", ").join(sql.Identifier("raw", t) for t in _RAW_TABLES)
            # The ledger first: a loader reads it before anything else, so it
            # waits there holding nothing this transaction needs.
            conn.execute(
                sql.SQL("lock table {} in access exclusive mode").format(tables)
            )
            conn.execute(sql.SQL("truncate {} restart identity").format(tables))
            logger.info("rebuild emptied raw tables objects=%d", len(refs))
            with _prepared_in_background(lake, refs) as prepared_objects:
                for prepared in prepared_objects:
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
