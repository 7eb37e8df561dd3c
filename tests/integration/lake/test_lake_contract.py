"""The Lake contract, run against every backend (a local folder and S3)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from stocks_elt.errors import LakeError
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import RAW_PREFIX, answer_key

METADATA = {
    "function": "TIME_SERIES_DAILY",
    "symbol": "IBM",
    "parameters": '{"outputsize": "compact", "symbol": "IBM"}',
    "fetched_at": "2026-11-27T22:30:15.123456+00:00",
    "http_status": "200",
    "bytes": "5",
    "sha256": "0" * 64,
}


def _key(symbol: str, second: int, digest: str = "ab" * 32) -> str:
    at = datetime(2026, 11, 27, 22, 30, second, tzinfo=UTC)
    return answer_key("TIME_SERIES_DAILY", symbol, at, digest, "json")


def test_a_stored_object_comes_back_with_its_size_and_metadata(lake: Lake) -> None:
    key = _key("IBM", 1)

    assert lake.put(key, b'{"a": 1}', METADATA) is True

    assert lake.get(key) == b'{"a": 1}'
    found = lake.head(key)
    assert found is not None
    assert found.key == key
    assert found.size == len(b'{"a": 1}')
    assert dict(found.metadata) == METADATA


def test_putting_an_existing_key_changes_nothing_and_says_so(lake: Lake) -> None:
    key = _key("IBM", 1)
    lake.put(key, b"first", METADATA)

    assert lake.put(key, b"second", {**METADATA, "bytes": "6"}) is False

    assert lake.get(key) == b"first"
    found = lake.head(key)
    assert found is not None
    assert found.metadata["bytes"] == "5"


def test_a_missing_key_has_no_head_and_cannot_be_read(lake: Lake) -> None:
    key = _key("IBM", 1)

    assert lake.head(key) is None
    with pytest.raises(LakeError, match="IBM"):
        lake.get(key)


def test_listing_yields_keys_in_string_order_under_the_prefix(lake: Lake) -> None:
    keys = [_key("IBM", 3), _key("BRK.B", 2), _key("BRK-A", 1), _key("IBM", 1)]
    for key in keys:
        lake.put(key, key.encode(), METADATA)
    lake.put("other/thing.json", b"x", {})

    listed = [item.key for item in lake.list()]

    # "BRK-A" < "BRK.B" because "-" (0x2d) sorts before "." (0x2e).
    assert listed == sorted(keys)
    assert [item.size for item in lake.list()] == [len(k) for k in sorted(keys)]


def test_listing_a_partial_name_prefix_matches_only_those_keys(lake: Lake) -> None:
    keys = [_key("IBM", 1), _key("IBMX", 1), _key("MSFT", 1)]
    for key in keys:
        lake.put(key, b"{}", METADATA)

    prefix = "raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM"

    assert [item.key for item in lake.list(prefix)] == sorted(keys[:2])
    assert [item.key for item in lake.list(prefix + "/")] == [keys[0]]


def test_an_empty_lake_lists_nothing(lake: Lake) -> None:
    assert list(lake.list()) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs.json",
        "a//b.json",
        "../escape.json",
        "a/../../b.json",
        "a/.hidden",
        "a/b c.json",
        "a\\b.json",
        "a/b.json\x00",
    ],
)
def test_keys_that_could_escape_or_hide_are_refused(lake: Lake, key: str) -> None:
    with pytest.raises(LakeError, match="lake key"):
        lake.put(key, b"{}", {})


@pytest.mark.parametrize(
    "metadata",
    [
        {"Function": "x"},
        {"fetched-at": "x"},
        {"symbol": "\u0130BM"},
        {"a": "x\ny"},
        {"big": "x" * 3000},
    ],
)
def test_metadata_that_a_backend_cannot_keep_is_refused(
    lake: Lake, metadata: dict[str, str]
) -> None:
    key = _key("IBM", 1)

    with pytest.raises(LakeError, match="metadata"):
        lake.put(key, b"{}", metadata)
    assert lake.head(key) is None


def test_of_many_threads_racing_on_one_key_exactly_one_wins(lake: Lake) -> None:
    key = _key("IBM", 1)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def write(n: int) -> None:
        barrier.wait()
        results.append(lake.put(key, f"body {n}".encode(), {"writer": str(n)}))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
    found = lake.head(key)
    assert found is not None
    winner = found.metadata["writer"]
    assert lake.get(key) == f"body {winner}".encode()


def test_a_refused_object_is_moved_aside_with_its_reason(lake: Lake) -> None:
    key = f"{RAW_PREFIX}function=SPLITS/symbol=IBM/ingest_date=2026-11-27/a.json"
    lake.put(key, b"not json", {"sha256": "ab" * 32})

    moved = lake.quarantine(key, "not data: the body is not JSON")

    assert moved == f"quarantine/{key}"
    assert lake.head(key) is None
    assert [item.key for item in lake.list()] == []
    found = lake.head(moved)
    assert found is not None
    assert dict(found.metadata) == {
        "sha256": "ab" * 32,
        "quarantine_reason": "not data: the body is not JSON",
    }
    assert lake.get(moved) == b"not json"
    assert lake.quarantine(key, "again") == moved  # already moved: no error
