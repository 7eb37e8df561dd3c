"""
Property-based tests of the lake-object parsers: bodies of every answer kind the
loader reads, built the way the API builds them and then broken the ways the wire,
the disk or the API breaks them (truncated, keys reordered or repeated, wrong
types, huge, negative and non-finite numbers, duplicate dates, unicode and wrong
symbols, extra fields, a byte-order mark, CRLF line ends).

Whatever the body, the parser returns a result or raises its own ``LoadError``;
nothing else escapes. And nothing is lost: every row sent is either kept with
exactly the values sent (the same string, or for a number spelled unusually, the
same number) or rejected with a reason. ``prepare_body`` (checksum, parse, COPY
text) is held to the same, plus: what it hands to COPY is text Postgres accepts.

``STOCKS_ELT_FUZZ_EXAMPLES`` runs more examples per property (default 150).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stocks_elt.alpha_vantage.parse import (
    LISTING_HEADER,
    DailySeries,
    Dividends,
    Listing,
    Overview,
    Reason,
    RejectedRow,
    Splits,
    parse_object,
)
from stocks_elt.errors import InvalidSymbol, LoadError
from stocks_elt.lake.keys import answer_key, read_answer_key
from stocks_elt.market.symbols import normalize_symbol
from stocks_elt.warehouse.loader import prepare_body

EXAMPLES = int(os.environ.get("STOCKS_ELT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",  # CI: the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SYMBOL = "IBM"
LAST_REFRESHED = "2024-06-21"
FETCHED = datetime(2024, 6, 21, 22, 0, tzinfo=UTC)
BOM = b"\xef\xbb\xbf"

# --- JSON with the freedoms orjson's dict cannot express --------------------------


class Obj(list[tuple[str, Any]]):
    """A JSON object as ordered pairs: keys may repeat, order is kept."""


@dataclass(frozen=True)
class Raw:
    """A token written into the JSON text as it is (NaN, Infinity, 1e999)."""

    token: str


def dump(value: Any, *, ascii_only: bool, indent: str | None) -> str:
    """Serialise ``value`` the way the API does (4-space indent) or compactly."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, Obj | list):
        items = (
            [
                f"{json.dumps(k, ensure_ascii=ascii_only)}: "
                f"{dump(v, ascii_only=ascii_only, indent=indent)}"
                for k, v in value
            ]
            if isinstance(value, Obj)
            else [dump(v, ascii_only=ascii_only, indent=indent) for v in value]
        )
        opening, closing = ("{", "}") if isinstance(value, Obj) else ("[", "]")
        if not items:
            return opening + closing
        if indent is None:
            return opening + ", ".join(items) + closing
        inner = ",\n".join(indent + item.replace("\n", "\n" + indent) for item in items)
        return f"{opening}\n{inner}\n{closing}"
    return json.dumps(value, ensure_ascii=ascii_only)


@dataclass(frozen=True)
class Body:
    """A generated body and the rows it was built from (None when the body was
    cut, so what it holds is unknown)."""

    data: bytes
    rows: list[tuple[str, Any]] | None


@st.composite
def encoded(draw: st.DrawFn, document: Any, rows: list[tuple[str, Any]]) -> Body:
    """``document`` as bytes, perhaps with CRLF, a BOM, or cut short."""
    text = dump(
        document,
        ascii_only=draw(st.booleans()),
        indent=draw(st.sampled_from(["    ", None, "  "])),
    )
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode()
    if draw(one_in(12)):
        data = BOM + data
    if draw(one_in(10)):
        return Body(data[: draw(st.integers(0, max(len(data) - 1, 0)))], None)
    return Body(data, rows)


# --- values ----------------------------------------------------------------------

