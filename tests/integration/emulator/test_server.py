from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime

import httpx
import pytest

from stocks_elt.emulator import RunningEmulator, render_response
from stocks_elt.emulator.market import Market
from tests.fixtures.emulator import (
    EMULATOR_TODAY,
    FREE_KEY,
    PREMIUM_KEY,
    EmulatorFactory,
)
from tests.fixtures.s3 import free_port


def _get(emulator: RunningEmulator, **params: str) -> httpx.Response:
    return httpx.get(f"{emulator.base_url}/query", params=params, timeout=10)


def _full_series(emulator: RunningEmulator, symbol: str) -> dict[str, dict[str, str]]:
    response = _get(
        emulator,
        function="TIME_SERIES_DAILY",
        symbol=symbol,
        outputsize="full",
        apikey=PREMIUM_KEY,
    )
    series: dict[str, dict[str, str]] = response.json()["Time Series (Daily)"]
    return series


def test_demo_compact_daily_is_served_with_the_real_headers(
    emulator: RunningEmulator,
) -> None:
    response = _get(emulator, function="TIME_SERIES_DAILY", symbol="IBM", apikey="demo")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    expected = render_response(
        "TIME_SERIES_DAILY",
        {"function": "TIME_SERIES_DAILY", "symbol": "IBM"},
        Market(emulator.config.universe),
        EMULATOR_TODAY,
    )
    assert response.content == expected.body
    # httpx asks for gzip, like the real service's clients get
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(expected.gzipped)
    series = response.json()["Time Series (Daily)"]
    assert len(series) == 100
    assert list(series) == sorted(series, reverse=True)


def test_a_client_without_gzip_gets_the_plain_bytes(emulator: RunningEmulator) -> None:
    response = httpx.get(
        f"{emulator.base_url}/query",
        params={"function": "SPLITS", "symbol": "IBM", "apikey": FREE_KEY},
        headers={"Accept-Encoding": "gzip;q=0, identity"},
    )
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["symbol"] == "IBM"


def test_csv_is_a_download_with_crlf_lines(emulator: RunningEmulator) -> None:
    response = _get(
        emulator,
        function="TIME_SERIES_DAILY",
        symbol="IBM",
        datatype="csv",
        apikey=FREE_KEY,
    )
    assert response.headers["content-type"] == "application/x-download"
    assert (
        response.headers["content-disposition"] == "attachment; filename=daily_IBM.csv"
    )
    lines = response.content.split(b"\r\n")
    assert lines[0] == b"timestamp,open,high,low,close,volume"
    assert len(lines) == 102  # header, 100 rows, the empty tail after the last CRLF


