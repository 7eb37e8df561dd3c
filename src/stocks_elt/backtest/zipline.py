"""
A zipline-reloaded bundle that reads the warehouse: ``stocks-elt``.

    # ~/.zipline/extension.py
    from stocks_elt.backtest.zipline import register

    register()                                    # every symbol with bars
    register("stocks-elt-big-tech", symbols=["AAPL", "MSFT", "TWTR"])

    $ zipline ingest -b stocks-elt

An ingestion reads one consistent snapshot of the warehouse (settings from the
environment, as every ``stocks-elt`` command) and writes what zipline asks for;
zipline applies its own adjustments to the as-traded bars:

- **Daily bars**: ``marts.fct_daily_bars``' as-traded open, high, low, close and
  volume, on every XNYS session from a symbol's first bar to its end date.
  zipline requires every session in between. A session without a bar (a gap in
  the data, a trading halt, the days between a delisted symbol's last bar and
  its delisting date) is written with the previous close as open, high, low and
  close and a volume of 0: zipline values a position at that price and its
  slippage models never fill an order on a bar without volume, so a strategy
  cannot trade on a price that did not exist. A bar on a day that is not an
  XNYS session is left out (logged).
- **Splits**: zipline ratio ``1 / split_factor`` on the effective date.
- **Dividends**: cash amounts on the ex-date (zipline computes the ratio
  ``1 - amount / previous close`` itself, as the warehouse does); a missing
  declaration, record or payment date is given the ex-date.
- Only actions that adjust some bar are written, as in the warehouse: dated after
  the symbol's first bar and on or before its last. An action dated on a day that
  is not a session takes effect on the next session (the same bars are adjusted).
- **Assets**: one equity per symbol (sids numbered in symbol order), with the
  listing's name and exchange (all on the XNYS calendar, country US); start date
  the first bar; end date the last bar, or the delisting date when it is later
  (never past the warehouse's newest session). A delisted symbol's positions are
  closed on the next session at its last price (``auto_close_date``): the
  warehouse holds no delisting return.

zipline stores prices as integer thousandths of a dollar, so an as-traded price
with a fourth decimal (below one dollar) is rounded to the tenth of a cent, and
volumes as 32-bit integers, so a volume above 4,294,967,295 is capped (logged).

Nothing half-written: zipline builds an ingestion in a temporary folder and copies
it into ``$ZIPLINE_ROOT/data/<bundle>/<timestamp>`` only when the ingest function
returns. Every check (the warehouse has bars, each asked-for symbol has bars) runs
before anything is written, and a failed ingestion also removes the empty
timestamp folder zipline made for it, so ``load()`` keeps finding the previous
ingestion.
"""

from __future__ import annotations

try:
    import pandas as pd  # type: ignore[import-untyped]
    from zipline.data import bundles  # type: ignore[import-untyped]
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        "stocks_elt.backtest.zipline needs zipline-reloaded: "
        "pip install 'stocks-elt[backtest]'"
    ) from exc

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from stocks_elt.config import Settings, load_settings
from stocks_elt.errors import NothingToExport, UnknownSymbol
from stocks_elt.market.symbols import normalize_symbol
from stocks_elt.warehouse.connection import connect, describe_warehouse

logger = logging.getLogger(__name__)

#: The bundle's name: ``zipline ingest -b stocks-elt``.
BUNDLE_NAME = "stocks-elt"
#: The calendar of every asset in the bundle.
CALENDAR_NAME = "XNYS"
COUNTRY_CODE = "US"
#: Where the listing names no exchange.
DEFAULT_EXCHANGE = "XNYS"
#: The largest volume zipline's daily bars can hold (an unsigned 32-bit integer).
MAX_VOLUME = 2**32 - 1

#: What zipline calls an ingest function with.
IngestFunction = Callable[..., None]


@dataclass(frozen=True)
class Listing:
    """One symbol as the bundle's asset: its name, exchange and date range."""

    symbol: str
    name: str | None
    exchange: str | None
    status: str | None
    delisting_date: date | None
    first_trade_date: date
    last_trade_date: date
    #: the asset's last session: the last bar, or the delisting date when later
    #: (never past the warehouse's newest session)
    end_date: date | None = None


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's bars on every session from its start date to its end date."""

    listing: Listing
    #: open, high, low, close, volume; indexed by session (naive midnight)
    frame: pd.DataFrame
    #: sessions written from the previous close with a volume of 0
    sessions_filled: int
    #: bars left out: dated on a day that is not a session
    bars_dropped: int
    #: bars whose volume was capped at :data:`MAX_VOLUME`
    volumes_capped: int

    @property
    def start(self) -> pd.Timestamp:
        """The first session: the first bar."""
        return self.frame.index[0]

    @property
    def end(self) -> pd.Timestamp:
        """The last session: the last bar, or the delisting date when later."""
        return self.frame.index[-1]