ODD_NUMBERS = (
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e309",
    "1E+400",
    "-1",
    "-0.0001",
    "0",
    "0.0000",
    "0.00004",
    "1e14",
    "99999999999999.9999",
    "100000000000000",
    "1E+2",
    " 12.5",
    "12.5 ",
    "1_000",
    "\u0661\u0662",  # Arabic-Indic digits: Decimal reads them
    "\uff11\uff12",  # full-width digits
    "12,5",
    "",
    "None",
    "-",
    "0x10",
    "+5",
    "9" * 40,
    "9" * 5000,  # past int()'s digit limit
    "1e-999999999",
)
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e999")]),
    st.lists(st.integers(), max_size=2),
    st.just(Obj()),
    st.just(Obj([("a", "1")])),
)
PRICES = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=4
).map(lambda d: str(d) if d.as_tuple().exponent == -4 else f"{d:.4f}")
ODD_TEXT = st.one_of(st.sampled_from(ODD_NUMBERS), st.text(max_size=6))


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (so most bodies are mostly well formed, and
    the rows they keep are checked too, not only refusals)."""
    return st.sampled_from([False] * (n - 1) + [True])


def maybe_broken(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``; about one in eight odd text or a wrong JSON type."""
    return one_in(8).flatmap(
        lambda broken: st.one_of(ODD_TEXT, WRONG_TYPES) if broken else good
    )


GOOD_DATES = st.dates(date(1999, 11, 1), date(2024, 6, 21)).map(date.isoformat)
ODD_DATES = st.sampled_from(
    [
        "2024-02-30",
        "2024-13-01",
        "2024-00-10",
        "24-06-21",
        "2024/06/21",
        "2024-6-21",
        "\uff12\uff10\uff12\uff14-06-21",
        "2030-01-02",  # after Last Refreshed
        "2024-06-21T00:00",
        "None",
        "",
        " 2024-06-20",
    ]
)
DATES = one_in(6).flatmap(
    lambda odd: st.one_of(ODD_DATES, st.text(max_size=12)) if odd else GOOD_DATES
)


@st.composite
def session_dates(draw: st.DrawFn, most: int) -> list[str]:
    """Dates of a series, mostly distinct; now and then one is sent twice."""
    dates = draw(st.lists(DATES, max_size=most, unique=True))
    if dates and draw(one_in(4)):
        dates.insert(
            draw(st.integers(0, len(dates))),
            dates[draw(st.integers(0, len(dates) - 1))],
        )
    return dates


SYMBOLS = one_in(6).flatmap(
    lambda odd: (
        st.one_of(
            st.sampled_from(
                [" ibm ", "ibm", "MSFT", "IBM ", "\u0130BM", "IBM.", "", "I\u0307BM"]
            ),
            st.text(max_size=6),
            WRONG_TYPES,
        )
        if odd
        else st.just(SYMBOL)
    )
)


@st.composite
def shuffled(draw: st.DrawFn, pairs: list[tuple[str, Any]]) -> Obj:
    """``pairs`` perhaps reordered, with a field dropped, repeated or added."""
    pairs = list(pairs)
    if pairs and draw(one_in(12)):
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    if pairs and draw(one_in(12)):
        pairs.append(pairs[draw(st.integers(0, len(pairs) - 1))])
    if draw(one_in(8)):
        pairs.append((draw(st.text(max_size=8)), draw(maybe_broken(PRICES))))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    return Obj(pairs)


# --- daily series ----------------------------------------------------------------

DAILY_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")
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


@st.composite
def daily_entries(draw: st.DrawFn, adjusted: bool) -> Obj:
    """One session, consistent (low <= open, close <= high) unless broken."""
    low, open_, close, high = sorted(
        draw(st.lists(PRICES, min_size=4, max_size=4)), key=Decimal
    )
    values: dict[str, Any] = {
        "1. open": open_,
        "2. high": high,
        "3. low": low,
        "4. close": close,
    }
    volume = draw(st.integers(0, 10**12).map(str))
    if adjusted:
        values["5. adjusted close"] = draw(PRICES)
        values["6. volume"] = volume
        values["7. dividend amount"] = draw(st.sampled_from(["0.0000", "0.25", "1.67"]))
        values["8. split coefficient"] = draw(st.sampled_from(["1.0", "2.0", "0.5"]))
    else:
        values["5. volume"] = volume
    names = ADJUSTED_FIELDS if adjusted else DAILY_FIELDS
    pairs = [(name, draw(maybe_broken(st.just(values[name])))) for name in names]
    return draw(shuffled(pairs))


