"""
A NUL character is the one thing a JSON string or a CSV field can hold that a
Postgres ``text`` or ``jsonb`` value cannot. An answer holding one must be refused
like any other body that is not data (moved to the lake's quarantine, its symbol
fetched again), never crash the load, and never stop the objects after it.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.lake.local import LocalLake
from stocks_elt.stages.load import load
from tests.fixtures.lakes import at, daily_body, put_answer

LISTING = b"symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
DAY = ("10.0000", "11.0000", "9.5000", "10.5000", "1000")


def _bodies() -> dict[str, tuple[str, str | None, bytes]]:
    return {
        "overview name": (
            "OVERVIEW",
            "IBM",
            json.dumps({"Symbol": "IBM", "Name": "Intl\u0000Business"}).encode(),
        ),
        "listing name": (
            "LISTING_STATUS",
            None,
            LISTING + b"KO,Coca\x00Cola,NYSE,Stock,1990-01-02,null,Active\r\n",
        ),
        "daily date": (
            "TIME_SERIES_DAILY",
            "IBM",
            daily_body(
                "IBM",
                {"2024-06-20": DAY, "2024-06-2\u0000": DAY},
                last_refreshed="2024-06-21",
            ),
        ),
        "rejected dividend date": (
            "DIVIDENDS",
            "IBM",
            json.dumps(
                {
                    "symbol": "IBM",
                    "data": [{"ex_dividend_date": "\u0000", "amount": "1"}],
                }
            ).encode(),
        ),
    }


@pytest.mark.parametrize("case", sorted(_bodies()))
def test_an_answer_holding_a_nul_character_is_refused_and_the_load_goes_on(
    case: str, settings: Settings, lake: LocalLake
) -> None:
    function, symbol, body = _bodies()[case]
    poisoned = put_answer(lake, function, symbol, body, at(1))
    healthy = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "KO",
        daily_body("KO", {"2024-06-20": DAY}, last_refreshed="2024-06-21"),
        at(2),
    )

    result = load(settings, [poisoned, healthy])

    assert result.objects_refused == 1
    assert result.objects_loaded == 1
    assert settings.warehouse_url is not None
    with psycopg.connect(settings.warehouse_url.get_secret_value()) as conn:
        ledger = dict(
            conn.execute("select object_key, status from raw.load_ledger").fetchall()
        )
        reason = conn.execute(
            "select reason from raw.load_ledger where object_key = %s", (poisoned,)
        ).fetchone()
    assert ledger == {poisoned: "refused", healthy: "loaded"}
    assert reason is not None
    assert "NUL" in reason[0]
    assert lake.head(poisoned) is None  # moved aside, so extract fetches it again
    assert lake.head(f"quarantine/{poisoned}") is not None
