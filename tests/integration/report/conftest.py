"""
``report_warehouse``: a migrated warehouse with synthetic marts and audit rows.

Symbols:
    IBM     about 4.5 years of sessions (SMA 200 defined over the whole chart)
    MSFT    about 5.5 years
    NEWCO   listed 2025-01-02: 120 sessions, so SMA 200 is null everywhere; its
            name holds markup that must stay text
    NODATA  in dim_symbols only (its extract was deferred)
    TSLA    no marts rows, but a failed extract outcome
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from stocks_elt.config import Settings, load_settings
from tests.integration.report.synthetic import (
    Listing,
    add_profile,
    add_symbol,
    create_marts,
)

TODAY = date(2025, 6, 30)
HOSTILE_NAME = 'New Co </script><script>window.pwned = 1</script> & "Sons" <b>'
LISTINGS = (
    Listing("IBM", "International Business Machines", date(2021, 1, 4)),
    Listing("MSFT", "Microsoft Corporation", date(2020, 1, 2)),
    Listing("NEWCO", HOSTILE_NAME, date(2025, 1, 2), sector="Industrials"),
)
NODATA = Listing("NODATA", "No Data Yet Inc", date(2024, 1, 2))
LATEST_RUN = "6f1c2a4e-0000-4000-8000-000000000002"
EARLIER_RUN = "6f1c2a4e-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class ReportWarehouse:
    """The warehouse URL, settings pointing at it, and sessions per symbol."""

    url: str
    settings: Settings
    sessions: dict[str, int]


@pytest.fixture
def report_warehouse(warehouse: str, tmp_path: Path) -> ReportWarehouse:
    """A warehouse with marts for IBM, MSFT, NEWCO, NODATA and audit rows."""
    with psycopg.connect(warehouse) as conn:
        create_marts(conn)
        sessions = {
            listing.symbol: add_symbol(conn, listing, TODAY) for listing in LISTINGS
        }
        add_profile(conn, NODATA)
        _add_audit_rows(conn)
    return ReportWarehouse(
        url=warehouse,
        settings=load_settings(warehouse_url=warehouse, data_dir=tmp_path),
        sessions=sessions,
    )


def _add_audit_rows(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    earlier = datetime(2025, 6, 27, 22, 0, tzinfo=UTC)
    latest = datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
    dq = [
        # The earlier run failed a blocking check; the latest run no longer does.
        (
            EARLIER_RUN,
            "unique_symbol_date",
            "blocking",
            None,
            "fail",
            3,
            0,
            None,
            earlier,
        ),
        (
            LATEST_RUN,
            "unique_symbol_date",
            "blocking",
            None,
            "pass",
            0,
            0,
            None,
            latest,
        ),
        (LATEST_RUN, "ohlc_consistent", "blocking", "IBM", "pass", 0, 0, None, latest),
        (LATEST_RUN, "ohlc_consistent", "blocking", "MSFT", "pass", 0, 0, None, latest),
        (
            LATEST_RUN,
            "stale_prices",
            "warning",
            "MSFT",
            "warn",
            3,
            1,
            "last session 2025-06-25 <older than 1 session>",
            latest,
        ),
        (
            LATEST_RUN,
            "volume_spike",
            "warning",
            "IBM",
            "warn",
            9.5,
            8,
            "volume 9.5x its 20-session median",
            latest,
        ),
    ]
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            insert into audit.dq_results (
                run_id, check_name, severity, symbol, status, observed_value,
                threshold, details, checked_at
            )
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            dq,
        )
        cursor.executemany(
            """
            insert into raw.quarantine (object_key, symbol, row_key, raw_values, reason)
            values (%s, %s, %s, '{}'::jsonb, %s)
            """,
            [
                ("raw/MSFT/a.json", "MSFT", "2025-06-02", "high below low"),
                ("raw/MSFT/a.json", "MSFT", "2025-06-03", "high below low"),
                ("raw/IBM/b.json", "IBM", "2025-06-04", "negative volume"),
            ],
        )
        cursor.executemany(
            """
            insert into audit.extract_outcomes (symbol, outcome, reason, recorded_at)
            values (%s, %s, %s, %s)
            """,
            [
                ("IBM", "fetched", None, latest),
                ("MSFT", "failed", "timeout", earlier),
                ("MSFT", "fetched", None, latest),
                ("NODATA", "deferred", "daily quota spent", latest),
                ("TSLA", "failed", "ApiError: <Invalid API call>", latest),
            ],
        )
