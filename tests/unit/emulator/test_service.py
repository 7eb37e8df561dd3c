from __future__ import annotations

import json
from datetime import date

import pytest

from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.service import EmulatorService

TODAY = date(2024, 6, 21)
PREMIUM = "premium-key"

PREMIUM_ENDPOINT = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may "
    "subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
    "to instantly unlock all premium endpoints"
)
OUTPUTSIZE = (
    "Thank you for using Alpha Vantage! The outputsize=full parameter value is a "
    "premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock "
    "all premium features"
)
DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key "
    "at (https://www.alphavantage.co/support/#api-key) to explore our full API "
    "offerings. It takes fewer than 20 seconds."
)
MISSING_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 "
    "seconds."
)


def _service(**overrides: object) -> EmulatorService:
    config = EmulatorConfig(today=TODAY, premium_keys=frozenset({PREMIUM}))
    return EmulatorService(
        EmulatorConfig(**{**config.__dict__, **overrides})  # type: ignore[arg-type]
    )


def _ask(service: EmulatorService, **params: str) -> tuple[str, dict[str, object]]:
    body = service.handle_query(params).response
    is_json = body.content_type == "application/json"
    return body.outcome, json.loads(body.body) if is_json else {}


def test_a_missing_or_empty_key_gets_the_real_error_and_is_not_counted() -> None:
    service = _service(daily_limit=1)
    for params in ({}, {"apikey": ""}):
        outcome, body = _ask(
            service, function="TIME_SERIES_DAILY", symbol="IBM", **params
        )
        assert (outcome, body) == ("missing_key", {"Error Message": MISSING_KEY})
    assert _ask(service, function="TIME_SERIES_DAILY", symbol="IBM", apikey="k")[0] == (
        "data"
    )


@pytest.mark.parametrize(
    ("params", "outcome", "body"),
    [
        (
            {"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "IBM"},
            "premium",
            {"Information": PREMIUM_ENDPOINT},
        ),
        (
            {"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full"},
            "outputsize_premium",
            {"Information": OUTPUTSIZE},
        ),
        (
            {"function": "GLOBAL_QUOTE", "symbol": "IBM", "entitlement": "delayed"},
            "premium",
            {"Information": PREMIUM_ENDPOINT},
        ),
        (
            {"function": "TIME_SERIES_INTRADAY", "symbol": "IBM"},
            "error",
            {
                "Error Message": (
                    "This API function (TIME_SERIES_INTRADAY) does not exist."
                )
            },
        ),
        (
            {"symbol": "IBM"},
            "error",
            {"Error Message": "This API function () does not exist."},
        ),
    ],
)
def test_free_keys_get_the_premium_notices_and_unknown_functions_the_error(
    params: dict[str, str], outcome: str, body: dict[str, object]
) -> None:
    assert _ask(_service(), apikey="free", **params) == (outcome, body)


def test_premium_keys_get_adjusted_and_full_series() -> None:
    service = _service()
    outcome, body = _ask(
        service,
        apikey=PREMIUM,
        function="TIME_SERIES_DAILY_ADJUSTED",
        symbol="IBM",
        outputsize="full",
    )
    assert outcome == "data"
    assert len(body["Time Series (Daily)"]) > 6000  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "allowed"),
    [
        ({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}, True),
        (
            {"function": "TIME_SERIES_DAILY", "symbol": "ibm", "outputsize": "full"},
            True,
        ),
        ({"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "IBM"}, True),
        ({"function": "OVERVIEW", "symbol": "IBM"}, True),
        ({"function": "LISTING_STATUS"}, True),
        ({"function": "SYMBOL_SEARCH", "keywords": "tesco"}, True),
        ({"function": "SYMBOL_SEARCH", "keywords": "micro"}, False),
        ({"function": "TIME_SERIES_DAILY", "symbol": "MSFT"}, False),
        ({"function": "SPLITS", "symbol": "AAPL"}, False),
    ],
)
def test_the_demo_key_serves_ibm_and_the_documented_examples_only(
    params: dict[str, str], allowed: bool
) -> None:
    outcome, body = _ask(_service(), apikey="demo", **params)
    if allowed:
        assert outcome == "data"
    else:
        assert (outcome, body) == ("demo", {"Information": DEMO})


def test_the_daily_cap_echoes_the_key_in_the_newer_wording() -> None:
    service = _service(daily_limit=2)
    outcomes = [
        _ask(service, apikey="SECRET123", function="GLOBAL_QUOTE", symbol="IBM")
        for _ in range(3)
    ]
    assert [outcome for outcome, _ in outcomes] == ["data", "data", "daily_cap"]
    assert outcomes[2][1] == {
        "Information": "We have detected your API key as SECRET123 and our standard "
        "API rate limit is 25 requests per day. Please subscribe to any of the "
        "premium plans at https://www.alphavantage.co/premium/ to instantly remove "
        "all daily rate limits."
    }


def test_per_minute_gets_the_legacy_note_and_burst_the_information() -> None:
    minute = _service(per_minute_limit=1)
    _ask(minute, apikey="k", function="GLOBAL_QUOTE", symbol="IBM")
    assert _ask(minute, apikey="k", function="GLOBAL_QUOTE", symbol="IBM") == (
        "per_minute",
        {
            "Note": "Thank you for using Alpha Vantage! Our standard API call "
            "frequency is 5 calls per minute and 500 calls per day. Please visit "
            "https://www.alphavantage.co/premium/ if you would like to target a "
            "higher API call frequency."
        },
    )
    burst = _service(per_second_limit=1)
    _ask(burst, apikey="k", function="GLOBAL_QUOTE", symbol="IBM")
    assert _ask(burst, apikey="k", function="GLOBAL_QUOTE", symbol="IBM") == (
        "burst",
        {
            "Information": "Thank you for using Alpha Vantage! Please consider "
            "spreading out your free API requests more sparingly (1 request per "
            "second). You may subscribe to any of the premium plans at "
            "https://www.alphavantage.co/premium/ to lift the free key rate limit "
            "(25 requests per day), raise the per-second burst limit, and instantly "
            "unlock all premium endpoints"
        },
    )


def test_the_call_log_keeps_params_without_the_key() -> None:
    service = _service()
    _ask(service, apikey="k1", function="SPLITS", symbol="IBM")
    _ask(service, apikey="k2", function="NOPE")
    records = service.calls("k1")
    assert len(records) == 1
    assert records[0].params == {"function": "SPLITS", "symbol": "IBM"}
    assert (records[0].function, records[0].symbol, records[0].outcome) == (
        "SPLITS",
        "IBM",
        "data",
    )
    assert [record.outcome for record in service.calls()] == ["data", "error"]
    service.reset()
    assert service.calls() == []


def test_same_request_same_bytes_from_a_new_service() -> None:
    params = {"apikey": PREMIUM, "function": "TIME_SERIES_DAILY", "symbol": "MSFT"}
    first = _service().handle_query(dict(params)).response.body
    second = _service().handle_query(dict(params)).response.body
    assert first == second


def test_a_bad_explicit_event_is_refused_when_the_service_starts() -> None:
    from decimal import Decimal

    from stocks_elt.emulator.universe import ListedSymbol

    bad = ListedSymbol("BAD", "Bad Inc", dividends=((date(2020, 1, 4), Decimal(1)),))
    with pytest.raises(ValueError, match="BAD: dividend date 2020-01-04"):
        _service(universe=(bad,))
