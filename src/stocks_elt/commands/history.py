"""
``stocks-elt history``: the last runs, their stages, durations, row counts,
data-quality warnings and failures, as a table or as JSON.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stocks_elt.commands.demo_data import demo_settings
from stocks_elt.config import load_settings
from stocks_elt.history import MAX_RUNS, RunHistory, collect_history
from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.status import START_HINTS


@click.command("history")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_RUNS),
    default=10,
    show_default=True,
    help="How many runs, newest first.",
)
@click.option(
    "--run",
    "run_id",
    metavar="RUN_ID",
    help="Only this run: the UUID a notice or `history` names, or an Airflow run "
    "id (manual__2026-...).",
)
@click.option(
    "--command",
    metavar="NAME",
    help="Only runs of this command or DAG (run, ingest_stocks, "
    "load_stocks_from_minio).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--demo", is_flag=True, help="Read what `stocks-elt demo` ran (<data dir>/demo)."
)
def history_command(
    limit: int, run_id: str | None, command: str | None, as_json: bool, demo: bool
) -> None:
    """List the last runs (CLI and Airflow) with their stages, durations, row
    counts, data-quality warnings and failures, and notifications sent.

    Reads audit.pipeline_runs, audit.dq_results and audit.notifications.
    """
    settings = load_settings()
    if demo:
        settings = demo_settings(settings)
    runs = collect_history(settings, limit=limit, run_id=run_id, command=command)
    if as_json:
        click.echo(json.dumps([run.to_dict() for run in runs], indent=2, default=str))
        return
    console = Console()
    if not runs:
        if run_id is not None:
            console.print(f"no run {run_id} recorded")
        else:
            console.print(
                "no run recorded yet. To start:\n  " + "\n  ".join(START_HINTS),
                soft_wrap=True,
            )
        return
    for run in runs:
        console.print(_run_table(run))


def _run_table(history: RunHistory) -> Table:
    run = history.run
    started = run.started_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z")
    took = "running" if run.seconds is None else f"{run.seconds:.1f} s"
    outcome = run.outcome or "running"
    style = {"success": "green", "failed": "red", "abandoned": "red"}.get(
        outcome, "yellow"
    )
    title = Text(f"{started}  {run.command}  ")
    title.append(outcome, style=style)
    title.append(f"  {took}")
    table = Table(
        title=title,
        caption=f"run id {run.run_id}"
        + ("" if run.universe is None else f"; universe {run.universe}"),
        title_justify="left",
        caption_justify="left",
        show_edge=False,
    )
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("what it did")
    for stage in history.stages:
        table.add_row(
            stage.stage,
            "" if stage.seconds is None else f"{stage.seconds:.1f}",
            stage.summary,
        )
    if history.findings:
        lines = Text()
        for index, finding in enumerate(history.findings):
            if index:
                lines.append("\n")
            lines.append(
                finding.status, style="red" if finding.status == "fail" else "yellow"
            )
            lines.append(
                f" {finding.check_name} {finding.symbol or 'all symbols'}"
                + (f": {finding.details}" if finding.details else "")
            )
        table.add_row("findings", f"{history.failures}F {history.warnings}W", lines)
    if run.message:
        table.add_row("message", "", Text(run.message, style=style))
    notified = history.notifications
    if notified["sent"] or notified["failed"]:
        table.add_row(
            "notified",
            "",
            f"{notified['sent']} sent, {notified['failed']} failed to send",
        )
    return table
