"""
Per-key call limits: burst (per second), per minute and per day.

Every call that carries a key counts, including calls that were refused with a limit
notice, an error or an injected fault: the real service counts requests, not
answers, and that is the conservative reading for a client. Windows slide (a call
leaves the per-second window one second after it arrived). The daily count belongs
to the emulator's "today", so moving the clock starts a new day's quota.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Limits:
    """Configured limits; 0 means unlimited.

    Attributes:
        per_second: free keys' burst limit.
        per_minute: free keys' per-minute limit (the legacy "Note").
        daily: free keys' calls per emulated day.
        premium_per_minute: premium keys' per-minute limit (their plan's tier).
    """

    per_second: int = 0
    per_minute: int = 0
    daily: int = 0
    premium_per_minute: int = 0


class RateLimiter:
    """Counts calls per key and tells which limit, if any, a new call breaks.

    Thread-safe: one lock guards every counter, so concurrent clients are counted
    exactly.

    Args:
        limits: the configured limits.
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self, limits: Limits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._daily: dict[tuple[str, date], int] = {}

    def register(self, key: str, today: date, is_premium: bool) -> str | None:
        """Count one call of ``key`` and return the limit it breaks.

        Args:
            key: the caller's API key.
            today: the emulator's day, which the daily count belongs to.
            is_premium: premium keys have no burst or daily limit.

        Returns:
            None when the call may proceed, else ``"daily_cap"``, ``"burst"`` or
            ``"per_minute"`` (checked in that order).
        """
        limits = self.limits
        now = self._clock()
        with self._lock:
            recent = self._recent.setdefault(key, deque())
            recent.append(now)
            while recent and recent[0] <= now - 60.0:
                recent.popleft()
            day_key = (key, today)
            calls_today = self._daily.get(day_key, 0) + 1
            self._daily[day_key] = calls_today
            if is_premium:
                if 0 < limits.premium_per_minute < len(recent):
                    return "per_minute"
                return None
            if 0 < limits.daily < calls_today:
                return "daily_cap"
            if limits.per_second > 0:
                in_last_second = 0
                for stamp in reversed(recent):
                    if stamp <= now - 1.0:
                        break
                    in_last_second += 1
                if in_last_second > limits.per_second:
                    return "burst"
            if 0 < limits.per_minute < len(recent):
                return "per_minute"
            return None

    def calls_today(self, key: str, today: date) -> int:
        """Return how many calls ``key`` made on ``today`` (refused ones included)."""
        with self._lock:
            return self._daily.get((key, today), 0)

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._recent.clear()
            self._daily.clear()
