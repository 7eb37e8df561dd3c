"""
TIME_SERIES_DAILY and TIME_SERIES_DAILY_ADJUSTED answers into validated sessions.

Both formats are described by one table (``SeriesFormat``): the entry's fields in
the order the warehouse columns take them, each with its kind, and each kind with
the bounds its column holds. One fast loop accepts the rows that pass every rule
(the common case: millions of rows in a full load), and ``check_daily_entry``
applies the same rules one by one to name the first one a doubtful row breaks.
A test holds the two to the same verdicts.

Duplicate dates: JSON objects keep only the last value of a repeated key once
parsed, which would hide a date sent twice. The parser therefore counts the ``:``
in the body (one per key at any level, plus those inside the texts of ``Meta
Data``); when the count is not the parsed document's, a pair was dropped (or a
text holds a colon), so the body is parsed again keeping every pair, and every
copy of a repeated date is quarantined (which copy is right cannot be known).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from operator import itemgetter
from typing import Any, NamedTuple

from stocks_elt.alpha_vantage.parse.common import (
    MAX_ADJUSTED,
    MAX_FACTOR,
    MAX_PRICE,
    MAX_VOLUME,
    MIN_FACTOR,
    MIN_PRICE,
    Reason,
    RejectedRow,
    check_symbol,
    load_json,
    reject_duplicates,
    to_date,
    to_decimal,
    to_volume,
)
from stocks_elt.errors import LoadError

SERIES_KEY = "Time Series (Daily)"
META_KEY = "Meta Data"


class Kind(Enum):
    """What a field holds, and so the rules its value follows."""

    PRICE = "price"  # positive, fits numeric(18, 4)
    ADJUSTED = "adjusted"  # positive, fits numeric(28, 12)
    VOLUME = "volume"  # an integer, not negative, fits a bigint
    AMOUNT = "amount"  # not negative, fits numeric(18, 6)
    FACTOR = "factor"  # positive, fits numeric(18, 6)


#: The order the range rules are checked in (the first one broken is reported).
_RANGE_ORDER = (Kind.PRICE, Kind.ADJUSTED, Kind.VOLUME, Kind.AMOUNT, Kind.FACTOR)
#: The values each kind's column holds: low (included), high (excluded).
BOUNDS: dict[Kind, tuple[Decimal | int, Decimal | int]] = {
    Kind.PRICE: (MIN_PRICE, MAX_PRICE),
    Kind.ADJUSTED: (MIN_PRICE, MAX_ADJUSTED),
    Kind.VOLUME: (0, MAX_VOLUME + 1),
    Kind.AMOUNT: (Decimal(0), MAX_FACTOR),
    Kind.FACTOR: (MIN_FACTOR, MAX_FACTOR),
}


class Field(NamedTuple):
    """One field of a series entry: its key in the answer, what it names."""

    key: str
    name: str
    kind: Kind


@dataclass(frozen=True)
class SeriesFormat:
    """The fields of one daily format, in the order the warehouse columns take
    them: open, high, low, close, volume, then the format's extras."""

    function: str
    fields: tuple[Field, ...]

    @property
    def extras(self) -> tuple[Field, ...]:
        """The fields after the five every format has."""
        return self.fields[5:]

    @property
    def answer_order(self) -> tuple[Field, ...]:
        """The fields in the order the answer lists them (by their number)."""
        return tuple(sorted(self.fields, key=lambda f: int(f.key.split(".")[0])))


