"""
``stocks-elt report``: write the self-contained HTML report for a few symbols.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import click

from stocks_elt.commands.demo_data import demo_settings
from stocks_elt.config import load_settings
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.report.data import DEFAULT_SESSIONS, MAX_SESSIONS

logger = logging.getLogger(__name__)


@click.command("report")
@click.option(
    "--symbols",
    metavar="A,B,C",
    help="Comma-separated symbols to chart, in order  [default: the configured "
    "tickers, STOCKS_ELT_TICKERS]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the HTML file (replaced if it exists).",
)
@click.option(
    "--sessions",
    type=click.IntRange(1, MAX_SESSIONS),
    default=DEFAULT_SESSIONS,
    show_default=True,
    help="Latest sessions charted per symbol (500 is about two years).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Chart what `stocks-elt demo` loaded (<data dir>/demo) instead of the "
    "configured warehouse.",
)
def report_command(symbols: str | None, out: Path, sessions: int, demo: bool) -> None:
    """Write an HTML report: charts, latest indicators and data quality.

    One file with everything inlined: open it in any browser, offline. Per symbol a
    candlestick chart of adjusted prices with SMA 50/200 and Bollinger bands,
    volume, RSI 14 and MACD panels and the latest indicator values; then the
    latest data-quality gate run, quarantined rows and deferred or failed symbols.
    """
    from stocks_elt.report import build_report

    settings = load_settings()
    if demo:
        settings = demo_settings(settings)
    chosen = parse_symbols(symbols) if symbols is not None else settings.tickers
    if not chosen:
        raise click.BadParameter("no symbol given", param_hint="--symbols")
    page = build_report(settings, chosen, sessions=sessions)
    _write_atomically(out, page)
    size_kb = len(page.encode("utf-8")) / 1024
    click.echo(
        f"wrote {out} ({size_kb:,.0f} KB; {', '.join(chosen)}; up to {sessions:,} "
        "sessions each)"
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` next to ``path`` and rename, so no reader sees half a file."""
    directory = path.parent if str(path.parent) else Path()
    if not directory.is_dir():
        raise click.BadParameter(
            f"{path}: the folder {directory} does not exist", param_hint="--out"
        )
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("wrote report path=%s bytes=%d", path, len(text.encode("utf-8")))
