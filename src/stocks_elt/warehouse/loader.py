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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from stocks_elt.alpha_vantage import parse as av
from stocks_elt.config import redact_url
from stocks_elt.errors import InvalidSymbol, LakeError, LoadError, WarehouseError
from stocks_elt.lake.base import (
    QUARANTINE_PREFIX,
    QUARANTINE_REASON,
    RAW_PREFIX,
    Lake,
    quarantine_key,
)
from stocks_elt.market.symbols import normalize_symbol
from stocks_elt.warehouse import pending
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

LOADED = "loaded"
SKIPPED = "skipped"
REFUSED = "refused"
#: An announced object that is not in the lake (yet, or ever).
MISSING = "missing"

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


def list_lake_objects(
    lake: Lake, *, include_quarantined: bool = False
) -> list[ObjectRef]:
    """Return every API answer in the lake, in fetch order.

    Keys outside the lake's layout (files someone dropped in the folder) are
    skipped with a warning: they are not API answers.

    Args:
        lake: the lake.
        include_quarantined: also the objects a load refused and moved aside,
            under their original keys (a rebuild records them as refused again).

    Raises:
        LakeError: the lake cannot be listed.
    """
    listed = [item.key for item in lake.list(RAW_PREFIX)]
    if include_quarantined:
        moved = lake.list(QUARANTINE_PREFIX + RAW_PREFIX)
        listed += [item.key.removeprefix(QUARANTINE_PREFIX) for item in moved]
    refs = []
    for key in listed:
        try:
            refs.append(describe_key(key))
        except LoadError as exc:
            logger.warning("skipped lake key key=%s reason=%s", key, exc)
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


@dataclass(frozen=True)
class LoadPlan:
    """What one load will do.

    Attributes:
        to_load: objects to load, in fetch order.
        already_loaded: candidates the ledger already has (skipped).
        pending_since: for each object extract announced (``raw.pending_objects``),
            when; an announced object missing from the lake is skipped while
            young (its extract may be writing it) and dropped once old.
    """

    to_load: list[ObjectRef]
    already_loaded: list[ObjectRef]
    pending_since: dict[str, datetime]


def plan_objects(
    conn: Connection,
    lake: Lake,
    object_keys: Sequence[str] | None,
    *,
    scan_lake: bool = False,
) -> LoadPlan:
    """Decide what to load: the given keys, every pending object, and with
    ``scan_lake`` every other lake object the ledger has not seen.

    Pending objects are the ones extract announced and no load recorded yet, so a
    run killed between its extract and its load leaves nothing behind: the next
    load picks them up whatever keys it was given. Their cost is one index scan,
    not a listing of the lake.

    Args:
        conn: a warehouse connection (autocommit).
        lake: where the objects are.
        object_keys: keys to load; each must be in the lake.
        scan_lake: also list the whole lake (objects written by earlier versions,
            or put there by hand); its cost grows with the lake.

    Returns:
        The plan, in fetch order.

    Raises:
        LoadError: a given key is malformed or not in the lake.
        LakeError: the lake cannot be listed or read.
    """
    given = {key: describe_key(key) for key in object_keys or ()}
    pending_since: dict[str, datetime] = {}
    candidates: dict[str, ObjectRef] = dict(given)
    for key, since in pending.pending_keys(conn):
        try:
            candidates.setdefault(key, describe_key(key))
        except LoadError as exc:
            pending.drop_never_written(conn, key, f"not a lake key: {exc}")
            continue
        pending_since[key] = since
    if scan_lake:
        for ref in list_lake_objects(lake):
            candidates.setdefault(ref.key, ref)
    done = loaded_keys(conn, candidates)
    for key in sorted(done & pending_since.keys()):
        pending.forget(conn, key)  # loaded by a rebuild or an earlier version
    unchecked = sorted(set(given) - done - pending_since.keys())
    missing = [key for key in unchecked if lake.head(key) is None]
    if missing:
        raise LoadError(
            f"{len(missing)} object(s) are not in the lake {lake.url}: "
            + ", ".join(missing[:5])
        )
    ordered = sorted(candidates.values(), key=lambda ref: ref.fetch_order)
    return LoadPlan(
        to_load=[ref for ref in ordered if ref.key not in done],
        already_loaded=[ref for ref in ordered if ref.key in done],
        pending_since=pending_since,
    )


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
    is_missing: bool = False


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

    An object that is not in the lake gives ``is_missing`` (an announced object
    its extract has not written, or never will).

    Raises:
        LakeError: the object cannot be read.
    """
    try:
        body = lake.get(ref.key)
    except LakeError:
        if lake.head(ref.key) is not None:
            raise
        return _prepare_moved(lake, ref)
    return prepare_body(ref, body)


def _prepare_moved(lake: Lake, ref: ObjectRef) -> PreparedObject:
    """An object no longer under its key: refused and moved aside, or missing.

    A refusal's move happens before its ledger row commits, so a load killed in
    between finds the object in quarantine: it is refused again, with the reason
    the move recorded (never parsed: quarantined data is never loaded).
    """
    moved_key = quarantine_key(ref.key)
    moved = lake.head(moved_key)
    if moved is None:
        return PreparedObject(ref, "", is_missing=True)
    body = lake.get(moved_key)
    return PreparedObject(
        ref,
        hashlib.sha256(body).hexdigest(),
        refusal=moved.metadata.get(QUARANTINE_REASON) or "moved to quarantine",
        body_size=len(body),
    )


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
    incremental load, one for a whole rebuild. A refused object is moved aside in
    ``lake`` (under ``quarantine/``) inside that transaction, before its ledger row
    commits: its symbol is then fetched again by the next extract instead of being
    found unchanged.
    """

    def __init__(self, conn: Connection, run_id: UUID, lake: Lake) -> None:
        self.conn = conn
        self.run_id = run_id
        self.lake = lake
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
        pending.forget(self.conn, ref.key)
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
        with _prepared_in_background(lake, refs) as prepared_objects:
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
