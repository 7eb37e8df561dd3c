"""Loading lake objects into the raw tables of a real Postgres."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from stocks_elt.config import Settings
from stocks_elt.emulator.market import Market
from stocks_elt.emulator.universe import ListedSymbol
from stocks_elt.errors import LoadError
from stocks_elt.lake.local import LocalLake
from stocks_elt.stages.load import load
from stocks_elt.warehouse import pending
from tests.fixtures.lakes import (
    at,
    count,
    daily_body,
    daily_body_with_repeated_date,
    put_answer,
    put_emulated,
    put_ibm_correction,
    table_checksums,
    url_of,
)

DAY = ("10.0000", "11.0000", "9.5000", "10.5000", "1000")


def fill_lake(lake: LocalLake, market: Market) -> list[str]:
    """Two days of answers for three symbols, as extract would leave them."""
    keys = []
    minute = 0
    for symbol in ("IBM", "AAPL", "KO"):
        for function in ("TIME_SERIES_DAILY", "SPLITS", "DIVIDENDS"):
            minute += 1
            keys.append(put_emulated(lake, market, function, symbol, at(minute)))
    keys.append(put_emulated(lake, market, "LISTING_STATUS", None, at(50)))
    for symbol in ("IBM", "AAPL", "KO"):
        minute += 1
        keys.append(
            put_emulated(
                lake,
                market,
                "TIME_SERIES_DAILY",
                symbol,
                at(24 * 60 + minute),
                today=date(2024, 6, 24),
            )
        )
    return keys


def test_loading_emulated_answers_fills_every_raw_table(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    keys = fill_lake(lake, market)

    result = load(settings)

    url = url_of(settings)
    history = market.history("IBM", date(2024, 6, 24))
    assert history is not None
    assert result.objects_loaded == len(keys)
    assert result.rows_quarantined == 0
    # Each symbol: its compact 100 sessions of 2024-06-21, plus 2024-06-24.
    assert count(url, "select count(*) from raw.daily_prices") == 3 * 101
    assert count(url, "select count(*) from raw.symbols") == 6
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "select open, high, low, close, volume from raw.daily_prices"
            " where symbol = 'IBM' and trade_date = '2024-06-24'"
        ).fetchone()
    last = history.bars[-1]
    assert last.trade_date == date(2024, 6, 24)
    assert stored == (last.open, last.high, last.low, last.close, last.volume)


def test_loading_twice_changes_nothing_and_the_ledger_skips_every_object(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    keys = fill_lake(lake, market)
    load(settings)
    before = table_checksums(url_of(settings))

    again = load(settings)

    assert (again.objects_loaded, again.objects_skipped) == (0, len(keys))
    assert again.rows_parsed == 0
    assert table_checksums(url_of(settings)) == before


def test_ledger_counts_add_up_for_every_object(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    fill_lake(lake, market)

    result = load(settings)

    url = url_of(settings)
    assert (
        count(
            url,
            "select count(*) from raw.load_ledger where rows_parsed <> rows_inserted"
            " + rows_updated + rows_unchanged + rows_quarantined",
        )
        == 0
    )
    # The second day's compact answers repeat 99 stored sessions unchanged.
    assert result.rows_unchanged >= 3 * 99
    assert result.rows_parsed == (
        result.rows_inserted
        + result.rows_updated
        + result.rows_unchanged
        + result.rows_quarantined
    )


def test_a_refetched_session_with_new_values_is_updated_and_its_old_values_revised(
    settings: Settings, lake: LocalLake
) -> None:
    first = {"2024-06-20": DAY, "2024-06-21": DAY}
    put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", first, last_refreshed="2024-06-21"),
        at(1),
    )
    corrected = {
        **first,
        "2024-06-21": ("10.0000", "11.0000", "9.5000", "10.7500", "1200"),
    }
    second_key = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", corrected, last_refreshed="2024-06-21"),
        at(2),
    )

    result = load(settings)

    assert (result.rows_inserted, result.rows_updated, result.rows_unchanged) == (
        2,
        1,
        1,
    )
    with psycopg.connect(url_of(settings)) as conn:
        stored = conn.execute(
            "select close, volume, source_object, updated_at is not null"
            " from raw.daily_prices where trade_date = '2024-06-21'"
        ).fetchone()
        revisions = conn.execute(
            "select table_name, symbol, row_key, old_values, new_values, object_key"
            " from raw.revisions"
        ).fetchall()
    assert stored == (Decimal("10.7500"), 1200, second_key, True)
    ((table, symbol, row_key, old, new, object_key),) = revisions
    assert (table, symbol, row_key, object_key) == (
        "daily_prices",
        "IBM",
        "2024-06-21",
        second_key,
    )
    assert (old["close"], old["volume"]) == (10.5, 1000)
    assert (new["close"], new["volume"]) == (10.75, 1200)


def test_an_equal_refetch_leaves_stored_rows_untouched(
    settings: Settings, lake: LocalLake
) -> None:
    rows = {"2024-06-20": DAY, "2024-06-21": DAY}
    first_key = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", rows, last_refreshed="2024-06-21"),
        at(1),
    )
    load(settings)
    with psycopg.connect(url_of(settings)) as conn:
        versions = conn.execute(
            "select trade_date, xmin::text from raw.daily_prices order by 1"
        ).fetchall()
    # The same sessions again, in a body laid out differently: a new object.
    put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", rows, last_refreshed="2024-06-21").replace(b"    ", b"  "),
        at(2),
    )

    result = load(settings)

    assert (result.rows_updated, result.rows_unchanged) == (0, 2)
    with psycopg.connect(url_of(settings)) as conn:
        assert (
            conn.execute(
                "select trade_date, xmin::text from raw.daily_prices order by 1"
            ).fetchall()
            == versions
        )
        sources = conn.execute("select distinct source_object from raw.daily_prices")
        assert sources.fetchall() == [(first_key,)]


def test_an_older_answer_loaded_late_does_not_overwrite_a_newer_one(
    settings: Settings, lake: LocalLake
) -> None:
    newer = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body(
            "IBM",
            {"2024-06-21": ("10.0000", "11.0000", "9.5000", "10.9000", "1")},
            last_refreshed="2024-06-21",
        ),
        at(10),
    )
    load(settings, [newer])
    # An answer fetched earlier lands in the lake only now (a slow writer).
    older = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", {"2024-06-21": DAY}, last_refreshed="2024-06-21"),
        at(5),
    )

    result = load(settings, [older])

    assert (result.objects_loaded, result.rows_updated) == (1, 0)
    assert (
        count(
            url_of(settings), "select count(*) from raw.daily_prices where close = 10.9"
        )
        == 1
    )


def test_every_bad_row_is_quarantined_with_its_reason_and_the_rest_loads(
    settings: Settings, lake: LocalLake
) -> None:
    rows: dict[str, object] = {
        "2024-06-21": DAY,
        "2024-06-20": ("abc", "11.0000", "9.5000", "10.5000", "1"),
        "2024-06-19": ("10.0000", "9.0000", "9.5000", "10.5000", "1"),
        "2024-06-18": ("0.0000", "11.0000", "0.0000", "10.5000", "1"),
        "2024-06-17": ("10.0000", "11.0000", "9.5000", "10.5000", "-1"),
        "2024-06-14": ("12.0000", "11.0000", "9.5000", "10.5000", "1"),
        "2024-06-24": DAY,
        "2024-06-13": {"1. open": "10.0000"},
        "2024-02-30": DAY,
    }
    key = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "IBM",
        daily_body("IBM", rows, last_refreshed="2024-06-21"),
        at(1),
    )
    repeated = put_answer(
        lake,
        "TIME_SERIES_DAILY",
        "MSFT",
        daily_body_with_repeated_date(
            "MSFT", [("2024-06-21", DAY), ("2024-06-21", DAY)], "2024-06-21"
        ),
        at(2),
    )

    result = load(settings)

    assert result.objects_loaded == 2
    assert (result.rows_inserted, result.rows_quarantined) == (1, 10)
    with psycopg.connect(url_of(settings)) as conn:
        quarantined = conn.execute(
            "select object_key, symbol, row_key, reason_code, raw_values"
            " from raw.quarantine order by object_key, row_key"
        ).fetchall()
        ledger = conn.execute(
            "select object_key, rows_parsed, rows_inserted, rows_quarantined"
            " from raw.load_ledger order by object_key"
        ).fetchall()
    assert [(k, s, r, c) for k, s, r, c, _ in quarantined] == [
        (key, "IBM", "2024-02-30", "bad_date"),
        (key, "IBM", "2024-06-13", "missing_field"),
        (key, "IBM", "2024-06-14", "ohlc_inconsistent"),
        (key, "IBM", "2024-06-17", "negative_volume"),
        (key, "IBM", "2024-06-18", "non_positive_price"),
        (key, "IBM", "2024-06-19", "high_below_low"),
        (key, "IBM", "2024-06-20", "not_numeric"),
        (key, "IBM", "2024-06-24", "after_last_refreshed"),
        (repeated, "MSFT", "2024-06-21", "duplicate_date"),
        (repeated, "MSFT", "2024-06-21", "duplicate_date"),
    ]
    assert quarantined[6][4] == {
        "1. open": "abc",
        "2. high": "11.0000",
        "3. low": "9.5000",
        "4. close": "10.5000",
        "5. volume": "1",
    }
    assert sorted(ledger) == sorted([(key, 9, 1, 8), (repeated, 2, 0, 2)])


def test_an_answer_that_is_not_data_is_refused_once_and_moved_aside(
    settings: Settings, lake: LocalLake
) -> None:
    notice = json.dumps({"Information": "This is a premium endpoint."}).encode()
    key = put_answer(lake, "TIME_SERIES_DAILY_ADJUSTED", "IBM", notice, at(1))

    first = load(settings)
    second = load(settings)

    assert (first.objects_loaded, first.objects_refused) == (0, 1)
    # Moved out of the raw prefix: the next load no longer sees it at all.
    assert (second.objects_refused, second.objects_skipped) == (0, 0)
    assert lake.head(key) is None
    moved = lake.head(f"quarantine/{key}")
    assert moved is not None
    assert lake.get(f"quarantine/{key}") == notice
    assert moved.metadata["quarantine_reason"] == "not data: an 'Information' answer"
    url = url_of(settings)
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "select status, reason, rows_parsed, moved_to from raw.load_ledger"
            " where object_key = %s",
            (key,),
        ).fetchone()
        quarantined = conn.execute(
            "select row_key, reason_code, reason from raw.quarantine"
        ).fetchall()
    assert ledger == (
        "refused",
        "not data: an 'Information' answer",
        0,
        f"quarantine/{key}",
    )
    assert quarantined == [
        (None, "refused_object", "not data: an 'Information' answer")
    ]
    assert count(url, "select count(*) from raw.daily_prices") == 0


def test_an_object_whose_body_does_not_match_its_key_is_refused(
    settings: Settings, lake: LocalLake
) -> None:
    body = daily_body("IBM", {"2024-06-21": DAY}, last_refreshed="2024-06-21")
    put_answer(lake, "TIME_SERIES_DAILY", "IBM", body, at(1), sha256="0" * 64)

    result = load(settings)

    assert result.objects_refused == 1
    assert count(url_of(settings), "select count(*) from raw.daily_prices") == 0


def test_given_keys_bring_every_announced_object_but_not_unannounced_ones(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    # What a run killed between its extract and its load leaves: objects that
    # extract announced and stored, that no load recorded.
    early = put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))
    given = put_emulated(lake, market, "TIME_SERIES_DAILY", "AAPL", at(2))
    late = put_emulated(lake, market, "TIME_SERIES_DAILY", "KO", at(3))
    by_hand = put_emulated(lake, market, "TIME_SERIES_DAILY", "XOM", at(4))
    with psycopg.connect(url_of(settings), autocommit=True) as conn:
        for key, symbol in ((early, "IBM"), (late, "KO")):
            pending.announce(conn, key, "TIME_SERIES_DAILY", symbol, None)

    result = load(settings, [given])

    assert result.objects_loaded == 3
    with psycopg.connect(url_of(settings)) as conn:
        loaded = {
            row[0] for row in conn.execute("select object_key from raw.load_ledger")
        }
        still_pending = conn.execute("select count(*) from raw.pending_objects")
        assert still_pending.fetchone() == (0,)
    assert loaded == {early, given, late}
    # Not announced (an earlier version's object, or one put by hand): only a
    # load that scans the lake finds it.
    assert by_hand not in loaded
    assert load(settings).objects_loaded == 1


def test_an_announced_object_never_written_is_dropped_once_old(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    written = put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))
    young = written.replace("symbol=IBM", "symbol=AAPL")
    old = written.replace("symbol=IBM", "symbol=KO")
    with psycopg.connect(url_of(settings), autocommit=True) as conn:
        for key, symbol in ((written, "IBM"), (young, "AAPL"), (old, "KO")):
            pending.announce(conn, key, "TIME_SERIES_DAILY", symbol, None)
        conn.execute(
            "update raw.pending_objects set recorded_at = now() - interval '1 hour'"
            " where object_key = %s",
            (old,),
        )

    result = load(settings, [])

    assert (result.objects_loaded, result.objects_missing) == (1, 2)
    with psycopg.connect(url_of(settings)) as conn:
        left = [
            row[0] for row in conn.execute("select object_key from raw.pending_objects")
        ]
    # The young one may still be on its way (its extract is running): kept.
    assert left == [young]


def test_a_given_key_that_is_not_in_the_lake_is_a_load_error(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    key = put_emulated(lake, market, "TIME_SERIES_DAILY", "IBM", at(1))
    missing = key.replace("symbol=IBM", "symbol=AAPL")

    with pytest.raises(LoadError, match="not in the lake"):
        load(settings, [missing])


def test_adjusted_answers_load_adjusted_close_dividends_and_splits(
    settings: Settings, lake: LocalLake
) -> None:
    listed = ListedSymbol(
        symbol="EVT",
        name="Events Inc",
        splits=((date(2024, 5, 1), Decimal(2)),),
        dividends=((date(2024, 6, 3), Decimal("0.5000")),),
        profile="flat",
    )
    market = Market((listed,))
    history = market.history("EVT", date(2024, 6, 21))
    assert history is not None
    key = put_emulated(lake, market, "TIME_SERIES_DAILY_ADJUSTED", "EVT", at(1))
    put_emulated(lake, market, "DIVIDENDS", "EVT", at(2))

    result = load(settings)

    assert result.rows_quarantined == 0
    with psycopg.connect(url_of(settings)) as conn:
        adjusted = conn.execute(
            "select count(*), count(adjusted_close) from raw.daily_prices"
        ).fetchone()
        splits = conn.execute(
            "select effective_date, split_factor, source_object from raw.splits"
        ).fetchall()
        dividends = conn.execute(
            "select ex_dividend_date, amount, declaration_date is not null"
            " from raw.dividends"
        ).fetchall()
    assert adjusted == (100, 100)
    assert splits == [(date(2024, 5, 1), Decimal("2.000000"), key)]
    # DIVIDENDS fetched later adds the declaration date to the same dividend.
    assert dividends == [(date(2024, 6, 3), Decimal("0.500000"), True)]


def test_listing_and_overview_fill_raw_symbols(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    put_emulated(lake, market, "LISTING_STATUS", None, at(1))
    put_emulated(lake, market, "OVERVIEW", "IBM", at(2))

    load(settings)

    with psycopg.connect(url_of(settings)) as conn:
        ibm = conn.execute(
            "select name, exchange, asset_type, currency, ipo_date, status"
            " from raw.symbols where symbol = 'IBM'"
        ).fetchone()
    assert ibm is not None
    name, exchange, asset_type, currency, ipo_date, status = ibm
    listed = market.listed("IBM")
    assert listed is not None
    assert (name, exchange, asset_type, ipo_date, status) == (
        listed.name,
        listed.exchange,
        listed.asset_type,
        listed.ipo_date,
        "Active",
    )
    assert currency == "USD"


def test_rebuilding_from_the_lake_gives_the_incrementally_built_tables(
    settings: Settings, lake: LocalLake, market: Market
) -> None:
    keys = fill_lake(lake, market)
    # Loaded in three runs, with a correction and a refused object in between.
    load(settings, keys[:4])
    put_ibm_correction(lake, at(60))
    put_answer(lake, "SPLITS", "AAPL", b'{"Note": "slow down"}', at(61))
    load(settings, keys[:8])
    load(settings)
    incremental = table_checksums(url_of(settings))

    rebuilt = load(settings, rebuild=True)

    # The refused answer was moved to quarantine/; the rebuild refuses it again.
    assert rebuilt.objects_loaded + rebuilt.objects_refused == len(keys) + 2
    assert table_checksums(url_of(settings)) == incremental
    assert incremental["revisions"][0] >= 1
