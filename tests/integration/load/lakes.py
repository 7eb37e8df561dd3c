"""
Building lake objects for load and quality tests: emulated or hand-written answers.

Bodies come from the emulator's deterministic market (``put_emulated``) or are
written by hand in the API's exact format (``daily_body``), and are stored under
the keys extract would use, fetched at the times the test names.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator.market import Market
from stocks_elt.emulator.render import render_response
from stocks_elt.emulator.universe import universe_for_symbols
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import answer_key
from stocks_elt.lake.local import LocalLake
from stocks_elt.warehouse.migrate import migrate

#: A Friday session; the emulated market is cut there.
TODAY = date(2024, 6, 21)
#: Fetch times start here; tests add minutes to order objects.
FETCHED = datetime(2024, 6, 21, 22, 0, tzinfo=UTC)


#: The emulated universe of these tests (IBM, AAPL and KO have dividends).
SYMBOLS = ("IBM", "AAPL", "KO", "MSFT", "XOM", "TSLA")


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    """An empty local lake of this test's own."""
    return LocalLake(tmp_path / "lake")


@pytest.fixture(scope="session")
def market() -> Market:
    """The emulator's deterministic market for :data:`SYMBOLS`."""
    return Market(universe_for_symbols(SYMBOLS))


@pytest.fixture
def settings(warehouse: str, lake: LocalLake, tmp_path: Path) -> Settings:
    """Settings naming this test's lake and migrated warehouse."""
    return load_settings(
        lake_url=lake.url, warehouse_url=warehouse, data_dir=tmp_path / "data"
    )


def at(minutes: int) -> datetime:
    """A fetch time ``minutes`` after :data:`FETCHED`."""
    return FETCHED + timedelta(minutes=minutes)


def put_answer(
    lake: Lake,
    function: str,
    symbol: str | None,
    body: bytes,
    fetched_at: datetime,
    *,
    sha256: str | None = None,
) -> str:
    """Store ``body`` as extract would and return its key.

    ``sha256`` overrides the digest the key is named after (to forge a mismatch).
    """
    digest = sha256 or hashlib.sha256(body).hexdigest()
    ext = "csv" if function == "LISTING_STATUS" else "json"
    key = answer_key(function, symbol, fetched_at, digest, ext)
    metadata = {
        "function": function,
        "symbol": symbol or "_ALL",
        "params": json.dumps({"function": function, "symbol": symbol}),
        "fetched_at": fetched_at.isoformat(),
        "http_status": "200",
        "bytes": str(len(body)),
        "sha256": digest,
    }
    assert lake.put(key, body, metadata)
    return key


def put_emulated(
    lake: Lake,
    market: Market,
    function: str,
    symbol: str | None,
    fetched_at: datetime,
    *,
    today: date = TODAY,
    **params: str,
) -> str:
    """Store the emulator's answer to ``function`` for ``symbol`` on ``today``."""
    query = {"function": function, **params}
    if symbol is not None:
        query["symbol"] = symbol
    response = render_response(function, query, market, today)
    assert response.outcome == "data", response.body[:200]
    return put_answer(lake, function, symbol, response.body, fetched_at)


def daily_body(
    symbol: str,
    rows: Mapping[str, object],
    *,
    last_refreshed: str,
    adjusted: bool = False,
) -> bytes:
    """A TIME_SERIES_DAILY(_ADJUSTED) body in the API's layout (4-space indent).

    Args:
        symbol: the meta data's symbol.
        rows: date -> entry; an entry given as a 5-tuple (or 8-tuple when
            ``adjusted``) of strings is spelled with the API's field names, any
            other value is written as it is.
        last_refreshed: the meta data's "3. Last Refreshed".
        adjusted: the _ADJUSTED layout.
    """
    names = (
        (
            "1. open",
            "2. high",
            "3. low",
            "4. close",
            "5. adjusted close",
            "6. volume",
            "7. dividend amount",
            "8. split coefficient",
        )
        if adjusted
        else ("1. open", "2. high", "3. low", "4. close", "5. volume")
    )
    series = {
        day: dict(zip(names, entry, strict=True)) if isinstance(entry, tuple) else entry
        for day, entry in rows.items()
    }
    document = {
        "Meta Data": {
            "1. Information": "Daily Time Series with Splits and Dividend Events"
            if adjusted
            else "Daily Prices (open, high, low, close) and Volumes",
            "2. Symbol": symbol,
            "3. Last Refreshed": last_refreshed,
            "4. Output Size": "Compact",
            "5. Time Zone": "US/Eastern",
        },
        "Time Series (Daily)": series,
    }
    return json.dumps(document, indent=4).encode()


