"""Parsing lake objects into typed rows, and every reason a row is refused."""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal

import pytest

from stocks_elt.alpha_vantage import parse
from stocks_elt.alpha_vantage.parse import (
    DailyBar,
    DividendRow,
    Reason,
    SplitRow,
    check_daily_entry,
    parse_daily_series,
    parse_dividends,
    parse_listing_status,
    parse_object,
    parse_overview,
    parse_splits,
)
from stocks_elt.errors import LoadError

KEY = "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/x.json"
FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")
ADJUSTED_FIELDS = (
    "1. open",
    "2. high",
    "3. low",
    "4. close",
    "5. adjusted close",
    "6. volume",
    "7. dividend amount",
    "8. split coefficient",
)
GOOD = ("173.9700", "174.9600", "171.4000", "172.4600", "10182025")


def body(
    rows: dict[str, object],
    *,
    symbol: str = "IBM",
    last_refreshed: str = "2024-06-21",
    adjusted: bool = False,
) -> bytes:
    names = ADJUSTED_FIELDS if adjusted else FIELDS
    series = {
        day: dict(zip(names, entry, strict=True)) if isinstance(entry, tuple) else entry
        for day, entry in rows.items()
    }
    meta = {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": symbol,
        "3. Last Refreshed": last_refreshed,
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    }
    return json.dumps(
        {"Meta Data": meta, "Time Series (Daily)": series}, indent=4
    ).encode()


def daily(rows: dict[str, object], **kwargs: object) -> parse.DailySeries:
    is_adjusted = bool(kwargs.get("adjusted", False))
    return parse_daily_series(
        body(rows, **kwargs),  # type: ignore[arg-type]
        object_key=KEY,
        symbol="IBM",
        is_adjusted=is_adjusted,
    )


def test_a_daily_series_becomes_decimal_bars_in_ascending_date_order() -> None:
    series = daily(
        {
            "2024-06-21": GOOD,
            "2024-06-20": ("170.0000", "171.5000", "169.2500", "171.0000", "900"),
        }
    )

    assert series.rejected == []
    assert series.last_refreshed == date(2024, 6, 21)
    assert series.bars == [
        DailyBar(
            date(2024, 6, 20),
            Decimal("170.0000"),
            Decimal("171.5000"),
            Decimal("169.2500"),
            Decimal("171.0000"),
            900,
        ),
        DailyBar(
            date(2024, 6, 21),
            Decimal("173.9700"),
            Decimal("174.9600"),
            Decimal("171.4000"),
            Decimal("172.4600"),
            10182025,
        ),
    ]
    assert series.rows_parsed == 2


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (("173.97", "174.96", "171.40", "172.46"), Reason.MISSING_FIELD),
        (["173.97"], Reason.MISSING_FIELD),
        (("abc", "174.96", "171.40", "172.46", "10"), Reason.NOT_NUMERIC),
        (("NaN", "174.96", "171.40", "172.46", "10"), Reason.NOT_NUMERIC),
        (("Infinity", "174.96", "171.40", "172.46", "10"), Reason.NOT_NUMERIC),
        (("173.97", "174.96", "171.40", "172.46", "1.5"), Reason.NOT_NUMERIC),
        ((173.97, "174.96", "171.40", "172.46", "10"), Reason.NOT_NUMERIC),
        (("0.0000", "174.96", "0.0000", "172.46", "10"), Reason.NON_POSITIVE_PRICE),
        (("-1", "174.96", "-2", "172.46", "10"), Reason.NON_POSITIVE_PRICE),
        (("173.97", "174.96", "171.40", "172.46", "-10"), Reason.NEGATIVE_VOLUME),
        (("1e15", "1e15", "1e15", "1e15", "10"), Reason.OUT_OF_RANGE),
        (("173.97", "174.96", "171.40", "172.46", str(2**63)), Reason.OUT_OF_RANGE),
        (("173.97", "170.00", "171.40", "172.46", "10"), Reason.HIGH_BELOW_LOW),
        (("175.00", "174.96", "171.40", "172.46", "10"), Reason.OHLC_INCONSISTENT),
        (("173.97", "174.96", "171.40", "171.39", "10"), Reason.OHLC_INCONSISTENT),
    ],
)
def test_each_broken_entry_is_rejected_with_its_reason(
    entry: object, reason: Reason
) -> None:
    if isinstance(entry, tuple) and len(entry) == 4:
        entry = dict(zip(FIELDS, entry, strict=False))  # no volume
    series = daily({"2024-06-21": entry, "2024-06-20": GOOD})

    assert [bar.trade_date for bar in series.bars] == [date(2024, 6, 20)]
    assert [(row.row_key, row.reason) for row in series.rejected] == [
        ("2024-06-21", reason)
    ]
    assert series.rows_parsed == 2


