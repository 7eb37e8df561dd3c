"""
Lake objects into typed rows: parse, then validate every row.

One function per kind of answer (formats in ALPHA_VANTAGE.md §3-4):

    parse_daily_series    TIME_SERIES_DAILY / _ADJUSTED JSON  -> DailySeries
    parse_splits          SPLITS JSON                         -> Splits
    parse_dividends       DIVIDENDS JSON                      -> Dividends
    parse_listing_status  LISTING_STATUS CSV                  -> Listing
    parse_overview        OVERVIEW JSON                       -> Overview
    parse_object          any of the above, chosen by the lake key

Prices and amounts are ``Decimal`` built from the API's strings; a number that
arrives as a JSON number (a float) is refused, never converted. A row that fails
validation does not stop the parse: it comes back as a ``RejectedRow`` naming the
row, its raw values and the reason (one of ``Reason``), and the loader sends it to
quarantine. A body that is not data at all (a notice, an error message, an empty
answer, broken JSON, another symbol's answer) raises ``LoadError`` naming the
object and the reason: nothing of it may be loaded.

Duplicate keys: JSON objects keep only the last value of a repeated key once
parsed, which would hide a date sent twice. The series parser therefore counts
the ``:`` in the body (one per key at any level, plus those inside the texts of
``Meta Data``); when the count is not the parsed document's, a pair was dropped
(or a text holds a colon), so the body is parsed again keeping every pair, and
every copy of a repeated date is quarantined (which copy is right cannot be
known).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

import orjson

from stocks_elt.alpha_vantage.symbols import normalize_symbol
from stocks_elt.errors import InvalidSymbol, LoadError

DAILY = "TIME_SERIES_DAILY"
DAILY_ADJUSTED = "TIME_SERIES_DAILY_ADJUSTED"
SPLITS = "SPLITS"
DIVIDENDS = "DIVIDENDS"
LISTING_STATUS = "LISTING_STATUS"
OVERVIEW = "OVERVIEW"
#: Functions whose answers the loader understands.
LOADABLE_FUNCTIONS = (
    DAILY,
    DAILY_ADJUSTED,
    SPLITS,
    DIVIDENDS,
    LISTING_STATUS,
    OVERVIEW,
)

SERIES_KEY = "Time Series (Daily)"
META_KEY = "Meta Data"
LISTING_HEADER = (
    "symbol",
    "name",
    "exchange",
    "assetType",
    "ipoDate",
    "delistingDate",
    "status",
)
_NOTICE_KEYS = ("Information", "Note", "Error Message")
#: JSON's escape of U+0000 (not itself escaped): the one character a JSON string
#: may hold that Postgres text and jsonb cannot.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_REFUSAL = (
    "not data: the body holds a NUL character (U+0000), which the warehouse "
    "cannot store"
)
_OVERVIEW_FIELDS = (
    "Name",
    "Exchange",
    "AssetType",
    "Currency",
    "Country",
    "Sector",
    "Industry",
)
#: OVERVIEW spells an unknown value "None", sometimes "-".
_MISSING_TEXT = frozenset({"", "None", "-", "null"})

# Bounds of the warehouse columns, so that a value the table cannot hold is a
# quarantined row rather than a failed object. A price must also stay positive once
# rounded to the column's 4 decimals.
_MAX_PRICE = Decimal("1e14")  # numeric(18, 4)
_MIN_PRICE = Decimal("0.00005")
_MAX_ADJUSTED = Decimal("1e16")  # numeric(28, 12)
_MAX_FACTOR = Decimal("1e12")  # numeric(18, 6)
_MIN_FACTOR = Decimal("0.0000005")
_MAX_VOLUME = 2**63 - 1  # bigint

_DAILY_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")
_ADJUSTED_FIELDS = (
    "1. open",
    "2. high",
    "3. low",
    "4. close",
    "5. adjusted close",
    "6. volume",
    "7. dividend amount",
    "8. split coefficient",
)


class Reason(StrEnum):
    """Why a row was quarantined (the ``reason_code`` of ``raw.quarantine``)."""

    MISSING_FIELD = "missing_field"
    NOT_NUMERIC = "not_numeric"
    BAD_DATE = "bad_date"
    MISSING_DATE = "missing_date"
    DUPLICATE_DATE = "duplicate_date"
    DUPLICATE_SYMBOL = "duplicate_symbol"
    INVALID_SYMBOL = "invalid_symbol"
    AFTER_LAST_REFRESHED = "after_last_refreshed"
    NON_POSITIVE_PRICE = "non_positive_price"
    NEGATIVE_VOLUME = "negative_volume"
    NEGATIVE_AMOUNT = "negative_amount"
    NON_POSITIVE_FACTOR = "non_positive_factor"
    OUT_OF_RANGE = "out_of_range"
    HIGH_BELOW_LOW = "high_below_low"
    OHLC_INCONSISTENT = "ohlc_inconsistent"


class RejectedRow(NamedTuple):
    """A row that failed validation: where it was, what it held, and why."""

    row_key: str | None
    raw_values: Any
    reason: Reason
    detail: str


class DailyBar(NamedTuple):
    """One session of one symbol as traded; adjusted fields only from _ADJUSTED."""

    trade_date: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    adjusted_close: Decimal | None = None
    dividend_amount: Decimal | None = None
    split_coefficient: Decimal | None = None


class SplitRow(NamedTuple):
    """A split effective on a date (2 means 2:1; 0.1 a 1:10 reverse split)."""

    effective_date: date
    split_factor: Decimal


class DividendRow(NamedTuple):
    """A cash dividend; the dates other than the ex-date may be unknown."""

    ex_dividend_date: date
    amount: Decimal
    declaration_date: date | None = None
    record_date: date | None = None
    payment_date: date | None = None


class ListingRow(NamedTuple):
    """One LISTING_STATUS line."""

    symbol: str
    name: str | None
    exchange: str | None
    asset_type: str | None
    ipo_date: date | None
    delisting_date: date | None
    status: str | None


class OverviewRow(NamedTuple):
    """The identity fields of an OVERVIEW answer."""

    symbol: str
    name: str | None
    exchange: str | None
    asset_type: str | None
    currency: str | None
    country: str | None
    sector: str | None
    industry: str | None


@dataclass(frozen=True)
class DailySeries:
    """A parsed TIME_SERIES_DAILY(_ADJUSTED) answer, in ascending date order.

    ``fields`` holds each valid session as the API spelled it, one string per
    ``DailyBar`` field (date, open, high, low, close, volume, and for _ADJUSTED
    adjusted close, dividend amount, split coefficient): every value has passed
    the checks as a ``Decimal`` (volume as an int), and is plain ASCII decimal
    text that Postgres reads as the same number, so a loader can COPY it as it
    is. ``bars`` gives the same sessions as typed rows.
    """

    symbol: str
    is_adjusted: bool
    last_refreshed: date
    fields: list[tuple[str, ...]]
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def bars(self) -> list[DailyBar]:
        """The valid sessions as typed rows (Decimal prices, int volume)."""
        return [_bar_of(values) for values in self.fields]

    @property
    def first_date(self) -> date | None:
        """The first valid session, or None when there is none."""
        return date.fromisoformat(self.fields[0][0]) if self.fields else None

    @property
    def last_date(self) -> date | None:
        """The last valid session, or None when there is none."""
        return date.fromisoformat(self.fields[-1][0]) if self.fields else None

    @property
    def rows_parsed(self) -> int:
        """Every entry of the series, valid or not."""
        return len(self.fields) + len(self.rejected)


def _bar_of(values: tuple[str, ...]) -> DailyBar:
    day, op, hi, lo, cl, volume, *adjusted = values
    return DailyBar(
        date.fromisoformat(day),
        Decimal(op),
        Decimal(hi),
        Decimal(lo),
        Decimal(cl),
        int(volume),
        *(Decimal(value) for value in adjusted),
    )


@dataclass(frozen=True)
class Splits:
    """A parsed SPLITS answer."""

    symbol: str
    rows: list[SplitRow]
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_parsed(self) -> int:
        """Every entry of ``data``, valid or not."""
        return len(self.rows) + len(self.rejected)


@dataclass(frozen=True)
class Dividends:
    """A parsed DIVIDENDS answer."""

    symbol: str
    rows: list[DividendRow]
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_parsed(self) -> int:
        """Every entry of ``data``, valid or not."""
        return len(self.rows) + len(self.rejected)


@dataclass(frozen=True)
class Listing:
    """A parsed LISTING_STATUS answer."""

    rows: list[ListingRow]
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_parsed(self) -> int:
        """Every line after the header, valid or not."""
        return len(self.rows) + len(self.rejected)


@dataclass(frozen=True)
class Overview:
    """A parsed OVERVIEW answer."""

    row: OverviewRow

    @property
    def rows_parsed(self) -> int:
        """An overview is one row."""
        return 1


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


# -- shared helpers -----------------------------------------------------------


def _load_json(body: bytes, object_key: str) -> dict[str, Any]:
    """Parse a JSON body and refuse what is not a data document."""
    if b"\\u0000" in body and _JSON_NUL.search(body):
        raise LoadError(f"{object_key}: {_NUL_REFUSAL}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise LoadError(
            f"{object_key}: not data: the body is not JSON ({exc})"
        ) from None
    if not isinstance(document, dict):
        raise LoadError(f"{object_key}: not data: the body is not a JSON object")
    for notice in _NOTICE_KEYS:
        if notice in document:
            # Never the notice's text: some wordings echo the API key.
            raise LoadError(f"{object_key}: not data: an {notice!r} answer")
    if not document:
        raise LoadError(f"{object_key}: not data: an empty answer ({{}})")
    return document


def _check_symbol(named: object, expected: str, object_key: str) -> None:
    """Refuse an answer about another symbol than the one the key names."""
    try:
        symbol = normalize_symbol(named)
    except InvalidSymbol:
        symbol = None
    if symbol != expected:
        raise LoadError(
            f"{object_key}: the answer names symbol {named!r}, the key names {expected}"
        )


def _is_iso_date(text: object) -> bool:
    """Whether ``text`` is spelled YYYY-MM-DD (not yet whether the day exists)."""
    return (
        type(text) is str
        and len(text) == 10
        and text[4] == "-"
        and text[7] == "-"
        and text[:4].isdigit()
        and text[5:7].isdigit()
        and text[8:].isdigit()
    )


def _to_date(text: object) -> date | None:
    """Return the day ``text`` names as YYYY-MM-DD, or None when it names none."""
    if not _is_iso_date(text):
        return None
    assert isinstance(text, str)
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _to_decimal(value: object) -> Decimal | None:
    """Return the finite Decimal a JSON string spells, or None (floats refused)."""
    if type(value) is not str:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _to_volume(value: object) -> int | None:
    """Return the integer a JSON string spells, or None."""
    if type(value) is not str:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _MISSING_TEXT else text


def _reject_duplicates(
    pairs: Sequence[tuple[str, Any]], reason: Reason, what: str
) -> tuple[list[tuple[str, Any]], list[RejectedRow]]:
    """Split ``pairs`` into the ones whose key is unique and rejections of the rest."""
    counts = Counter(key for key, _ in pairs)
    kept: list[tuple[str, Any]] = []
    rejected: list[RejectedRow] = []
    for key, value in pairs:
        if counts[key] > 1:
            rejected.append(
                RejectedRow(
                    key,
                    value,
                    reason,
                    f"{what} {key} appears {counts[key]} times in the object",
                )
            )
        else:
            kept.append((key, value))
    return kept, rejected


# -- daily series -------------------------------------------------------------


def parse_daily_series(
    body: bytes, *, object_key: str, symbol: str, is_adjusted: bool
) -> DailySeries:
    """Parse and validate a TIME_SERIES_DAILY or TIME_SERIES_DAILY_ADJUSTED answer.

    A bar is kept when: its date is a real YYYY-MM-DD day not after the answer's
    "3. Last Refreshed" date; every field is a string spelling a finite number
    (volume an integer) that fits its column; all prices are positive; volume is
    not negative; low <= open, close <= high. With ``is_adjusted`` the adjusted
    close must be positive, the dividend amount not negative and the split
    coefficient positive. Anything else is a ``RejectedRow``.

    Args:
        body: the JSON bytes as sent.
        object_key: the lake key, quoted in errors.
        symbol: the symbol the key names; the answer must name the same.
        is_adjusted: whether the answer is TIME_SERIES_DAILY_ADJUSTED.

    Returns:
        The valid bars in ascending date order, and the rejected rows.

    Raises:
        LoadError: the body is not a daily series of ``symbol`` (a notice, an
            error, no "Time Series (Daily)", no usable "Meta Data").
    """
    document = _load_json(body, object_key)
    meta = document.get(META_KEY)
    series = document.get(SERIES_KEY)
    if not isinstance(meta, dict) or not isinstance(series, dict):
        raise LoadError(
            f"{object_key}: not data: no {META_KEY!r} and {SERIES_KEY!r} objects "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    _check_symbol(meta.get("2. Symbol"), symbol, object_key)
    refreshed = meta.get("3. Last Refreshed")
    last_refreshed = _to_date(refreshed[:10]) if isinstance(refreshed, str) else None
    if last_refreshed is None:
        raise LoadError(
            f"{object_key}: not data: '3. Last Refreshed' is {refreshed!r}, not a date"
        )
    last_day = last_refreshed.isoformat()

    pairs: Iterable[tuple[str, Any]]
    rejected: list[RejectedRow] = []
    # One ":" per key the parsed document holds (and those in Meta Data's texts):
    # a higher count means a dropped copy of a repeated key (or an odd body), so
    # read every pair instead. (Counting "{" missed a repeated date when a copy
    # was not an object.)
    if body.count(b":") == _colons_of(document, meta, series):
        pairs = series.items()
    else:
        pairs, rejected = _reject_duplicates(
            _series_pairs(body, object_key), Reason.DUPLICATE_DATE, "date"
        )
    fields = (
        _adjusted_fields(pairs, last_day, rejected)
        if is_adjusted
        else _plain_fields(pairs, last_day, rejected)
    )
    fields.reverse()  # the API sends newest first
    if any(fields[i][0] >= fields[i + 1][0] for i in range(len(fields) - 1)):
        fields.sort()
    return DailySeries(symbol, is_adjusted, last_refreshed, fields, rejected)


def _colons_of(
    document: dict[str, Any], meta: dict[str, Any], series: dict[str, Any]
) -> int:
    """How many ``:`` a body parsed into ``document`` holds when no key repeats
    and no text but Meta Data's holds one."""
    return (
        len(document)
        + len(meta)
        + sum(value.count(":") for value in meta.values() if type(value) is str)
        + len(series)
        + sum(len(entry) for entry in series.values() if type(entry) is dict)
    )