def register(
    name: str = BUNDLE_NAME,
    *,
    symbols: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> None:
    """Register the warehouse bundle with zipline (call it in ``extension.py``).

    Nothing is read here: the warehouse is read when the bundle is ingested, so
    registering costs nothing on every zipline command.

    Args:
        name: the bundle's name (``zipline ingest -b <name>``).
        symbols: the symbols to ingest; None: every symbol with bars.
        settings: names the warehouse; None: read from the environment at ingest.

    Raises:
        InvalidSymbol: a symbol breaks the naming rule.
    """
    wanted = None if symbols is None else tuple(map(normalize_symbol, symbols))
    bundles.register(
        name,
        make_ingest(symbols=wanted, settings=settings),
        calendar_name=CALENDAR_NAME,
    )


def make_ingest(
    *, symbols: Sequence[str] | None = None, settings: Settings | None = None
) -> IngestFunction:
    """Return the ingest function zipline calls for the bundle.

    Args:
        symbols: the symbols to ingest; None: every symbol with bars.
        settings: names the warehouse; None: read from the environment at ingest.
    """

    def ingest(
        environ: Mapping[str, str],
        asset_db_writer: Any,
        minute_bar_writer: Any,
        daily_bar_writer: Any,
        adjustment_writer: Any,
        calendar: Any,
        start_session: pd.Timestamp,
        end_session: pd.Timestamp,
        cache: Any,
        show_progress: bool,
        output_dir: str,
    ) -> None:
        try:
            ingest_warehouse(
                settings or load_settings(),
                symbols,
                asset_db_writer=asset_db_writer,
                daily_bar_writer=daily_bar_writer,
                adjustment_writer=adjustment_writer,
                sessions=calendar.sessions_in_range(start_session, end_session),
                show_progress=show_progress,
            )
        except BaseException:
            _remove_if_empty(Path(output_dir))
            raise

    return ingest


def ingest_warehouse(
    settings: Settings,
    symbols: Sequence[str] | None,
    *,
    asset_db_writer: Any,
    daily_bar_writer: Any,
    adjustment_writer: Any,
    sessions: pd.DatetimeIndex,
    show_progress: bool = False,
) -> list[SymbolBars]:
    """Read bars, splits, dividends and listings; write them with zipline's writers.

    Args:
        settings: names the warehouse.
        symbols: the symbols to ingest; None: every symbol with bars.
        asset_db_writer: zipline's ``AssetDBWriter``.
        daily_bar_writer: zipline's ``BcolzDailyBarWriter``.
        adjustment_writer: zipline's ``SQLiteAdjustmentWriter``.
        sessions: the calendar's sessions the bundle covers.
        show_progress: show zipline's progress bar while bars are written.

    Returns:
        What was written for each symbol, in sid order.

    Raises:
        NothingToExport: the warehouse has no daily bars yet.
        UnknownSymbol: an asked-for symbol has no bars; the message names each.
        WarehouseError: the warehouse cannot be reached.
    """
    with connect(settings) as conn:
        # one snapshot for listings, bars and actions
        conn.execute("set transaction isolation level repeatable read, read only")
        listings = _read_listings(conn, settings, symbols)
        data_through = max(listing.last_trade_date for listing in listings)
        written = [
            _session_bars(
                _with_end_date(listing, data_through),
                _read_bars(conn, listing.symbol),
                sessions,
            )
            for listing in listings
        ]
        splits, dividends = _read_actions(conn, written, sessions)

    asset_db_writer.write(
        equities=_equities(written, sessions), exchanges=_exchanges(written)
    )
    daily_bar_writer.write(
        ((sid, bars.frame) for sid, bars in enumerate(written)),
        assets=set(range(len(written))),
        show_progress=show_progress,
        invalid_data_behavior="raise",
    )
    adjustment_writer.write(splits=splits, dividends=dividends)
    for bars in written:
        if bars.sessions_filled or bars.bars_dropped or bars.volumes_capped:
            logger.warning(
                "zipline bars symbol=%s sessions_filled=%d bars_dropped=%d"
                " volumes_capped=%d",
                bars.listing.symbol,
                bars.sessions_filled,
                bars.bars_dropped,
                bars.volumes_capped,
            )
    logger.info(
        "zipline bundle written symbols=%d bars=%d splits=%d dividends=%d through=%s",
        len(written),
        sum(len(bars.frame) for bars in written),
        len(splits),
        len(dividends),
        data_through.isoformat(),
    )
    return written


# -- reading the warehouse ---------------------------------------------------------


def _read_listings(
    conn: psycopg.Connection[Any], settings: Settings, symbols: Sequence[str] | None
) -> list[Listing]:
    where = describe_warehouse(settings)
    present = conn.execute(
        "select to_regclass('marts.dim_symbols') is not null"
        " and to_regclass('marts.fct_daily_bars') is not null"
    ).fetchone()
    if not (present and present[0]):
        raise NothingToExport(
            f"the warehouse at {where} has no marts yet: run `stocks-elt run` "
            "first; nothing ingested"
        )
    rows = conn.execute(
        """
        select symbol, name, exchange, status, delisting_date,
               first_trade_date, last_trade_date
        from marts.dim_symbols
        where first_trade_date is not null
            and (%(symbols)s::text[] is null or symbol = any(%(symbols)s::text[]))
        order by symbol
        """,
        {"symbols": None if symbols is None else list(symbols)},
    ).fetchall()
    listings = [Listing(*row) for row in rows]
    if not listings and symbols is None:
        raise NothingToExport(
            f"the warehouse at {where} has no daily bars yet: run `stocks-elt run` "
            "first; nothing ingested"
        )
    missing = sorted(set(symbols or ()) - {listing.symbol for listing in listings})
    if missing:
        raise UnknownSymbol(
            f"no daily bars in the warehouse at {where} for {', '.join(missing)}: "
            f"extract them first (`stocks-elt run --symbols {','.join(missing)}`) "
            "or leave them out of the bundle; nothing ingested"
        )
    return listings


def _with_end_date(listing: Listing, data_through: date) -> Listing:
    """``listing`` with its end date: the delisting date when it is after the
    last bar (never past the warehouse's newest session), else the last bar."""
    end = listing.last_trade_date
    if listing.delisting_date is not None and listing.delisting_date > end:
        end = min(listing.delisting_date, data_through)
    return replace(listing, end_date=end)


def _read_bars(conn: psycopg.Connection[Any], symbol: str) -> pd.DataFrame:
    rows = conn.execute(
        """
        select trade_date, open_price::float8, high_price::float8,
               low_price::float8, close_price::float8, volume
        from marts.fct_daily_bars
        where symbol = %s
        order by trade_date
        """,
        (symbol,),
    ).fetchall()
    frame = pd.DataFrame(
        rows, columns=["day", "open", "high", "low", "close", "volume"]
    )
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("day")))
    return frame


