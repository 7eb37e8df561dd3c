"""
``stocks-elt export``: the marts as Parquet files for backtesters and notebooks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
)

from stocks_elt.backtest import EXPORTABLE_TABLES as _TABLES
from stocks_elt.config import load_settings


@click.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The export folder: new, empty or a previous export  "
    "[default: <data dir>/export]",
)
@click.option(
    "--tables",
    metavar="A,B",
    help=f"Comma-separated marts  [default: all: {', '.join(_TABLES)}]",
)
@click.option(
    "--partition-by",
    type=click.Choice(["symbol", "year"]),
    default="symbol",
    show_default=True,
    help="One Parquet file per symbol, or per calendar year.",
)
@click.option(
    "--full", is_flag=True, help="Write every file, not only the changed ones."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def export_command(
    out: Path | None,
    tables: str | None,
    partition_by: str,
    full: bool,
    as_json: bool,
) -> None:
    """Export the marts to Parquet with a _manifest.json.

    Readable as is by pandas, polars and DuckDB (docs/backtesting.md). Only the
    files whose rows changed since the previous export are written again; the new
    export is built beside the folder and renamed into place, so a reader never
    sees a half-written one. Exits 2 when the folder cannot be used, 1 when the
    warehouse has nothing to export yet.
    """
    from stocks_elt.backtest.export import export_marts

    chosen = _parse_tables(tables)
    settings = load_settings()
    out_dir = out or settings.data_dir / "export"
    console = Console(stderr=True)
    with _progress(None if as_json else console) as advance:
        result = export_marts(
            settings,
            out_dir,
            tables=chosen,
            partition_by="year" if partition_by == "year" else "symbol",
            full=full,
            progress=advance,
            on_wait=lambda line: console.print(line, soft_wrap=True),
        )
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    through = result.data_through.isoformat() if result.data_through else "-"
    if not result.changed:
        click.echo(f"export: {result.out_dir} is up to date (data through {through})")
        return
    click.echo(
        f"export: {result.files_written:,} files written "
        f"({result.rows_written:,} rows, {result.bytes_written / 1e6:,.1f} MB), "
        f"{result.files_kept:,} kept, in {result.duration:.1f} s; "
        f"data through {through}; {result.out_dir}"
    )


def _parse_tables(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return _TABLES
    names = (name.strip() for name in raw.split(","))
    chosen = tuple(dict.fromkeys(name for name in names if name))
    unknown = [name for name in chosen if name not in _TABLES]
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown mart(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(_TABLES)}",
            param_hint="--tables",
        )
    return chosen


@contextmanager
def _progress(
    console: Console | None,
) -> Iterator[Callable[[str, str, int, int], None] | None]:
    """A progress bar drawn from the first file on (an early error prints alone)."""
    if console is None:
        yield None
        return
    bars: list[tuple[Progress, TaskID]] = []

    def advance(table: str, partition: str, done: int, total: int) -> None:
        if not bars:
            progress = Progress(
                TextColumn("[bold]export[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
            )
            progress.start()
            bars.append((progress, progress.add_task("", total=total)))
        progress, task = bars[0]
        progress.update(
            task, completed=done, total=total, description=f"{table} {partition}"
        )

    try:
        yield advance
    finally:
        for progress, _ in bars:
            progress.stop()