def _series_pairs(body: bytes, object_key: str) -> list[tuple[str, Any]]:
    """Return the series' (date, entry) pairs, repeated dates included."""

    def keep_pairs(pairs: list[tuple[str, Any]]) -> Any:
        return _Pairs(pairs)

    try:
        document = json.loads(body, object_pairs_hook=keep_pairs)
    except ValueError as exc:  # orjson accepted it; be as clear if json does not
        raise LoadError(
            f"{object_key}: not data: the body is not JSON ({exc})"
        ) from None
    found = [value for key, value in document if key == SERIES_KEY]
    series = found[-1] if found else _Pairs([])
    return [(key, _plain(value)) for key, value in series]


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as read by the duplicate-keeping parser."""


def _plain(value: Any) -> Any:
    """Turn ``_Pairs`` back into dicts (for an entry's own fields)."""
    if isinstance(value, _Pairs):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _is_plain(text: str) -> bool:
    """Whether accepted number text is also plain for Postgres and for COPY.

    ``Decimal`` and ``int`` also accept non-ASCII digits, ``_`` separators and
    surrounding whitespace; such values are written in canonical form instead.
    """
    return text.isascii() and text.isprintable() and " " not in text and "_" not in text


def _plain_fields(
    pairs: Iterable[tuple[str, Any]], last_day: str, rejected: list[RejectedRow]
) -> list[tuple[str, ...]]:
    """The hot loop for TIME_SERIES_DAILY: fast checks, exact diagnosis on doubt.

    The shortcut accepts exactly what ``check_daily_entry`` accepts (a test holds
    them to it); anything it doubts goes to ``check_daily_entry`` for the verdict
    and the reason.
    """
    fields: list[tuple[str, ...]] = []
    append = fields.append
    to_date = date.fromisoformat
    dec = Decimal
    min_price, max_price, max_volume = _MIN_PRICE, _MAX_PRICE, _MAX_VOLUME
    k_open, k_high, k_low, k_close, k_volume = _DAILY_FIELDS
    for day, entry in pairs:
        try:
            o, h, lo_text, c, v = (
                entry[k_open],
                entry[k_high],
                entry[k_low],
                entry[k_close],
                entry[k_volume],
            )
            if (
                type(o) is type(h) is type(lo_text) is type(c) is type(v) is str
                and len(day) == 10
                and day[4] == day[7] == "-"
                and day <= last_day
            ):
                op, hi, lo, cl = dec(o), dec(h), dec(lo_text), dec(c)
                volume = int(v)
                if (
                    min_price <= lo <= op <= hi < max_price
                    and lo <= cl <= hi
                    and 0 <= volume <= max_volume
                ):
                    to_date(day)  # a real day (raises ValueError otherwise)
                    text = o + h + lo_text + c + v
                    if (  # _is_plain, inlined: this loop runs for every row
                        text.isascii()
                        and text.isprintable()
                        and " " not in text
                        and "_" not in text
                    ):
                        append((day, o, h, lo_text, c, v))
                    else:
                        append((day, str(op), str(hi), str(lo), str(cl), str(volume)))
                    continue
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass
        bar, reason = check_daily_entry(day, entry, last_day, is_adjusted=False)
        if bar is not None:
            append(_fields_of(bar))
        else:
            assert reason is not None
            rejected.append(reason)
    return fields


def _fields_of(bar: DailyBar) -> tuple[str, ...]:
    """A valid bar as canonical text, one string per field."""
    values = [bar.trade_date.isoformat(), *(str(value) for value in bar[1:6])]
    if bar.adjusted_close is not None:
        values.extend(str(value) for value in bar[6:])
    return tuple(values)


def _adjusted_fields(
    pairs: Iterable[tuple[str, Any]], last_day: str, rejected: list[RejectedRow]
) -> list[tuple[str, ...]]:
    """The hot loop for TIME_SERIES_DAILY_ADJUSTED; as ``_plain_fields``, plus the
    adjusted close, dividend amount and split coefficient."""
    fields: list[tuple[str, ...]] = []
    append = fields.append
    to_date = date.fromisoformat
    dec = Decimal
    min_price, max_price, max_volume = _MIN_PRICE, _MAX_PRICE, _MAX_VOLUME
    max_adjusted, min_factor, max_factor = _MAX_ADJUSTED, _MIN_FACTOR, _MAX_FACTOR
    k_open, k_high, k_low, k_close, k_adjusted, k_volume, k_dividend, k_split = (
        _ADJUSTED_FIELDS
    )
    for day, entry in pairs:
        try:
            o, h, lo_text, c, a, v, d, sp = (
                entry[k_open],
                entry[k_high],
                entry[k_low],
                entry[k_close],
                entry[k_adjusted],
                entry[k_volume],
                entry[k_dividend],
                entry[k_split],
            )
            if (
                type(o) is type(h) is type(lo_text) is type(c) is str
                and type(a) is type(v) is type(d) is type(sp) is str
                and len(day) == 10
                and day[4] == day[7] == "-"
                and day <= last_day
            ):
                op, hi, lo, cl = dec(o), dec(h), dec(lo_text), dec(c)
                adjusted, dividend, split = dec(a), dec(d), dec(sp)
                volume = int(v)
                if (
                    min_price <= lo <= op <= hi < max_price
                    and lo <= cl <= hi
                    and 0 <= volume <= max_volume
                    and min_price <= adjusted < max_adjusted
                    and 0 <= dividend < max_factor
                    and min_factor <= split < max_factor
                ):
                    to_date(day)  # a real day (raises ValueError otherwise)
                    if _is_plain(o + h + lo_text + c + a + v + d + sp):
                        append((day, o, h, lo_text, c, v, a, d, sp))
                    else:
                        append(
                            _fields_of(
                                DailyBar(
                                    to_date(day),
                                    op,
                                    hi,
                                    lo,
                                    cl,
                                    volume,
                                    adjusted,
                                    dividend,
                                    split,
                                )
                            )
                        )
                    continue
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass
        bar, reason = check_daily_entry(day, entry, last_day, is_adjusted=True)
        if bar is not None:
            append(_fields_of(bar))
        else:
            assert reason is not None
            rejected.append(reason)
    return fields


def check_daily_entry(
    day: str, entry: Any, last_day: str, *, is_adjusted: bool
) -> tuple[DailyBar | None, RejectedRow | None]:
    """Validate one series entry: the rules of ``parse_daily_series``, in order.

    The first rule broken names the reason: date, missing field, not numeric,
    after "Last Refreshed", non-positive price, negative volume (or amount, or
    non-positive split coefficient), out of range, high below low, open or close
    outside [low, high].

    Args:
        day: the entry's key (the session date as sent).
        entry: the entry's value as parsed.
        last_day: the answer's "Last Refreshed" date, YYYY-MM-DD.
        is_adjusted: whether the entry has the _ADJUSTED fields.

    Returns:
        ``(bar, None)`` for a valid entry, ``(None, rejected_row)`` otherwise.
    """

    def reject(reason: Reason, detail: str) -> tuple[None, RejectedRow]:
        return None, RejectedRow(day, entry, reason, detail)

    trade_date = _to_date(day)
    if trade_date is None:
        return reject(Reason.BAD_DATE, f"{day!r} is not a YYYY-MM-DD date")
    names = _ADJUSTED_FIELDS if is_adjusted else _DAILY_FIELDS
    if not isinstance(entry, dict):
        return reject(Reason.MISSING_FIELD, "the entry is not an object")
    missing = [name for name in names if name not in entry]
    if missing:
        return reject(Reason.MISSING_FIELD, f"no {', '.join(repr(m) for m in missing)}")
    numbers: dict[str, Decimal] = {}
    for name in names:
        raw = entry[name]
        if name.endswith("volume"):
            volume_value = _to_volume(raw)
            if volume_value is None:
                return reject(
                    Reason.NOT_NUMERIC, f"{name!r} is {raw!r}, not an integer"
                )
            continue
        number = _to_decimal(raw)
        if number is None:
            return reject(Reason.NOT_NUMERIC, f"{name!r} is {raw!r}, not a number")
        numbers[name] = number
    volume = _to_volume(entry["6. volume" if is_adjusted else "5. volume"])
    assert volume is not None
    if day > last_day:
        return reject(
            Reason.AFTER_LAST_REFRESHED,
            f"{day} is after the answer's Last Refreshed date {last_day}",
        )
    op, hi = numbers["1. open"], numbers["2. high"]
    lo, cl = numbers["3. low"], numbers["4. close"]
    prices = {"open": op, "high": hi, "low": lo, "close": cl}
    if is_adjusted:
        prices["adjusted close"] = numbers["5. adjusted close"]
    for name, price in prices.items():
        if price < _MIN_PRICE:
            return reject(Reason.NON_POSITIVE_PRICE, f"{name} is {price}")
    if volume < 0:
        return reject(Reason.NEGATIVE_VOLUME, f"volume is {volume}")
    dividend = split = None
    if is_adjusted:
        dividend = numbers["7. dividend amount"]
        split = numbers["8. split coefficient"]
        if dividend < 0:
            return reject(Reason.NEGATIVE_AMOUNT, f"dividend amount is {dividend}")
        if split < _MIN_FACTOR:
            return reject(Reason.NON_POSITIVE_FACTOR, f"split coefficient is {split}")
    for name, price in prices.items():
        limit = _MAX_ADJUSTED if name == "adjusted close" else _MAX_PRICE
        if price >= limit:
            return reject(Reason.OUT_OF_RANGE, f"{name} {price} does not fit")
    if volume > _MAX_VOLUME:
        return reject(Reason.OUT_OF_RANGE, f"volume {volume} does not fit a bigint")
    if dividend is not None and dividend >= _MAX_FACTOR:
        return reject(Reason.OUT_OF_RANGE, f"dividend amount {dividend} does not fit")
    if split is not None and split >= _MAX_FACTOR:
        return reject(Reason.OUT_OF_RANGE, f"split coefficient {split} does not fit")
    if hi < lo:
        return reject(Reason.HIGH_BELOW_LOW, f"high {hi} is below low {lo}")
    for name, price in (("open", op), ("close", cl)):
        if not lo <= price <= hi:
            return reject(
                Reason.OHLC_INCONSISTENT, f"{name} {price} is outside [{lo}, {hi}]"
            )
    if is_adjusted:
        return (
            DailyBar(
                trade_date,
                op,
                hi,
                lo,
                cl,
                volume,
                numbers["5. adjusted close"],
                dividend,
                split,
            ),
            None,
        )
    return DailyBar(trade_date, op, hi, lo, cl, volume), None


# -- corporate actions ----------------------------------------------------------


class _Problem(NamedTuple):
    """Why an entry is rejected."""

    reason: Reason
    detail: str


_Row = TypeVar("_Row", SplitRow, DividendRow)


def _dated_entries(
    body: bytes,
    object_key: str,
    symbol: str,
    what: str,
    value_field: str,
    build: Callable[[dict[str, Any], date, Decimal], _Row | _Problem],
) -> tuple[list[_Row], list[RejectedRow]]:
    """Parse the ``data`` list of a SPLITS or DIVIDENDS answer.

    An entry reaches ``build`` when its date field appears once in the answer and
    is a real day, and its ``value_field`` is a number that fits numeric(18, 6):
    positive for a split factor, not negative for a dividend amount. ``build``
    returns its row or the reason to reject it. Rejections keep the answer's order.

    Returns:
        The rows, sorted, and the rejected entries.

    Raises:
        LoadError: the body is not a ``what`` answer about ``symbol``.
    """
    document = _load_json(body, object_key)
    data = document.get("data")
    if not isinstance(data, list):
        raise LoadError(
            f"{object_key}: not data: no 'data' list in a {what} answer "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    _check_symbol(document.get("symbol"), symbol, object_key)
    date_field = "effective_date" if what == SPLITS else "ex_dividend_date"
    unique, rejected = _reject_duplicates(
        [
            (str(entry.get(date_field) if isinstance(entry, dict) else None), entry)
            for entry in data
        ],
        Reason.DUPLICATE_DATE,
        "date",
    )
    rows: list[_Row] = []
    for key, entry in unique:
        row_key = key if key != "None" else None
        if not isinstance(entry, dict) or value_field not in entry:
            problem = _Problem(Reason.MISSING_FIELD, f"no {value_field!r}")
        elif _text_or_none(raw_day := entry.get(date_field)) is None:
            problem = _Problem(Reason.MISSING_DATE, f"{date_field} is unknown")
        elif (day := _to_date(raw_day)) is None:
            problem = _Problem(
                Reason.BAD_DATE, f"{date_field} {raw_day!r} is not a date"
            )
        else:
            raw_value = entry[value_field]
            value = _to_decimal(raw_value)
            built: _Row | _Problem | None = _number_problem(
                value, raw_value, value_field, zero_allowed=what == DIVIDENDS
            )
            if built is None:
                assert value is not None
                built = build(entry, day, value)
            if not isinstance(built, _Problem):
                rows.append(built)
                continue
            problem = built
        rejected.append(RejectedRow(row_key, entry, *problem))
    rows.sort()
    return rows, rejected


def _number_problem(
    number: Decimal | None, raw: object, name: str, *, zero_allowed: bool
) -> _Problem | None:
    """Say why ``number`` (parsed from ``raw``) is not a factor or an amount."""
    if number is None:
        return _Problem(Reason.NOT_NUMERIC, f"{name} is {raw!r}, not a number")
    if zero_allowed and number < 0:
        return _Problem(Reason.NEGATIVE_AMOUNT, f"{name} is {number}")
    if not zero_allowed and number < _MIN_FACTOR:
        return _Problem(Reason.NON_POSITIVE_FACTOR, f"{name} is {number}")
    if number >= _MAX_FACTOR:
        return _Problem(Reason.OUT_OF_RANGE, f"{name} {number} does not fit")
    return None


def parse_splits(body: bytes, *, object_key: str, symbol: str) -> Splits:
    """Parse and validate a SPLITS answer.

    A split is kept when its ``effective_date`` is a real day that appears once in
    the answer and its ``split_factor`` is a positive number that fits
    numeric(18, 6).

    Args:
        body: the JSON bytes as sent.
        object_key: the lake key, quoted in errors.
        symbol: the symbol the key names; the answer must name the same.

    Returns:
        The valid splits and the rejected rows.

    Raises:
        LoadError: the body is not a SPLITS answer about ``symbol``.
    """

    def build(entry: dict[str, Any], day: date, factor: Decimal) -> SplitRow:
        return SplitRow(day, factor)

    rows, rejected = _dated_entries(
        body, object_key, symbol, SPLITS, "split_factor", build
    )
    return Splits(symbol, rows, rejected)


def parse_dividends(body: bytes, *, object_key: str, symbol: str) -> Dividends:
    """Parse and validate a DIVIDENDS answer.

    A dividend is kept when its ``ex_dividend_date`` is a real day that appears
    once in the answer, its ``amount`` is a number that is not negative and fits
    numeric(18, 6), and each other date is a real day or the API's ``"None"``.

    Args:
        body: the JSON bytes as sent.
        object_key: the lake key, quoted in errors.
        symbol: the symbol the key names; the answer must name the same.

    Returns:
        The valid dividends and the rejected rows.

    Raises:
        LoadError: the body is not a DIVIDENDS answer about ``symbol``.
    """

    def build(
        entry: dict[str, Any], ex_date: date, amount: Decimal
    ) -> DividendRow | _Problem:
        others: list[date | None] = []
        for name in ("declaration_date", "record_date", "payment_date"):
            raw_day = entry.get(name)
            other = _to_date(raw_day)
            if other is None and _text_or_none(raw_day) is not None:
                return _Problem(Reason.BAD_DATE, f"{name} {raw_day!r} is not a date")
            others.append(other)
        return DividendRow(ex_date, amount, *others)

    rows, rejected = _dated_entries(
        body, object_key, symbol, DIVIDENDS, "amount", build
    )
    return Dividends(symbol, rows, rejected)


# -- the universe -----------------------------------------------------------------


def parse_listing_status(body: bytes, *, object_key: str) -> Listing:
    """Parse and validate a LISTING_STATUS CSV answer.

    A line is kept when it has the header's seven fields, its symbol follows the
    symbol rule and appears once in the answer, and its dates are real days or
    ``null``.

    Args:
        body: the CSV bytes as sent (CRLF line ends, header first).
        object_key: the lake key, quoted in errors.

    Returns:
        The valid lines and the rejected ones.

    Raises:
        LoadError: the body is not LISTING_STATUS CSV (a JSON notice or error, an
            unexpected header, bytes that are not UTF-8).
    """
    if body.lstrip()[:1] == b"{":
        _load_json(body, object_key)  # raises for a notice or an error
        raise LoadError(
            f"{object_key}: not data: JSON where LISTING_STATUS CSV was due"
        )
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"{object_key}: not data: the body is not UTF-8 ({exc})"
        ) from None
    if "\x00" in text:
        raise LoadError(f"{object_key}: {_NUL_REFUSAL}")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines or tuple(lines[0]) != LISTING_HEADER:
        header = ",".join(lines[0]) if lines else ""
        raise LoadError(
            f"{object_key}: not data: the header is {header[:80]!r}, "
            f"not {','.join(LISTING_HEADER)!r}"
        )
    records = [line for line in lines[1:] if line]
    keyed = [(_listing_key(line), line) for line in records]
    unique, rejected = _reject_duplicates(keyed, Reason.DUPLICATE_SYMBOL, "symbol")
    for index, row in enumerate(rejected):
        rejected[index] = row._replace(raw_values=_listing_values(row.raw_values))
    rows: list[ListingRow] = []
    for key, line in unique:
        values = _listing_values(line)
        if len(line) != len(LISTING_HEADER):
            rejected.append(
                RejectedRow(
                    key or None,
                    values,
                    Reason.MISSING_FIELD,
                    f"{len(line)} fields, not {len(LISTING_HEADER)}",
                )
            )
            continue
        try:
            symbol = normalize_symbol(key)
        except InvalidSymbol as exc:
            rejected.append(
                RejectedRow(key or None, values, Reason.INVALID_SYMBOL, str(exc))
            )
            continue
        dates: list[date | None] = []
        for name, raw in (("ipoDate", line[4]), ("delistingDate", line[5])):
            day = None if _text_or_none(raw) is None else _to_date(raw.strip())
            if day is None and _text_or_none(raw) is not None:
                rejected.append(
                    RejectedRow(
                        key, values, Reason.BAD_DATE, f"{name} {raw!r} is not a date"
                    )
                )
                break
            dates.append(day)
        else:
            rows.append(
                ListingRow(
                    symbol,
                    _text_or_none(line[1]),
                    _text_or_none(line[2]),
                    _text_or_none(line[3]),
                    dates[0],
                    dates[1],
                    _text_or_none(line[6]),
                )
            )
    return Listing(rows, rejected)


def _listing_key(line: Sequence[str]) -> str:
    """A line's symbol as the warehouse keys it ("ko" and " KO" are one symbol),
    or its text as written when it is no symbol."""
    text = line[0].strip() if line else ""
    try:
        return normalize_symbol(text)
    except InvalidSymbol:
        return text


def _listing_values(line: Sequence[str]) -> dict[str, str]:
    """A CSV line as a JSON-able mapping, header names as keys."""
    values = dict(zip(LISTING_HEADER, line, strict=False))
    if len(line) > len(LISTING_HEADER):
        values["extra"] = ",".join(line[len(LISTING_HEADER) :])
    return values


def parse_overview(body: bytes, *, object_key: str, symbol: str) -> Overview:
    """Parse an OVERVIEW answer into the identity fields ``raw.symbols`` keeps.

    ``"None"``, ``"-"`` and empty values become None.

    Args:
        body: the JSON bytes as sent.
        object_key: the lake key, quoted in errors.
        symbol: the symbol the key names; the answer must name the same.

    Returns:
        The overview row.

    Raises:
        LoadError: the body is not an OVERVIEW of ``symbol`` (``{}`` for an
            unknown symbol, a notice, an error, no ``Symbol``).
    """
    document = _load_json(body, object_key)
    if "Symbol" not in document:
        raise LoadError(
            f"{object_key}: not data: no 'Symbol' in an OVERVIEW answer "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    _check_symbol(document["Symbol"], symbol, object_key)
    for name in _OVERVIEW_FIELDS:
        value = document.get(name)
        if value is not None and type(value) is not str:
            raise LoadError(
                f"{object_key}: not data: OVERVIEW {name!r} is a JSON "
                f"{type(value).__name__}, not text"
            )
    values = [_text_or_none(document.get(name)) for name in _OVERVIEW_FIELDS]
    return Overview(OverviewRow(symbol, *values))
