from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from stocks_elt.emulator.market import Market
from stocks_elt.emulator.render import FUNCTIONS, render_response
from stocks_elt.emulator.universe import ListedSymbol, default_universe

TODAY = date(2024, 6, 21)
MARKET = Market(default_universe())


def _render(function: str, **params: str) -> tuple[bytes, dict[str, object]]:
    response = render_response(
        function, {"function": function, **params}, MARKET, TODAY
    )
    assert response.status == 200
    return response.body, json.loads(response.body) if response.body[:1] == b"{" else {}


def _history(symbol: str = "IBM"):  # type: ignore[no-untyped-def]
    history = MARKET.history(symbol, TODAY)
    assert history is not None
    return history


@pytest.mark.parametrize(
    ("function", "params"),
    [
        (name, {"symbol": "IBM", "outputsize": "full"})
        for name in sorted(FUNCTIONS - {"LISTING_STATUS", "SYMBOL_SEARCH"})
    ]
    + [("SYMBOL_SEARCH", {"keywords": "tesco"})],
)
def test_json_bodies_have_a_four_space_indent_and_no_trailing_newline(
    function: str, params: dict[str, str]
) -> None:
    body, parsed = _render(function, **params)
    assert body == json.dumps(parsed, indent=4).encode()
    assert not body.endswith(b"\n")


def test_daily_compact_is_the_latest_100_sessions_newest_first() -> None:
    _, parsed = _render("TIME_SERIES_DAILY", symbol="IBM")
    meta = parsed["Meta Data"]
    assert meta == {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-06-21",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern",
    }
    series = parsed["Time Series (Daily)"]
    assert isinstance(series, dict)
    history = _history()
    expected_dates = [day.isoformat() for day in reversed(history.dates[-100:])]
    assert list(series) == expected_dates
    newest = history.bars[-1]
    assert series["2024-06-21"] == {
        "1. open": f"{newest.open:.4f}",
        "2. high": f"{newest.high:.4f}",
        "3. low": f"{newest.low:.4f}",
        "4. close": f"{newest.close:.4f}",
        "5. volume": str(newest.volume),
    }


def test_daily_full_has_every_session_since_the_ipo() -> None:
    _, parsed = _render("TIME_SERIES_DAILY", symbol="IBM", outputsize="full")
    series = parsed["Time Series (Daily)"]
    assert isinstance(series, dict)
    assert parsed["Meta Data"]["4. Output Size"] == "Full size"  # type: ignore[index]
    assert len(series) == len(_history())
    assert next(reversed(series)) == "1999-11-01"


def test_daily_adjusted_uses_shortest_decimals_and_the_modern_defaults() -> None:
    _, parsed = _render("TIME_SERIES_DAILY_ADJUSTED", symbol="IBM", outputsize="full")
    assert parsed["Meta Data"]["1. Information"] == (  # type: ignore[index]
        "Daily Time Series with Splits and Dividend Events"
    )
    series = parsed["Time Series (Daily)"]
    assert isinstance(series, dict)
    history = _history()
    for i, bar in enumerate(history.bars):
        row = series[bar.trade_date.isoformat()]
        assert list(row) == [
            "1. open",
            "2. high",
            "3. low",
            "4. close",
            "5. adjusted close",
            "6. volume",
            "7. dividend amount",
            "8. split coefficient",
        ]
        assert row["4. close"] == repr(float(bar.close))
        assert Decimal(row["4. close"]) == bar.close
        assert row["5. adjusted close"] == repr(float(history.adjusted_closes[i]))
        assert row["6. volume"] == str(bar.volume)
    split_day = series["2021-11-04"]
    assert split_day["8. split coefficient"] == "1.046"
    assert series["2021-11-03"]["8. split coefficient"] == "1.0"
    assert series["2021-11-03"]["7. dividend amount"] == "0.0000"
    dividend = history.dividends[-1]
    assert series[dividend.ex_date.isoformat()]["7. dividend amount"] == (
        f"{dividend.amount:.4f}"
    )


