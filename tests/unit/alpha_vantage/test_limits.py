"""Pure parts of the quota ledger: the key's hash, the API day, the windows."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest

from stocks_elt.alpha_vantage.limits import Limits, RateWindow, api_day, key_hash
from stocks_elt.config import load_settings


def test_the_key_hash_is_a_salted_sha256_prefix_that_hides_the_key() -> None:
    hashed = key_hash("ABCDEF1234567890")

    assert len(hashed) == 16
    assert hashed == key_hash("ABCDEF1234567890")
    assert hashed != key_hash("ABCDEF1234567891")
    assert hashed != hashlib.sha256(b"ABCDEF1234567890").hexdigest()[:16]
    assert "ABCDEF" not in hashed


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # 04:59 UTC is 23:59 the day before in New York (EST, UTC-5).
        (datetime(2026, 1, 15, 4, 59, tzinfo=UTC), date(2026, 1, 14)),
        (datetime(2026, 1, 15, 5, 0, tzinfo=UTC), date(2026, 1, 15)),
        # In summer (EDT, UTC-4) the day turns at 04:00 UTC.
        (datetime(2026, 7, 15, 3, 59, tzinfo=UTC), date(2026, 7, 14)),
        (datetime(2026, 7, 15, 4, 0, tzinfo=UTC), date(2026, 7, 15)),
    ],
)
def test_the_api_day_turns_at_midnight_in_new_york(
    at: datetime, expected: date
) -> None:
    assert api_day(at) == expected


@pytest.mark.parametrize(
    ("limits", "windows"),
    [
        (Limits(1, 0, 25), (RateWindow(1, 1.0),)),
        (Limits(2.5, 75, 0), (RateWindow(2, 1.0), RateWindow(75, 60.0))),
        (Limits(0.5, 5, 500), (RateWindow(1, 2.0), RateWindow(5, 60.0))),
    ],
)
def test_limits_become_sliding_windows(
    limits: Limits, windows: tuple[RateWindow, ...]
) -> None:
    assert limits.windows() == windows


def test_each_window_keeps_a_margin_of_a_tenth_up_to_a_quarter_second() -> None:
    assert RateWindow(1, 1.0).margin == pytest.approx(0.1)
    assert RateWindow(75, 60.0).margin == 0.25


def test_limits_come_from_the_settings() -> None:
    settings = load_settings(
        alpha_vantage_calls_per_second=3,
        alpha_vantage_calls_per_minute=75,
        alpha_vantage_daily_quota=0,
    )

    assert Limits.from_settings(settings) == Limits(3, 75, 0)