def test_a_rejected_row_keeps_its_raw_values_and_a_readable_detail() -> None:
    entry = ("173.97", "170.00", "171.40", "172.46", "10")
    series = daily({"2024-06-21": entry})

    (row,) = series.rejected
    assert row.raw_values == dict(zip(FIELDS, entry, strict=True))
    assert row.detail == "high 170.00 is below low 171.40"


@pytest.mark.parametrize("day", ["2024-02-30", "2024-W25-5", "20240621", "June 21"])
def test_a_key_that_is_not_a_date_is_rejected(day: str) -> None:
    series = daily({day: GOOD, "2024-06-20": GOOD})

    assert [(row.row_key, row.reason) for row in series.rejected] == [
        (day, Reason.BAD_DATE)
    ]


def test_a_session_after_the_answers_last_refreshed_date_is_rejected() -> None:
    series = daily(
        {"2024-06-24": GOOD, "2024-06-21": GOOD}, last_refreshed="2024-06-21 14:07:03"
    )

    assert [bar.trade_date for bar in series.bars] == [date(2024, 6, 21)]
    assert [(row.row_key, row.reason) for row in series.rejected] == [
        ("2024-06-24", Reason.AFTER_LAST_REFRESHED)
    ]


def test_every_copy_of_a_date_sent_twice_is_rejected() -> None:
    # JSON objects cannot hold a key twice once parsed; write the body by hand.
    fields = ", ".join(f'"{n}": "{v}"' for n, v in zip(FIELDS, GOOD, strict=True))
    other = fields.replace("172.4600", "172.5000")
    raw = (
        '{"Meta Data": {"2. Symbol": "IBM", "3. Last Refreshed": "2024-06-21"},'
        f' "Time Series (Daily)": {{"2024-06-21": {{{fields}}},'
        f' "2024-06-20": {{{fields}}}, "2024-06-21": {{{other}}}}}}}'
    ).encode()

    series = parse_daily_series(raw, object_key=KEY, symbol="IBM", is_adjusted=False)

    assert [bar.trade_date for bar in series.bars] == [date(2024, 6, 20)]
    assert [(row.row_key, row.reason) for row in series.rejected] == [
        ("2024-06-21", Reason.DUPLICATE_DATE),
        ("2024-06-21", Reason.DUPLICATE_DATE),
    ]
    assert {row.raw_values["4. close"] for row in series.rejected} == {
        "172.4600",
        "172.5000",
    }
    assert series.rows_parsed == 3


def test_an_adjusted_series_carries_adjusted_close_dividend_and_split() -> None:
    entry = ("222.3", "225.915", "221.0", "224.5", "224.31536210316964", "100")
    entry += ("0.8300", "2.0")
    series = daily({"2024-06-21": entry}, adjusted=True)

    assert series.is_adjusted
    assert series.bars == [
        DailyBar(
            date(2024, 6, 21),
            Decimal("222.3"),
            Decimal("225.915"),
            Decimal("221.0"),
            Decimal("224.5"),
            100,
            Decimal("224.31536210316964"),
            Decimal("0.8300"),
            Decimal("2.0"),
        )
    ]


