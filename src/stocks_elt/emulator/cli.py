"""``stocks-elt emulator``: serve the Alpha Vantage emulator until Ctrl-C."""

from __future__ import annotations

from datetime import date

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


def _parse_today(ctx: click.Context, param: click.Parameter, value: str | None) -> date:
    if value is None:
        return date.today()
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
    help="The emulator's today; nothing after it exists. Default: today's date.",
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
    today: date,
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
    )
    try:
        running = start_emulator(config)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    click.echo(
        f"Alpha Vantage emulator on {running.base_url} today={today.isoformat()} "
        f"symbols={len(universe)} (Ctrl-C to stop)",
        err=True,
    )
    try:
        running.serve_until_interrupted()
    except KeyboardInterrupt:
        click.echo("emulator stopped", err=True)
