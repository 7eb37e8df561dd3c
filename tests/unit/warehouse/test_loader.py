"""What the loader reads from keys and bodies before it touches the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest

from stocks_elt.errors import LakeError
from stocks_elt.lake.base import Lake, LakeObject
from stocks_elt.lake.keys import RAW_PREFIX, answer_key, read_answer_key
from stocks_elt.warehouse.loader import prepare_object
from stocks_elt.warehouse.loader.writer import lock_name


class MemoryLake(Lake):
    """A lake in a dict, for tests that need no folder."""

    url = "memory://"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> bool:
        if key in self.objects:
            return False
        self.objects[key] = body
        return True

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise LakeError(f"no lake object {key}") from None

    def head(self, key: str) -> LakeObject | None:
        body = self.objects.get(key)
        return None if body is None else LakeObject(key, len(body))

    def list(self, prefix: str = RAW_PREFIX) -> Iterator[LakeObject]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield LakeObject(key, len(self.objects[key]))

    def quarantine(self, key: str, reason: str) -> str:
        moved = f"quarantine/{key}"
        if key in self.objects:
            self.objects[moved] = self.objects.pop(key)
        return moved


FETCHED = datetime(2024, 6, 21, 22, 30, 15, 123456, tzinfo=UTC)


def store(lake: MemoryLake, function: str, symbol: str | None, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    ext = "csv" if function == "LISTING_STATUS" else "json"
    key = answer_key(function, symbol, FETCHED, digest, ext)
    lake.put(key, body, {})
    return key


def test_a_key_tells_function_symbol_and_fetch_time() -> None:
    key = answer_key("TIME_SERIES_DAILY", "BRK.B", FETCHED, "ab" * 32, "json")

    ref = read_answer_key(key)

    assert (ref.function, ref.symbol, ref.fetched_at) == (
        "TIME_SERIES_DAILY",
        "BRK.B",
        FETCHED,
    )
    assert ref.sha_prefix == "ab" * 6
    assert lock_name(ref) == "prices:BRK.B"


def test_universe_answers_have_no_symbol_and_share_one_lock() -> None:
    listing = read_answer_key(
        answer_key("LISTING_STATUS", None, FETCHED, "cd" * 32, "csv")
    )
    overview = read_answer_key(
        answer_key("OVERVIEW", "IBM", FETCHED, "cd" * 32, "json")
    )

    assert listing.symbol is None
    assert lock_name(listing) == lock_name(overview) == "symbols"


@pytest.mark.parametrize(
    "key",
    [
        "raw/other/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date=2024-06-21/"
        "20240621T223015123456Z-abababababab.json",
        "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=ibm/ingest_date="
        "2024-06-21/20240621T223015123456Z-abababababab.json",
        "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date="
        "2024-06-21/20241321T223015123456Z-abababababab.json",
        "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date="
        "2024-06-21/notes.txt",
    ],
)
def test_a_key_outside_the_layout_is_refused(key: str) -> None:
    with pytest.raises(LakeError, match=r"IBM|ibm|lake object key"):
        read_answer_key(key)


def test_fetch_order_follows_the_fetch_time_across_functions() -> None:
    early = datetime(2024, 6, 21, 22, 0, tzinfo=UTC)
    late = datetime(2024, 6, 21, 23, 0, tzinfo=UTC)
    keys = [
        answer_key("TIME_SERIES_DAILY", "IBM", late, "aa" * 32, "json"),
        answer_key("TIME_SERIES_DAILY_ADJUSTED", "IBM", early, "bb" * 32, "json"),
        answer_key("SPLITS", "AAPL", late, "cc" * 32, "json"),
    ]

    ordered = sorted(
        (read_answer_key(key) for key in keys), key=lambda r: r.fetch_order
    )

    assert [r.fetched_at for r in ordered] == [early, late, late]
    assert ordered[0].function == "TIME_SERIES_DAILY_ADJUSTED"


def test_a_body_whose_sha256_does_not_match_its_key_is_refused() -> None:
    lake = MemoryLake()
    key = answer_key("SPLITS", "IBM", FETCHED, "00" * 32, "json")
    lake.put(key, b'{"symbol": "IBM", "data": []}', {})

    prepared = prepare_object(lake, read_answer_key(key))

    assert prepared.refusal is not None
    assert prepared.refusal.startswith("checksum mismatch")
    assert prepared.batches == ()


def test_a_notice_in_the_lake_is_refused_not_raised() -> None:
    lake = MemoryLake()
    key = store(lake, "TIME_SERIES_DAILY", "IBM", b'{"Note": "slow down"}')

    prepared = prepare_object(lake, read_answer_key(key))

    assert prepared.refusal == "not data: an 'Note' answer"


def test_an_adjusted_series_also_feeds_dividends_and_splits() -> None:
    lake = MemoryLake()
    names = ("1. open", "2. high", "3. low", "4. close", "5. adjusted close")
    names += ("6. volume", "7. dividend amount", "8. split coefficient")
    rows = {
        "2024-06-21": ("10.0", "11.0", "9.0", "10.5", "10.5", "100", "0.0000", "1.0"),
        "2024-06-20": ("20.0", "21.0", "19.0", "20.0", "9.8", "50", "0.2500", "1.0"),
        "2024-06-18": ("40.0", "41.0", "39.0", "40.0", "9.7", "25", "0.0000", "2.0"),
    }
    body = json.dumps(
        {
            "Meta Data": {"2. Symbol": "IBM", "3. Last Refreshed": "2024-06-21"},
            "Time Series (Daily)": {
                day: dict(zip(names, values, strict=True))
                for day, values in rows.items()
            },
        }
    ).encode()
    key = store(lake, "TIME_SERIES_DAILY_ADJUSTED", "IBM", body)

    prepared = prepare_object(lake, read_answer_key(key))

    tables = {batch.table.name: batch for batch in prepared.batches}
    assert sorted(tables) == ["daily_prices", "dividends", "splits"]
    assert tables["dividends"].data == f"IBM\t2024-06-20\t0.2500\t{key}\n".encode()
    assert tables["splits"].data == f"IBM\t2024-06-18\t2.0\t{key}\n".encode()
    assert prepared.rows_parsed == 3 + 1 + 1
    assert (str(prepared.first_date), str(prepared.last_date)) == (
        "2024-06-18",
        "2024-06-21",
    )


def test_copy_text_escapes_tabs_newlines_and_backslashes_in_names() -> None:
    lake = MemoryLake()
    listing = (
        b"symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
        b'"TAB","A\tB\\C\nD",NYSE,Stock,2000-01-03,null,Active\r\n'
    )
    key = store(lake, "LISTING_STATUS", None, listing)

    prepared = prepare_object(lake, read_answer_key(key))

    (batch,) = prepared.batches
    assert (
        batch.data
        == (
            f"TAB\tA\\tB\\\\C\\nD\tNYSE\tStock\t2000-01-03\t\\N\tActive\t{key}\n"
        ).encode()
    )
