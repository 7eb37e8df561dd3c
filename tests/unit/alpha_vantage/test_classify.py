"""Classification of every kind of answer ALPHA_VANTAGE.md §6 and §8 describe."""

from __future__ import annotations

import json

import pytest

from stocks_elt.alpha_vantage.classify import (
    AnswerKind,
    classify_answer,
    classify_notice,
    classify_transport_error,
)

KEY = "K3Y7SECRETXYZ123"

# The texts of ALPHA_VANTAGE.md §5-§6, verbatim.
PREMIUM_ENDPOINT = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe "
    "to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
    "unlock all premium endpoints"
)
OUTPUTSIZE = (
    "Thank you for using Alpha Vantage! The outputsize=full parameter value is a "
    "premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock "
    "all premium features"
)
LEGACY_MINUTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls "
    "per minute and 500 calls per day. Please visit https://www.alphavantage.co/"
    "premium/ if you would like to target a higher API call frequency."
)
PRE_2018 = (
    "Thank you for using Alpha Vantage! Please visit https://www.alphavantage.co/"
    "premium/ if you would like to have a higher API call volume."
)
DAILY_CAP = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests "
    "per day. Please subscribe to any of the premium plans at https://www.alphavantage"
    ".co/premium/ to instantly remove all daily rate limits."
)
DAILY_CAP_ECHO = (
    f"We have detected your API key as {KEY} and our standard API rate limit is 25 "
    "requests per day. Please subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
)
BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API "
    "requests more sparingly (1 request per second). You may subscribe to any of the "
    "premium plans at https://www.alphavantage.co/premium/ to lift the free key rate "
    "limit (25 requests per day), raise the per-second burst limit, and instantly "
    "unlock all premium endpoints"
)
BURST_2025_12_13 = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API "
    "requests more sparingly. You may subscribe to any of the premium plans at "
    "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 "
    "requests per day), and instantly unlock all premium endpoints"
)
DEMO = (
    "The **demo** API key is for demo purposes only. Please claim your free API key "
    "at (https://www.alphavantage.co/support/#api-key) to explore our full API "
    "offerings. It takes fewer than 20 seconds."
)
DAILY_BODY = {
    "Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-06-21",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    },
    "Time Series (Daily)": {
        "2024-06-21": {
            "1. open": "173.9700",
            "2. high": "174.9600",
            "3. low": "171.4000",
            "4. close": "172.4600",
            "5. volume": "10182025",
        }
    },
}
LISTING_HEADER = "symbol,name,exchange,assetType,ipoDate,delistingDate,status"


def _body(document: object) -> bytes:
    return json.dumps(document, indent=4).encode()


@pytest.mark.parametrize(
    ("text", "kind", "retry_after"),
    [
        (BURST, AnswerKind.BURST, 1.0),
        (BURST_2025_12_13, AnswerKind.BURST, 1.0),
        (LEGACY_MINUTE, AnswerKind.MINUTE_LIMIT, 60.0),
        (PRE_2018, AnswerKind.MINUTE_LIMIT, 60.0),
        (DAILY_CAP, AnswerKind.DAILY_CAP, None),
        (DAILY_CAP_ECHO, AnswerKind.DAILY_CAP, None),
        (OUTPUTSIZE, AnswerKind.PREMIUM_OUTPUTSIZE, None),
        (PREMIUM_ENDPOINT, AnswerKind.PREMIUM_ENDPOINT, None),
        (DEMO, AnswerKind.DEMO, None),
        ("Something new the API says one day.", AnswerKind.INFORMATION, None),
    ],
)
@pytest.mark.parametrize("notice_key", ["Information", "Note"])
def test_every_notice_is_told_apart_by_its_words_under_either_key(
    text: str, kind: AnswerKind, retry_after: float | None, notice_key: str
) -> None:
    verdict = classify_answer(
        "TIME_SERIES_DAILY", "IBM", 200, _body({notice_key: text}), secret=KEY
    )

    assert verdict.kind is kind
    assert verdict.retry_after == retry_after
    assert not verdict.is_data


def test_the_key_the_daily_cap_notice_echoes_is_redacted() -> None:
    for secret in (KEY, None):
        verdict = classify_notice(DAILY_CAP_ECHO, secret=secret)

        assert KEY not in verdict.detail
        assert "detected your API key as ***" in verdict.detail


def test_a_notice_wins_even_beside_a_data_key() -> None:
    document = {**DAILY_BODY, "Note": LEGACY_MINUTE}

    verdict = classify_answer("TIME_SERIES_DAILY", "IBM", 200, _body(document))

    assert verdict.kind is AnswerKind.MINUTE_LIMIT


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "Invalid API call. Please retry or visit the documentation "
            "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY.",
            AnswerKind.ERROR_MESSAGE,
        ),
        ("This API function () does not exist.", AnswerKind.ERROR_MESSAGE),
        (
            "the parameter apikey is invalid or missing. Please claim your free API "
            "key on (https://www.alphavantage.co/support/#api-key). It should take "
            "less than 20 seconds.",
            AnswerKind.INVALID_KEY,
        ),
    ],
)
def test_error_messages_are_permanent(text: str, kind: AnswerKind) -> None:
    verdict = classify_answer(
        "TIME_SERIES_DAILY", "IBM", 200, _body({"Error Message": text})
    )

    assert verdict.kind is kind
    assert not verdict.is_retryable