@st.composite
def daily_bodies(draw: st.DrawFn, adjusted: bool) -> Body:
    dates = draw(session_dates(10))
    entries = draw(
        st.lists(
            maybe_broken(daily_entries(adjusted)),
            min_size=len(dates),
            max_size=len(dates),
        )
    )
    rows = list(zip(dates, entries, strict=True))
    meta = draw(
        shuffled(
            [
                ("1. Information", "Daily Prices (open, high, low, close) and Volumes"),
                ("2. Symbol", draw(SYMBOLS)),
                (
                    "3. Last Refreshed",
                    draw(
                        one_in(8).flatmap(
                            lambda odd: (
                                st.one_of(DATES, WRONG_TYPES)
                                if odd
                                else st.sampled_from(
                                    [LAST_REFRESHED, f"{LAST_REFRESHED} 16:00:00"]
                                )
                            )
                        )
                    ),
                ),
                ("4. Output Size", "Compact"),
                ("5. Time Zone", "US/Eastern"),
            ]
        )
    )
    top: list[tuple[str, Any]] = [
        ("Meta Data", meta),
        ("Time Series (Daily)", Obj(rows)),
    ]
    if draw(one_in(12)):
        top.append(
            (draw(st.sampled_from(["Information", "Note", "Error Message", "x"])), "n")
        )
    if draw(st.booleans()):
        top.reverse()
    return draw(encoded(Obj(top), rows))


def _same_number(kept: str, sent: Any) -> bool:
    """Whether ``kept`` is exactly ``sent``, or the same number spelled plainly."""
    if kept == sent:
        return True
    if not isinstance(sent, str):
        return False
    try:
        return Decimal(kept) == Decimal(sent)
    except InvalidOperation:
        return False


def _is_rejection(row: RejectedRow) -> bool:
    return isinstance(row.reason, Reason) and bool(row.detail)


def check_daily(result: DailySeries, body: Body, adjusted: bool) -> None:
    assert result.symbol == SYMBOL
    days = [values[0] for values in result.fields]
    assert days == sorted(set(days))  # ascending, each date once
    for values in result.fields:
        day = date.fromisoformat(values[0])
        assert day <= result.last_refreshed
        o, h, lo, c = (Decimal(v) for v in values[1:5])
        assert Decimal("0.00005") <= lo <= min(o, c) <= max(o, c) <= h
        assert int(values[5]) >= 0
    for row in result.rejected:
        assert _is_rejection(row), row
    if body.rows is None:
        return
    sent = Counter(day for day, _ in body.rows)
    # Nothing lost: every entry sent is kept or rejected, once.
    assert result.rows_parsed == len(body.rows)
    assert Counter(days) + Counter(r.row_key for r in result.rejected) == sent
    names = ADJUSTED_FIELDS if adjusted else DAILY_FIELDS
    order = (0, 1, 2, 3, 5, 4, 6, 7) if adjusted else (0, 1, 2, 3, 4)
    by_day = dict(body.rows)
    for values in result.fields:
        assert sent[values[0]] == 1  # a repeated date is never kept
        entry = dict(by_day[values[0]])
        for position, name in zip(order, names, strict=True):
            assert _same_number(values[1 + position], entry[name]), (name, values)


@pytest.mark.parametrize("adjusted", [False, True], ids=["daily", "adjusted"])
@FUZZ
@given(data=st.data())
def test_a_daily_series_keeps_or_rejects_every_entry_and_raises_only_load_error(
    adjusted: bool, data: st.DataObject
) -> None:
    body = data.draw(daily_bodies(adjusted))
    function = "TIME_SERIES_DAILY_ADJUSTED" if adjusted else "TIME_SERIES_DAILY"
    result = _parse(function, SYMBOL, body.data)
    if result is not None:
        assert isinstance(result, DailySeries)
        check_daily(result, body, adjusted)


# --- splits and dividends ----------------------------------------------------------


@st.composite
def action_bodies(draw: st.DrawFn, what: str) -> Body:
    rows: list[tuple[str, Any]] = []
    for day in draw(session_dates(6)):
        if what == "SPLITS":
            pairs = [
                ("effective_date", day),
                (
                    "split_factor",
                    draw(maybe_broken(st.sampled_from(["2.0000", "1.0460", "0.1000"]))),
                ),
            ]
        else:
            pairs = [
                ("ex_dividend_date", day),
                ("declaration_date", draw(st.one_of(st.just("None"), DATES))),
                ("record_date", draw(st.one_of(st.just("None"), DATES))),
                ("payment_date", draw(st.one_of(st.just("None"), DATES, WRONG_TYPES))),
                ("amount", draw(maybe_broken(st.sampled_from(["1.67", "0.25", "0"])))),
            ]
        entry = draw(maybe_broken(shuffled(pairs)))
        # The date the parser sees: the entry's own date field (the last copy).
        date_field = "effective_date" if what == "SPLITS" else "ex_dividend_date"
        seen = dict(entry).get(date_field) if isinstance(entry, Obj) else None
        rows.append((str(seen), entry))
    top = draw(
        shuffled([("symbol", draw(SYMBOLS)), ("data", [entry for _, entry in rows])])
    )
    return draw(encoded(top, rows))


