"""
``stocks-elt status``: where each symbol stands, as a table or as JSON.

It works on any state: a new data directory (no warehouse yet) or an empty
warehouse says "nothing loaded yet" and how to start (exit 0); a warehouse that
cannot be reached is one line naming it without its password (exit 1);
``--fail-if-stale N`` exits 1 when a symbol is more than N sessions behind, for
cron and monitoring; ``--demo`` reads what ``stocks-elt demo`` loaded.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stocks_elt.commands.demo_data import demo_settings
from stocks_elt.config import Settings, load_settings
from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.status import (
    CALENDAR_NAME,
    START_HINTS,
    StatusReport,
    SymbolStatus,
    collect_status,
)
from stocks_elt.warehouse.audit.quality import RecordedCheck
from stocks_elt.warehouse.connection import describe_warehouse


def _parse_as_of(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time such as 2025-07-01T18:30 or "
            "2025-07-01T22:30:00+00:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=NEW_YORK)


@click.command("status")
@click.option(
    "--symbols",
    metavar="A,B,C",
    help="Only these symbols  [default: the configured tickers and every symbol "
    "the warehouse knows]",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--as-of",
    callback=_parse_as_of,
    metavar="DATETIME",
    help="Judge freshness and the API day at this ISO instant instead of now "
    "(no offset: New York time).",
)
@click.option(
    "--fail-if-stale",
    type=click.IntRange(0),
    metavar="N",
    help="Exit 1 when a symbol is more than N sessions behind the last completed "
    "session (never loaded counts as behind); for cron and monitoring.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Read what `stocks-elt demo` loaded (<data dir>/demo) instead of the "
    "configured warehouse.",
)
def status_command(
    symbols: str | None,
    as_json: bool,
    as_of: datetime | None,
    fail_if_stale: int | None,
    demo: bool,
) -> None:
    """Show per symbol the last session loaded, freshness, last extract, open
    data-quality findings, and today's API calls.

    Freshness counts the XNYS sessions that closed after the last loaded one.
    Exits 0 whatever it finds (stale data is reported, not an error) unless
    --fail-if-stale is given.
    """
    settings = load_settings()
    if demo:
        settings = demo_settings(settings)
    chosen = parse_symbols(symbols) if symbols is not None else None
    report = collect_status(settings, chosen, as_of=as_of)
    if as_json:
        answer = report.to_dict()
        if report.is_empty:
            answer["hint"] = _nothing_loaded(settings, demo)
        click.echo(json.dumps(answer, indent=2))
    elif report.is_empty:
        Console().print(_nothing_loaded(settings, demo), soft_wrap=True)
    else:
        console = Console()
        console.print(_table(report))
        for line in _summary(report):
            console.print(line)
    if fail_if_stale is not None:
        stale = report.stale_symbols(fail_if_stale)
        if stale:
            click.echo(_stale_line(stale, fail_if_stale, report), err=True)
            sys.exit(1)


def _nothing_loaded(settings: Settings, demo: bool) -> str:
    if demo:
        return (
            "nothing loaded yet by the demo in "
            f"{settings.data_dir.resolve()}; run it with: stocks-elt demo"
        )
    return (
        f"nothing loaded yet into {describe_warehouse(settings)}. To start:\n  "
        + "\n  ".join(START_HINTS)
        + "\nthen run stocks-elt status again."
    )


def _stale_line(
    stale: tuple[SymbolStatus, ...], limit: int, report: StatusReport
) -> str:
    parts = [
        f"{status.symbol} never loaded"
        if status.sessions_behind is None
        else f"{status.symbol} {status.sessions_behind} behind "
        f"(last {status.last_session})"
        for status in stale
    ]
    return (
        f"stale: {len(stale)} symbol(s) more than {limit} session(s) behind "
        f"{report.last_completed_session}: " + "; ".join(parts)
    )


def _table(report: StatusReport) -> Table:
    as_of = report.as_of.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
    table = Table(
        title=f"stocks-elt status, {as_of}",
        caption=f"last completed {CALENDAR_NAME} session: "
        f"{report.last_completed_session.isoformat()}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("symbol", style="bold")
    table.add_column("last session")
    table.add_column("behind", justify="right")
    table.add_column("last extract")
    table.add_column("open findings")
    for status in report.symbols:
        table.add_row(
            status.symbol,
            status.last_session.isoformat() if status.last_session else "–",
            _behind(status),
            _extract(status),
            _findings(status.findings),
        )
    if not report.symbols:
        table.add_row("–", "no symbol configured or loaded", "", "", "")
    return table


def _behind(status: SymbolStatus) -> Text:
    if status.sessions_behind is None:
        return Text("never loaded", style="red")
    style = "green" if status.sessions_behind == 0 else "yellow"
    if status.sessions_behind > 1:
        style = "red"
    text = Text(f"{status.sessions_behind}", style=style)
    if status.final_session is not None:
        text.append(f"\ndelisted, last {status.final_session}", style="dim")
    return text


def _extract(status: SymbolStatus) -> Text:
    outcome = status.extract
    if outcome is None:
        return Text("–", style="dim")
    style = (
        "green" if outcome.is_healthy else "yellow" if outcome.is_deferred else "red"
    )
    text = Text(outcome.outcome, style=style)
    when = outcome.recorded_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
    text.append(f" {when}", style="dim")
    if outcome.has_history_gap:
        text.append(" history gap", style="red")
    if outcome.reason:
        text.append(f"\n{outcome.reason}", style="dim")
    return text


def _findings(findings: tuple[RecordedCheck, ...]) -> Text:
    if not findings:
        return Text("none", style="dim")
    text = Text()
    for index, finding in enumerate(findings):
        if index:
            text.append("\n")
        text.append(
            finding.status, style="red" if finding.status == "fail" else "yellow"
        )
        text.append(f" {finding.check_name}")
    return text


def _summary(report: StatusReport) -> list[Text]:
    lines = []
    run = report.quality_run
    if run is None:
        lines.append(Text("data quality: no gate run yet", style="dim"))
    else:
        warnings = sum(1 for r in run.results if r.status == "warn")
        failures = sum(1 for r in run.results if r.status == "fail")
        when = run.checked_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")
        line = Text(f"data quality: latest gate run {when}: ")
        line.append(f"{failures} failures", style="red" if failures else "green")
        line.append(", ")
        line.append(f"{warnings} warnings", style="yellow" if warnings else "green")
        lines.append(line)
        for finding in report.other_findings:
            where = finding.symbol or "all symbols"
            detail = f": {finding.details}" if finding.details else ""
            lines.append(
                Text(f"  {finding.status} {finding.check_name} ({where}){detail}")
            )
    quota = report.quota
    limit = (
        f" of {quota.daily_quota} ({quota.remaining} left)"
        if quota.daily_quota
        else " (no daily quota configured)"
    )
    line = Text(
        f"API calls on {quota.api_day.isoformat()} (America/New_York) with the "
        f"configured key: {quota.calls_used}{limit}"
    )
    if quota.is_capped:
        line.append("; the API said the day's quota is spent", style="red")
    lines.append(line)
    return lines
