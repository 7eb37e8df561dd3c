"""
The exact bytes the emulator answers a data request with (ALPHA_VANTAGE.md §3-§4).

:func:`render_response` is the whole data path without HTTP, keys or limits: what a
premium key gets for a request. The server adds the key checks, limits and faults;
benchmarks and tests call this module directly to get the same bytes.

Formatting rules kept here: every number is a string; prices have 4 decimals,
except TIME_SERIES_DAILY_ADJUSTED (shortest decimal prices, ``"0.0000"`` dividend,
``"1.0"`` split coefficient, adjusted close with full double precision); rows are
newest first; compact is the latest 100 sessions; JSON has a 4-space indent and no
trailing newline; CSV has CRLF line ends and a download file name.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from stocks_elt.emulator import notices
from stocks_elt.emulator.market import (
    TICKS_PER_UNIT,
    Market,
    SymbolHistory,
    symbol_seed,
)
from stocks_elt.emulator.universe import ListedSymbol
from stocks_elt.market.calendar import NEW_YORK

COMPACT_SIZE = 100
JSON_TYPE = "application/json"
CSV_TYPE = "application/x-download"

TIME_SERIES_FUNCTIONS = frozenset(
    {
        "TIME_SERIES_DAILY",
        "TIME_SERIES_DAILY_ADJUSTED",
        "TIME_SERIES_WEEKLY",
        "TIME_SERIES_WEEKLY_ADJUSTED",
        "TIME_SERIES_MONTHLY",
        "TIME_SERIES_MONTHLY_ADJUSTED",
    }
)
#: Every function the emulator serves.
FUNCTIONS = TIME_SERIES_FUNCTIONS | {
    "GLOBAL_QUOTE",
    "SPLITS",
    "DIVIDENDS",
    "LISTING_STATUS",
    "OVERVIEW",
    "SYMBOL_SEARCH",
}
_DELAYED_QUOTE_KEY = "Global Quote - DATA DELAYED BY 15 MINUTES"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Response:
    """One answer: status, body and what the call log records as its outcome.

    Attributes:
        status: the HTTP status.
        body: the exact bytes of the body.
        content_type: ``application/json``, ``application/x-download`` (CSV) or
            ``text/html`` (injected HTTP errors).
        filename: the CSV download name (``daily_IBM.csv``), None for JSON.
        outcome: ``data``, ``error``, ``not_found`` or a notice kind.
    """

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    filename: str | None = None
    outcome: str = "data"

    def headers(self, is_gzipped: bool = False) -> list[tuple[str, str]]:
        """Return the response headers (without Date and Server).

        Args:
            is_gzipped: describe :attr:`gzipped` instead of :attr:`body`.
        """
        length = len(self.gzipped) if is_gzipped else len(self.body)
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(length)),
            ("Allow", "GET, HEAD, OPTIONS"),
            ("Vary", "Cookie, Origin"),
        ]
        if is_gzipped:
            headers.append(("Content-Encoding", "gzip"))
        if self.filename is not None:
            headers.append(
                ("Content-Disposition", f"attachment; filename={self.filename}")
            )
        return headers

    @property
    def is_compressible(self) -> bool:
        """Tell whether the real service would gzip this answer (API bodies)."""
        return self.content_type in (JSON_TYPE, CSV_TYPE) and len(self.body) > 256

    @functools.cached_property
    def gzipped(self) -> bytes:
        """The body gzipped (computed once; the same bytes on every machine)."""
        return gzip.compress(self.body, compresslevel=6, mtime=0)


def dumps(value: object) -> bytes:
    """Serialise like the real service: 4-space indent, no trailing newline."""
    return json.dumps(value, indent=4).encode()


def json_message(key: str, text: str, outcome: str) -> Response:
    """Return a ``{key: text}`` answer with HTTP 200 (notices and errors)."""
    return Response(200, dumps({key: text}), outcome=outcome)


def invalid_call(function: str, outcome: str = "error") -> Response:
    """Return the "Invalid API call" error for ``function``."""
    return json_message("Error Message", notices.invalid_call(function), outcome)


def _format4(ticks: int) -> str:
    return f"{ticks // TICKS_PER_UNIT}.{ticks % TICKS_PER_UNIT:04d}"


def _shortest(ticks: int) -> str:
    return repr(ticks / TICKS_PER_UNIT)


def _decimal4(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.0001"), ROUND_HALF_UP), "f")


def _series_json(
    meta: Sequence[tuple[str, str]],
    series_key: str,
    field_names: Sequence[str],
    rows: Iterable[tuple[str, ...]],
) -> bytes:
    """Build a time-series body by hand: the same bytes as :func:`dumps`, faster."""
    meta_text = ",\n".join(
        f"        {json.dumps(key)}: {json.dumps(value)}" for key, value in meta
    )
    template = (
        '        "%s": {\n'
        + ",\n".join(f'            "{name}": "%s"' for name in field_names)
        + "\n        }"
    )
    series_text = ",\n".join([template % row for row in rows])
    return (
        '{\n    "Meta Data": {\n'
        + meta_text
        + "\n    },\n    "
        + json.dumps(series_key)
        + ": {\n"
        + series_text
        + "\n    }\n}"
    ).encode()


def _csv(header: str, rows: Iterable[Sequence[str]]) -> bytes:
    lines = [header]
    lines.extend(",".join(row) for row in rows)
    lines.append("")
    return "\r\n".join(lines).encode()


def _is_csv(params: dict[str, str]) -> bool:
    return params.get("datatype", "json").lower() == "csv"


# -- daily ------------------------------------------------------------------------

_DAILY_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")
_DAILY_ADJUSTED_FIELDS = (
    "1. open",
    "2. high",
    "3. low",
    "4. close",
    "5. adjusted close",
    "6. volume",
    "7. dividend amount",
    "8. split coefficient",
)


def _daily_rows(history: SymbolHistory, start: int) -> list[tuple[str, ...]]:
    dates, opens, highs = history.dates, history.opens, history.highs
    lows, closes, volumes = history.lows, history.closes, history.volumes
    return [
        (
            dates[i].isoformat(),
            _format4(opens[i]),
            _format4(highs[i]),
            _format4(lows[i]),
            _format4(closes[i]),
            str(volumes[i]),
        )
        for i in range(len(dates) - 1, start - 1, -1)
    ]


def _daily_adjusted_rows(history: SymbolHistory, start: int) -> list[tuple[str, ...]]:
    dates, opens, highs = history.dates, history.opens, history.highs
    lows, closes, volumes = history.lows, history.closes, history.volumes
    adjusted = history.adjusted_close_values
    splits, dividends = history.split_by_offset, history.dividend_by_offset
    rows: list[tuple[str, ...]] = []
    for i in range(len(dates) - 1, start - 1, -1):
        dividend = dividends.get(i)
        split = splits.get(i)
        rows.append(
            (
                dates[i].isoformat(),
                _shortest(opens[i]),
                _shortest(highs[i]),
                _shortest(lows[i]),
                _shortest(closes[i]),
                repr(adjusted[i]),
                str(volumes[i]),
                "0.0000" if dividend is None else _decimal4(dividend),
                "1.0" if split is None else repr(float(split)),
            )
        )
    return rows


def _render_daily(
    function: str, params: dict[str, str], history: SymbolHistory, symbol: str
) -> Response:
    is_adjusted = function == "TIME_SERIES_DAILY_ADJUSTED"
    is_full = params.get("outputsize", "compact").lower() == "full"
    count = len(history)
    start = 0 if is_full else max(0, count - COMPACT_SIZE)
    rows = (
        _daily_adjusted_rows(history, start)
        if is_adjusted
        else _daily_rows(history, start)
    )
    if _is_csv(params):
        header = (
            "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,"
            "split_coefficient"
            if is_adjusted
            else "timestamp,open,high,low,close,volume"
        )
        prefix = "daily_adjusted" if is_adjusted else "daily"
        return Response(200, _csv(header, rows), CSV_TYPE, f"{prefix}_{symbol}.csv")
    meta = (
        (
            "1. Information",
            "Daily Time Series with Splits and Dividend Events"
            if is_adjusted
            else "Daily Prices (open, high, low, close) and Volumes",
        ),
        ("2. Symbol", symbol),
        ("3. Last Refreshed", history.dates[-1].isoformat()),
        ("4. Output Size", "Full size" if is_full else "Compact"),
        ("5. Time Zone", "US/Eastern"),
    )
    fields = _DAILY_ADJUSTED_FIELDS if is_adjusted else _DAILY_FIELDS
    body = _series_json(meta, "Time Series (Daily)", fields, rows)
    return Response(200, body)


# -- weekly and monthly -----------------------------------------------------------


def _period_groups(
    history: SymbolHistory, key: Callable[[date], tuple[int, int]]
) -> list[tuple[int, int]]:
    """Return ``(first, last)`` session offsets of each period, ascending."""
    groups: list[tuple[int, int]] = []
    dates = history.dates
    start = 0
    for i in range(1, len(dates) + 1):
        if i == len(dates) or key(dates[i]) != key(dates[start]):
            groups.append((start, i - 1))
            start = i
    return groups


def _week(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso.year, iso.week


def _month(day: date) -> tuple[int, int]:
    return day.year, day.month


def _render_periodic(
    function: str, params: dict[str, str], history: SymbolHistory, symbol: str
) -> Response:
    is_weekly = function.startswith("TIME_SERIES_WEEKLY")
    is_adjusted = function.endswith("_ADJUSTED")
    groups = _period_groups(history, _week if is_weekly else _month)
    opens, highs, lows = history.opens, history.highs, history.lows
    closes, volumes = history.closes, history.volumes
    adjusted, dividends = history.adjusted_close_values, history.dividend_by_offset
    rows: list[tuple[str, ...]] = []
    for first, last in reversed(groups):
        row: tuple[str, ...] = (
            history.dates[last].isoformat(),
            _format4(opens[first]),
            _format4(max(highs[first : last + 1])),
            _format4(min(lows[first : last + 1])),
            _format4(closes[last]),
        )
        volume = str(sum(volumes[first : last + 1]))
        if is_adjusted:
            paid = sum(
                (dividends.get(i, Decimal(0)) for i in range(first, last + 1)),
                Decimal(0),
            )
            row = (*row, f"{adjusted[last]:.4f}", volume, _decimal4(paid))
        else:
            row = (*row, volume)
        rows.append(row)
    period = "weekly" if is_weekly else "monthly"
    if _is_csv(params):
        header = (
            "timestamp,open,high,low,close,adjusted close,volume,dividend amount"
            if is_adjusted
            else "timestamp,open,high,low,close,volume"
        )
        name = (
            f"{period}_adjusted_{symbol}.csv"
            if is_adjusted
            else f"{period}_{symbol}.csv"
        )
        return Response(200, _csv(header, rows), CSV_TYPE, name)
    title = "Weekly" if is_weekly else "Monthly"
    information = (
        f"{title} Adjusted Prices and Volumes"
        if is_adjusted
        else f"{title} Prices (open, high, low, close) and Volumes"
    )
    series_key = (
        f"{title} Adjusted Time Series" if is_adjusted else f"{title} Time Series"
    )
    meta = (
        ("1. Information", information),
        ("2. Symbol", symbol),
        ("3. Last Refreshed", history.dates[-1].isoformat()),
        ("4. Time Zone", "US/Eastern"),
    )
    fields = ("1. open", "2. high", "3. low", "4. close") + (
        ("5. adjusted close", "6. volume", "7. dividend amount")
        if is_adjusted
        else ("5. volume",)
    )
    return Response(200, _series_json(meta, series_key, fields, rows))


# -- quote, splits, dividends -----------------------------------------------------


def _render_global_quote(
    params: dict[str, str], history: SymbolHistory, symbol: str
) -> Response:
    last = len(history) - 1
    close = history.closes[last]
    previous = history.closes[last - 1] if last > 0 else close
    change = close - previous
    percent = (Decimal(change) * 100 / Decimal(previous)).quantize(
        Decimal("0.0001"), ROUND_HALF_UP
    )
    values = (
        symbol,
        _format4(history.opens[last]),
        _format4(history.highs[last]),
        _format4(history.lows[last]),
        _format4(close),
        str(history.volumes[last]),
        history.dates[last].isoformat(),
        _format4(previous),
        ("-" if change < 0 else "") + _format4(abs(change)),
        f"{percent:f}%",
    )
    if _is_csv(params):
        header = (
            "symbol,open,high,low,price,volume,latestDay,previousClose,change,"
            "changePercent"
        )
        return Response(
            200, _csv(header, [values]), CSV_TYPE, f"global_quote_{symbol}.csv"
        )
    keys = (
        "01. symbol",
        "02. open",
        "03. high",
        "04. low",
        "05. price",
        "06. volume",
        "07. latest trading day",
        "08. previous close",
        "09. change",
        "10. change percent",
    )
    top = (
        _DELAYED_QUOTE_KEY
        if params.get("entitlement", "").lower() == "delayed"
        else "Global Quote"
    )
    return Response(200, dumps({top: dict(zip(keys, values, strict=True))}))


def _render_splits(
    params: dict[str, str], history: SymbolHistory, symbol: str
) -> Response:
    rows = [
        (event.effective_date.isoformat(), _decimal4(event.ratio))
        for event in reversed(history.splits)
    ]
    if _is_csv(params):
        return Response(
            200,
            _csv("effective_date,split_factor", rows),
            CSV_TYPE,
            f"splits_{symbol}.csv",
        )
    data = [{"effective_date": day, "split_factor": factor} for day, factor in rows]
    return Response(200, dumps({"symbol": symbol, "data": data}))


def _date_or_none(day: date | None) -> str:
    return "None" if day is None else day.isoformat()


def _render_dividends(
    params: dict[str, str], history: SymbolHistory, symbol: str
) -> Response:
    rows = [
        (
            event.ex_date.isoformat(),
            _date_or_none(event.declaration_date),
            _date_or_none(event.record_date),
            _date_or_none(event.payment_date),
            repr(float(event.amount)),
        )
        for event in reversed(history.dividends)
    ]
    if _is_csv(params):
        header = "ex_dividend_date,declaration_date,record_date,payment_date,amount"
        return Response(200, _csv(header, rows), CSV_TYPE, f"dividends_{symbol}.csv")
    names = ("ex_dividend_date", "declaration_date", "record_date", "payment_date")
    data = [
        {**dict(zip(names, row[:4], strict=True)), "amount": row[4]} for row in rows
    ]
    return Response(200, dumps({"symbol": symbol, "data": data}))


# -- universe: listing status, overview, search -----------------------------------


def _render_listing_status(
    params: dict[str, str], market: Market, today: date
) -> Response:
    raw_day = params.get("date")
    day = today
    if raw_day:
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            return invalid_call("LISTING_STATUS")
        if day < date(2010, 1, 1):
            return invalid_call("LISTING_STATUS")
        day = min(day, today)
    state = params.get("state", "active").lower()
    if state not in ("active", "delisted"):
        return invalid_call("LISTING_STATUS")
    rows = []
    for listed in sorted(market.universe, key=lambda item: item.symbol):
        if listed.ipo_date > day:
            continue
        delisted_on = listed.delisting_date
        is_delisted = delisted_on is not None and delisted_on < day
        if is_delisted != (state == "delisted"):
            continue
        rows.append(
            (
                listed.symbol,
                listed.name,
                listed.exchange,
                listed.asset_type,
                listed.ipo_date.isoformat(),
                delisted_on.isoformat() if delisted_on and is_delisted else "null",
                "Delisted" if is_delisted else "Active",
            )
        )
    header = "symbol,name,exchange,assetType,ipoDate,delistingDate,status"
    return Response(200, _csv(header, rows), CSV_TYPE, "listing_status.csv")


_SECTORS = (
    ("TECHNOLOGY", "SERVICES-COMPUTER PROGRAMMING, DATA PROCESSING, ETC."),
    ("TECHNOLOGY", "SEMICONDUCTORS & RELATED DEVICES"),
    ("FINANCIAL SERVICES", "NATIONAL COMMERCIAL BANKS"),
    ("ENERGY & TRANSPORTATION", "PETROLEUM REFINING"),
    ("LIFE SCIENCES", "PHARMACEUTICAL PREPARATIONS"),
    ("TRADE & SERVICES", "RETAIL-VARIETY STORES"),
    ("MANUFACTURING", "MOTOR VEHICLES & PASSENGER CAR BODIES"),
    ("REAL ESTATE & CONSTRUCTION", "REAL ESTATE INVESTMENT TRUSTS"),
)


def _render_overview(
    history: SymbolHistory, listed: ListedSymbol, market: Market, today: date
) -> Response:
    rng = random.Random(symbol_seed(listed.symbol + ":overview", market.seed))
    draws = [rng.random() for _ in range(24)]
    price = history.closes[-1] / TICKS_PER_UNIT
    last_year = slice(max(0, len(history) - 252), len(history))
    shares = int(1e8 + draws[0] * 5e9)
    eps = price / (8.0 + 30.0 * draws[1])
    revenue = shares * price * (0.3 + 3.0 * draws[2])
    margin = 0.02 + 0.3 * draws[3]
    ebitda = revenue * (margin + 0.1)
    book = price / (1.0 + 9.0 * draws[4])
    dividends = [event for event in history.dividends if event.ex_date <= today]
    recent = [event for event in dividends if (today - event.ex_date).days <= 366]
    dividend_per_share = sum((float(event.amount) for event in recent), 0.0)
    sector, industry = _SECTORS[int(draws[5] * len(_SECTORS))]
    # the last quarter that ended before today's quarter began
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    latest_quarter = quarter_start - timedelta(days=1)
    ratings = [int(draws[6 + i] * 20) for i in range(5)]
    closes = [c / TICKS_PER_UNIT for c in history.closes]

    def money(value: float) -> str:
        return str(int(value))

    def ratio(value: float) -> str:
        return f"{value:.2f}" if value else "None"

    def average(count: int) -> str:
        window = closes[-count:]
        return f"{sum(window) / len(window):.2f}"

    is_etf = listed.asset_type == "ETF"
    overview = {
        "Symbol": listed.symbol,
        "AssetType": "ETF" if is_etf else "Common Stock",
        "Name": listed.name,
        "Description": f"{listed.name} is a synthetic company of the stocks-elt "
        "emulator; its figures are generated and consistent with its prices.",
        "CIK": str(100000 + int(draws[11] * 1800000)),
        "Exchange": listed.exchange,
        "Currency": "USD",
        "Country": "USA",
        "Sector": sector,
        "Industry": industry,
        "Address": f"{1 + int(draws[12] * 999)} MAIN STREET, NEW YORK, NY, US",
        "OfficialSite": f"https://www.{listed.symbol.lower().replace('.', '')}.example",
        "FiscalYearEnd": "December",
        "LatestQuarter": latest_quarter.isoformat(),
        "MarketCapitalization": money(shares * price),
        "EBITDA": money(ebitda),
        "PERatio": ratio(price / eps),
        "PEGRatio": f"{0.5 + 2.5 * draws[13]:.3f}",
        "BookValue": f"{book:.2f}",
        "DividendPerShare": f"{dividend_per_share:.2f}" if recent else "None",
        "DividendYield": f"{dividend_per_share / price:.4f}" if recent else "None",
        "EPS": f"{eps:.2f}",
        "RevenuePerShareTTM": f"{revenue / shares:.2f}",
        "ProfitMargin": f"{margin:.3f}",
        "OperatingMarginTTM": f"{margin + 0.05:.3f}",
        "ReturnOnAssetsTTM": f"{margin / 2:.3f}",
        "ReturnOnEquityTTM": f"{margin * 2:.3f}",
        "RevenueTTM": money(revenue),
        "GrossProfitTTM": money(revenue * (margin + 0.3)),
        "DilutedEPSTTM": f"{eps * 0.99:.2f}",
        "QuarterlyEarningsGrowthYOY": f"{draws[14] * 0.4 - 0.1:.3f}",
        "QuarterlyRevenueGrowthYOY": f"{draws[15] * 0.3 - 0.05:.3f}",
        "AnalystTargetPrice": f"{price * (0.9 + 0.4 * draws[16]):.2f}",
        "AnalystRatingStrongBuy": str(ratings[0]),
        "AnalystRatingBuy": str(ratings[1]),
        "AnalystRatingHold": str(ratings[2]),
        "AnalystRatingSell": str(ratings[3] // 4),
        "AnalystRatingStrongSell": str(ratings[4] // 8),
        "TrailingPE": ratio(price / eps),
        "ForwardPE": ratio(price / (eps * (1.0 + 0.2 * draws[17]))),
        "PriceToSalesRatioTTM": f"{shares * price / revenue:.3f}",
        "PriceToBookRatio": f"{price / book:.3f}",
        "EVToRevenue": f"{shares * price * 1.1 / revenue:.3f}",
        "EVToEBITDA": f"{shares * price * 1.1 / ebitda:.3f}",
        "Beta": f"{0.5 + 1.2 * draws[18]:.3f}",
        "52WeekHigh": _format4(max(history.highs[last_year]))[:-2],
        "52WeekLow": _format4(min(history.lows[last_year]))[:-2],
        "50DayMovingAverage": average(50),
        "200DayMovingAverage": average(200),
        "SharesOutstanding": str(shares),
        "SharesFloat": str(int(shares * (0.85 + 0.14 * draws[19]))),
        "PercentInsiders": f"{draws[20] * 5:.3f}",
        "PercentInstitutions": f"{50 + draws[21] * 40:.3f}",
        "DividendDate": _date_or_none(dividends[-1].payment_date)
        if dividends
        else "None",
        "ExDividendDate": dividends[-1].ex_date.isoformat() if dividends else "None",
    }
    if is_etf:
        for key in ("CIK", "EBITDA", "PERatio", "PEGRatio", "EPS", "Beta"):
            overview[key] = "None"
    return Response(200, dumps(overview))


def _utc_offset(today: date) -> str:
    offset = datetime(today.year, today.month, today.day, 12, tzinfo=NEW_YORK)
    delta = offset.utcoffset()
    hours = int(delta.total_seconds() // 3600) if delta is not None else -5
    return f"UTC{hours:+03d}"


def _match_score(keywords: str, listed: ListedSymbol) -> float:
    symbol, name = listed.symbol.lower(), listed.name.lower()
    if symbol == keywords:
        return 1.0
    if symbol.startswith(keywords):
        return len(keywords) / len(symbol)
    if keywords in name:
        return 0.2 + 0.6 * len(keywords) / len(name)
    return 0.0


def _render_symbol_search(
    params: dict[str, str], market: Market, today: date
) -> Response:
    keywords = params.get("keywords", "").strip().lower()
    if not keywords:
        return invalid_call("SYMBOL_SEARCH")
    scored = [
        (score, listed)
        for listed in market.universe
        if listed.ipo_date <= today and (score := _match_score(keywords, listed)) > 0.0
    ]
    scored.sort(key=lambda item: (-item[0], item[1].symbol))
    timezone = _utc_offset(today)
    rows = [
        (
            listed.symbol,
            listed.name,
            "ETF" if listed.asset_type == "ETF" else "Equity",
            "United States",
            "09:30",
            "16:00",
            timezone,
            "USD",
            f"{score:.4f}",
        )
        for score, listed in scored[:10]
    ]
    if _is_csv(params):
        header = (
            "symbol,name,type,region,marketOpen,marketClose,timezone,currency,"
            "matchScore"
        )
        # keywords are free text: only safe characters reach the header
        filename = f"search_{_UNSAFE_FILENAME.sub('_', keywords)}.csv"
        return Response(200, _csv(header, rows), CSV_TYPE, filename)
    names = (
        "1. symbol",
        "2. name",
        "3. type",
        "4. region",
        "5. marketOpen",
        "6. marketClose",
        "7. timezone",
        "8. currency",
        "9. matchScore",
    )
    matches = [dict(zip(names, row, strict=True)) for row in rows]
    return Response(200, dumps({"bestMatches": matches}))


# -- entry point ------------------------------------------------------------------


def render_response(
    function: str, params: dict[str, str], market: Market, today: date
) -> Response:
    """Return what the service answers a premium key for one request.

    No key, limit or fault handling happens here; see ``stocks_elt.emulator.service``
    for that.

    Args:
        function: the ``function`` parameter as sent.
        params: every query parameter (``symbol``, ``outputsize``, ``datatype``...).
        market: the market whose universe and histories answer.
        today: the emulator's "today".

    Returns:
        The response; unknown functions, unknown symbols and bad parameters get the
        real service's bodies (HTTP 200) with outcome ``error`` or ``not_found``.
    """
    if function not in FUNCTIONS:
        return json_message(
            "Error Message", notices.unknown_function(function), "error"
        )
    if function == "LISTING_STATUS":
        return _render_listing_status(params, market, today)
    if function == "SYMBOL_SEARCH":
        return _render_symbol_search(params, market, today)
    symbol = params.get("symbol", "").strip()
    if not symbol:
        return invalid_call(function)
    history = market.history(symbol, today)
    listed = market.listed(symbol)
    if history is None or listed is None or len(history) == 0:
        return _not_found(function)
    if function in ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"):
        return _render_daily(function, params, history, symbol)
    if function in TIME_SERIES_FUNCTIONS:
        return _render_periodic(function, params, history, symbol)
    if function == "GLOBAL_QUOTE":
        return _render_global_quote(params, history, symbol)
    if function == "SPLITS":
        return _render_splits(params, history, symbol)
    if function == "DIVIDENDS":
        return _render_dividends(params, history, symbol)
    if not listed.is_listed_on(today):  # OVERVIEW of a delisted symbol
        return _not_found(function)
    return _render_overview(history, listed, market, today)


def _not_found(function: str) -> Response:
    """Return the real service's answer for a symbol it does not know."""
    if function == "GLOBAL_QUOTE":
        return Response(200, dumps({"Global Quote": {}}), outcome="not_found")
    if function in ("OVERVIEW", "SPLITS", "DIVIDENDS"):
        return Response(200, dumps({}), outcome="not_found")
    return invalid_call(function, outcome="not_found")
