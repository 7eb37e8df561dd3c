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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from stocks_elt.alpha_vantage.symbols import parse_symbols
from stocks_elt.config import Settings, check_writable_paths, load_settings
from stocks_elt.errors import StocksEltError

logger = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
DEMO_SYMBOLS = ("IBM", "AAPL", "MSFT", "NVDA", "JPM", "KO", "XOM", "TSLA", "WMT", "GE")
DEMO_KEY = "DEMO-PREMIUM-KEY"


@dataclass
class RunSummary:
    """What one run did, stage by stage; printed as a table or as JSON."""

    run_id: str
    symbols: tuple[str, ...]
    outcome: str = "running"
    message: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "run_id": self.run_id,
            "symbols": list(self.symbols),
            "outcome": self.outcome,
            "message": self.message,
            "stages": self.stages,
            "durations_s": {k: round(v, 3) for k, v in self.durations.items()},
        }


def run_pipeline(
    settings: Settings,
    symbols: Sequence[str],
    *,
    as_of: date | None = None,
    console: Console | None = None,
    transform: bool = True,
) -> RunSummary:
    """Run extract, load, the quality gate and the transform for ``symbols``.

    Args:
        settings: the configuration, read once by the caller.
        symbols: validated symbols, fetched in this order.
        as_of: the trading date the run is for (default: today in New York).
        console: where progress bars go; None runs silently.
        transform: False stops after the quality gate.

    Returns:
        The summary; its ``outcome`` is ``success``, or ``failed`` when a symbol
        could not be fetched (the other stages still ran for the rest).

    Raises:
        QualityGateFailed: a blocking check failed; the transform did not run.
        StocksEltError: another stage failed as a whole.
    """
    from stocks_elt import pipeline
    from stocks_elt.stages.extract import extract
    from stocks_elt.warehouse.audit import PipelineRunRecorder

    run_id = str(uuid.uuid4())
    summary = RunSummary(run_id=run_id, symbols=tuple(symbols))
    with PipelineRunRecorder(settings, run_id, command="run") as recorder:
        with _stage(summary, "extract", recorder):
            with _progress(console, "extract", len(symbols)) as advance:
                extracted = extract(
                    settings, symbols, run_id=run_id, as_of=as_of, progress=advance
                )
            summary.stages["extract"] = extracted.as_dict()
        with _stage(summary, "load", recorder):
            loaded = pipeline.load_objects(
                list(extracted.object_keys), settings=settings, run_id=run_id
            )
            summary.stages["load"] = loaded.as_dict()
        with _stage(summary, "quality", recorder):
            checked = pipeline.run_quality_gate(
                settings=settings, run_id=run_id, symbols=symbols
            )
            summary.stages["quality"] = checked.as_dict()
        if transform:
            with _stage(summary, "transform", recorder):
                transformed = pipeline.transform(
                    settings=settings,
                    holder=f"stocks-elt run {run_id}",
                    on_wait=None if console is None else _say_once(console),
                )
                summary.stages["transform"] = transformed.as_dict()
        failed = [o for o in extracted.outcomes if o.outcome == "failed"]
        summary.outcome = "failed" if failed else "success"
        if failed:
            reasons = [o.reason or "no reason given" for o in failed]
            summary.message = "; ".join(
                reason if reason.startswith(o.symbol) else f"{o.symbol}: {reason}"
                for o, reason in zip(failed, reasons, strict=True)
            )
        recorder.finish(summary.outcome, summary.message)
    return summary


@contextmanager
def _stage(summary: RunSummary, name: str, recorder: Any) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except StocksEltError as exc:
        summary.outcome = "failed"
        summary.message = f"{name}: {exc}"
        summary.durations[name] = time.perf_counter() - started
        try:
            recorder.add_stage(name, summary.durations[name], {"error": str(exc)})
            recorder.finish("failed", summary.message)
        except StocksEltError as unrecorded:  # the warehouse itself is down
            logger.warning("run outcome not recorded reason=%s", unrecorded)
        raise
    summary.durations[name] = time.perf_counter() - started
    recorder.add_stage(name, summary.durations[name], summary.stages.get(name, {}))


def _say_once(console: Console) -> Callable[[str], None]:
    """Print a message as one line, however narrow the terminal (or pipe)."""
    return lambda message: console.print(message, soft_wrap=True, markup=False)


@contextmanager
def _progress(
    console: Console | None, label: str, total: int
) -> Iterator[Callable[[str, str], None]]:
    if console is None:
        yield lambda symbol, outcome: None
        return
    with Progress(
        TextColumn(f"[bold]{label}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=total)

        def advance(symbol: str, outcome: str) -> None:
            progress.update(task, advance=1, description=f"{symbol} {outcome}")

        yield advance


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
    "--symbols", help="Comma-separated tickers (default: STOCKS_ELT_TICKERS)."
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Trading date the run is for (default: today in New York).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-transform", is_flag=True, help="Stop after the quality gate.")
def run_command(
    symbols: str | None, as_of: datetime | None, as_json: bool, no_transform: bool
) -> None:
    """Extract, load, check and transform: the whole pipeline, in-process."""
    settings = load_settings()
    chosen = parse_symbols(symbols) if symbols is not None else settings.tickers
    if not chosen:
        raise click.BadParameter("names no symbol", param_hint="--symbols")
    check_writable_paths(settings)
    console = Console(stderr=True)
    if settings.is_demo_key:
        console.print(
            "[yellow]No ALPHA_VANTAGE_API_KEY set: using Alpha Vantage's demo key, "
            "which serves IBM only.[/yellow]"
        )
    summary = run_pipeline(
        settings,
        chosen,
        as_of=as_of.date() if as_of else None,
        console=None if as_json else console,
        transform=not no_transform,
    )
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
    today = datetime.now(NEW_YORK).date()
    console = Console(stderr=True)
    started = time.perf_counter()
    config = EmulatorConfig(today=today, premium_keys=frozenset({DEMO_KEY}))
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
            f"emulator at {emulator.base_url}, today {today}; data in {data_dir}",
            soft_wrap=True,
        )
        summary = run_pipeline(settings, chosen, console=None if as_json else console)
    report_path = out or data_dir / "report.html"
    report_path.write_text(build_report(settings, chosen), encoding="utf-8")
    _emit(summary, as_json, Console())
    console.print(
        f"report: {report_path.resolve()} "
        f"({report_path.stat().st_size / 1024:.0f} KB); "
        f"demo took {time.perf_counter() - started:.1f} s",
        soft_wrap=True,
    )
    if summary.outcome != "success":
        sys.exit(1)