_OHLCV = (
    Field("1. open", "open", Kind.PRICE),
    Field("2. high", "high", Kind.PRICE),
    Field("3. low", "low", Kind.PRICE),
    Field("4. close", "close", Kind.PRICE),
)
DAILY_FORMAT = SeriesFormat(
    "TIME_SERIES_DAILY", (*_OHLCV, Field("5. volume", "volume", Kind.VOLUME))
)
ADJUSTED_FORMAT = SeriesFormat(
    "TIME_SERIES_DAILY_ADJUSTED",
    (
        *_OHLCV,
        Field("6. volume", "volume", Kind.VOLUME),
        Field("5. adjusted close", "adjusted close", Kind.ADJUSTED),
        Field("7. dividend amount", "dividend amount", Kind.AMOUNT),
        Field("8. split coefficient", "split coefficient", Kind.FACTOR),
    ),
)


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
    day, op, hi, lo, cl, volume, *extras = values
    return DailyBar(
        date.fromisoformat(day),
        Decimal(op),
        Decimal(hi),
        Decimal(lo),
        Decimal(cl),
        int(volume),
        *(Decimal(value) for value in extras),
    )


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
    document = load_json(body, object_key)
    meta = document.get(META_KEY)
    series = document.get(SERIES_KEY)
    if not isinstance(meta, dict) or not isinstance(series, dict):
        raise LoadError(
            f"{object_key}: not data: no {META_KEY!r} and {SERIES_KEY!r} objects "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    check_symbol(meta.get("2. Symbol"), symbol, object_key)
    refreshed = meta.get("3. Last Refreshed")
    last_refreshed = to_date(refreshed[:10]) if isinstance(refreshed, str) else None
    if last_refreshed is None:
        raise LoadError(
            f"{object_key}: not data: '3. Last Refreshed' is {refreshed!r}, not a date"
        )
    pairs: Iterable[tuple[str, Any]]
    rejected: list[RejectedRow] = []
    # One ":" per key the parsed document holds (and those in Meta Data's texts):
    # a higher count means a dropped copy of a repeated key (or an odd body), so
    # read every pair instead. (Counting "{" missed a repeated date when a copy
    # was not an object.)
    if body.count(b":") == _colons_of(document, meta, series):
        pairs = series.items()
    else:
        pairs, rejected = reject_duplicates(
            _series_pairs(body, object_key), Reason.DUPLICATE_DATE, "date"
        )
    fmt = ADJUSTED_FORMAT if is_adjusted else DAILY_FORMAT
    fields = _valid_fields(pairs, fmt, last_refreshed.isoformat(), rejected)
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


def _valid_fields(
    pairs: Iterable[tuple[str, Any]],
    fmt: SeriesFormat,
    last_day: str,
    rejected: list[RejectedRow],
) -> list[tuple[str, ...]]:
    """The hot loop: fast checks of every rule, exact diagnosis on doubt.

    A row that passes every rule here is kept as the API spelled it; anything the
    shortcut doubts goes to ``check_daily_entry`` for the verdict and the reason.

    The shortcut compares floats, not Decimals (several times faster). Rounding
    decimal text to the nearest float keeps order (a < b gives float(a) <=
    float(b)), so a strict float inequality is exact; an equality is trusted only
    between identical texts (or confirmed with Decimal at a bound), since two
    different numbers of many digits can round to one float.
    """
    fields: list[tuple[str, ...]] = []
    append = fields.append
    to_day = date.fromisoformat
    dec = Decimal
    flt = float
    get = itemgetter(*(f.key for f in fmt.fields))
    min_price, max_price = (float(bound) for bound in BOUNDS[Kind.PRICE])
    max_volume = MAX_VOLUME
    extra_bounds = tuple(
        (BOUNDS[f.kind][0], float(BOUNDS[f.kind][0]), float(BOUNDS[f.kind][1]))
        for f in fmt.extras
    )
    is_adjusted = fmt is ADJUSTED_FORMAT
    for day, entry in pairs:
        try:
            texts: tuple[str, ...] = get(entry)
            # join refuses anything but strings (a JSON number is never a price)
            # and gives the text the plain-text check looks at.
            joined = "".join(texts)
            if len(day) == 10 and day[4] == day[7] == "-" and day <= last_day:
                op_t, hi_t, lo_t, cl_t = texts[0], texts[1], texts[2], texts[3]
                op, hi, lo, cl = flt(op_t), flt(hi_t), flt(lo_t), flt(cl_t)
                volume = int(texts[4])
                if (
                    min_price < lo <= op <= hi < max_price
                    and lo <= cl <= hi
                    and 0 <= volume <= max_volume
                    and (lo != op or lo_t == op_t)
                    and (op != hi or op_t == hi_t)
                    and (lo != cl or lo_t == cl_t)
                    and (cl != hi or cl_t == hi_t)
                ):
                    for text, (low, low_f, high_f) in zip(
                        texts[5:], extra_bounds, strict=True
                    ):
                        value = flt(text)
                        if not (
                            low_f < value < high_f
                            or (value == low_f and dec(text) >= low)
                        ):
                            break
                    else:
                        to_day(day)  # a real day (raises ValueError otherwise)
                        if (  # plain for Postgres and COPY, inlined: every row
                            joined.isascii()
                            and joined.isprintable()
                            and " " not in joined
                            and "_" not in joined
                        ):
                            append((day, *texts))
                        else:
                            canonical = [str(dec(text)) for text in texts]
                            canonical[4] = str(volume)
                            append((day, *canonical))
                        continue
        except (KeyError, TypeError, ValueError, ArithmeticError):
            pass
        bar, reason = check_daily_entry(day, entry, last_day, is_adjusted=is_adjusted)
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

    fmt = ADJUSTED_FORMAT if is_adjusted else DAILY_FORMAT
    trade_date = to_date(day)
    if trade_date is None:
        return reject(Reason.BAD_DATE, f"{day!r} is not a YYYY-MM-DD date")
    if not isinstance(entry, dict):
        return reject(Reason.MISSING_FIELD, "the entry is not an object")
    missing = [f.key for f in fmt.answer_order if f.key not in entry]
    if missing:
        return reject(Reason.MISSING_FIELD, f"no {', '.join(repr(m) for m in missing)}")
    values: dict[str, Decimal | int] = {}
    for f in fmt.answer_order:
        raw = entry[f.key]
        if f.kind is Kind.VOLUME:
            whole = to_volume(raw)
            if whole is None:
                return reject(
                    Reason.NOT_NUMERIC, f"{f.key!r} is {raw!r}, not an integer"
                )
            values[f.name] = whole
            continue
        number = to_decimal(raw)
        if number is None:
            return reject(Reason.NOT_NUMERIC, f"{f.key!r} is {raw!r}, not a number")
        values[f.name] = number
    if day > last_day:
        return reject(
            Reason.AFTER_LAST_REFRESHED,
            f"{day} is after the answer's Last Refreshed date {last_day}",
        )
    for f in fmt.fields:  # the sign rules, prices first
        if f.kind in (Kind.PRICE, Kind.ADJUSTED) and values[f.name] < MIN_PRICE:
            return reject(Reason.NON_POSITIVE_PRICE, f"{f.name} is {values[f.name]}")
    for f in fmt.fields:
        value = values[f.name]
        if f.kind is Kind.VOLUME and value < 0:
            return reject(Reason.NEGATIVE_VOLUME, f"volume is {value}")
        if f.kind is Kind.AMOUNT and value < 0:
            return reject(Reason.NEGATIVE_AMOUNT, f"{f.name} is {value}")
        if f.kind is Kind.FACTOR and value < MIN_FACTOR:
            return reject(Reason.NON_POSITIVE_FACTOR, f"{f.name} is {value}")
    for f in sorted(fmt.fields, key=lambda f: _RANGE_ORDER.index(f.kind)):
        value = values[f.name]  # then the ranges the columns hold, prices first
        if value >= BOUNDS[f.kind][1]:
            column = " a bigint" if f.kind is Kind.VOLUME else ""
            return reject(Reason.OUT_OF_RANGE, f"{f.name} {value} does not fit{column}")
    op, hi, lo, cl = (values[name] for name in ("open", "high", "low", "close"))
    if hi < lo:
        return reject(Reason.HIGH_BELOW_LOW, f"high {hi} is below low {lo}")
    for name, price in (("open", op), ("close", cl)):
        if not lo <= price <= hi:
            return reject(
                Reason.OHLC_INCONSISTENT, f"{name} {price} is outside [{lo}, {hi}]"
            )
    numbers = [values[f.name] for f in fmt.fields]
    return DailyBar(trade_date, *numbers), None  # type: ignore[arg-type]