@pytest.mark.parametrize("what", ["SPLITS", "DIVIDENDS"])
@FUZZ
@given(data=st.data())
def test_splits_and_dividends_keep_or_reject_every_entry(
    what: str, data: st.DataObject
) -> None:
    body = data.draw(action_bodies(what))
    result = _parse(what, SYMBOL, body.data)
    if result is None:
        return
    assert isinstance(result, Splits | Dividends)
    for row in result.rejected:
        assert _is_rejection(row), row
    kept_days = [row[0] for row in result.rows]  # the effective or ex-date
    assert len(set(kept_days)) == len(kept_days)
    if body.rows is None:
        return
    assert result.rows_parsed == len(body.rows)
    sent = Counter(day for day, _ in body.rows)
    value_field = "split_factor" if what == "SPLITS" else "amount"
    for row, day in zip(result.rows, kept_days, strict=True):
        assert sent[day.isoformat()] == 1
        (entry,) = [dict(e) for d, e in body.rows if d == day.isoformat()]
        value = row[1]
        assert isinstance(entry[value_field], str)
        assert value == Decimal(entry[value_field])
        assert value >= 0


# --- listing status (CSV) -----------------------------------------------------------

#: Field text; no line breaks (the API quotes nothing, so one would split the line:
#: bodies cut or spliced at random bytes cover that).
CSV_FIELDS = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
    max_size=10,
)
CSV_DATES = DATES.filter(lambda text: "\r" not in text and "\n" not in text)


@st.composite
def listing_bodies(draw: st.DrawFn) -> Body:
    lines: list[list[str]] = []
    for _ in range(draw(st.integers(0, 8))):
        line = [
            draw(
                st.one_of(
                    st.sampled_from(
                        ["A", "BRK.B", "ko", "KO", " KO", "ACWV:BAT", "-P-HIZ"]
                    ),
                    CSV_FIELDS,
                )
            ),
            draw(
                st.one_of(st.just("Agilent Technologies Inc"), st.just(""), CSV_FIELDS)
            ),
            draw(st.sampled_from(["NYSE", "NASDAQ", "BATS", ""])),
            draw(st.sampled_from(["Stock", "ETF", "null"])),
            draw(st.one_of(GOOD_DATES, st.just("null"), CSV_DATES)),
            draw(st.one_of(st.just("null"), CSV_DATES)),
            draw(st.sampled_from(["Active", "Delisted"])),
        ]
        if draw(one_in(10)):
            line = line[: draw(st.integers(0, 6))]
        if draw(one_in(10)):
            line.append(draw(CSV_FIELDS))
        lines.append(line)
    header = list(LISTING_HEADER)
    if draw(one_in(15)):
        header = draw(st.permutations(header))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\r\n", "\n"])))
    writer.writerow(header)
    writer.writerows(lines)
    data = out.getvalue().encode()
    if draw(one_in(8)):
        data = BOM + data
    if draw(one_in(10)):
        return Body(data[: draw(st.integers(0, len(data)))], None)
    if draw(one_in(10)):
        at = draw(st.integers(0, len(data)))
        return Body(
            data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:], None
        )
    return Body(data, [(line[0] if line else "", line) for line in lines])


