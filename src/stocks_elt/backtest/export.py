"""
The marts as Parquet files that pandas, polars and DuckDB read as they are.

    <out>/_manifest.json                   tables, files, row counts, schema,
                                           data-through date
    <out>/dim_symbols/data.parquet
    <out>/fct_daily_bars/IBM.parquet       one file per symbol (or per year:
    <out>/fct_daily_bars/MSFT.parquet      fct_daily_bars/2024.parquet)
    ...

Every file holds every column of its table, the partition column included, sorted
by symbol and date, so a file stands alone and a reader never has to infer a
partition column's type from a folder name (``symbol=7203`` would read back as an
integer). Read a table with a glob: ``read_parquet('<out>/fct_daily_bars/*.parquet')``.

Types: text -> string, date -> date32, boolean -> bool, integers -> int64/32/16,
double precision -> float64, numeric(p, s) with p <= 38 -> decimal128(p, s), numeric
without a declared scale (the marts' prices and adjusted volumes) -> float64,
timestamptz -> timestamp[us, UTC]. The manifest lists each column with both types.

Incremental: each partition has a fingerprint read from the warehouse (row count,
newest ``source_changed_at``, first and last date; a content hash for tables
without ``source_changed_at``). A partition whose fingerprint and table schema
match the previous manifest is kept (hard-linked, not copied); the others are
written again. Nothing changed: nothing is touched.

Nothing half-written: the new export is built in a temporary folder beside
``<out>`` and then swapped in by two renames (``<out>`` aside, the new folder in,
the old one removed). A crash between the renames leaves the previous export
beside ``<out>``, and the next export puts it back before starting. One export per
folder at a time: a second one waits for the first (an advisory lock beside the
folder) and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from stocks_elt import __version__
from stocks_elt.backtest import EXPORTABLE_TABLES
from stocks_elt.config import Settings
from stocks_elt.errors import ExportError, InvalidSymbol, NothingToExport
from stocks_elt.market.symbols import normalize_symbol
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
FORMAT_VERSION = 1
SCHEMA = "marts"
#: The marts an export holds by default, in manifest order.
TABLES = EXPORTABLE_TABLES
#: The date column of each partitioned table (files are sorted by symbol, date).
DATE_COLUMNS = {
    "fct_daily_bars": "trade_date",
    "fct_daily_indicators": "trade_date",
    "fct_weekly_bars": "week_start_date",
    "fct_monthly_bars": "month_start_date",
    "fct_universe_membership": "trade_date",
    "fct_forward_returns": "trade_date",
}
#: The one file of a table that is not partitioned.
WHOLE_TABLE = "data"

PartitionBy = Literal["symbol", "year"]
#: Called before each file: (table, partition, files done, files in all).
Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True)
class Column:
    """One exported column: its warehouse type and its Parquet (Arrow) type."""

    name: str
    warehouse_type: str
    arrow_type: pa.DataType
    #: epoch microseconds in SQL, then cast to a timestamp in Arrow
    is_timestamp: bool = False

    def as_dict(self) -> dict[str, str]:
        """The manifest entry."""
        return {
            "name": self.name,
            "warehouse_type": self.warehouse_type,
            "parquet_type": str(self.arrow_type),
        }


@dataclass(frozen=True)
class Partition:
    """One file of a table: its name, fingerprint, rows and date range."""

    name: str
    fingerprint: str
    rows: int
    first_date: str | None
    last_date: str | None


@dataclass
class TableExport:
    """What the export did with one table."""

    rows: int = 0
    files_written: int = 0
    files_kept: int = 0
    files_removed: int = 0
    rows_written: int = 0
    bytes_written: int = 0


@dataclass
class ExportResult:
    """What one export did; ``changed`` is False when the folder was left alone."""

    out_dir: Path
    partition_by: PartitionBy
    data_through: date | None
    changed: bool
    duration: float
    tables: dict[str, TableExport] = field(default_factory=dict)

    @property
    def rows_written(self) -> int:
        """Rows in the files written by this export."""
        return sum(table.rows_written for table in self.tables.values())

    @property
    def files_written(self) -> int:
        """Files written by this export (kept files not counted)."""
        return sum(table.files_written for table in self.tables.values())

    @property
    def files_kept(self) -> int:
        """Files of the previous export kept as they were."""
        return sum(table.files_kept for table in self.tables.values())

    @property
    def bytes_written(self) -> int:
        """Bytes of the files written by this export."""
        return sum(table.bytes_written for table in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "out_dir": str(self.out_dir),
            "partition_by": self.partition_by,
            "data_through": self.data_through.isoformat()
            if self.data_through
            else None,
            "changed": self.changed,
            "duration_s": round(self.duration, 3),
            "rows_written": self.rows_written,
            "files_written": self.files_written,
            "files_kept": self.files_kept,
            "bytes_written": self.bytes_written,
            "tables": {name: asdict(table) for name, table in self.tables.items()},
        }


def export_marts(
    settings: Settings,
    out_dir: Path,
    *,
    tables: Sequence[str] = TABLES,
    partition_by: PartitionBy = "symbol",
    full: bool = False,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the marts to Parquet under ``out_dir``, rewriting changed files only.

    Args:
        settings: names the warehouse.
        out_dir: the export folder: new, empty, or a previous export (it holds a
            ``_manifest.json``).
        tables: the marts to export (a subset of :data:`TABLES`).
        partition_by: one file per symbol, or per calendar year of the date.
        full: write every file, whatever the previous export holds.
        progress: called before each file is written or kept.
        on_wait: called with one line when another export holds the folder.

    Returns:
        What was written and kept.

    Raises:
        ExportError: ``out_dir`` cannot be created, written or replaced, or it
            holds files that are not an export; nothing was changed.
        NothingToExport: the warehouse has none of the marts, or no bars yet.
        WarehouseError: the warehouse cannot be reached.
    """
    started = time.perf_counter()
    unknown = sorted(set(tables) - set(TABLES))
    if unknown or not tables:
        raise ExportError(
            f"unknown table(s) {', '.join(unknown) or '(none given)'}; "
            f"exportable: {', '.join(TABLES)}"
        )
    if partition_by not in ("symbol", "year"):
        raise ExportError(f"partition_by is 'symbol' or 'year', not {partition_by!r}")
    out_dir = out_dir.expanduser().absolute()
    parent = _prepare_parent(out_dir)
    with _export_lock(parent, out_dir.name, on_wait):
        _recover_interrupted_swap(out_dir)
        previous = _read_previous_manifest(out_dir)
        with connect(settings) as conn:
            # one snapshot for the plan and every file: a transform running
            # meanwhile cannot make a file disagree with the manifest
            conn.execute("set transaction isolation level repeatable read, read only")
            conn.execute("set local timezone = 'UTC'")
            plans = _plan_tables(conn, [t for t in TABLES if t in tables], partition_by)
            data_through = _data_through(conn)
            result = ExportResult(out_dir, partition_by, data_through, False, 0.0)
            work = _compare(plans, previous, out_dir, full)
            if previous is not None and not work.has_changes:
                for plan in plans:
                    result.tables[plan.name] = TableExport(
                        rows=plan.rows, files_kept=len(plan.partitions)
                    )
                result.duration = time.perf_counter() - started
                logger.info("export unchanged out=%s", out_dir)
                return result
            staging = _make_staging(parent, out_dir.name)
            try:
                _fill_staging(conn, staging, out_dir, plans, work, result, progress)
                _write_manifest(staging, plans, partition_by, data_through)
                _swap_in(staging, out_dir)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    result.changed = True
    result.duration = time.perf_counter() - started
    logger.info(
        "exported out=%s files_written=%d files_kept=%d rows_written=%d s=%.1f",
        out_dir,
        result.files_written,
        result.files_kept,
        result.rows_written,
        result.duration,
    )
    return result


