from __future__ import annotations

import threading
from collections import Counter
from datetime import date

from stocks_elt.emulator.limits import Limits, RateLimiter

DAY = date(2024, 6, 21)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_refuses_the_second_call_within_a_second_and_recovers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(per_second=1), clock)
    assert limiter.register("k", DAY, is_premium=False) is None
    clock.now += 0.5
    assert limiter.register("k", DAY, is_premium=False) == "burst"
    clock.now += 0.9  # the refused call at +0.5 stays in the window until +1.5
    assert limiter.register("k", DAY, is_premium=False) == "burst"
    clock.now += 1.01
    assert limiter.register("k", DAY, is_premium=False) is None


def test_per_minute_counts_a_sliding_minute_per_key() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(per_minute=5), clock)
    outcomes = []
    for _ in range(6):
        outcomes.append(limiter.register("k", DAY, is_premium=False))
        clock.now += 1.0
    assert outcomes == [None] * 5 + ["per_minute"]
    assert limiter.register("other", DAY, is_premium=False) is None
    clock.now += 60.0
    assert limiter.register("k", DAY, is_premium=False) is None


def test_the_daily_cap_counts_refused_calls_and_resets_with_a_new_day() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(per_second=1, daily=3), clock)
    assert limiter.register("k", DAY, False) is None
    assert limiter.register("k", DAY, False) == "burst"  # counted all the same
    clock.now += 2
    assert limiter.register("k", DAY, False) is None
    clock.now += 2
    assert limiter.register("k", DAY, False) == "daily_cap"
    assert limiter.calls_today("k", DAY) == 4
    clock.now += 2
    assert limiter.register("k", date(2024, 6, 24), False) is None


def test_premium_keys_only_meet_their_own_per_minute_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(per_second=1, daily=1, premium_per_minute=3), clock)
    outcomes = [limiter.register("p", DAY, is_premium=True) for _ in range(4)]
    assert outcomes == [None, None, None, "per_minute"]


def test_zero_means_unlimited() -> None:
    limiter = RateLimiter(Limits())
    assert all(limiter.register("k", DAY, False) is None for _ in range(1000))


def test_reset_forgets_every_count() -> None:
    limiter = RateLimiter(Limits(daily=1))
    limiter.register("k", DAY, False)
    assert limiter.register("k", DAY, False) == "daily_cap"
    limiter.reset()
    assert limiter.register("k", DAY, False) is None


def test_concurrent_calls_are_counted_exactly() -> None:
    limiter = RateLimiter(Limits(daily=250))
    results: Counter[str | None] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            outcome = limiter.register("k", DAY, False)
            with lock:
                results[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == Counter({None: 250, "daily_cap": 550})