def test_errors_stay_json_when_csv_was_asked_for(emulator: RunningEmulator) -> None:
    response = _get(
        emulator,
        function="TIME_SERIES_DAILY_ADJUSTED",
        symbol="IBM",
        datatype="csv",
        apikey=FREE_KEY,
    )
    assert response.headers["content-type"] == "application/json"
    assert response.json()["Information"].startswith(
        "Thank you for using Alpha Vantage! This is a premium endpoint."
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_methods_other_than_get_are_answered_405(
    emulator: RunningEmulator, method: str
) -> None:
    response = httpx.request(
        method,
        f"{emulator.base_url}/query",
        params={"function": "TIME_SERIES_DAILY", "symbol": "IBM", "apikey": FREE_KEY},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert [(c.outcome, c.status) for c in emulator.calls(FREE_KEY)] == [
        ("method_not_allowed", 405)
    ]


def test_head_sends_the_headers_only_and_options_the_allowed_methods(
    emulator: RunningEmulator,
) -> None:
    params = {"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": FREE_KEY}
    head = httpx.head(f"{emulator.base_url}/query", params=params)
    get = httpx.get(f"{emulator.base_url}/query", params=params)
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert int(get.headers["content-length"]) > 0
    options = httpx.options(f"{emulator.base_url}/query")
    assert options.status_code == 200
    assert options.headers["allow"] == "GET, HEAD, OPTIONS"


def test_two_starts_serve_the_same_bytes(emulator_factory: EmulatorFactory) -> None:
    requests = [
        {"function": "TIME_SERIES_DAILY", "symbol": "MSFT", "outputsize": "full"},
        {"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "AAPL"},
        {"function": "TIME_SERIES_MONTHLY_ADJUSTED", "symbol": "KO"},
        {"function": "DIVIDENDS", "symbol": "JNJ"},
        {"function": "SPLITS", "symbol": "NVDA", "datatype": "csv"},
        {"function": "OVERVIEW", "symbol": "XOM"},
        {"function": "LISTING_STATUS"},
    ]
    bodies = []
    for _ in range(2):
        emulator = emulator_factory()
        bodies.append(
            [
                _get(emulator, apikey=PREMIUM_KEY, **params).content
                for params in requests
            ]
        )
        emulator.stop()
    assert bodies[0] == bodies[1]
    assert all(
        body.startswith((b"{", b"symbol,", b"effective_date")) for body in bodies[0]
    )


def test_a_different_seed_gives_a_different_market(
    emulator_factory: EmulatorFactory,
) -> None:
    params = {"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": FREE_KEY}
    assert (
        _get(emulator_factory(seed=1), **params).content
        != _get(emulator_factory(seed=2), **params).content
    )


def test_per_minute_limit_is_exact_under_concurrent_clients(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(per_minute_limit=10)
    kinds: Counter[str] = Counter()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
            for _ in range(5):
                body = http.get(
                    "/query",
                    params={"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": "k"},
                ).json()
                with lock:
                    kinds[next(iter(body))] += 1

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinds == Counter({"Global Quote": 10, "Note": 20})
    outcomes = Counter(record.outcome for record in emulator.calls("k"))
    assert outcomes == Counter({"data": 10, "per_minute": 20})


def test_daily_cap_and_burst_count_per_key_under_concurrent_clients(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(daily_limit=7)
    results: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def client(key: str) -> None:
        with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
            for _ in range(10):
                body = http.get(
                    "/query",
                    params={"function": "SPLITS", "symbol": "IBM", "apikey": key},
                ).json()
                with lock:
                    results[(key, next(iter(body)))] += 1

    threads = [threading.Thread(target=client, args=(key,)) for key in "ab" * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == Counter(
        {
            ("a", "symbol"): 7,
            ("a", "Information"): 13,
            ("b", "symbol"): 7,
            ("b", "Information"): 13,
        }
    )
    emulator.clear_calls()
    assert (
        "symbol" in _get(emulator, function="SPLITS", symbol="IBM", apikey="a").json()
    )


def test_burst_limit_refuses_back_to_back_calls_then_recovers(
    emulator_factory: EmulatorFactory,
) -> None:
    now = [1000.0]
    emulator = emulator_factory(per_second_limit=1, clock=lambda: now[0])
    params = {"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": FREE_KEY}
    assert "Global Quote" in _get(emulator, **params).json()
    assert "spreading out" in _get(emulator, **params).json()["Information"]
    now[0] += 1.1  # a second passes on the emulator's clock
    assert "Global Quote" in _get(emulator, **params).json()


def test_the_first_two_msft_calls_fail_with_503_then_succeed(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory(faults="503:first=2@MSFT")
    msft = {"function": "GLOBAL_QUOTE", "symbol": "MSFT", "apikey": FREE_KEY}
    ibm = {"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": FREE_KEY}
    assert _get(emulator, **ibm).status_code == 200
    assert [_get(emulator, **msft).status_code for _ in range(3)] == [503, 503, 200]
    assert [record.outcome for record in emulator.calls()] == [
        "data",
        "fault:503",
        "fault:503",
        "data",
    ]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_error_faults_answer_their_status(
    emulator: RunningEmulator, status: int
) -> None:
    emulator.set_faults(f"{status}:1")
    response = _get(emulator, function="SPLITS", symbol="IBM", apikey=FREE_KEY)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html"


def _raw_get(emulator: RunningEmulator, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    connection.request("GET", path)
    return connection.getresponse()


def test_a_dropped_connection_answers_nothing(emulator: RunningEmulator) -> None:
    emulator.set_faults("drop:1@IBM")
    with pytest.raises(http.client.RemoteDisconnected):
        _raw_get(emulator, f"/query?function=SPLITS&symbol=IBM&apikey={FREE_KEY}")
    assert [(c.outcome, c.status) for c in emulator.calls()] == [("fault:drop", 0)]


def test_a_truncated_body_is_shorter_than_its_content_length(
    emulator: RunningEmulator,
) -> None:
    emulator.set_faults("truncate:1")
    response = _raw_get(
        emulator, f"/query?function=TIME_SERIES_DAILY&symbol=IBM&apikey={FREE_KEY}"
    )
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_a_malformed_body_is_not_json(emulator: RunningEmulator) -> None:
    emulator.set_faults("malformed:1")
    response = _get(emulator, function="TIME_SERIES_DAILY", symbol="IBM", apikey="k")
    assert response.status_code == 200
    assert response.content.startswith(b'{\n    "Meta Data"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_an_empty_fault_answers_an_empty_object(emulator: RunningEmulator) -> None:
    emulator.set_faults("empty:nth=1")
    params = {"function": "TIME_SERIES_DAILY", "symbol": "IBM", "apikey": "k"}
    assert _get(emulator, **params).content == b"{}"
    assert "Time Series (Daily)" in _get(emulator, **params).json()


def test_latency_delays_the_answer(emulator: RunningEmulator) -> None:
    emulator.set_faults("latency=300ms:1@SPLITS")
    started = time.monotonic()
    response = _get(emulator, function="SPLITS", symbol="IBM", apikey="k")
    assert time.monotonic() - started >= 0.3
    answered_at = datetime.now(UTC)
    assert response.json()["symbol"] == "IBM"
    record = emulator.calls()[0]
    assert record.latency_ms == 300
    assert (answered_at - record.at).total_seconds() >= 0.3  # stamped on arrival


def test_faults_can_be_set_through_the_admin_endpoint(
    emulator: RunningEmulator,
) -> None:
    reply = httpx.post(f"{emulator.base_url}/_admin/faults", json={"spec": "502:1"})
    assert reply.status_code == 200
    assert (
        _get(emulator, function="SPLITS", symbol="IBM", apikey="k").status_code == 502
    )
    bad = httpx.post(f"{emulator.base_url}/_admin/faults", json={"spec": "404:1"})
    assert bad.status_code == 400
    assert "unknown kind '404'" in bad.json()["error"]


def test_advancing_the_clock_appends_one_session_and_changes_no_row(
    emulator: RunningEmulator,
) -> None:
    before = _full_series(emulator, "AAPL")
    assert emulator.advance() == date(2024, 6, 24)  # Friday -> Monday
    after = _full_series(emulator, "AAPL")
    assert list(after)[1:] == list(before)
    assert next(iter(after)) == "2024-06-24"
    assert all(after[day] == row for day, row in before.items())


def test_the_clock_moves_through_the_admin_endpoint(emulator: RunningEmulator) -> None:
    base = emulator.base_url
    moved = httpx.post(f"{base}/_admin/clock", json={"advance": 2})
    assert moved.json() == {"today": "2024-06-25", "published_through": "2024-06-25"}
    assert httpx.get(f"{base}/_admin/health").json() == {
        "status": "ok",
        "today": "2024-06-25",
        "published_through": "2024-06-25",
    }
    httpx.post(f"{base}/_admin/clock", json={"today": "2024-06-14"})
    assert emulator.today == date(2024, 6, 14)
    assert next(iter(_full_series(emulator, "IBM"))) == "2024-06-14"
    # An instant: Friday 2024-06-14 at 10:00 New York is before its close.
    pinned = httpx.post(
        f"{base}/_admin/clock", json={"now": "2024-06-14T10:00:00-04:00"}
    )
    assert pinned.json() == {"today": "2024-06-14", "published_through": "2024-06-13"}
    assert next(iter(_full_series(emulator, "IBM"))) == "2024-06-13"
    for bad_body in ({"today": "June"}, {"now": "2024-06-14T10:00:00"}, {}):
        bad = httpx.post(f"{base}/_admin/clock", json=bad_body)
        assert bad.status_code == 400, bad_body


def test_the_call_log_is_served_as_json_and_reset(emulator: RunningEmulator) -> None:
    _get(emulator, function="SPLITS", symbol="IBM", apikey="k1")
    _get(emulator, function="DIVIDENDS", symbol="NOSUCH", apikey="k2")
    base = emulator.base_url
    calls = httpx.get(f"{base}/_admin/calls", params={"key": "k2"}).json()["calls"]
    assert len(calls) == 1
    assert {k: calls[0][k] for k in ("key", "function", "symbol", "outcome")} == {
        "key": "k2",
        "function": "DIVIDENDS",
        "symbol": "NOSUCH",
        "outcome": "not_found",
    }
    assert "apikey" not in calls[0]["params"]
    httpx.post(f"{base}/_admin/reset")
    assert httpx.get(f"{base}/_admin/calls").json() == {"calls": []}


def test_stop_closes_the_port_and_open_connections(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory()
    with httpx.Client(base_url=emulator.base_url) as http:
        http.get("/_admin/health")
        emulator.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/_admin/health")
    emulator.stop()  # twice is fine


def test_the_cli_serves_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stocks_elt.cli",
            "emulator",
            "--port",
            str(port),
            "--today",
            "2024-06-21",
            "--symbols",
            "IBM,ZZZZ",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/_admin/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        body = httpx.get(
            f"{base}/query",
            params={"function": "TIME_SERIES_DAILY", "symbol": "IBM", "apikey": "demo"},
        ).json()
        assert len(body["Time Series (Daily)"]) == 100
        listing = httpx.get(
            f"{base}/query", params={"function": "LISTING_STATUS", "apikey": "demo"}
        ).text
        assert [line.split(",")[0] for line in listing.split("\r\n")[1:-1]] == [
            "IBM",
            "ZZZZ",
        ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert b"emulator stopped" in process.stderr.read()  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()


def test_every_endpoint_agrees_with_the_daily_series(emulator: RunningEmulator) -> None:
    def ask(function: str, **params: str) -> dict[str, object]:
        answer: dict[str, object] = _get(
            emulator, function=function, symbol="HD", apikey=PREMIUM_KEY, **params
        ).json()
        return answer

    daily = ask("TIME_SERIES_DAILY", outputsize="full")["Time Series (Daily)"]
    adjusted = ask("TIME_SERIES_DAILY_ADJUSTED", outputsize="full")[
        "Time Series (Daily)"
    ]
    weekly = ask("TIME_SERIES_WEEKLY_ADJUSTED")["Weekly Adjusted Time Series"]
    quote = ask("GLOBAL_QUOTE")["Global Quote"]
    splits = ask("SPLITS")["data"]
    dividends = ask("DIVIDENDS")["data"]
    assert isinstance(daily, dict)
    assert isinstance(adjusted, dict)
    assert isinstance(weekly, dict)
    assert isinstance(quote, dict)
    assert isinstance(splits, list)
    assert isinstance(dividends, list)
    ratio_on = {row["effective_date"]: float(row["split_factor"]) for row in splits}
    amount_on = {row["ex_dividend_date"]: float(row["amount"]) for row in dividends}
    assert ratio_on
    assert amount_on
    days = sorted(daily)
    closes = [float(daily[day]["4. close"]) for day in days]
    factor = 1.0
    for i in range(len(days) - 1, -1, -1):
        row = adjusted[days[i]]
        assert float(row["4. close"]) == closes[i]
        assert float(row["5. adjusted close"]) == pytest.approx(
            closes[i] * factor, rel=1e-9
        )
        assert float(row["8. split coefficient"]) == ratio_on.get(days[i], 1.0)
        assert float(row["7. dividend amount"]) == amount_on.get(days[i], 0.0)
        factor /= ratio_on.get(days[i], 1.0)
        if days[i] in amount_on:
            factor *= 1.0 - amount_on[days[i]] / closes[i - 1]
    for week_end, row in weekly.items():
        assert row["4. close"] == daily[week_end]["4. close"]
        assert float(row["5. adjusted close"]) == pytest.approx(
            float(adjusted[week_end]["5. adjusted close"]), abs=0.00005
        )
    assert quote["05. price"] == daily[days[-1]]["4. close"]
    assert quote["08. previous close"] == daily[days[-2]]["4. close"]


@pytest.mark.parametrize(
    ("params", "key", "start"),
    [
        ({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}, "Error Message", "the "),
        (
            {"function": "TIME_SERIES_DAILY", "symbol": "MSFT", "apikey": "demo"},
            "Information",
            "The **demo** API key",
        ),
        (
            {"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "IBM", "apikey": "f"},
            "Information",
            "Thank you for using Alpha Vantage! This is a premium endpoint.",
        ),
        (
            {
                "function": "TIME_SERIES_DAILY",
                "symbol": "IBM",
                "outputsize": "full",
                "apikey": "f",
            },
            "Information",
            "Thank you for using Alpha Vantage! The outputsize=full parameter",
        ),
        (
            {"function": "", "apikey": "f"},
            "Error Message",
            "This API function () does not exist.",
        ),
        (
            {"function": "TIME_SERIES_DAILY", "symbol": "NOSUCH", "apikey": "f"},
            "Error Message",
            "Invalid API call. Please retry or visit the documentation",
        ),
    ],
)
def test_notices_and_errors_are_http_200_json(
    emulator: RunningEmulator, params: dict[str, str], key: str, start: str
) -> None:
    response = _get(emulator, **params)
    assert response.status_code == 200
    assert list(response.json()) == [key]
    assert response.json()[key].startswith(start)
