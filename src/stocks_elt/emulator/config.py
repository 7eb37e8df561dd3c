"""The emulator's settings: one frozen object, the same for the CLI and in-process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from stocks_elt.emulator.universe import ListedSymbol, default_universe
from stocks_elt.market.calendar import NEW_YORK


def new_york_now() -> datetime:
    """The wall clock, in New York (the emulator's default clock)."""
    return datetime.now(tz=NEW_YORK)


@dataclass(frozen=True)
class EmulatorConfig:
    """How one emulator behaves.

    The emulator's clock follows the close, as the real service does: a session's
    bar exists only once the session has closed in New York and
    ``publication_lag`` has passed; before that the answers (and their ``Last
    Refreshed``) end at the previous session. A fixed ``today`` is a whole day
    that is over: its session (if it is one) has closed and been published, so
    the answers end at ``today`` (or the last session before it), whatever the
    wall clock says. Tests pin ``today`` this way; ``now`` pins an instant.

    Attributes:
        today: a fixed "today", taken as after its close (see above); None
            follows ``now``.
        host: the interface to listen on.
        port: the TCP port; 0 picks a free one.
        universe: the listed symbols (default: :func:`default_universe`).
        premium_keys: keys that get premium endpoints, full output and no burst or
            daily limit.
        per_second_limit: free keys' burst limit (0: unlimited).
        per_minute_limit: free keys' per-minute limit (0: unlimited).
        daily_limit: free keys' calls per emulated day (0: unlimited).
        premium_per_minute_limit: premium keys' per-minute limit (0: unlimited).
        faults: a fault spec (see ``stocks_elt.emulator.faults``); empty: none.
        seed: the market-wide seed; also seeds the fault draws.
        cache_bytes: how many bytes of rendered bodies to keep.
        clock: the monotonic clock (seconds) the rate limits count with; tests
            pass one they move by hand instead of sleeping.
        publication_lag: how long after a session's close its bar appears.
        now: the wall clock (aware) the emulator follows when ``today`` is None.
    """

    today: date | None = None
    host: str = "127.0.0.1"
    port: int = 0
    universe: tuple[ListedSymbol, ...] = field(default_factory=default_universe)
    premium_keys: frozenset[str] = frozenset()
    per_second_limit: int = 0
    per_minute_limit: int = 0
    daily_limit: int = 0
    faults: str = ""
    seed: int = 0
    premium_per_minute_limit: int = 0
    cache_bytes: int = 512 * 1024 * 1024
    clock: Callable[[], float] = time.monotonic
    publication_lag: timedelta = timedelta(0)
    now: Callable[[], datetime] = new_york_now

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.publication_lag <= timedelta(days=1):
            raise ValueError(
                "EmulatorConfig.publication_lag must be 0 to 24 hours, got "
                f"{self.publication_lag}"
            )
        for name in (
            "per_second_limit",
            "per_minute_limit",
            "daily_limit",
            "premium_per_minute_limit",
            "port",
            "cache_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"EmulatorConfig.{name} must be 0 or more, got "
                    f"{getattr(self, name)}"
                )
        symbols = [listed.symbol for listed in self.universe]
        duplicates = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
        if duplicates:
            raise ValueError(
                f"EmulatorConfig.universe lists {', '.join(duplicates)} more than once"
            )
