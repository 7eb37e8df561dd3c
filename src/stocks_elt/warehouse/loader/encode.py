"""
Lake objects into COPY data: read, check the checksum, parse, encode.

``prepare_object`` turns one object into a ``PreparedObject``: its rows as COPY
text per raw table, its rejected rows, or a refusal when it is not data. The
COPY carries the validated API strings as they are: prices reach ``numeric``
columns without a float, and without the cost of formatting a ``Decimal`` back
into text. ``prepared_in_background`` runs the preparation a few objects ahead
of the database in a thread, so parsing and COPY overlap and memory stays flat
whatever the number of objects.
"""

from __future__ import annotations

import hashlib
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from stocks_elt.alpha_vantage import parse as av
from stocks_elt.errors import LakeError, LoadError
from stocks_elt.lake.base import QUARANTINE_REASON, Lake
from stocks_elt.lake.keys import AnswerKey, quarantine_key
from stocks_elt.warehouse.loader.tables import (
    ADJUSTED_COLUMNS,
    DIVIDEND_COLUMNS,
    DIVIDENDS_TABLE,
    LISTING_COLUMNS,
    OVERVIEW_COLUMNS,
    PRICE_COLUMNS,
    PRICES_TABLE,
    SPLITS_TABLE,
    SYMBOLS_TABLE,
    RawTable,
)

#: Parsed objects waiting for the database, at most.
_QUEUE_DEPTH = 3
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class CopyBatch:
    """Rows of one object for one table, as COPY text (key, values, source)."""

    table: RawTable
    columns: tuple[str, ...]
    data: bytes
    rows: int
    first_date: date | None = None
    last_date: date | None = None


@dataclass(frozen=True)
class PreparedObject:
    """A parsed object, ready for the database."""

    ref: AnswerKey
    sha256: str
    batches: tuple[CopyBatch, ...] = ()
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
    table: RawTable,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    key: str,
) -> CopyBatch:
    """COPY text of ``rows`` (key values first, then ``columns``) with escaping."""
    tail = "\t" + _field(key) + "\n"
    data = "".join("\t".join(_field(value) for value in row) + tail for row in rows)
    dates = [row[1] for row in rows] if table.date_column else []
    return CopyBatch(
        table,
        columns,
        data.encode(),
        len(rows),
        min(dates, default=None),
        max(dates, default=None),
    )


def _daily_batch(series: av.DailySeries, key: str) -> CopyBatch:
    """COPY text of a series' sessions: the validated API strings as they are.

    Symbol and fields are plain text (the symbol rule; ``DailySeries.fields``),
    so only the key needs escaping.
    """
    head = series.symbol + "\t"
    tail = "\t" + _field(key) + "\n"
    join = "\t".join
    text = "".join([head + join(values) + tail for values in series.fields])
    return CopyBatch(
        PRICES_TABLE,
        ADJUSTED_COLUMNS if series.is_adjusted else PRICE_COLUMNS,
        text.encode(),
        len(series.fields),
        series.first_date,
        series.last_date,
    )


def _batches(parsed: av.ParsedObject, key: str) -> list[CopyBatch]:
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
                batches.append(
                    _generic_batch(DIVIDENDS_TABLE, ("amount",), dividends, key)
                )
            if splits:
                batches.append(
                    _generic_batch(SPLITS_TABLE, ("split_factor",), splits, key)
                )
        return batches
    if isinstance(parsed, av.Splits):
        split_rows = [(parsed.symbol, *row) for row in parsed.rows]
        return [_generic_batch(SPLITS_TABLE, ("split_factor",), split_rows, key)]
    if isinstance(parsed, av.Dividends):
        dividend_rows = [(parsed.symbol, *row) for row in parsed.rows]
        return [_generic_batch(DIVIDENDS_TABLE, DIVIDEND_COLUMNS, dividend_rows, key)]
    if isinstance(parsed, av.Listing):
        return [_generic_batch(SYMBOLS_TABLE, LISTING_COLUMNS, parsed.rows, key)]
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
    return [_generic_batch(SYMBOLS_TABLE, OVERVIEW_COLUMNS, [overview], key)]


def prepare_object(lake: Lake, ref: AnswerKey) -> PreparedObject:
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


def _prepare_moved(lake: Lake, ref: AnswerKey) -> PreparedObject:
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


def prepare_body(ref: AnswerKey, body: bytes) -> PreparedObject:
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
def prepared_in_background(
    lake: Lake, refs: Sequence[AnswerKey]
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