@FUZZ
@given(body=listing_bodies())
def test_a_listing_keeps_or_rejects_every_line(body: Body) -> None:
    result = _parse("LISTING_STATUS", None, body.data)
    if result is None:
        return
    assert isinstance(result, Listing)
    for row in result.rejected:
        assert _is_rejection(row), row
    symbols = [row.symbol for row in result.rows]
    assert len(set(symbols)) == len(symbols)
    if body.rows is None:
        return
    sent = [line for _, line in body.rows if line]  # csv skips empty lines
    assert result.rows_parsed == len(sent)
    for row in result.rows:
        (line,) = [line for line in sent if line and _normalized(line[0]) == row.symbol]
        assert len(line) == len(LISTING_HEADER)
        for kept, given_text in zip(
            (row.name, row.exchange, row.asset_type, row.status),
            (line[1], line[2], line[3], line[6]),
            strict=True,
        ):
            assert kept is None or kept == given_text.strip()


def _normalized(text: str) -> str | None:
    try:
        return normalize_symbol(text.strip())
    except InvalidSymbol:
        return None


# --- overview ----------------------------------------------------------------------

OVERVIEW_FIELDS = (
    "Name",
    "Exchange",
    "AssetType",
    "Currency",
    "Country",
    "Sector",
    "Industry",
)


@st.composite
def overview_bodies(draw: st.DrawFn) -> Body:
    pairs: list[tuple[str, Any]] = [("Symbol", draw(SYMBOLS))]
    for name in OVERVIEW_FIELDS:
        pairs.append(
            (
                name,
                draw(
                    one_in(12).flatmap(
                        lambda odd: (
                            WRONG_TYPES
                            if odd
                            else st.one_of(
                                st.just("International Business Machines"),
                                st.sampled_from(["None", "-", "", "NYSE", " Tech "]),
                                st.text(max_size=12),
                            )
                        )
                    )
                ),
            )
        )
    pairs.append(("MarketCapitalization", draw(maybe_broken(st.just("1")))))
    top = draw(shuffled(pairs))
    return draw(encoded(top, list(top)))


@FUZZ
@given(body=overview_bodies())
def test_an_overview_keeps_each_identity_field_as_sent(body: Body) -> None:
    result = _parse("OVERVIEW", SYMBOL, body.data)
    if result is None or body.rows is None:
        return
    assert isinstance(result, Overview)
    sent = dict(body.rows)  # the last copy of a repeated field, as JSON reads it
    kept = result.row
    for name, value in zip(OVERVIEW_FIELDS, kept[1:], strict=True):
        given_value = sent.get(name)
        if value is None:
            assert given_value is None or (
                isinstance(given_value, str)
                and given_value.strip() in {"", "None", "-", "null"}
            )
        else:
            assert isinstance(given_value, str), (name, given_value)
            assert value == given_value.strip()


# --- prepare_body: checksum, parse, COPY text -----------------------------------------

ANY_BODY = st.one_of(
    daily_bodies(False).map(lambda b: ("TIME_SERIES_DAILY", SYMBOL, b)),
    daily_bodies(True).map(lambda b: ("TIME_SERIES_DAILY_ADJUSTED", SYMBOL, b)),
    action_bodies("SPLITS").map(lambda b: ("SPLITS", SYMBOL, b)),
    action_bodies("DIVIDENDS").map(lambda b: ("DIVIDENDS", SYMBOL, b)),
    listing_bodies().map(lambda b: ("LISTING_STATUS", None, b)),
    overview_bodies().map(lambda b: ("OVERVIEW", SYMBOL, b)),
    st.binary(max_size=64).map(lambda b: ("TIME_SERIES_DAILY", SYMBOL, Body(b, None))),
)


@FUZZ
@given(case=ANY_BODY, is_checksum_right=st.integers(0, 9).map(bool))
def test_prepare_body_refuses_with_a_reason_or_builds_copy_text_postgres_accepts(
    case: tuple[str, str | None, Body], is_checksum_right: bool
) -> None:
    function, symbol, body = case
    digest = hashlib.sha256(body.data).hexdigest()
    if not is_checksum_right:
        digest = hashlib.sha256(body.data + b"!").hexdigest()
    ext = "csv" if function == "LISTING_STATUS" else "json"
    ref = read_answer_key(answer_key(function, symbol, FETCHED, digest, ext))

    prepared = prepare_body(ref, body.data)

    if not is_checksum_right:
        assert prepared.refusal is not None
        assert prepared.refusal.startswith("checksum mismatch")
        return
    if prepared.refusal is not None:
        assert prepared.refusal
        assert "\n" not in prepared.refusal.strip()
        assert not prepared.batches
        return
    for batch in prepared.batches:
        text = batch.data.decode("utf-8")  # COPY reads UTF-8
        assert "\x00" not in text  # nor can text or jsonb hold U+0000
        lines = text.split("\n")
        assert lines[-1] == ""
        assert len(lines) - 1 == batch.rows
        widths = {len(line.split("\t")) for line in lines[:-1]}
        assert len(widths) <= 1  # every row has the same columns
    for row in prepared.rejected:
        assert _is_rejection(row)
        assert row.row_key is None or "\x00" not in row.row_key
        json.dumps(row.raw_values, default=str)  # what the quarantine stores