def test_adjusted_close_recomputed_from_splits_dividends_and_closes() -> None:
    _, daily = _render("TIME_SERIES_DAILY", symbol="AAPL", outputsize="full")
    _, adjusted = _render(
        "TIME_SERIES_DAILY_ADJUSTED", symbol="AAPL", outputsize="full"
    )
    _, splits = _render("SPLITS", symbol="AAPL")
    _, dividends = _render("DIVIDENDS", symbol="AAPL")
    ratio_on = {
        row["effective_date"]: float(row["split_factor"])
        for row in splits["data"]  # type: ignore[attr-defined]
    }
    amount_on = {
        row["ex_dividend_date"]: float(row["amount"])
        for row in dividends["data"]  # type: ignore[attr-defined]
    }
    assert ratio_on
    assert amount_on
    days = sorted(daily["Time Series (Daily)"])  # type: ignore[arg-type]
    closes = [
        float(daily["Time Series (Daily)"][day]["4. close"])  # type: ignore[index]
        for day in days
    ]
    factor = 1.0
    for i in range(len(days) - 1, -1, -1):
        got = float(
            adjusted["Time Series (Daily)"][days[i]]["5. adjusted close"]  # type: ignore[index]
        )
        assert got == pytest.approx(closes[i] * factor, rel=1e-9)
        factor /= ratio_on.get(days[i], 1.0)
        if days[i] in amount_on:
            factor *= 1.0 - amount_on[days[i]] / closes[i - 1]


def test_weekly_rows_aggregate_the_daily_rows_of_each_week() -> None:
    _, weekly = _render("TIME_SERIES_WEEKLY", symbol="IBM")
    assert weekly["Meta Data"] == {
        "1. Information": "Weekly Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-06-21",
        "4. Time Zone": "US/Eastern",
    }
    series = weekly["Weekly Time Series"]
    assert isinstance(series, dict)
    week = [bar for bar in _history().bars if date(2024, 6, 10) <= bar.trade_date]
    week = [bar for bar in week if bar.trade_date <= date(2024, 6, 14)]
    assert series["2024-06-14"] == {
        "1. open": f"{week[0].open:.4f}",
        "2. high": f"{max(bar.high for bar in week):.4f}",
        "3. low": f"{min(bar.low for bar in week):.4f}",
        "4. close": f"{week[-1].close:.4f}",
        "5. volume": str(sum(bar.volume for bar in week)),
    }
    assert list(series)[:2] == ["2024-06-21", "2024-06-14"]


def test_monthly_adjusted_keys_the_open_month_by_the_latest_session() -> None:
    _, monthly = _render("TIME_SERIES_MONTHLY_ADJUSTED", symbol="IBM")
    meta = monthly["Meta Data"]
    assert isinstance(meta, dict)
    assert list(meta) == [
        "1. Information",
        "2. Symbol",
        "3. Last Refreshed",
        "4. Time Zone",
    ]
    assert meta["1. Information"] == "Monthly Adjusted Prices and Volumes"
    series = monthly["Monthly Adjusted Time Series"]
    assert isinstance(series, dict)
    assert list(series)[:3] == ["2024-06-21", "2024-05-31", "2024-04-30"]
    assert list(series["2024-05-31"]) == [
        "1. open",
        "2. high",
        "3. low",
        "4. close",
        "5. adjusted close",
        "6. volume",
        "7. dividend amount",
    ]
    paid_in_may = sum(
        (
            e.amount
            for e in _history().dividends
            if (e.ex_date.year, e.ex_date.month) == (2024, 5)
        ),
        Decimal(0),
    )
    assert series["2024-05-31"]["7. dividend amount"] == f"{paid_in_may:.4f}"


@pytest.mark.parametrize(
    ("function", "header", "filename"),
    [
        ("TIME_SERIES_DAILY", "timestamp,open,high,low,close,volume", "daily_IBM.csv"),
        (
            "TIME_SERIES_DAILY_ADJUSTED",
            "timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,"
            "split_coefficient",
            "daily_adjusted_IBM.csv",
        ),
        (
            "TIME_SERIES_WEEKLY",
            "timestamp,open,high,low,close,volume",
            "weekly_IBM.csv",
        ),
        (
            "TIME_SERIES_WEEKLY_ADJUSTED",
            "timestamp,open,high,low,close,adjusted close,volume,dividend amount",
            "weekly_adjusted_IBM.csv",
        ),
        (
            "TIME_SERIES_MONTHLY",
            "timestamp,open,high,low,close,volume",
            "monthly_IBM.csv",
        ),
        (
            "TIME_SERIES_MONTHLY_ADJUSTED",
            "timestamp,open,high,low,close,adjusted close,volume,dividend amount",
            "monthly_adjusted_IBM.csv",
        ),
        (
            "GLOBAL_QUOTE",
            "symbol,open,high,low,price,volume,latestDay,previousClose,change,"
            "changePercent",
            "global_quote_IBM.csv",
        ),
        ("SPLITS", "effective_date,split_factor", "splits_IBM.csv"),
        (
            "DIVIDENDS",
            "ex_dividend_date,declaration_date,record_date,payment_date,amount",
            "dividends_IBM.csv",
        ),
    ],
)
def test_csv_has_the_real_header_crlf_lines_and_a_download_name(
    function: str, header: str, filename: str
) -> None:
    response = render_response(
        function, {"symbol": "IBM", "datatype": "csv"}, MARKET, TODAY
    )
    assert response.content_type == "application/x-download"
    assert response.filename == filename
    assert ("Content-Disposition", f"attachment; filename={filename}") in (
        response.headers()
    )
    text = response.body.decode()
    assert text.startswith(header + "\r\n")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")