def put_ibm_correction(lake: Lake, fetched_at: datetime) -> str:
    """Store a later IBM answer that revises the 2024-06-21 session; return its key."""
    return put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body(
            "IBM",
            {"2024-06-21": ("170.0000", "175.0000", "169.0000", "171.0000", "5")},
            last_refreshed="2024-06-21",
        ),
        fetched_at,
    )


def daily_body_with_repeated_date(
    symbol: str, entries: Sequence[tuple[str, tuple[str, ...]]], last_refreshed: str
) -> bytes:
    """A daily body whose series may repeat a date (dicts cannot express that)."""
    names = ("1. open", "2. high", "3. low", "4. close", "5. volume")
    parts = []
    for day, values in entries:
        fields = ", ".join(
            f"{json.dumps(name)}: {json.dumps(value)}"
            for name, value in zip(names, values, strict=True)
        )
        parts.append(f"{json.dumps(day)}: {{{fields}}}")
    meta = json.dumps(
        {"2. Symbol": symbol, "3. Last Refreshed": last_refreshed}, indent=4
    )
    return (
        f'{{"Meta Data": {meta}, "Time Series (Daily)": {{{", ".join(parts)}}}}}'
    ).encode()


#: Per table: the columns compared (no load timestamps, ids or run ids), ordered.
_CHECKSUM_QUERIES = {
    "daily_prices": "select symbol, trade_date, open, high, low, close, volume,"
    " adjusted_close, dividend_amount, split_coefficient, source_object"
    " from raw.daily_prices order by symbol, trade_date",
    "splits": "select symbol, effective_date, split_factor, source_object"
    " from raw.splits order by symbol, effective_date",
    "dividends": "select symbol, ex_dividend_date, amount, declaration_date,"
    " record_date, payment_date, source_object"
    " from raw.dividends order by symbol, ex_dividend_date",
    "symbols": "select symbol, name, exchange, asset_type, currency, country,"
    " sector, industry, ipo_date, delisting_date, status, source_object"
    " from raw.symbols order by symbol",
    "load_ledger": "select object_key, sha256, function, symbol, fetched_at,"
    " rows_parsed, rows_inserted, rows_updated, rows_unchanged,"
    " rows_quarantined, status, reason, first_date, last_date"
    " from raw.load_ledger order by object_key",
    "quarantine": "select object_key, symbol, row_key, raw_values::text, reason,"
    " reason_code from raw.quarantine"
    " order by object_key, row_key, reason, raw_values::text",
    "revisions": "select table_name, symbol, row_key, old_values::text,"
    " new_values::text, object_key from raw.revisions"
    " order by object_key, table_name, symbol, row_key",
}


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every raw table's rows, load timestamps excluded."""
    sums = {}
    with psycopg.connect(url) as conn:
        for table, query in _CHECKSUM_QUERIES.items():
            rows = conn.execute(query).fetchall()
            digest = hashlib.md5(repr(rows).encode(), usedforsecurity=False)
            sums[table] = (len(rows), digest.hexdigest())
    return sums


@contextmanager
def fresh_warehouse(admin_url: str) -> Iterator[str]:
    """A second migrated database for comparisons; dropped afterwards."""
    name = f"stocks_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)
                )
            )


def count(url: str, query: str, params: Sequence[object] = ()) -> int:
    """The first column of the first row of ``query``, as an int."""
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])
