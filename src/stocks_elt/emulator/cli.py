"""``stocks-elt emulator``: serve the Alpha Vantage emulator until Ctrl-C."""

from __future__ import annotations

from datetime import date, timedelta

import click

from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.faults import FaultSpecError
from stocks_elt.emulator.server import start_emulator
from stocks_elt.emulator.universe import default_universe, universe_for_symbols
from stocks_elt.errors import InvalidSymbol
from stocks_elt.market.symbols import parse_symbols

_FAULTS_HELP = """Fault spec: comma-separated KIND:WHEN[@TARGET] rules. KIND is 500,
502, 503, drop, truncate, malformed, empty or latency=300ms; WHEN is a probability
(0.2), first=N, after=N, every=N or nth=N; TARGET is a symbol, a function or
SYMBOL/FUNCTION. Example: '503:first=2@MSFT,latency=300ms:0.5'."""


def _parse_today(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.command("emulator", epilog=_FAULTS_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface.")
@click.option("--port", default=8765, show_default=True, help="TCP port (0: any).")
@click.option(
    "--today",
    callback=_parse_today,
    metavar="YYYY-MM-DD",
    help="A fixed today, taken as over: its session's bar is served, nothing "
    "after it. Default: follow the clock, where a session's bar appears only after "
    "its New York close plus --publication-lag, as on the real service.",
)
@click.option(
    "--publication-lag",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1440),
    metavar="MINUTES",
    help="Minutes after a session's close before its bar appears (clock mode).",
)
@click.option(
    "--symbols",
    metavar="A,B,C",
    help="The universe (default: the built-in 41 symbols including IBM).",
)
@click.option(
    "--premium-keys", metavar="K1,K2", default="", help="Keys with premium access."
)
@click.option(
    "--per-second-limit",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Free keys' calls per second (burst); 0: none.",
)
@click.option(
    "--per-minute-limit",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Free keys' calls per minute; 0: none.",
)
@click.option(
    "--daily-limit",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Free keys' calls per emulated day; 0: none.",
)
@click.option("--faults", default="", metavar="SPEC", help="Fault spec (see below).")
@click.option("--seed", default=0, show_default=True, help="Market and fault seed.")
def emulator_command(
    host: str,
    port: int,
    today: date | None,
    publication_lag: int,
    symbols: str | None,
    premium_keys: str,
    per_second_limit: int,
    per_minute_limit: int,
    daily_limit: int,
    faults: str,
    seed: int,
) -> None:
    """Serve an Alpha Vantage-compatible API on HOST:PORT until Ctrl-C.

    Limits apply per key to keys not listed in --premium-keys; 0 means unlimited.
    Admin endpoints: GET /_admin/health, GET /_admin/calls, POST /_admin/clock
    ({"today": "YYYY-MM-DD"} or {"advance": N}), POST /_admin/faults
    ({"spec": "..."}), POST /_admin/reset.
    """
    try:
        universe = (
            universe_for_symbols(parse_symbols(symbols))
            if symbols
            else default_universe()
        )
    except InvalidSymbol as exc:
        raise click.BadParameter(str(exc), param_hint="--symbols") from None
    config = EmulatorConfig(
        today=today,
        host=host,
        port=port,
        universe=universe,
        premium_keys=frozenset(k.strip() for k in premium_keys.split(",") if k.strip()),
        per_second_limit=per_second_limit,
        per_minute_limit=per_minute_limit,
        daily_limit=daily_limit,
        faults=faults,
        seed=seed,
        publication_lag=timedelta(minutes=publication_lag),
    )
    try:
        running = start_emulator(config)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    clock = (
        f"today={today.isoformat()} (fixed)"
        if today is not None
        else f"following the clock, sessions through "
        f"{running.published_through.isoformat()} published"
    )
    click.echo(
        f"Alpha Vantage emulator on {running.base_url} {clock} "
        f"symbols={len(universe)} (Ctrl-C to stop)",
        err=True,
    )
    try:
        running.serve_until_interrupted()
    except KeyboardInterrupt:
        click.echo("emulator stopped", err=True)
