"""The client over httpx.MockTransport: retries, errors, ledger, and the key kept in."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable

import httpx
import pytest

from stocks_elt.alpha_vantage.client import AlphaVantageClient
from stocks_elt.errors import (
    ApiError,
    ApiNotice,
    DailyQuotaExhausted,
    InvalidSymbol,
    RateLimited,
    SymbolNotFound,
)

KEY = "UNITKEY9Q8W7E6R5"
DAILY = {
    "Meta Data": {"2. Symbol": "IBM", "4. Output Size": "Compact"},
    "Time Series (Daily)": {"2024-06-21": {"4. close": "172.4600"}},
}
DAILY_CAP = (
    f"We have detected your API key as {KEY} and our standard API rate limit is 25 "
    "requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)
BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API "
    "requests more sparingly (1 request per second)."
)

Handler = Callable[[httpx.Request], httpx.Response]


def _json(document: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(document, indent=4).encode())


def _answers(
    *responses: httpx.Response | Exception,
) -> tuple[Handler, list[httpx.Request]]:
    """A handler that gives ``responses`` in turn and remembers every request."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


class FakeLedger:
    """Remembers reservations and outcomes; can refuse like a spent day."""

    def __init__(self, refuse_after: int | None = None) -> None:
        self.events: list[tuple[str, object]] = []
        self.refuse_after = refuse_after

    def reserve(self, function: str, symbol: str | None) -> int:
        reserved = sum(1 for name, _ in self.events if name == "reserve")
        if self.refuse_after is not None and reserved >= self.refuse_after:
            raise DailyQuotaExhausted("the day's quota of 1 calls is spent")
        self.events.append(("reserve", (function, symbol)))
        return reserved + 1

    def record(self, reservation: int | None, outcome: str) -> None:
        self.events.append(("record", (reservation, outcome)))


def _client(
    handler: Handler,
    *,
    sleeps: list[float] | None = None,
    ledger: FakeLedger | None = None,
    max_retries: int = 4,
) -> AlphaVantageClient:
    waits = sleeps if sleeps is not None else []
    return AlphaVantageClient(
        KEY,
        base_url="http://av.test",
        transport=httpx.MockTransport(handler),
        sleep=waits.append,
        ledger=ledger,
        max_retries=max_retries,
        rng=random.Random(7),
    )


def test_a_data_answer_comes_back_with_its_metadata_and_no_key() -> None:
    handler, seen = _answers(_json(DAILY))

    with _client(handler) as client:
        answer = client.daily("ibm", outputsize="full")

    assert seen[0].url.params["apikey"] == KEY
    assert seen[0].url.params["symbol"] == "IBM"
    assert seen[0].url.path == "/query"
    assert answer.symbol == "IBM"
    assert dict(answer.parameters) == {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "full",
    }
    metadata = answer.metadata()
    assert metadata["sha256"] == hashlib.sha256(answer.body).hexdigest()
    assert metadata["bytes"] == str(len(answer.body))
    assert metadata["http_status"] == "200"
    assert json.loads(metadata["parameters"])["outputsize"] == "full"
    assert KEY not in json.dumps(metadata)
    assert answer.ext == "json"


def test_the_listing_is_a_csv_answer_without_a_symbol() -> None:
    csv = b"symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
    handler, seen = _answers(httpx.Response(200, content=csv))

    with _client(handler) as client:
        answer = client.listing_status()

    assert seen[0].url.params["function"] == "LISTING_STATUS"
    assert "symbol" not in seen[0].url.params
    assert answer.ext == "csv"
    assert answer.metadata()["symbol"] == ""


@pytest.mark.parametrize(
    "symbol",
    ["../etc/passwd", "IBM;DROP TABLE x", "", "A" * 200, "\u0399BM", "IBM&apikey=x"],
)
def test_bad_symbols_are_refused_before_anything_is_sent(symbol: str) -> None:
    handler, seen = _answers()

    with _client(handler) as client, pytest.raises(InvalidSymbol):
        client.daily(symbol)

    assert seen == []
    assert client.calls_made == 0


def test_a_parameter_that_could_smuggle_a_query_is_refused() -> None:
    handler, seen = _answers()

    with _client(handler) as client, pytest.raises(ApiError, match="not allowed"):
        client.fetch("SPLITS", "IBM", datatype="json&apikey=other")

    assert seen == []


def test_transient_failures_are_retried_with_growing_jittered_backoff() -> None:
    handler, _ = _answers(
        httpx.Response(503, content=b"<html>503</html>"),
        httpx.Response(502, content=b"<html>502</html>"),
        httpx.ConnectError("connection refused"),
        _json(DAILY),
    )
    sleeps: list[float] = []

    with _client(handler, sleeps=sleeps) as client:
        answer = client.daily("IBM")

    assert answer.attempts == 4
    assert client.calls_made == 4
    # Attempt n waits a random time in [b/2, b] with b = 0.5 s * 2**(n-1).
    for wait, ceiling in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_a_failure_that_outlives_the_retries_fails_with_its_reason() -> None:
    handler, seen = _answers(*[httpx.Response(503) for _ in range(3)])

    with _client(handler, max_retries=2) as client, pytest.raises(ApiError) as caught:
        client.splits("IBM")

    assert len(seen) == 3
    assert str(caught.value) == "IBM: SPLITS failed after 3 attempts: HTTP 503"


