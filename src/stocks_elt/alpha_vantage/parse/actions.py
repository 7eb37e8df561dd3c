"""
SPLITS and DIVIDENDS answers into validated corporate actions.

Both are a ``data`` list of dated entries; one walk over it applies the shared
rules (a date that appears once and is a real day, a number that fits its
column) before each kind adds its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from stocks_elt.alpha_vantage.parse.common import (
    DIVIDENDS,
    MAX_FACTOR,
    MIN_FACTOR,
    SPLITS,
    Reason,
    RejectedRow,
    check_symbol,
    load_json,
    reject_duplicates,
    text_or_none,
    to_date,
    to_decimal,
)
from stocks_elt.errors import LoadError


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
    document = load_json(body, object_key)
    data = document.get("data")
    if not isinstance(data, list):
        raise LoadError(
            f"{object_key}: not data: no 'data' list in a {what} answer "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    check_symbol(document.get("symbol"), symbol, object_key)
    date_field = "effective_date" if what == SPLITS else "ex_dividend_date"
    unique, rejected = reject_duplicates(
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
        elif text_or_none(raw_day := entry.get(date_field)) is None:
            problem = _Problem(Reason.MISSING_DATE, f"{date_field} is unknown")
        elif (day := to_date(raw_day)) is None:
            problem = _Problem(
                Reason.BAD_DATE, f"{date_field} {raw_day!r} is not a date"
            )
        else:
            raw_value = entry[value_field]
            value = to_decimal(raw_value)
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
    if not zero_allowed and number < MIN_FACTOR:
        return _Problem(Reason.NON_POSITIVE_FACTOR, f"{name} is {number}")
    if number >= MAX_FACTOR:
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
            other = to_date(raw_day)
            if other is None and text_or_none(raw_day) is not None:
                return _Problem(Reason.BAD_DATE, f"{name} {raw_day!r} is not a date")
            others.append(other)
        return DividendRow(ex_date, amount, *others)

    rows, rejected = _dated_entries(
        body, object_key, symbol, DIVIDENDS, "amount", build
    )
    return Dividends(symbol, rows, rejected)
