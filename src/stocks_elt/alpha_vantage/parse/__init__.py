"""
Lake objects into typed rows: parse, then validate every row. One module per kind
of answer (formats in ALPHA_VANTAGE.md §3-4):

    daily      TIME_SERIES_DAILY / _ADJUSTED JSON  -> DailySeries
    actions    SPLITS, DIVIDENDS JSON              -> Splits, Dividends
    listing    LISTING_STATUS CSV                  -> Listing
    overview   OVERVIEW JSON                       -> Overview
    common     what they share: functions, reasons, column bounds, checks

``parse_object`` picks the parser by the lake key's function.

Prices and amounts are ``Decimal`` built from the API's strings; a number that
arrives as a JSON number (a float) is refused, never converted. A row that fails
validation does not stop the parse: it comes back as a ``RejectedRow`` naming the
row, its raw values and the reason (one of ``Reason``), and the loader sends it to
quarantine. A body that is not data at all (a notice, an error message, an empty
answer, broken JSON, another symbol's answer) raises ``LoadError`` naming the
object and the reason: nothing of it may be loaded.
"""

from __future__ import annotations

from stocks_elt.alpha_vantage.parse.actions import (
    DividendRow,
    Dividends,
    SplitRow,
    Splits,
    parse_dividends,
    parse_splits,
)
from stocks_elt.alpha_vantage.parse.common import (
    DAILY,
    DAILY_ADJUSTED,
    DIVIDENDS,
    LISTING_STATUS,
    LOADABLE_FUNCTIONS,
    OVERVIEW,
    SPLITS,
    Reason,
    RejectedRow,
)
from stocks_elt.alpha_vantage.parse.daily import (
    DailyBar,
    DailySeries,
    check_daily_entry,
    parse_daily_series,
)
from stocks_elt.alpha_vantage.parse.listing import (
    LISTING_HEADER,
    Listing,
    ListingRow,
    parse_listing_status,
)
from stocks_elt.alpha_vantage.parse.overview import (
    Overview,
    OverviewRow,
    parse_overview,
)
from stocks_elt.errors import LoadError

__all__ = [
    "DAILY",
    "DAILY_ADJUSTED",
    "DIVIDENDS",
    "LISTING_HEADER",
    "LISTING_STATUS",
    "LOADABLE_FUNCTIONS",
    "OVERVIEW",
    "SPLITS",
    "DailyBar",
    "DailySeries",
    "DividendRow",
    "Dividends",
    "Listing",
    "ListingRow",
    "Overview",
    "OverviewRow",
    "ParsedObject",
    "Reason",
    "RejectedRow",
    "SplitRow",
    "Splits",
    "check_daily_entry",
    "parse_daily_series",
    "parse_dividends",
    "parse_listing_status",
    "parse_object",
    "parse_overview",
    "parse_splits",
]

ParsedObject = DailySeries | Splits | Dividends | Listing | Overview


def parse_object(
    function: str, symbol: str | None, body: bytes, *, object_key: str
) -> ParsedObject:
    """Parse one lake object, choosing the parser by its function.

    Args:
        function: the Alpha Vantage function the object answers.
        symbol: the symbol it was fetched for (None for LISTING_STATUS).
        body: the object's bytes, exactly as the API sent them.
        object_key: the lake key, quoted in errors.

    Returns:
        The parsed rows and rejected rows.

    Raises:
        LoadError: the function has no loader, or the body is not data.
    """
    if function == LISTING_STATUS:
        return parse_listing_status(body, object_key=object_key)
    if symbol is None:
        raise LoadError(f"{object_key}: a {function} object needs a symbol")
    if function in (DAILY, DAILY_ADJUSTED):
        return parse_daily_series(
            body,
            object_key=object_key,
            symbol=symbol,
            is_adjusted=function == DAILY_ADJUSTED,
        )
    if function == SPLITS:
        return parse_splits(body, object_key=object_key, symbol=symbol)
    if function == DIVIDENDS:
        return parse_dividends(body, object_key=object_key, symbol=symbol)
    if function == OVERVIEW:
        return parse_overview(body, object_key=object_key, symbol=symbol)
    raise LoadError(
        f"{object_key}: no loader for function {function!r} "
        f"(loadable: {', '.join(LOADABLE_FUNCTIONS)})"
    )