def test_a_burst_notice_waits_about_a_second_then_retries() -> None:
    handler, _ = _answers(_json({"Information": BURST}), _json(DAILY))
    sleeps: list[float] = []

    with _client(handler, sleeps=sleeps) as client:
        client.daily("IBM")

    assert len(sleeps) == 1
    assert 1.0 <= sleeps[0] <= 1.25


def test_rate_limit_notices_that_never_stop_raise_rate_limited() -> None:
    handler, _ = _answers(*[_json({"Information": BURST}) for _ in range(2)])

    with (
        _client(handler, max_retries=1) as client,
        pytest.raises(RateLimited) as caught,
    ):
        client.daily("IBM")

    assert caught.value.retry_after == 1.0


def test_the_daily_cap_stops_at_once_and_never_shows_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handler, seen = _answers(_json({"Information": DAILY_CAP}))
    ledger = FakeLedger()

    with (
        _client(handler, ledger=ledger) as client,
        pytest.raises(DailyQuotaExhausted) as caught,
    ):
        client.daily("IBM")

    assert len(seen) == 1
    assert KEY not in str(caught.value)
    assert "detected your API key as ***" in str(caught.value)
    assert ledger.events[-1] == ("record", (1, "daily_cap"))
    assert all(KEY not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "Thank you for using Alpha Vantage! The outputsize=full parameter value is "
            "a premium feature for the TIME_SERIES_DAILY endpoint.",
            "premium_outputsize",
        ),
        (
            "Thank you for using Alpha Vantage! This is a premium endpoint.",
            "premium_endpoint",
        ),
        ("The **demo** API key is for demo purposes only.", "demo"),
    ],
)
def test_premium_and_demo_notices_raise_a_notice_of_their_kind(
    text: str, kind: str
) -> None:
    handler, seen = _answers(_json({"Information": text}))

    with _client(handler) as client, pytest.raises(ApiNotice) as caught:
        client.daily_adjusted("IBM", outputsize="full")

    assert caught.value.kind == kind
    assert len(seen) == 1
    assert "nothing written to the lake" in str(caught.value)


def test_an_error_message_means_the_api_does_not_know_the_symbol() -> None:
    text = "Invalid API call. Please retry or visit the documentation for SPLITS."
    handler, seen = _answers(_json({"Error Message": text}))

    with _client(handler) as client, pytest.raises(SymbolNotFound, match="Invalid API"):
        client.splits("NOPE")

    assert len(seen) == 1


def test_a_refused_key_is_remembered_so_callers_can_stop() -> None:
    text = "the parameter apikey is invalid or missing."
    handler, _ = _answers(_json({"Error Message": text}))

    with _client(handler) as client:
        assert client.key_refusal is None
        with pytest.raises(ApiError, match="refused the key"):
            client.dividends("IBM")

    assert client.key_refusal == text


def test_an_empty_series_is_asked_once_more_before_it_counts_as_not_found() -> None:
    handler, seen = _answers(_json({}), _json({}))

    with _client(handler) as client, pytest.raises(SymbolNotFound):
        client.daily("IBM")

    assert len(seen) == 2


def test_an_empty_overview_is_not_found_at_once() -> None:
    handler, seen = _answers(_json({}))

    with _client(handler) as client, pytest.raises(SymbolNotFound):
        client.overview("IBM")

    assert len(seen) == 1


def test_every_attempt_is_reserved_in_the_ledger_and_its_outcome_recorded() -> None:
    handler, _ = _answers(httpx.Response(503), _json(DAILY))
    ledger = FakeLedger()

    with _client(handler, ledger=ledger) as client:
        client.daily("IBM")

    assert ledger.events == [
        ("reserve", ("TIME_SERIES_DAILY", "IBM")),
        ("record", (1, "transient")),
        ("reserve", ("TIME_SERIES_DAILY", "IBM")),
        ("record", (2, "data")),
    ]


def test_a_ledger_that_refuses_means_nothing_is_sent() -> None:
    handler, seen = _answers()

    with (
        _client(handler, ledger=FakeLedger(refuse_after=0)) as client,
        pytest.raises(DailyQuotaExhausted),
    ):
        client.daily("IBM")

    assert seen == []
    assert client.calls_made == 0


def test_a_library_error_quoting_the_keyed_url_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    with _client(handle, max_retries=1) as client, pytest.raises(ApiError) as caught:
        client.daily("IBM")

    assert "ReadTimeout: timed out reading" in str(caught.value)
    assert "apikey=***" in str(caught.value)
    assert KEY not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_the_urls_httpx_logs_carry_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # The CLI turns httpx down to warnings; a CLI test run earlier in the same
    # process leaves it so. This test needs httpx's own request lines.
    caplog.set_level(logging.DEBUG, logger="httpx")
    handler, _ = _answers(_json(DAILY))

    with _client(handler) as client:
        client.daily("IBM")

    http_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("function=TIME_SERIES_DAILY" in line for line in http_lines)
    assert all(KEY not in record.getMessage() for record in caplog.records)
