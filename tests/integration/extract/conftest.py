"""Helpers shared by the extract integration tests: settings, lake scans, windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from stocks_elt.alpha_vantage.classify import ERROR_KEY, NOTICE_KEYS
from stocks_elt.config import Settings, load_settings
from stocks_elt.emulator import RunningEmulator
from stocks_elt.lake import open_lake
from stocks_elt.lake.keys import read_answer_key

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(warehouse: str, tmp_path: Path) -> SettingsFactory:
    """Settings for an emulator: fast limits, no daily quota, a tmp lake."""

    def make(emulator: RunningEmulator, key: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "warehouse_url": warehouse,
            "lake_url": (tmp_path / "lake").as_uri(),
            "alpha_vantage_base_url": emulator.base_url,
            "alpha_vantage_api_key": key,
            "data_dir": tmp_path,
            "alpha_vantage_calls_per_second": 50,
            "alpha_vantage_daily_quota": 0,
            "alpha_vantage_max_retries": 3,
            "extract_concurrency": 4,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


def lake_objects(settings: Settings) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every object in the settings' lake: key -> (body, metadata)."""
    lake = open_lake(settings)
    found: dict[str, tuple[bytes, dict[str, str]]] = {}
    for item in lake.list():
        head = lake.head(item.key)
        assert head is not None
        found[item.key] = (lake.get(item.key), dict(head.metadata))
    return found


def assert_only_data_in_lake(settings: Settings) -> None:
    """Fail when any lake object is a notice or an error body."""
    for key, (body, _) in lake_objects(settings).items():
        if key.endswith(".csv"):
            assert not body.lstrip().startswith(b"{"), key
            continue
        document = orjson.loads(body)
        assert isinstance(document, dict), key
        assert document, key
        assert not set(document) & {*NOTICE_KEYS, ERROR_KEY}, key


def functions_by_symbol(keys: Sequence[str]) -> dict[str, list[str]]:
    """Group lake keys: symbol -> the functions stored for it, in key order."""
    grouped: dict[str, list[str]] = {}
    for key in keys:
        parts = read_answer_key(key)
        grouped.setdefault(parts.symbol or "_ALL", []).append(parts.function)
    return grouped


def most_in_window(stamps: Sequence[datetime], seconds: float) -> int:
    """The most stamps that fall in any half-open window of ``seconds``."""
    ordered = sorted(stamps)
    most = 0
    for start, first in enumerate(ordered):
        inside = [s for s in ordered[start:] if (s - first).total_seconds() < seconds]
        most = max(most, len(inside))
    return most


def table_rows(url: str, table: str) -> list[tuple[object, ...]]:
    """Every row of one warehouse table (for scans)."""
    with psycopg.connect(url) as conn:
        return list(conn.execute(f"select * from {table}").fetchall())