def test_csv_daily_rows_match_the_json_rows() -> None:
    _, parsed = _render("TIME_SERIES_DAILY", symbol="IBM")
    body, _ = _render("TIME_SERIES_DAILY", symbol="IBM", datatype="csv")
    lines = body.decode().split("\r\n")[1:-1]
    series = parsed["Time Series (Daily)"]
    assert isinstance(series, dict)
    assert len(lines) == 100
    assert lines == [",".join([day, *row.values()]) for day, row in series.items()]


def test_global_quote_reports_the_change_from_the_previous_close() -> None:
    _, parsed = _render("GLOBAL_QUOTE", symbol="IBM")
    quote = parsed["Global Quote"]
    history = _history()
    last, previous = history.bars[-1], history.bars[-2]
    change = last.close - previous.close
    assert quote == {
        "01. symbol": "IBM",
        "02. open": f"{last.open:.4f}",
        "03. high": f"{last.high:.4f}",
        "04. low": f"{last.low:.4f}",
        "05. price": f"{last.close:.4f}",
        "06. volume": str(last.volume),
        "07. latest trading day": "2024-06-21",
        "08. previous close": f"{previous.close:.4f}",
        "09. change": f"{change:.4f}",
        "10. change percent": f"{change * 100 / previous.close:.4f}%",
    }


def test_global_quote_with_delayed_entitlement_uses_the_delayed_key() -> None:
    _, parsed = _render("GLOBAL_QUOTE", symbol="IBM", entitlement="delayed")
    assert list(parsed) == ["Global Quote - DATA DELAYED BY 15 MINUTES"]


def test_splits_and_dividends_list_events_newest_first() -> None:
    _, splits = _render("SPLITS", symbol="IBM")
    assert splits == {
        "symbol": "IBM",
        "data": [{"effective_date": "2021-11-04", "split_factor": "1.0460"}],
    }
    _, dividends = _render("DIVIDENDS", symbol="IBM")
    rows = dividends["data"]
    assert isinstance(rows, list)
    assert [row["ex_dividend_date"] for row in rows] == sorted(
        (row["ex_dividend_date"] for row in rows), reverse=True
    )
    assert list(rows[0]) == [
        "ex_dividend_date",
        "declaration_date",
        "record_date",
        "payment_date",
        "amount",
    ]
    assert rows[-1]["payment_date"] == "None"  # 1999: dates unknown
    assert rows[0]["amount"] == repr(float(_history().dividends[-1].amount))


def test_listing_status_lists_active_or_delisted_symbols_as_of_a_date() -> None:
    active = render_response("LISTING_STATUS", {}, MARKET, TODAY)
    assert active.filename == "listing_status.csv"
    lines = active.body.decode().split("\r\n")
    assert lines[0] == "symbol,name,exchange,assetType,ipoDate,delistingDate,status"
    assert (
        "IBM,International Business Machines Corp,NYSE,Stock,1999-11-01,null,Active"
        in lines
    )
    symbols = [line.split(",")[0] for line in lines[1:-1]]
    assert symbols == sorted(symbols)
    assert "TWTR" not in symbols  # delisted in 2022
    assert "LEHMQ" not in symbols
    delisted = render_response("LISTING_STATUS", {"state": "delisted"}, MARKET, TODAY)
    assert "TWTR,Twitter Inc,NYSE,Stock,2013-11-07,2022-10-27,Delisted" in (
        delisted.body.decode().split("\r\n")
    )
    in_2020 = render_response("LISTING_STATUS", {"date": "2020-01-02"}, MARKET, TODAY)
    assert "\r\nTWTR," in in_2020.body.decode()
    too_early = render_response("LISTING_STATUS", {"date": "2009-12-31"}, MARKET, TODAY)
    assert json.loads(too_early.body)["Error Message"].startswith("Invalid API call")