@pytest.mark.parametrize(
    ("dividend", "split", "reason"),
    [
        ("-0.10", "1.0", Reason.NEGATIVE_AMOUNT),
        ("0.0000", "0", Reason.NON_POSITIVE_FACTOR),
        ("0.0000", "x", Reason.NOT_NUMERIC),
    ],
)
def test_a_broken_adjusted_entry_is_rejected_with_its_reason(
    dividend: str, split: str, reason: Reason
) -> None:
    entry = ("222.3", "225.9", "221.0", "224.5", "224.3", "100", dividend, split)
    series = daily({"2024-06-21": entry}, adjusted=True)

    assert series.bars == []
    assert [row.reason for row in series.rejected] == [reason]


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"Information": "Thank you for using Alpha Vantage!"}, "'Information'"),
        ({"Note": "Thank you for using Alpha Vantage!"}, "'Note'"),
        ({"Error Message": "Invalid API call."}, "'Error Message'"),
        ({}, "empty answer"),
        ({"Meta Data": {}}, "no 'Meta Data' and 'Time Series (Daily)'"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_an_answer_that_is_not_data_raises_load_error_naming_the_object(
    document: object, words: str
) -> None:
    with pytest.raises(LoadError) as raised:
        parse_daily_series(
            json.dumps(document).encode(),
            object_key=KEY,
            symbol="IBM",
            is_adjusted=False,
        )

    assert str(raised.value).startswith(f"{KEY}: not data")
    assert words in str(raised.value)


def test_a_notice_that_echoes_the_api_key_is_refused_without_repeating_it() -> None:
    notice = {
        "Information": "We have detected your API key as SECRETKEY123 and our "
        "standard API rate limit is 25 requests per day."
    }

    with pytest.raises(LoadError) as raised:
        parse_daily_series(
            json.dumps(notice).encode(), object_key=KEY, symbol="IBM", is_adjusted=False
        )

    assert "SECRETKEY123" not in str(raised.value)


def test_a_body_that_is_not_json_raises_load_error() -> None:
    with pytest.raises(LoadError, match="not JSON"):
        parse_daily_series(b"<html>", object_key=KEY, symbol="IBM", is_adjusted=False)


def test_an_answer_about_another_symbol_is_refused() -> None:
    with pytest.raises(LoadError, match="names symbol 'MSFT', the key names IBM"):
        daily({"2024-06-21": GOOD}, symbol="MSFT")


def test_an_answer_without_a_last_refreshed_date_is_refused() -> None:
    with pytest.raises(LoadError, match="Last Refreshed"):
        daily({"2024-06-21": GOOD}, last_refreshed="yesterday")


def test_the_fast_path_and_the_entry_check_agree_on_random_entries() -> None:
    """The series loop takes a shortcut for good rows; it must judge as the rules."""
    rng = random.Random(20240621)
    pool = ["1", "2", "2.5", "0", "-1", "abc", "1e20", "NaN", "3.0001", "0.00004"]
    for _ in range(400):
        prices = [rng.choice(pool) for _ in range(4)]
        values = (*prices, rng.choice(["0", "5", "-5", "x", "7"]))
        day = rng.choice(["2024-06-20", "2024-06-24", "2024-13-01"])
        series = daily({day: values}, last_refreshed="2024-06-21")
        expected_bar, expected_reject = check_daily_entry(
            day, dict(zip(FIELDS, values, strict=True)), "2024-06-21", is_adjusted=False
        )
        assert series.bars == ([expected_bar] if expected_bar else []), values
        assert [r.reason for r in series.rejected] == (
            [expected_reject.reason] if expected_reject else []
        ), values


def test_the_adjusted_fast_path_and_the_entry_check_agree_on_random_entries() -> None:
    rng = random.Random(20240622)
    pool = ["1", "2", "2.5", "0", "-1", "abc", "1e20", "NaN", "0.00004", "1_0"]
    for _ in range(400):
        prices = [rng.choice(pool) for _ in range(5)]
        volume = rng.choice(["0", "5", "-5", "x", " 7"])
        events = [rng.choice(["0.0000", "0.5", "-0.1", "1.0", "0", "2.0", "x"])]
        events.append(rng.choice(["1.0", "0", "2.0", "-1", "1e13", "x"]))
        values = (*prices, volume, *events)
        day = rng.choice(["2024-06-20", "2024-06-24", "2024-13-01"])
        series = daily({day: values}, last_refreshed="2024-06-21", adjusted=True)
        expected_bar, expected_reject = check_daily_entry(
            day,
            dict(zip(ADJUSTED_FIELDS, values, strict=True)),
            "2024-06-21",
            is_adjusted=True,
        )
        assert series.bars == ([expected_bar] if expected_bar else []), values
        assert [r.reason for r in series.rejected] == (
            [expected_reject.reason] if expected_reject else []
        ), values


@pytest.mark.parametrize(
    "values",
    [
        # low above open by 1e-18: one float, two numbers
        ("100", "101", "100.000000000000000001", "100.5", "7"),
        # high below close by 1e-18
        ("100", "100.999999999999999999", "99", "101", "7"),
        # equal numbers spelled differently
        ("100.0", "101", "100", "100.00", "7"),
        # the lowest price a column holds, and just below it
        ("0.00005", "0.00005", "0.00005", "0.00005", "7"),
        ("0.00005", "0.00005", "0.0000499999999999999999", "0.00005", "7"),
        # numbers too long for a float to tell apart, near the column's top
        ("99999999999999.9999", "99999999999999.99999", "1", "2", "7"),
    ],
)
def test_numbers_one_float_cannot_tell_apart_are_judged_exactly(
    values: tuple[str, ...],
) -> None:
    series = daily({"2024-06-21": values})
    expected_bar, expected_reject = check_daily_entry(
        "2024-06-21",
        dict(zip(FIELDS, values, strict=True)),
        "2024-06-21",
        is_adjusted=False,
    )
    assert series.bars == ([expected_bar] if expected_bar else [])
    assert [r.reason for r in series.rejected] == (
        [expected_reject.reason] if expected_reject else []
    )


@pytest.mark.parametrize(
    ("amount", "coefficient", "kept"),
    [
        ("0.0000", "1.0", True),
        ("-0.0000", "1.0", True),
        ("-1e-400", "1.0", False),  # rounds to the float -0.0, yet negative
        ("0.5", "0.0000005", True),  # the smallest coefficient the column holds
        ("0.5", "0.0000004999999999999999", False),
    ],
)
def test_event_fields_at_their_bounds_are_judged_exactly(
    amount: str, coefficient: str, kept: bool
) -> None:
    values = ("10", "11", "9", "10", "10.0", "100", amount, coefficient)
    series = daily({"2024-06-21": values}, adjusted=True)
    expected_bar, _ = check_daily_entry(
        "2024-06-21",
        dict(zip(ADJUSTED_FIELDS, values, strict=True)),
        "2024-06-21",
        is_adjusted=True,
    )
    assert (expected_bar is not None) is kept
    assert series.bars == ([expected_bar] if expected_bar else [])


def test_numbers_spelled_oddly_reach_the_copy_text_in_canonical_form() -> None:
    series = daily(
        {"2024-06-21": ("1_0.5", " 11.0", "9.5", "10.0", "1_000")},
    )

    assert series.fields == [("2024-06-21", "10.5", "11.0", "9.5", "10.0", "1000")]


def test_emulated_answers_parse_into_the_emulators_own_bars() -> None:
    from stocks_elt.emulator.market import Market
    from stocks_elt.emulator.render import render_response
    from stocks_elt.emulator.universe import universe_for_symbols

    market = Market(universe_for_symbols(("IBM",)))
    today = date(2024, 6, 21)
    history = market.history("IBM", today)
    assert history is not None
    for function in ("TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"):
        answer = render_response(
            function, {"symbol": "IBM", "outputsize": "full"}, market, today
        )
        series = parse_daily_series(
            answer.body,
            object_key=KEY,
            symbol="IBM",
            is_adjusted=function.endswith("ADJUSTED"),
        )
        assert series.rejected == []
        assert [tuple(bar[:6]) for bar in series.bars] == [
            (b.trade_date, b.open, b.high, b.low, b.close, b.volume)
            for b in history.bars
        ]


# -- splits and dividends -----------------------------------------------------------


def test_splits_parse_and_a_bad_entry_is_rejected() -> None:
    document = {
        "symbol": "IBM",
        "data": [
            {"effective_date": "2021-11-04", "split_factor": "1.0460"},
            {"effective_date": "2005-05-01", "split_factor": "0.0000"},
            {"effective_date": "1999-05-27", "split_factor": "2.0000"},
            {"effective_date": "None", "split_factor": "2.0000"},
            {"effective_date": "1998-01-02"},
        ],
    }

    splits = parse_splits(json.dumps(document).encode(), object_key=KEY, symbol="IBM")

    assert splits.rows == [
        SplitRow(date(1999, 5, 27), Decimal("2.0000")),
        SplitRow(date(2021, 11, 4), Decimal("1.0460")),
    ]
    assert [(r.row_key, r.reason) for r in splits.rejected] == [
        ("2005-05-01", Reason.NON_POSITIVE_FACTOR),
        (None, Reason.MISSING_DATE),
        ("1998-01-02", Reason.MISSING_FIELD),
    ]
    assert splits.rows_parsed == 5


def test_dividends_parse_with_unknown_dates_as_none() -> None:
    document = {
        "symbol": "IBM",
        "data": [
            {
                "ex_dividend_date": "2024-05-09",
                "declaration_date": "2024-04-30",
                "record_date": "2024-05-10",
                "payment_date": "2024-06-10",
                "amount": "1.67",
            },
            {
                "ex_dividend_date": "1999-05-06",
                "declaration_date": "None",
                "record_date": "None",
                "payment_date": "None",
                "amount": "0.12",
            },
        ],
    }

    dividends = parse_dividends(
        json.dumps(document).encode(), object_key=KEY, symbol="IBM"
    )

    assert dividends.rejected == []
    assert dividends.rows == [
        DividendRow(date(1999, 5, 6), Decimal("0.12"), None, None, None),
        DividendRow(
            date(2024, 5, 9),
            Decimal("1.67"),
            date(2024, 4, 30),
            date(2024, 5, 10),
            date(2024, 6, 10),
        ),
    ]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"ex_dividend_date": "None", "amount": "1.0"}, Reason.MISSING_DATE),
        ({"ex_dividend_date": "2024-05-09", "amount": "-1.0"}, Reason.NEGATIVE_AMOUNT),
        ({"ex_dividend_date": "2024-05-09", "amount": "one"}, Reason.NOT_NUMERIC),
        (
            {"ex_dividend_date": "2024-05-09", "amount": "1", "record_date": "May"},
            Reason.BAD_DATE,
        ),
        ({"ex_dividend_date": "2024-05-09"}, Reason.MISSING_FIELD),
    ],
)
def test_a_broken_dividend_is_rejected_with_its_reason(
    entry: dict[str, str], reason: Reason
) -> None:
    document = {"symbol": "IBM", "data": [entry]}

    dividends = parse_dividends(
        json.dumps(document).encode(), object_key=KEY, symbol="IBM"
    )

    assert dividends.rows == []
    assert [row.reason for row in dividends.rejected] == [reason]