@pytest.mark.parametrize(
    ("function", "document"),
    [
        ("OVERVIEW", {}),
        ("TIME_SERIES_DAILY", {}),
        ("GLOBAL_QUOTE", {"Global Quote": {}}),
        ("TIME_SERIES_DAILY", {"Meta Data": DAILY_BODY["Meta Data"]}),
        ("TIME_SERIES_DAILY", {**DAILY_BODY, "Time Series (Daily)": {}}),
        ("SPLITS", {"symbol": "IBM"}),
    ],
)
def test_empty_answers_and_missing_data_keys_mean_not_found(
    function: str, document: dict[str, object]
) -> None:
    verdict = classify_answer(function, "IBM", 200, _body(document))

    assert verdict.kind is AnswerKind.NOT_FOUND


@pytest.mark.parametrize(
    ("function", "document"),
    [
        ("TIME_SERIES_DAILY", DAILY_BODY),
        ("SPLITS", {"symbol": "IBM", "data": []}),
        (
            "DIVIDENDS",
            {
                "symbol": "IBM",
                "data": [{"ex_dividend_date": "2024-05-09", "amount": "1.67"}],
            },
        ),
        ("OVERVIEW", {"Symbol": "IBM", "Name": "International Business Machines"}),
    ],
)
def test_data_answers_are_data(function: str, document: dict[str, object]) -> None:
    assert classify_answer(function, "IBM", 200, _body(document)).is_data


def test_an_answer_about_another_symbol_is_not_data() -> None:
    verdict = classify_answer("TIME_SERIES_DAILY", "MSFT", 200, _body(DAILY_BODY))

    assert verdict.kind is AnswerKind.TRANSIENT
    assert "'IBM'" in verdict.detail


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, AnswerKind.TRANSIENT),
        (502, AnswerKind.TRANSIENT),
        (503, AnswerKind.TRANSIENT),
        (405, AnswerKind.TRANSIENT),
        (429, AnswerKind.TRANSIENT),
        (404, AnswerKind.HTTP_ERROR),
        (301, AnswerKind.HTTP_ERROR),
    ],
)
def test_error_statuses_are_classified_before_the_body(
    status: int, kind: AnswerKind
) -> None:
    verdict = classify_answer("TIME_SERIES_DAILY", "IBM", status, _body(DAILY_BODY))

    assert verdict.kind is kind
    assert str(status) in verdict.detail


def test_a_429_waits_as_long_as_retry_after_says() -> None:
    verdict = classify_answer("SPLITS", "IBM", 429, b"", retry_after_header="7")

    assert verdict.retry_after == 7.0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        _body(DAILY_BODY)[:-40],  # cut mid-way: truncated
        b"<html>502 Bad Gateway</html>",
        b"[1, 2]",
    ],
)
def test_empty_truncated_and_malformed_bodies_are_transient(body: bytes) -> None:
    verdict = classify_answer("TIME_SERIES_DAILY", "IBM", 200, body)

    assert verdict.kind is AnswerKind.TRANSIENT
    assert verdict.is_retryable


def test_a_listing_csv_with_its_header_is_data() -> None:
    body = (
        f"{LISTING_HEADER}\r\nA,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,"
        "Active\r\nAA,,NYSE,Stock,2016-10-18,null,Active\r\n"
    ).encode()

    assert classify_answer("LISTING_STATUS", None, 200, body).is_data


def test_a_listing_csv_cut_mid_row_is_transient() -> None:
    body = f"{LISTING_HEADER}\r\nA,Agilent Technologies Inc,NYSE,Sto".encode()

    verdict = classify_answer("LISTING_STATUS", None, 200, body)

    assert verdict.kind is AnswerKind.TRANSIENT
    assert "line 2 has 4 fields" in verdict.detail


def test_a_listing_csv_with_another_header_is_transient() -> None:
    verdict = classify_answer("LISTING_STATUS", None, 200, b"timestamp,open\r\n")

    assert verdict.kind is AnswerKind.TRANSIENT


def test_a_csv_function_answering_json_is_classified_as_json() -> None:
    verdict = classify_answer("LISTING_STATUS", None, 200, _body({"Information": DEMO}))

    assert verdict.kind is AnswerKind.DEMO


def test_transport_errors_are_transient_and_redacted() -> None:
    error = ConnectionError(f"cannot reach https://x/query?apikey={KEY}&function=F")

    verdict = classify_transport_error(error, secret=None)

    assert verdict.kind is AnswerKind.TRANSIENT
    assert KEY not in verdict.detail
    assert verdict.detail.startswith("ConnectionError: ")