def test_overview_has_the_55_documented_keys_as_strings() -> None:
    _, parsed = _render("OVERVIEW", symbol="IBM")
    assert len(parsed) == 55
    assert list(parsed)[:4] == ["Symbol", "AssetType", "Name", "Description"]
    assert list(parsed)[-2:] == ["DividendDate", "ExDividendDate"]
    assert all(isinstance(value, str) for value in parsed.values())
    assert parsed["Symbol"] == "IBM"
    assert parsed["ExDividendDate"] == _history().dividends[-1].ex_date.isoformat()


def test_symbol_search_scores_an_exact_symbol_match_one() -> None:
    _, parsed = _render("SYMBOL_SEARCH", keywords="ibm")
    matches = parsed["bestMatches"]
    assert isinstance(matches, list)
    assert matches[0]["1. symbol"] == "IBM"
    assert matches[0]["9. matchScore"] == "1.0000"
    assert matches[0]["7. timezone"] == "UTC-04"  # June: daylight saving time
    _, tesco = _render("SYMBOL_SEARCH", keywords="tesco")
    assert [m["2. name"] for m in tesco["bestMatches"]] == ["Tesco PLC - ADR"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (
            "TIME_SERIES_DAILY",
            {
                "Error Message": "Invalid API call. Please retry or visit the "
                "documentation (https://www.alphavantage.co/documentation/) for "
                "TIME_SERIES_DAILY."
            },
        ),
        ("GLOBAL_QUOTE", {"Global Quote": {}}),
        ("OVERVIEW", {}),
        ("SPLITS", {}),
    ],
)
def test_unknown_symbols_answer_like_the_real_service(
    function: str, expected: dict[str, object]
) -> None:
    for params in ({"symbol": "NOSUCH"}, {"symbol": "NOSUCH", "datatype": "csv"}):
        response = render_response(function, params, MARKET, TODAY)
        assert response.outcome == "not_found"
        assert response.content_type == "application/json"
        assert json.loads(response.body) == expected


def test_a_symbol_before_its_ipo_is_unknown_and_a_delisted_one_stops() -> None:
    before = render_response(
        "TIME_SERIES_DAILY", {"symbol": "META"}, MARKET, date(2012, 5, 17)
    )
    assert before.outcome == "not_found"
    _, parsed = _render("TIME_SERIES_DAILY", symbol="TWTR")
    assert parsed["Meta Data"]["3. Last Refreshed"] == "2022-10-27"  # type: ignore[index]
    assert render_response("OVERVIEW", {"symbol": "TWTR"}, MARKET, TODAY).body == b"{}"


def test_missing_symbol_and_unknown_function_get_the_real_errors() -> None:
    missing = render_response("TIME_SERIES_DAILY", {}, MARKET, TODAY)
    assert missing.outcome == "error"
    assert "for TIME_SERIES_DAILY." in json.loads(missing.body)["Error Message"]
    empty = render_response("", {}, MARKET, TODAY)
    assert json.loads(empty.body) == {
        "Error Message": "This API function () does not exist."
    }


def test_render_accepts_a_custom_universe() -> None:
    market = Market((ListedSymbol("NEW", "New Co", ipo_date=date(2024, 6, 3)),))
    response = render_response("TIME_SERIES_DAILY", {"symbol": "NEW"}, market, TODAY)
    series = json.loads(response.body)["Time Series (Daily)"]
    # 2024-06-03 .. 2024-06-21: three weeks of five days less Juneteenth (06-19)
    assert len(series) == 14
    assert "2024-06-19" not in series


def test_search_keywords_cannot_inject_into_the_download_name() -> None:
    response = render_response(
        "SYMBOL_SEARCH",
        {"keywords": 'ib"m\r\nSet-Cookie: x', "datatype": "csv"},
        MARKET,
        TODAY,
    )
    assert response.filename == "search_ib_m__set-cookie__x.csv"


@pytest.mark.parametrize(
    ("today", "quarter"),
    [
        (date(2024, 6, 21), "2024-03-31"),
        (date(2024, 1, 2), "2023-12-31"),
        (date(2024, 10, 1), "2024-09-30"),
    ],
)
def test_overview_latest_quarter_is_the_last_quarter_ended(
    today: date, quarter: str
) -> None:
    response = render_response("OVERVIEW", {"symbol": "IBM"}, MARKET, today)
    assert json.loads(response.body)["LatestQuarter"] == quarter