def test_two_dividends_on_one_ex_date_are_both_rejected() -> None:
    entry = {"ex_dividend_date": "2024-05-09", "amount": "1.67"}
    document = {"symbol": "IBM", "data": [entry, {**entry, "amount": "0.50"}]}

    dividends = parse_dividends(
        json.dumps(document).encode(), object_key=KEY, symbol="IBM"
    )

    assert dividends.rows == []
    assert [row.reason for row in dividends.rejected] == [Reason.DUPLICATE_DATE] * 2


def test_an_empty_splits_answer_is_not_data() -> None:
    with pytest.raises(LoadError, match="empty answer"):
        parse_splits(b"{}", object_key=KEY, symbol="IBM")


# -- listing and overview -----------------------------------------------------------

LISTING = (
    "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
    "A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n"
    "AAC,,NYSE MKT,ETF,2021-03-18,2023-01-05,Delisted\r\n"
    "bad$,Broken Co,NYSE,Stock,2000-01-03,null,Active\r\n"
    "DUP,First,NYSE,Stock,2000-01-03,null,Active\r\n"
    "DUP,Second,NYSE,Stock,2000-01-03,null,Active\r\n"
    "ODD,Odd Co,NYSE,Stock,someday,null,Active\r\n"
    "SHORT,Short Co\r\n"
)


