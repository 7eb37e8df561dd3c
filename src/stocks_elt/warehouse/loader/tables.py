"""
The raw tables the loader writes: their keys, the columns each answer kind fills.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    """A ``raw`` table the loader merges into.

    Attributes:
        name: the table's name in the ``raw`` schema.
        key: its primary key.
        date_column: the date column of a per-symbol table (its second key
            column); None for ``symbols``.
    """

    name: str
    key: tuple[str, ...]
    date_column: str | None

    @property
    def stage(self) -> str:
        """The temporary table an object's rows are copied into before the merge."""
        return f"stage_{self.name}"


PRICES_TABLE = RawTable("daily_prices", ("symbol", "trade_date"), "trade_date")
SPLITS_TABLE = RawTable("splits", ("symbol", "effective_date"), "effective_date")
DIVIDENDS_TABLE = RawTable(
    "dividends", ("symbol", "ex_dividend_date"), "ex_dividend_date"
)
SYMBOLS_TABLE = RawTable("symbols", ("symbol",), None)
MERGED_TABLES = (PRICES_TABLE, SPLITS_TABLE, DIVIDENDS_TABLE, SYMBOLS_TABLE)
#: The tables each answer kind feeds (``encode._batches`` writes them; lineage
#: reports them). The adjusted series also carries dividends and splits.
TABLES_BY_FUNCTION: dict[str, tuple[RawTable, ...]] = {
    "TIME_SERIES_DAILY": (PRICES_TABLE,),
    "TIME_SERIES_DAILY_ADJUSTED": (PRICES_TABLE, DIVIDENDS_TABLE, SPLITS_TABLE),
    "SPLITS": (SPLITS_TABLE,),
    "DIVIDENDS": (DIVIDENDS_TABLE,),
    "LISTING_STATUS": (SYMBOLS_TABLE,),
    "OVERVIEW": (SYMBOLS_TABLE,),
}

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
ADJUSTED_COLUMNS = (
    *PRICE_COLUMNS,
    "adjusted_close",
    "dividend_amount",
    "split_coefficient",
)
DIVIDEND_COLUMNS = ("amount", "declaration_date", "record_date", "payment_date")
LISTING_COLUMNS = (
    "name",
    "exchange",
    "asset_type",
    "ipo_date",
    "delisting_date",
    "status",
)
#: OVERVIEW's AssetType speaks another vocabulary ("Common Stock") than
#: LISTING_STATUS ("Stock", "ETF"): the listing owns that column.
OVERVIEW_COLUMNS = (
    "name",
    "exchange",
    "currency",
    "country",
    "sector",
    "industry",
)

#: Every table a rebuild empties, the ledger first (a loader reads it first).
RAW_TABLES = (
    "load_ledger",
    "daily_prices",
    "splits",
    "dividends",
    "symbols",
    "quarantine",
    "revisions",
)