def _session_bars(
    listing: Listing, bars: pd.DataFrame, sessions: pd.DatetimeIndex
) -> SymbolBars:
    """Put ``bars`` on every session from the first bar to the listing's end."""
    on_session = bars.index.isin(sessions)
    bars_dropped = int((~on_session).sum())
    bars = bars[on_session]
    if bars.empty:
        raise UnknownSymbol(
            f"{listing.symbol}: none of its daily bars falls on an {CALENDAR_NAME} "
            "session; nothing ingested"
        )
    end = max(bars.index[-1], pd.Timestamp(listing.end_date or bars.index[-1]))
    span = sessions[(sessions >= bars.index[0]) & (sessions <= end)]
    frame = bars.reindex(span)
    is_filled = frame["close"].isna()
    close = frame["close"].ffill()
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column].where(~is_filled, close)
    frame["volume"] = frame["volume"].fillna(0)
    volumes_capped = int((frame["volume"] > MAX_VOLUME).sum())
    frame["volume"] = frame["volume"].clip(upper=MAX_VOLUME).astype("int64")
    return SymbolBars(
        listing, frame, int(is_filled.sum()), bars_dropped, volumes_capped
    )


def _read_actions(
    conn: psycopg.Connection[Any],
    written: Sequence[SymbolBars],
    sessions: pd.DatetimeIndex,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The splits and dividends that adjust some bar, as zipline's frames."""
    sids = {bars.listing.symbol: sid for sid, bars in enumerate(written)}
    ranges = {
        bars.listing.symbol: (
            bars.listing.first_trade_date,
            bars.listing.last_trade_date,
        )
        for bars in written
    }
    symbols = list(sids)
    split_rows = conn.execute(
        """
        select symbol, effective_date, split_factor::float8
        from staging.stg_alpha_vantage__splits
        where symbol = any(%s)
        order by symbol, effective_date
        """,
        (symbols,),
    ).fetchall()
    dividend_rows = conn.execute(
        """
        select symbol, ex_dividend_date, dividend_amount::float8,
               declaration_date, record_date, payment_date
        from staging.stg_alpha_vantage__dividends
        where symbol = any(%s)
        order by symbol, ex_dividend_date
        """,
        (symbols,),
    ).fetchall()

    def adjusts_a_bar(symbol: str, day: date) -> bool:
        first, last = ranges[symbol]
        return first < day <= last

    splits = pd.DataFrame(
        [
            (sids[symbol], _on_or_after(day, sessions), 1.0 / factor)
            for symbol, day, factor in split_rows
            if adjusts_a_bar(symbol, day)
        ],
        columns=["sid", "effective_date", "ratio"],
    )
    dividends = pd.DataFrame(
        [
            (
                sids[symbol],
                _on_or_after(ex_date, sessions),
                amount,
                pd.Timestamp(declared or ex_date),
                pd.Timestamp(record or ex_date),
                pd.Timestamp(paid or ex_date),
            )
            for symbol, ex_date, amount, declared, record, paid in dividend_rows
            if adjusts_a_bar(symbol, ex_date)
        ],
        columns=[
            "sid",
            "ex_date",
            "amount",
            "declared_date",
            "record_date",
            "pay_date",
        ],
    )
    # typed even when empty: zipline's writer checks the dtypes
    splits = splits.astype(
        {"sid": "int64", "effective_date": "datetime64[ns]", "ratio": "float64"}
    )
    dividends = dividends.astype(
        {
            "sid": "int64",
            "ex_date": "datetime64[ns]",
            "amount": "float64",
            "declared_date": "datetime64[ns]",
            "record_date": "datetime64[ns]",
            "pay_date": "datetime64[ns]",
        }
    )
    return splits, dividends


def _on_or_after(day: date, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    """The first session on or after ``day`` (``day`` itself when a session)."""
    index = int(sessions.searchsorted(pd.Timestamp(day)))
    return sessions[min(index, len(sessions) - 1)]


# -- zipline's asset frames -----------------------------------------------------


def _equities(
    written: Sequence[SymbolBars], sessions: pd.DatetimeIndex
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "symbol": [bars.listing.symbol for bars in written],
            "asset_name": [
                bars.listing.name or bars.listing.symbol for bars in written
            ],
            "start_date": [bars.start for bars in written],
            "end_date": [bars.end for bars in written],
            "auto_close_date": [_auto_close_date(bars, sessions) for bars in written],
            "exchange": [bars.listing.exchange or DEFAULT_EXCHANGE for bars in written],
        },
        index=pd.Index(range(len(written)), name="sid"),
    )
    frame["auto_close_date"] = pd.to_datetime(frame["auto_close_date"])
    return frame


def _auto_close_date(
    bars: SymbolBars, sessions: pd.DatetimeIndex
) -> pd.Timestamp | None:
    """The session after a delisted symbol's end: zipline closes positions then."""
    if bars.listing.delisting_date is None:
        return None
    index = int(sessions.searchsorted(bars.end, side="right"))
    return sessions[index] if index < len(sessions) else None


def _exchanges(written: Sequence[SymbolBars]) -> pd.DataFrame:
    names = sorted({bars.listing.exchange or DEFAULT_EXCHANGE for bars in written})
    return pd.DataFrame(
        {
            "exchange": names,
            "canonical_name": [CALENDAR_NAME] * len(names),
            "country_code": [COUNTRY_CODE] * len(names),
        }
    )


def _remove_if_empty(folder: Path) -> None:
    """Remove the timestamp folder zipline made for a failed ingestion."""
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError as exc:
        logger.warning("could not remove empty folder=%s reason=%s", folder, exc)


__all__ = [
    "BUNDLE_NAME",
    "Listing",
    "SymbolBars",
    "ingest_warehouse",
    "make_ingest",
    "register",
]
