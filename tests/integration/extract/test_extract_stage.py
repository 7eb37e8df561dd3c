"""The extract stage against the emulator over HTTP: strategy, lake, outcomes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import psycopg
import pytest

from stocks_elt.emulator import RunningEmulator
from stocks_elt.errors import InvalidSymbol
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import read_answer_key
from stocks_elt.lake.s3 import S3Lake
from stocks_elt.stages.extract import extract, plan_batches
from tests.fixtures.emulator import (
    EMULATOR_TODAY,
    FREE_KEY,
    PREMIUM_KEY,
)
from tests.integration.extract.conftest import (
    SettingsFactory,
    assert_only_data_in_lake,
    functions_by_symbol,
    lake_objects,
    table_rows,
)

FREE_TRIO = ["TIME_SERIES_DAILY", "SPLITS", "DIVIDENDS"]


def test_a_free_key_lands_daily_splits_and_dividends_with_a_history_gap(
    emulator: RunningEmulator,
    make_settings: SettingsFactory,
    lake: Lake,
    request: pytest.FixtureRequest,
    warehouse: str,
) -> None:
    endpoint = (
        request.getfixturevalue("s3_endpoint") if isinstance(lake, S3Lake) else None
    )
    settings = make_settings(
        emulator, FREE_KEY, lake_url=lake.url, s3_endpoint_url=endpoint
    )

    result = extract(settings, ["IBM", "msft"], as_of=EMULATOR_TODAY, run_id="run-1")

    assert [(o.symbol, o.outcome) for o in result.outcomes] == [
        ("IBM", "fetched"),
        ("MSFT", "fetched"),
    ]
    assert all(o.has_history_gap for o in result.outcomes)
    assert all("history gap" in (o.reason or "") for o in result.outcomes)
    grouped = functions_by_symbol(result.object_keys)
    for symbol in ("IBM", "MSFT"):
        assert sorted(grouped[symbol]) == sorted([*FREE_TRIO, "OVERVIEW"])
    assert grouped["_ALL"] == ["LISTING_STATUS", "LISTING_STATUS"]
    # free trio + OVERVIEW per symbol, LISTING_STATUS delisted and active
    assert result.calls_made == 2 * 4 + 2
    daily = [c for c in emulator.calls() if c.function == "TIME_SERIES_DAILY"]
    assert {c.params.get("outputsize") for c in daily} == {"compact"}

    stored = lake_objects(settings)
    assert sorted(stored) == sorted(result.object_keys)
    today = datetime.now(UTC).date().isoformat()
    for key, (body, metadata) in stored.items():
        parts = read_answer_key(key)
        assert f"/ingest_date={today}/" in key
        assert parts.fetched_at.date().isoformat() == today
        assert metadata["function"] == parts.function
        assert metadata["symbol"] == (parts.symbol or "")
        assert metadata["sha256"] == hashlib.sha256(body).hexdigest()
        assert parts.name.endswith(f"-{metadata['sha256'][:12]}.{key[-4:].lstrip('.')}")
        assert metadata["bytes"] == str(len(body))
        assert metadata["http_status"] == "200"
        assert json.loads(metadata["parameters"])["function"] == parts.function
        assert "apikey" not in metadata["parameters"]
        fetched_at = datetime.fromisoformat(metadata["fetched_at"])
        assert fetched_at.strftime("%Y%m%dT%H%M%S%fZ") == parts.name[:22]
    assert_only_data_in_lake(settings)
    recorded = table_rows(warehouse, "audit.extract_outcomes")
    assert sorted((row[2], row[3], row[6]) for row in recorded) == [
        ("IBM", "fetched", True),
        ("MSFT", "fetched", True),
    ]


def test_a_premium_key_fetches_the_full_adjusted_series_in_one_call(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(emulator, PREMIUM_KEY, alpha_vantage_is_premium=True)

    result = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)

    outcome = result.outcomes[0]
    assert (outcome.outcome, outcome.has_history_gap, outcome.reason) == (
        "fetched",
        False,
        None,
    )
    assert functions_by_symbol(outcome.object_keys)["IBM"] == [
        "TIME_SERIES_DAILY_ADJUSTED",
        "OVERVIEW",
    ]
    first = emulator.calls()[0]
    assert (first.function, first.params["outputsize"]) == (
        "TIME_SERIES_DAILY_ADJUSTED",
        "full",
    )


def test_premium_notices_fall_back_to_the_free_functions_and_compact(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    # Configured as premium, but the emulator treats the key as free.
    settings = make_settings(
        emulator, FREE_KEY, alpha_vantage_is_premium=True, extract_concurrency=1
    )

    result = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [(o.outcome, o.has_history_gap) for o in result.outcomes] == [
        ("fetched", True),
        ("fetched", True),
    ]
    calls = [
        (c.function, c.symbol, c.params.get("outputsize"), c.outcome)
        for c in emulator.calls()
    ]
    # IBM learns both refusals; MSFT goes straight to what works.
    assert calls[:5] == [
        ("TIME_SERIES_DAILY_ADJUSTED", "IBM", "full", "premium"),
        ("TIME_SERIES_DAILY", "IBM", "full", "outputsize_premium"),
        ("TIME_SERIES_DAILY", "IBM", "compact", "data"),
        ("SPLITS", "IBM", None, "data"),
        ("DIVIDENDS", "IBM", None, "data"),
    ]
    assert calls[5:8] == [
        ("TIME_SERIES_DAILY", "MSFT", "compact", "data"),
        ("SPLITS", "MSFT", None, "data"),
        ("DIVIDENDS", "MSFT", None, "data"),
    ]
    assert_only_data_in_lake(settings)


def test_recent_stored_history_is_topped_up_with_compact(
    emulator: RunningEmulator, make_settings: SettingsFactory, warehouse: str
) -> None:
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into raw.daily_prices"
            " (symbol, trade_date, open, high, low, close, volume, source_object)"
            " values ('IBM', '2024-06-14', 1, 1, 1, 1, 1, 'seed')"
        )
    settings = make_settings(emulator, PREMIUM_KEY, alpha_vantage_is_premium=True)

    result = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)

    assert result.outcomes[0].has_history_gap is False
    assert emulator.calls()[0].params["outputsize"] == "compact"


def test_a_same_day_rerun_stores_nothing_and_costs_one_call_a_symbol(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(emulator, FREE_KEY)
    first = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)
    before = lake_objects(settings)
    emulator.clear_calls()

    second = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [o.outcome for o in first.outcomes] == ["fetched", "fetched"]
    assert [o.outcome for o in second.outcomes] == ["unchanged", "unchanged"]
    assert second.object_keys == ()
    assert lake_objects(settings) == before
    # The daily series is unchanged, splits and dividends are in the lake, the
    # overviews and the listing are there: one call per symbol.
    assert sorted((c.function, c.symbol) for c in emulator.calls()) == [
        ("TIME_SERIES_DAILY", "IBM"),
        ("TIME_SERIES_DAILY", "MSFT"),
    ]
    assert second.calls_made == 2


def test_the_next_session_stores_new_objects_beside_the_old(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(emulator, FREE_KEY)
    first = extract(settings, ["IBM"], as_of=EMULATOR_TODAY)
    next_day = emulator.advance(1)

    second = extract(settings, ["IBM"], as_of=next_day)

    assert second.outcomes[0].outcome == "fetched"
    assert "TIME_SERIES_DAILY" in functions_by_symbol(second.object_keys)["IBM"]
    assert set(first.object_keys) <= set(lake_objects(settings))


def test_an_unknown_symbol_is_not_found_and_the_others_go_on(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(emulator, FREE_KEY)

    result = extract(settings, ["NOSUCH", "IBM"], as_of=EMULATOR_TODAY)

    assert [(o.symbol, o.outcome) for o in result.outcomes] == [
        ("NOSUCH", "not_found"),
        ("IBM", "fetched"),
    ]
    assert "Invalid API call" in (result.outcomes[0].reason or "")
    assert not result.is_success
    assert_only_data_in_lake(settings)


def test_the_demo_key_fetches_ibm_and_refuses_the_rest_without_a_call(
    emulator: RunningEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(emulator, "demo")

    result = extract(settings, ["IBM", "MSFT"], as_of=EMULATOR_TODAY)

    assert [(o.symbol, o.outcome) for o in result.outcomes] == [
        ("IBM", "fetched"),
        ("MSFT", "failed"),
    ]
    assert "the demo key serves only IBM" in (result.outcomes[1].reason or "")
    assert "MSFT" not in {c.symbol for c in emulator.calls()}


@pytest.mark.parametrize(
    "bad",
    [
        "../etc/passwd",
        "IBM;DROP TABLE x",
        "",
        "A" * 200,
        "\u0399BM",  # Greek capital iota
        "\u0406BM",  # Cyrillic capital byelorussian-ukrainian i
        "IBM&apikey=x",
    ],
)
def test_bad_symbols_are_refused_before_any_call_or_write(
    emulator: RunningEmulator, make_settings: SettingsFactory, warehouse: str, bad: str
) -> None:
    settings = make_settings(emulator, FREE_KEY)

    with pytest.raises(InvalidSymbol):
        extract(settings, ["IBM", bad])
    with pytest.raises(InvalidSymbol):
        plan_batches(settings, ["IBM", bad])

    assert emulator.calls() == []
    assert lake_objects(settings) == {}
    assert table_rows(warehouse, "audit.extract_outcomes") == []


def test_batches_put_symbols_deferred_earlier_first(
    emulator: RunningEmulator, make_settings: SettingsFactory, warehouse: str
) -> None:
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into audit.extract_outcomes (symbol, outcome, recorded_at) values"
            " ('KO', 'deferred', now() - interval '2 days'),"
            " ('KO', 'fetched', now() - interval '1 day'),"
            " ('XOM', 'deferred', now() - interval '1 day'),"
            " ('PEP', 'deferred', now() - interval '3 days')"
        )
    settings = make_settings(emulator, FREE_KEY, batch_size=2)

    batches = plan_batches(settings, ["IBM", "XOM", "msft", "KO"])

    # PEP and XOM are still deferred (oldest first); KO was fetched since.
    assert batches == [["PEP", "XOM"], ["IBM", "MSFT"], ["KO"]]
    assert plan_batches(settings, None) == [["PEP", "XOM"], ["IBM"]]
