"""
``stocks-elt run`` and ``stocks-elt demo``: the whole pipeline in-process.

    extract -> load -> quality gate -> transform

``run`` talks to the configured API (the ``demo`` key when none is set, which serves
IBM only). ``demo`` needs no key and no network: it starts the bundled emulator,
runs the pipeline for a small universe on embedded defaults under
``<data dir>/demo`` and writes the HTML report.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from stocks_elt import pipeline
from stocks_elt.commands.demo_data import DEMO_KEY, DEMO_SYMBOLS, LOOK_COMMANDS
from stocks_elt.commands.notify import notify_outcome
from stocks_elt.commands.progress import one_line, progress_bars
from stocks_elt.config import check_writable_paths, load_settings
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.market.universe import parse_universe
from stocks_elt.results import RunSummary

logger = logging.getLogger(__name__)


def print_summary(console: Console, summary: RunSummary) -> None:
    """Print the run's summary tables: symbols, rows, checks, models, durations."""
    extract = summary.stages.get("extract", {})
    table = Table(title=f"run {summary.run_id}: {summary.outcome}")
    table.add_column("symbol")
    table.add_column("outcome")
    table.add_column("objects", justify="right")
    table.add_column("reason")
    for outcome in extract.get("outcomes", []):
        table.add_row(
            outcome["symbol"],
            outcome["outcome"],
            str(len(outcome.get("object_keys", []))),
            (outcome.get("reason") or "")
            + (" (history gap)" if outcome.get("has_history_gap") else ""),
        )
    console.print(table)
    stages = Table(title="stages")
    stages.add_column("stage")
    stages.add_column("result")
    stages.add_column("seconds", justify="right")
    load = summary.stages.get("load", {})
    quality = summary.stages.get("quality", {})
    transform = summary.stages.get("transform", {})
    rows = {
        "extract": f"{len(extract.get('object_keys', []))} new lake objects, "
        f"{extract.get('calls_made', 0)} API calls",
        "load": ", ".join(
            f"{load.get(k, 0)} {k.removeprefix('rows_')}"
            for k in (
                "rows_inserted",
                "rows_updated",
                "rows_unchanged",
                "rows_quarantined",
            )
        ),
        "quality": f"{quality.get('passed', 0)} passed, {quality.get('warned', 0)} "
        f"warned, {quality.get('failed', 0)} failed",
        "transform": f"{transform.get('models_built', 0)} models built, "
        f"{transform.get('tests_passed', 0)} tests passed, "
        f"{transform.get('tests_failed', 0)} failed",
    }
    for name, seconds in summary.durations.items():
        stages.add_row(name, rows.get(name, ""), f"{seconds:.1f}")
    stages.add_row("total", "", f"{sum(summary.durations.values()):.1f}")
    console.print(stages)
    if summary.message:
        console.print(f"[red]{summary.message}[/red]")


def _emit(summary: RunSummary, as_json: bool, console: Console) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, default=str))
    else:
        print_summary(console, summary)


@click.command("run")
@click.option(
    "--symbols",
    help="Comma-separated tickers (default: STOCKS_ELT_TICKERS, or the universe).",
)
@click.option(
    "--universe",
    metavar="SPEC",
    help="Symbols from the listing, e.g. listing:exchange=NYSE,NASDAQ;type=Stock;"
    "limit=500 (default: STOCKS_ELT_UNIVERSE); --symbols wins.",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Trading date the run is for (default: today in New York).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-transform", is_flag=True, help="Stop after the quality gate.")
@click.option(
    "--notify",
    is_flag=True,
    help="Send the configured notifications (e-mail, webhook) for what went wrong, "
    "as the Airflow DAGs do (docs/operations.md).",
)
def run_command(
    symbols: str | None,
    universe: str | None,
    as_of: datetime | None,
    as_json: bool,
    no_transform: bool,
    notify: bool,
) -> None:
    """Extract, load, check and transform: the whole pipeline, in-process."""
    settings = load_settings()
    chosen = parse_symbols(symbols) if symbols is not None else None
    if chosen is not None and not chosen:
        raise click.BadParameter("names no symbol", param_hint="--symbols")
    if universe is not None:
        parse_universe(universe, variable="--universe")
    check_writable_paths(settings)
    console = Console(stderr=True)
    if settings.is_demo_key:
        console.print(
            "[yellow]No ALPHA_VANTAGE_API_KEY set: using Alpha Vantage's demo key, "
            "which serves IBM only.[/yellow]"
        )
    run_id = str(uuid.uuid4())
    with notify_outcome(settings, run_id, notify) as outcome:
        with progress_bars(None if as_json else console) as bars:
            summary = pipeline.run_pipeline(
                settings,
                chosen,
                universe=universe,
                as_of=as_of.date() if as_of else None,
                transform=not no_transform,
                progress=bars,
                notice=one_line(console),
                run_id=run_id,
            )
        outcome.summary = summary
    _emit(summary, as_json, Console())
    if summary.outcome != "success":
        sys.exit(1)


@click.command("demo")
@click.option(
    "--symbols",
    default=",".join(DEMO_SYMBOLS),
    show_default=True,
    help="Tickers of the emulated universe to run.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report (default: <data dir>/demo/report.html).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def demo_command(symbols: str, out: Path | None, as_json: bool) -> None:
    """Run the whole pipeline offline against the bundled emulator."""
    from stocks_elt.emulator import EmulatorConfig, start_emulator
    from stocks_elt.report import build_report

    chosen = parse_symbols(symbols)
    base = load_settings()
    data_dir = base.data_dir / "demo"
    check_writable_paths(
        base.model_copy(update={"data_dir": data_dir, "lake_url": None})
    )
    console = Console(stderr=True)
    started = time.perf_counter()
    # The emulator follows the clock: today's bar exists only after the close.
    config = EmulatorConfig(premium_keys=frozenset({DEMO_KEY}))
    with start_emulator(config) as emulator:
        settings = load_settings(
            alpha_vantage_api_key=DEMO_KEY,
            alpha_vantage_base_url=emulator.base_url,
            alpha_vantage_is_premium=True,
            alpha_vantage_calls_per_second=50,
            alpha_vantage_daily_quota=0,
            data_dir=data_dir,
            lake_url=None,
            warehouse_url=None,
            tickers=chosen,
        )
        console.print(
            f"emulator at {emulator.base_url}, sessions through "
            f"{emulator.published_through} published; data in {data_dir}",
            soft_wrap=True,
        )
        with progress_bars(None if as_json else console) as bars:
            summary = pipeline.run_pipeline(
                settings, chosen, progress=bars, notice=one_line(console)
            )
    report_path = out or data_dir / "report.html"
    report_path.write_text(build_report(settings, chosen), encoding="utf-8")
    _emit(summary, as_json, Console())
    console.print(
        f"report: {report_path.resolve()} "
        f"({report_path.stat().st_size / 1024:.0f} KB); "
        f"demo took {time.perf_counter() - started:.1f} s",
        soft_wrap=True,
    )
    console.print("look at its data with:\n  " + "\n  ".join(LOOK_COMMANDS))
    if summary.outcome != "success":
        sys.exit(1)
