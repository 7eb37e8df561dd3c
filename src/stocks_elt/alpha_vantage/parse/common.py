"""
What every parser shares: the functions the loader understands, why a row is
rejected, the bounds of the warehouse columns, and the small checks (JSON that is
data, the right symbol, dates, numbers, repeated keys).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from stocks_elt.errors import InvalidSymbol, LoadError
from stocks_elt.market.symbols import normalize_symbol

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

NOTICE_KEYS = ("Information", "Note", "Error Message")
#: OVERVIEW spells an unknown value "None", sometimes "-".
MISSING_TEXT = frozenset({"", "None", "-", "null"})

# Bounds of the warehouse columns, so that a value the table cannot hold is a
# quarantined row rather than a failed object. A price must also stay positive once
# rounded to the column's 4 decimals.
MAX_PRICE = Decimal("1e14")  # numeric(18, 4)
MIN_PRICE = Decimal("0.00005")
MAX_ADJUSTED = Decimal("1e16")  # numeric(28, 12)
MAX_FACTOR = Decimal("1e12")  # numeric(18, 6)
MIN_FACTOR = Decimal("0.0000005")
MAX_VOLUME = 2**63 - 1  # bigint


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


#: JSON's escape of U+0000 (not itself escaped): the one character a JSON string
#: may hold that Postgres text and jsonb cannot.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_REFUSAL = (
    "not data: the body holds a NUL character (U+0000), which the warehouse "
    "cannot store"
)


def load_json(body: bytes, object_key: str) -> dict[str, Any]:
    """Parse a JSON body and refuse what is not a data document."""
    if b"\\u0000" in body and _JSON_NUL.search(body):
        raise LoadError(f"{object_key}: {NUL_REFUSAL}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise LoadError(
            f"{object_key}: not data: the body is not JSON ({exc})"
        ) from None
    if not isinstance(document, dict):
        raise LoadError(f"{object_key}: not data: the body is not a JSON object")
    for notice in NOTICE_KEYS:
        if notice in document:
            # Never the notice's text: some wordings echo the API key.
            raise LoadError(f"{object_key}: not data: an {notice!r} answer")
    if not document:
        raise LoadError(f"{object_key}: not data: an empty answer ({{}})")
    return document


def check_symbol(named: object, expected: str, object_key: str) -> None:
    """Refuse an answer about another symbol than the one the key names."""
    try:
        symbol = normalize_symbol(named)
    except InvalidSymbol:
        symbol = None
    if symbol != expected:
        raise LoadError(
            f"{object_key}: the answer names symbol {named!r}, the key names {expected}"
        )


def is_iso_date(text: object) -> bool:
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


def to_date(text: object) -> date | None:
    """Return the day ``text`` names as YYYY-MM-DD, or None when it names none."""
    if not is_iso_date(text):
        return None
    assert isinstance(text, str)
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def to_decimal(value: object) -> Decimal | None:
    """Return the finite Decimal a JSON string spells, or None (floats refused)."""
    if type(value) is not str:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_volume(value: object) -> int | None:
    """Return the integer a JSON string spells, or None."""
    if type(value) is not str:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in MISSING_TEXT else text


def reject_duplicates(
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
