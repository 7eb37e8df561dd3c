"""The emulator's settings: one frozen object, the same for the CLI and in-process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from stocks_elt.emulator.universe import ListedSymbol, default_universe


@dataclass(frozen=True)
class EmulatorConfig:
    """How one emulator behaves.

    Attributes:
        today: the emulator's "today"; nothing after it exists.
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
    """

    today: date
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

    def __post_init__(self) -> None:
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