# --- shared -------------------------------------------------------------------------


def _parse(function: str, symbol: str | None, body: bytes) -> Any:
    """Parse; None when the parser refused the body with its own error."""
    key = f"raw/fuzz/{function}.json"
    try:
        result = parse_object(function, symbol, body, object_key=key)
    except LoadError as exc:
        refusal = str(exc)
    else:
        kept = getattr(result, "fields", None) or getattr(result, "rows", None)
        kept = kept or getattr(result, "row", None)
        rejected = getattr(result, "rejected", ())
        event("parsed: " + ("some kept" if kept else "none kept"))
        event("parsed: " + ("some rejected" if rejected else "none rejected"))
        return result
    assert refusal.startswith(f"{key}: ")  # it names the object
    event("refused")
    return None


# --- what the fuzzer found, pinned ------------------------------------------------


def test_listing_lines_naming_one_symbol_in_two_spellings_are_both_rejected() -> None:
    # "ko" and "KO" are one symbol: kept twice, the COPY into raw.symbols' staging
    # table failed (UniqueViolation) and stopped every later load.
    body = (
        b"symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
        b"ko,Coca,NYSE,Stock,1990-01-02,null,Active\r\n"
        b" KO,Cola,NYSE,Stock,1990-01-02,null,Active\r\n"
        b"A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n"
    )

    result = parse_object("LISTING_STATUS", None, body, object_key="k")

    assert isinstance(result, Listing)
    assert [row.symbol for row in result.rows] == ["A"]
    assert [(r.row_key, r.reason) for r in result.rejected] == [
        ("KO", Reason.DUPLICATE_SYMBOL),
        ("KO", Reason.DUPLICATE_SYMBOL),
    ]


@pytest.mark.parametrize(
    "copies",
    [('{"1. open": "1"}', '"junk"'), ('"junk"', '{"1. open": "1"}')],
    ids=["object-then-text", "text-then-object"],
)
def test_a_date_sent_twice_is_quarantined_twice_when_a_copy_is_not_an_object(
    copies: tuple[str, str],
) -> None:
    # A copy that is not an object has no "{": the brace count the parser used to
    # detect repeated dates came out right, and one copy vanished unreported.
    entry = (
        '{"1. open": "10.0000", "2. high": "11.0000", "3. low": "9.0000", '
        '"4. close": "10.5000", "5. volume": "100"}'
    )
    first, second = (entry if "open" in copy else copy for copy in copies)
    body = (
        '{"Meta Data": {"2. Symbol": "IBM", "3. Last Refreshed": "2024-06-21"}, '
        f'"Time Series (Daily)": {{"2024-06-20": {first}, "2024-06-20": {second}, '
        f'"2024-06-21": {entry}}}}}'
    ).encode()

    result = parse_object("TIME_SERIES_DAILY", "IBM", body, object_key="k")

    assert isinstance(result, DailySeries)
    assert [values[0] for values in result.fields] == ["2024-06-21"]
    assert [(r.row_key, r.reason) for r in result.rejected] == [
        ("2024-06-20", Reason.DUPLICATE_DATE),
        ("2024-06-20", Reason.DUPLICATE_DATE),
    ]
    assert result.rows_parsed == 3


@pytest.mark.parametrize("value", ["{}", "[]", "12", "true"])
def test_an_overview_whose_identity_field_is_not_text_is_refused(value: str) -> None:
    # It was kept as Python's str() of the value ("{}", "[]", "12", "True").
    body = f'{{"Symbol": "IBM", "Name": "IBM Corp", "Industry": {value}}}'.encode()

    with pytest.raises(LoadError, match="'Industry' is a JSON"):
        parse_object("OVERVIEW", "IBM", body, object_key="k")
