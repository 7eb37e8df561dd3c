"""
``stocks-elt load``: lake objects into the warehouse, then the quality gate.

    stocks-elt load                  every object not yet loaded
    stocks-elt load --object KEY     that object, plus earlier ones not yet loaded
    stocks-elt load --rebuild        empty the raw tables, reload the whole lake

Exit codes: 0 loaded and no blocking check failed; 1 a blocking check failed (the
rows stay loaded; the message names the check, the symbols and the counts);
2 bad input or configuration.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from stocks_elt.commands.progress import progress_bars
from stocks_elt.config import check_writable_paths, load_settings
from stocks_elt.errors import QualityGateFailed
from stocks_elt.results import LoadResult, QualityResult


def load_table(result: LoadResult) -> Table:
    """The load's counts as a two-column table."""
    table = Table(title=f"load {result.run_id}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("objects loaded", result.objects_loaded),
        ("objects skipped (already loaded)", result.objects_skipped),
        ("objects refused (not data)", result.objects_refused),
        ("rows parsed", result.rows_parsed),
        ("rows inserted", result.rows_inserted),
        ("rows updated", result.rows_updated),
        ("rows unchanged", result.rows_unchanged),
        ("rows quarantined", result.rows_quarantined),
    ):
        table.add_row(label, f"{value:,}")
    table.add_row("seconds", f"{result.duration_seconds:.1f}")
    return table


def quality_table(result: QualityResult) -> Table:
    """The gate's checks: status, observed value, flagged symbols."""
    table = Table(title="quality gate")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("status")
    table.add_column("observed", justify="right")
    table.add_column("symbols")
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for check in result.checks:
        shown = ", ".join(check.symbols[:8])
        if len(check.symbols) > 8:
            shown += f" (+{len(check.symbols) - 8})"
        table.add_row(
            check.name,
            check.severity,
            f"[{colours[check.status]}]{check.status}[/]",
            f"{check.observed:g}",
            shown,
        )
    return table


@click.command("load")
@click.option(
    "--object",
    "object_keys",
    multiple=True,
    metavar="KEY",
    help="A lake key to load (repeatable); earlier unloaded objects come along.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Empty the raw tables and the ledger, then reload every lake object "
    "(one transaction).",
)
@click.option("--run-id", help="The pipeline run id to record (default: a new UUID).")
@click.option("--no-gate", is_flag=True, help="Do not run the quality gate.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def load_command(
    object_keys: tuple[str, ...],
    rebuild: bool,
    run_id: str | None,
    no_gate: bool,
    as_json: bool,
) -> None:
    """Load lake objects into the warehouse's raw tables, then run the gate."""
    from stocks_elt import pipeline
    from stocks_elt.errors import LakeError
    from stocks_elt.lake.keys import read_answer_key

    if rebuild and object_keys:
        raise click.UsageError("--rebuild reloads every object; drop --object")
    for key in object_keys:
        try:
            read_answer_key(key)
        except LakeError as exc:
            raise click.BadParameter(str(exc), param_hint="--object") from None
    settings = load_settings()
    check_writable_paths(settings)
    console = Console(stderr=True)
    with progress_bars(
        console if console.is_terminal and not as_json else None
    ) as bars:
        result = pipeline.load_objects(
            list(object_keys) or None,
            settings,
            run_id,
            rebuild=rebuild,
            progress=bars,
        )
    out = Console()
    if not as_json:
        out.print(load_table(result))
    if no_gate:
        if as_json:
            click.echo(json.dumps({"load": result.as_dict()}, indent=2))
        return
    try:
        checked = pipeline.run_quality_gate(settings, result.run_id)
    except QualityGateFailed:
        if as_json:
            click.echo(json.dumps({"load": result.as_dict()}, indent=2))
        raise
    if as_json:
        click.echo(
            json.dumps(
                {"load": result.as_dict(), "quality": checked.as_dict()}, indent=2
            )
        )
    else:
        out.print(quality_table(checked))