# -- the folder -------------------------------------------------------------------


def _prepare_parent(out_dir: Path) -> Path:
    """Check that ``out_dir`` can become an export; create its parent folders."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    is_foreign = out_dir.is_dir() and not (out_dir / MANIFEST).is_file()
    if is_foreign and any(out_dir.iterdir()):
        raise ExportError(
            f"{out_dir} holds files but no {MANIFEST}: not an export; "
            "choose a new or empty folder"
        )
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {parent}: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(
            f"cannot write in {parent}: the export is built beside {out_dir.name} "
            "and renamed into place, so its parent folder must be writable"
        )
    return parent


@contextlib.contextmanager
def _export_lock(
    parent: Path, name: str, on_wait: Callable[[str], None] | None
) -> Iterator[None]:
    path = parent / f".{name}.lock"
    try:
        handle = path.open("a")
    except OSError as exc:
        raise ExportError(f"cannot write in {parent}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for another export into {parent / name}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _previous_copies(out_dir: Path) -> list[Path]:
    return sorted(out_dir.parent.glob(f".{out_dir.name}.previous-*"))


def _recover_interrupted_swap(out_dir: Path) -> None:
    """Put back the previous export a crash left aside; drop stale temporaries."""
    previous = _previous_copies(out_dir)
    if previous and not out_dir.exists():
        previous[-1].rename(out_dir)
        logger.warning("restored the previous export out=%s", out_dir)
        previous = previous[:-1]
    for stale in [*previous, *out_dir.parent.glob(f".{out_dir.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _make_staging(parent: Path, name: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent))
    except OSError as exc:
        raise ExportError(f"cannot write in {parent}: {exc.strerror or exc}") from None


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging``: two renames, the old copy removed."""
    aside: Path | None = None
    try:
        if out_dir.exists():
            aside = out_dir.parent / f".{out_dir.name}.previous-{staging.name[-8:]}"
            out_dir.rename(aside)
        staging.rename(out_dir)
    except OSError as exc:
        if aside is not None and not out_dir.exists():
            aside.rename(out_dir)
        raise ExportError(f"cannot replace {out_dir}: {exc.strerror or exc}") from None
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _read_previous_manifest(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("unreadable manifest=%s reason=%s; writing all", path, exc)
        return {}
    if not isinstance(manifest, dict) or manifest.get("format_version") != (
        FORMAT_VERSION
    ):
        return {}
    return manifest


# -- what to write ----------------------------------------------------------------


@dataclass(frozen=True)
class _TablePlan:
    name: str
    columns: tuple[Column, ...]
    date_column: str | None
    partition_by: PartitionBy | None
    partitions: tuple[Partition, ...]

    @property
    def rows(self) -> int:
        return sum(partition.rows for partition in self.partitions)

    @property
    def schema_fingerprint(self) -> str:
        described = [[c.name, c.warehouse_type] for c in self.columns]
        text = json.dumps([FORMAT_VERSION, self.partition_by, described])
        return hashlib.sha256(text.encode()).hexdigest()

    def path_of(self, partition: str) -> str:
        return f"{self.name}/{partition}.parquet"


@dataclass
class _Work:
    keep: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    has_changes: bool = False


def _plan_tables(
    conn: psycopg.Connection[tuple[Any, ...]],
    tables: Sequence[str],
    partition_by: PartitionBy,
) -> list[_TablePlan]:
    present = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            (SCHEMA,),
        )
    }
    missing = [table for table in tables if table not in present]
    if len(missing) == len(tables) or "fct_daily_bars" not in present:
        raise NothingToExport(
            "the warehouse has no marts yet (no marts.fct_daily_bars): run "
            "`stocks-elt run` or `stocks-elt transform` first"
        )
    if missing:
        raise NothingToExport(
            f"the warehouse has no marts.{', marts.'.join(missing)} yet: run "
            "`stocks-elt transform` first"
        )
    bars = conn.execute("select exists (select 1 from marts.fct_daily_bars)").fetchone()
    if bars is None or not bars[0]:
        raise NothingToExport(
            "marts.fct_daily_bars has no rows yet: nothing to export; run "
            "`stocks-elt run` first"
        )
    plans = []
    for table in tables:
        columns = _columns(conn, table)
        date_column = DATE_COLUMNS.get(table)
        chosen = partition_by if date_column is not None else None
        partitions = _partitions(conn, table, columns, date_column, chosen)
        plans.append(_TablePlan(table, columns, date_column, chosen, partitions))
    return plans


