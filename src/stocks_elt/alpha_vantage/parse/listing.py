"""
LISTING_STATUS answers (CSV, active or delisted) into validated listing rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from stocks_elt.alpha_vantage.classify import CSV_HEADERS
from stocks_elt.alpha_vantage.parse.common import (
    NUL_REFUSAL,
    Reason,
    RejectedRow,
    load_json,
    reject_duplicates,
    text_or_none,
    to_date,
)
from stocks_elt.errors import InvalidSymbol, LoadError
from stocks_elt.market.symbols import normalize_symbol

#: The header a LISTING_STATUS answer starts with (the client checks it too).
LISTING_HEADER = CSV_HEADERS["LISTING_STATUS"]


class ListingRow(NamedTuple):
    """One LISTING_STATUS line."""

    symbol: str
    name: str | None
    exchange: str | None
    asset_type: str | None
    ipo_date: date | None
    delisting_date: date | None
    status: str | None


@dataclass(frozen=True)
class Listing:
    """A parsed LISTING_STATUS answer."""

    rows: list[ListingRow]
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_parsed(self) -> int:
        """Every line after the header, valid or not."""
        return len(self.rows) + len(self.rejected)


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
        load_json(body, object_key)  # raises for a notice or an error
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
        raise LoadError(f"{object_key}: {NUL_REFUSAL}")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines or tuple(lines[0]) != LISTING_HEADER:
        header = ",".join(lines[0]) if lines else ""
        raise LoadError(
            f"{object_key}: not data: the header is {header[:80]!r}, "
            f"not {','.join(LISTING_HEADER)!r}"
        )
    records = [line for line in lines[1:] if line]
    keyed = [(_listing_key(line), line) for line in records]
    unique, rejected = reject_duplicates(keyed, Reason.DUPLICATE_SYMBOL, "symbol")
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
            day = None if text_or_none(raw) is None else to_date(raw.strip())
            if day is None and text_or_none(raw) is not None:
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
                    text_or_none(line[1]),
                    text_or_none(line[2]),
                    text_or_none(line[3]),
                    dates[0],
                    dates[1],
                    text_or_none(line[6]),
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
