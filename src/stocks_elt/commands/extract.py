"""
``stocks-elt extract`` (fetch symbols into the lake) and ``stocks-elt quota`` (what
the configured key has spent today).
"""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from stocks_elt.commands.progress import progress_bars
from stocks_elt.config import check_writable_paths, load_settings
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.market.universe import parse_universe

_OUTCOME_STYLES = {
    "fetched": "green",
    "unchanged": "cyan",
    "deferred": "yellow",
    "not_found": "red",
    "failed": "bold red",
}


@click.command("extract")
@click.option(
    "--symbols",
    metavar="A,B,C",
    help="Comma-separated symbols to fetch (default: STOCKS_ELT_TICKERS).",
)
@click.option(
    "--universe",
    metavar="SPEC",
    help="Symbols from the listing, e.g. listing:exchange=NYSE;limit=50 "
    "(default: STOCKS_ELT_UNIVERSE); --symbols wins.",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The run's date, YYYY-MM-DD (default: today in New York).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def extract_command(
    symbols: str | None, universe: str | None, as_of: datetime | None, as_json: bool
) -> None:
    """Fetch daily prices (and splits, dividends) into the raw lake.

    Exit code 0 when every symbol was fetched, unchanged or deferred (the day's
    quota is spent; the next run fetches it first), 1 when any failed or was not
    found, 2 for a bad symbol or setting.
    """
    from stocks_elt import pipeline

    settings = load_settings()
    given = parse_symbols(symbols) if symbols is not None else None
    if given is not None and not given:
        raise click.BadParameter("names no symbol", param_hint="--symbols")
    if universe is not None:
        parse_universe(universe, variable="--universe")
    check_writable_paths(settings)
    wanted = pipeline.choose_universe(settings, given, universe).symbols
    with progress_bars(None if as_json else Console(stderr=True)) as bars:
        result = pipeline.extract_batch(
            wanted,
            settings,
            as_of=as_of.date() if as_of is not None else None,
            progress=bars,
        )
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        table = Table(title=f"extract {result.run_id}")
        table.add_column("symbol")
        table.add_column("outcome")
        table.add_column("objects", justify="right")
        table.add_column("reason")
        for item in result.outcomes:
            style = _OUTCOME_STYLES.get(item.outcome, "")
            table.add_row(
                item.symbol,
                f"[{style}]{item.outcome}[/{style}]" if style else item.outcome,
                str(len(item.object_keys)),
                item.reason or "",
            )
        out = Console()
        out.print(table)
        out.print(
            f"{len(result.object_keys)} new lake objects, {result.calls_made} API calls"
        )
    raise click.exceptions.Exit(0 if result.is_success else 1)


@click.command("quota")
@click.option("--json", "as_json", is_flag=True, help="Print the usage as JSON.")
def quota_command(as_json: bool) -> None:
    """Show the configured key's calls today: used, quota, remaining, per function.

    The API day runs midnight to midnight America/New_York. The key is shown only
    as the ledger's salted hash.
    """
    from stocks_elt.status import quota_today

    usage = quota_today(load_settings())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "api_day": usage.api_day.isoformat(),
                    "key_hash": usage.key_hash,
                    "calls_used": usage.calls_used,
                    "daily_quota": usage.daily_quota or None,
                    "remaining": usage.remaining,
                    "is_capped": usage.is_capped,
                    "per_function": dict(usage.per_function),
                    "per_outcome": dict(usage.per_outcome),
                },
                indent=2,
            )
        )
        return
    quota = str(usage.daily_quota) if usage.daily_quota else "none"
    remaining = "unlimited" if usage.remaining is None else str(usage.remaining)
    if usage.is_capped:
        remaining = "0 (the API said the day's quota is spent)"
    out = Console()
    out.print(f"API day {usage.api_day} (America/New_York), key {usage.key_hash}")
    out.print(f"calls used {usage.calls_used} / quota {quota} / remaining {remaining}")
    if usage.per_function:
        table = Table()
        table.add_column("function")
        table.add_column("calls", justify="right")
        for function, calls in sorted(usage.per_function.items()):
            table.add_row(function, str(calls))
        out.print(table)
