"""
OVERVIEW answers into the identity fields ``raw.symbols`` keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from stocks_elt.alpha_vantage.parse.common import (
    check_symbol,
    load_json,
    text_or_none,
)
from stocks_elt.errors import LoadError

_OVERVIEW_FIELDS = (
    "Name",
    "Exchange",
    "AssetType",
    "Currency",
    "Country",
    "Sector",
    "Industry",
)


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
class Overview:
    """A parsed OVERVIEW answer."""

    row: OverviewRow

    @property
    def rows_parsed(self) -> int:
        """An overview is one row."""
        return 1


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
    document = load_json(body, object_key)
    if "Symbol" not in document:
        raise LoadError(
            f"{object_key}: not data: no 'Symbol' in an OVERVIEW answer "
            f"(top-level keys: {sorted(document)[:5]})"
        )
    check_symbol(document["Symbol"], symbol, object_key)
    for name in _OVERVIEW_FIELDS:
        value = document.get(name)
        if value is not None and type(value) is not str:
            raise LoadError(
                f"{object_key}: not data: OVERVIEW {name!r} is a JSON "
                f"{type(value).__name__}, not text"
            )
    values = [text_or_none(document.get(name)) for name in _OVERVIEW_FIELDS]
    return Overview(OverviewRow(symbol, *values))