def _columns(
    conn: psycopg.Connection[tuple[Any, ...]], table: str
) -> tuple[Column, ...]:
    rows = conn.execute(
        """
        select attribute.attname, format_type(attribute.atttypid, attribute.atttypmod)
        from pg_attribute as attribute
        where attribute.attrelid = (
                select class.oid
                from pg_class as class
                join pg_namespace as namespace on namespace.oid = class.relnamespace
                where namespace.nspname = %s and class.relname = %s
            )
            and attribute.attnum > 0
            and not attribute.attisdropped
        order by attribute.attnum
        """,
        (SCHEMA, table),
    ).fetchall()
    return tuple(_column(name, type_name) for name, type_name in rows)


_SIMPLE_TYPES: Mapping[str, pa.DataType] = {
    "text": pa.string(),
    "character varying": pa.string(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "double precision": pa.float64(),
    "real": pa.float32(),
    "numeric": pa.float64(),
}


def _column(name: str, type_name: str) -> Column:
    """The Arrow type of a warehouse column (see the module docstring)."""
    if type_name == "timestamp with time zone":
        return Column(name, type_name, pa.timestamp("us", tz="UTC"), is_timestamp=True)
    if type_name.startswith("numeric("):
        precision, _, scale = type_name[len("numeric(") : -1].partition(",")
        if int(precision) <= 38:
            return Column(name, type_name, pa.decimal128(int(precision), int(scale)))
        return Column(name, type_name, pa.float64())
    if type_name.startswith("character varying"):
        return Column(name, type_name, pa.string())
    return Column(name, type_name, _SIMPLE_TYPES.get(type_name, pa.string()))


def _partition_expression(
    plan_date: str | None, by: PartitionBy | None
) -> sql.Composable:
    if by is None or plan_date is None:
        return sql.SQL("{}").format(sql.Literal(WHOLE_TABLE))
    if by == "symbol":
        return sql.SQL("symbol")
    return sql.SQL("extract(year from {})::int::text").format(sql.Identifier(plan_date))


def _partitions(
    conn: psycopg.Connection[tuple[Any, ...]],
    table: str,
    columns: Sequence[Column],
    date_column: str | None,
    partition_by: PartitionBy | None,
) -> tuple[Partition, ...]:
    relation = sql.Identifier(SCHEMA, table)
    partition = _partition_expression(date_column, partition_by)
    names = {column.name for column in columns}
    if "source_changed_at" in names and date_column is not None:
        # every change to a row moves its source_changed_at past the older ones,
        # and deleted rows change the count
        query = sql.SQL(
            """
            select
                {partition} as partition,
                count(*) as row_count,
                count(*)::text || '|' || coalesce(max(source_changed_at)::text, '')
                || '|' || min({date})::text || '|' || max({date})::text,
                min({date})::text,
                max({date})::text
            from {relation}
            group by 1
            order by 1
            """
        ).format(
            partition=partition, date=sql.Identifier(date_column), relation=relation
        )
    else:  # small tables without lineage: hash the content
        query = sql.SQL(
            """
            select
                {partition} as partition,
                count(*) as row_count,
                md5(string_agg(t::text, E'\\n' order by t::text)),
                null::text,
                null::text
            from {relation} as t
            group by 1
            having count(*) > 0
            order by 1
            """
        ).format(partition=partition, relation=relation)
    found = conn.execute(query).fetchall()
    if partition_by == "symbol":
        for name, *_ in found:  # a symbol becomes a file name: the symbol rule
            try:
                if normalize_symbol(name) != name:
                    raise InvalidSymbol(f"symbol {name!r} is not in canonical form")
            except InvalidSymbol as exc:
                raise ExportError(
                    f"marts.{table} holds a symbol that cannot name a file: {exc}"
                ) from None
    return tuple(
        Partition(
            name=str(name),
            fingerprint=hashlib.sha256(str(fingerprint).encode()).hexdigest()[:32],
            rows=int(rows),
            first_date=first,
            last_date=last,
        )
        for name, rows, fingerprint, first, last in found
    )


def _data_through(conn: psycopg.Connection[tuple[Any, ...]]) -> date | None:
    row = conn.execute("select max(last_trade_date) from marts.dim_symbols").fetchone()
    return row[0] if row else None


def _compare(
    plans: Sequence[_TablePlan],
    previous: Mapping[str, Any] | None,
    out_dir: Path,
    full: bool,
) -> _Work:
    work = _Work()
    old_tables: Mapping[str, Any] = (previous or {}).get("tables", {})
    if set(old_tables) != {plan.name for plan in plans}:
        work.has_changes = True
    for plan in plans:
        old = old_tables.get(plan.name, {})
        old_files: Mapping[str, Any] = old.get("files", {})
        keep: set[str] = set()
        same_schema = old.get("schema_fingerprint") == plan.schema_fingerprint
        if same_schema and not full:
            for partition in plan.partitions:
                entry = old_files.get(partition.name, {})
                if (
                    entry.get("fingerprint") == partition.fingerprint
                    and entry.get("path") == plan.path_of(partition.name)
                    and (out_dir / plan.path_of(partition.name)).is_file()
                ):
                    keep.add(partition.name)
        work.keep[plan.name] = keep
        current = {partition.name for partition in plan.partitions}
        work.removed[plan.name] = len(set(old_files) - current)
        if keep != current or work.removed[plan.name]:
            work.has_changes = True
    return work


# -- writing ----------------------------------------------------------------------


def _fill_staging(
    conn: psycopg.Connection[tuple[Any, ...]],
    staging: Path,
    out_dir: Path,
    plans: Sequence[_TablePlan],
    work: _Work,
    result: ExportResult,
    progress: Progress | None,
) -> None:
    total = sum(len(plan.partitions) for plan in plans)
    done = 0
    for plan in plans:
        table_result = result.tables.setdefault(
            plan.name,
            TableExport(rows=plan.rows, files_removed=work.removed[plan.name]),
        )
        (staging / plan.name).mkdir()
        for partition in plan.partitions:
            if progress is not None:
                progress(plan.name, partition.name, done, total)
            done += 1
            target = staging / plan.path_of(partition.name)
            if partition.name in work.keep[plan.name]:
                _keep(out_dir / plan.path_of(partition.name), target)
                table_result.files_kept += 1
                continue
            rows = _write_partition(conn, plan, partition, target)
            table_result.files_written += 1
            table_result.rows_written += rows
            table_result.bytes_written += target.stat().st_size
    if progress is not None:
        progress("", "", total, total)


def _keep(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or no hard links: copy
        shutil.copy2(source, target)


def _select_list(columns: Sequence[Column]) -> sql.Composed:
    items: list[sql.Composable] = []
    for column in columns:
        name = sql.Identifier(column.name)
        if column.is_timestamp:  # exact: epoch microseconds as an integer
            items.append(
                sql.SQL("(extract(epoch from {}) * 1000000)::bigint as {}").format(
                    name, name
                )
            )
        else:
            items.append(name)
    return sql.SQL(", ").join(items)


def _write_partition(
    conn: psycopg.Connection[tuple[Any, ...]],
    plan: _TablePlan,
    partition: Partition,
    target: Path,
) -> int:
    """COPY one partition out as CSV, parse it with Arrow, write it as Parquet."""
    where: sql.Composable = sql.SQL("")
    parameters: list[object] = []
    if plan.partition_by == "symbol":
        where = sql.SQL("where symbol = %s")
        parameters = [partition.name]
    elif plan.partition_by == "year" and plan.date_column is not None:
        year = int(partition.name)
        where = sql.SQL("where {date} >= %s and {date} < %s").format(
            date=sql.Identifier(plan.date_column)
        )
        parameters = [date(year, 1, 1), date(year + 1, 1, 1)]
    order = [sql.Identifier(c) for c in ("symbol", plan.date_column) if c]
    query = sql.SQL(
        "copy (select {columns} from {relation} {where} order by {order})"
        " to stdout (format csv)"
    ).format(
        columns=_select_list(plan.columns),
        relation=sql.Identifier(SCHEMA, plan.name),
        where=where,
        order=sql.SQL(", ").join(order),
    )
    buffer = io.BytesIO()
    with conn.cursor() as cursor, cursor.copy(query, parameters or None) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    table = _parse_csv(buffer, plan.columns)
    pq.write_table(table, target, compression="zstd")
    rows: int = table.num_rows
    return rows


def _parse_csv(buffer: io.BytesIO, columns: Sequence[Column]) -> pa.Table:
    names = [column.name for column in columns]
    read_types = {
        column.name: pa.int64() if column.is_timestamp else column.arrow_type
        for column in columns
    }
    if buffer.getbuffer().nbytes == 0:
        empty = pa.table({c.name: pa.array([], type=c.arrow_type) for c in columns})
        return empty
    table = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=names),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=read_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    arrays = [
        table.column(column.name).cast(column.arrow_type)
        if column.is_timestamp
        else table.column(column.name)
        for column in columns
    ]
    return pa.Table.from_arrays(
        arrays, schema=pa.schema([(c.name, c.arrow_type) for c in columns])
    )


def _write_manifest(
    staging: Path,
    plans: Sequence[_TablePlan],
    partition_by: PartitionBy,
    data_through: date | None,
) -> None:
    tables: dict[str, Any] = {}
    for plan in plans:
        last_dates = [p.last_date for p in plan.partitions if p.last_date]
        tables[plan.name] = {
            "rows": plan.rows,
            "partition_by": plan.partition_by,
            "date_column": plan.date_column,
            "data_through": max(last_dates) if last_dates else None,
            "glob": f"{plan.name}/*.parquet",
            "schema_fingerprint": plan.schema_fingerprint,
            "columns": [column.as_dict() for column in plan.columns],
            "files": {
                partition.name: {
                    "path": plan.path_of(partition.name),
                    "rows": partition.rows,
                    "first_date": partition.first_date,
                    "last_date": partition.last_date,
                    "fingerprint": partition.fingerprint,
                }
                for partition in plan.partitions
            },
        }
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": f"stocks-elt {__version__}",
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "partition_by": partition_by,
        "data_through": data_through.isoformat() if data_through else None,
        "tables": tables,
    }
    (staging / MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
