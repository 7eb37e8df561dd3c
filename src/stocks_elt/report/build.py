"""
``build_report``: read the warehouse and return the HTML report, in one call.

Used by ``stocks-elt report`` and ``stocks-elt demo``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from stocks_elt.config import Settings
from stocks_elt.errors import InvalidSymbol
from stocks_elt.market.symbols import parse_symbols
from stocks_elt.report.data import DEFAULT_SESSIONS, MAX_SESSIONS, collect_report_data
from stocks_elt.report.render import render_report
from stocks_elt.warehouse.connection import connect

logger = logging.getLogger(__name__)


def build_report(
    settings: Settings,
    symbols: Sequence[str] | str,
    *,
    sessions: int = DEFAULT_SESSIONS,
    generated_at: datetime | None = None,
) -> str:
    """Build the self-contained HTML report for ``symbols``.

    Args:
        settings: where the warehouse is.
        symbols: the symbols to chart, in order (a list or ``"IBM,MSFT"``).
        sessions: the latest sessions per symbol to chart (about 500 by default,
            two years); the indicators come from the marts, so SMA 200 is defined
            from the first charted session whenever the marts hold the history.
        generated_at: the time stamp printed on the report; None means now.

    Returns:
        The HTML document (about 200 KB of chart library plus about 60 KB per
        symbol at 500 sessions); it needs no network to open.

    Raises:
        InvalidSymbol: a symbol breaks the symbol rule, or none is given.
        ValueError: ``sessions`` is not between 1 and ``MAX_SESSIONS``.
        UnknownSymbol: the warehouse has no trace of a symbol.
        WarehouseError: the warehouse cannot be reached or has no marts yet.
    """
    chosen = parse_symbols(symbols)
    if not chosen:
        raise InvalidSymbol("no symbol given for the report")
    if not 1 <= sessions <= MAX_SESSIONS:
        raise ValueError(
            f"sessions={sessions}: the report charts 1 to {MAX_SESSIONS} sessions "
            "per symbol"
        )
    stamp = generated_at if generated_at is not None else datetime.now(tz=UTC)
    with connect(settings) as conn:
        data = collect_report_data(conn, chosen, sessions=sessions, generated_at=stamp)
    page = render_report(data)
    logger.info(
        "built report symbols=%s sessions=%d bytes=%d",
        ",".join(chosen),
        sessions,
        len(page.encode("utf-8")),
    )
    return page