def test_listing_status_lines_become_rows_and_bad_lines_are_rejected() -> None:
    listing = parse_listing_status(LISTING.encode(), object_key=KEY)

    assert listing.rows == [
        parse.ListingRow(
            "A",
            "Agilent Technologies Inc",
            "NYSE",
            "Stock",
            date(1999, 11, 18),
            None,
            "Active",
        ),
        parse.ListingRow(
            "AAC",
            None,
            "NYSE MKT",
            "ETF",
            date(2021, 3, 18),
            date(2023, 1, 5),
            "Delisted",
        ),
    ]
    assert sorted((r.row_key, r.reason) for r in listing.rejected) == [
        ("DUP", Reason.DUPLICATE_SYMBOL),
        ("DUP", Reason.DUPLICATE_SYMBOL),
        ("ODD", Reason.BAD_DATE),
        ("SHORT", Reason.MISSING_FIELD),
        ("bad$", Reason.INVALID_SYMBOL),
    ]
    assert listing.rows_parsed == 7


def test_a_listing_with_another_header_or_a_json_notice_is_not_data() -> None:
    with pytest.raises(LoadError, match="header"):
        parse_listing_status(b"timestamp,open\r\n", object_key=KEY)
    with pytest.raises(LoadError, match="'Information'"):
        parse_listing_status(b'{"Information": "premium"}', object_key=KEY)


def test_an_overview_keeps_its_identity_fields_and_none_becomes_null() -> None:
    document = {
        "Symbol": "IBM",
        "AssetType": "Common Stock",
        "Name": "International Business Machines",
        "Exchange": "NYSE",
        "Currency": "USD",
        "Country": "USA",
        "Sector": "None",
        "Industry": "-",
    }

    overview = parse_overview(
        json.dumps(document).encode(), object_key=KEY, symbol="IBM"
    )

    assert overview.row == parse.OverviewRow(
        "IBM",
        "International Business Machines",
        "NYSE",
        "Common Stock",
        "USD",
        "USA",
        None,
        None,
    )


def test_an_empty_overview_is_not_data() -> None:
    with pytest.raises(LoadError, match="empty answer"):
        parse_overview(b"{}", object_key=KEY, symbol="IBM")


def test_parse_object_refuses_a_function_it_has_no_loader_for() -> None:
    with pytest.raises(LoadError, match="no loader for function 'GLOBAL_QUOTE'"):
        parse_object("GLOBAL_QUOTE", "IBM", b"{}", object_key=KEY)
