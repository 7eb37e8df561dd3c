"""
The deterministic synthetic market behind the emulator.

Usable without the server: :func:`symbol_history` returns one symbol's sessions,
splits, dividends and adjusted closes as of a day; :class:`Market` does the same for
a whole universe with caching. ``stocks_elt.emulator.render.render_response`` turns
them into the exact bytes the server sends.

The model, per symbol:

* The random stream is ``random.Random(seed)`` with the seed taken from
  ``sha256("<seed>:<symbol>")`` (never Python's ``hash()``), and only
  ``Random.random()`` is used: its sequence is stable across Python versions.
  Normal draws come from our own Box-Muller transform. Every session consumes the
  same number of draws whatever happens, so a path never depends on events.
* The path is generated once over every NYSE session from the IPO (or 1999) to the
  fixed horizon (2035), then cut at "today": moving the clock only appends
  sessions and never changes an earlier one.
* Closes follow a log random walk pulled towards a per-symbol trend line (mean
  reversion keeps prices between about 1 and 2,000 over decades). Each session
  starts from the previous as-traded close in cents, so floating-point noise
  cannot build up from one session to the next.
* Profiles: ``growth`` (strong trend, forward 2:1 or 3:1 splits when the price
  passes a per-symbol threshold, dividends for some), ``income`` (quarterly
  dividends, now and then an odd split such as 1.046), ``decline`` (falling trend,
  reverse 1:10 splits below $1.50), ``flat`` (no events).
* Splits make the as-traded price jump on the effective date (volumes scale up);
  a dividend makes it drop by the amount on the ex-date.
* Adjusted closes follow the backward adjustment of DESIGN.md: a split of ratio r
  on day t divides earlier prices by r; a dividend D with ex-date t multiplies
  earlier prices by (1 - D / as-traded close of the session before t). Only the
  events up to "today" count.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from stocks_elt.emulator.universe import PROFILES, ListedSymbol
from stocks_elt.market.calendar import (
    all_sessions,
    session_index_on_or_after,
    session_index_on_or_before,
)

TICKS_PER_UNIT = 10_000  # prices are kept as integers of 0.0001
_TWO_PI = 2.0 * math.pi
_TWO, _THREE, _ONE_TENTH = Decimal(2), Decimal(3), Decimal("0.1")
_SESSIONS_PER_YEAR = 252.0
#: ex-dates from this day on have record date = ex-date (US T+1 settlement).
_T_PLUS_ONE = date(2024, 5, 28)
#: before this year the real service shows "None" for declaration/record/payment.
_FIRST_YEAR_WITH_DIVIDEND_DATES = 2005


class Bar(NamedTuple):
    """One as-traded daily bar; prices have exactly 4 decimal places.

    A named tuple rather than a dataclass: 500 symbols x 25 years build millions.
    """

    trade_date: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


@dataclass(frozen=True)
class SplitEvent:
    """A split effective on ``effective_date`` (ratio 2 = 2:1, 0.1 = 1:10 reverse)."""

    effective_date: date
    ratio: Decimal


@dataclass(frozen=True)
class DividendEvent:
    """A cash dividend; None marks a date the real service shows as ``"None"``."""

    ex_date: date
    amount: Decimal
    declaration_date: date | None
    record_date: date | None
    payment_date: date | None


def symbol_seed(symbol: str, seed: int) -> int:
    """Return the random seed of ``symbol``'s path, derived with sha256.

    Args:
        symbol: the ticker.
        seed: the market-wide seed.

    Returns:
        A 64-bit integer, the same on every machine and Python version.
    """
    digest = hashlib.sha256(f"{seed}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def ticks_to_decimal(ticks: int) -> Decimal:
    """Return a price held as integer ticks of 0.0001 as a 4-decimal Decimal."""
    return Decimal(ticks).scaleb(-4)


@dataclass(frozen=True, eq=False)
class _Path:
    """A symbol's whole generated path from its first session to the horizon."""

    listed: ListedSymbol
    first_index: int  # index of the first session in all_sessions()
    opens: array[int]
    highs: array[int]
    lows: array[int]
    closes: array[int]
    volumes: array[int]
    splits: tuple[tuple[int, Decimal], ...]  # (offset from first_index, ratio)
    dividends: tuple[tuple[int, Decimal], ...]  # (offset, amount)


class SymbolHistory:
    """One symbol's market data as of a day: what the API can show that day.

    Attributes:
        listed: the universe entry.
        today: the day the history was cut at.
        dates: session dates, ascending.
        opens, highs, lows, closes: as-traded prices in ticks of 0.0001 (ascending).
        volumes: as-traded volumes.
        adjusted_close_values: backward-adjusted closes as floats (what the API
            prints with full double precision).
        split_events, dividend_events: events on or before ``today``, ascending.
    """

    __slots__ = (
        "__dict__",
        "adjusted_close_values",
        "closes",
        "dates",
        "dividend_by_offset",
        "dividend_events",
        "highs",
        "listed",
        "lows",
        "opens",
        "split_by_offset",
        "split_events",
        "today",
        "volumes",
    )

    def __init__(self, path: _Path, today: date) -> None:
        sessions = all_sessions()
        count = max(0, session_index_on_or_before(today) - path.first_index + 1)
        count = min(count, len(path.closes))
        self.listed = path.listed
        self.today = today
        self.dates: tuple[date, ...] = sessions[
            path.first_index : path.first_index + count
        ]
        self.opens = path.opens[:count]
        self.highs = path.highs[:count]
        self.lows = path.lows[:count]
        self.closes = path.closes[:count]
        self.volumes = path.volumes[:count]
        self.split_by_offset: dict[int, Decimal] = {
            offset: ratio for offset, ratio in path.splits if offset < count
        }
        self.dividend_by_offset: dict[int, Decimal] = {
            offset: amount for offset, amount in path.dividends if offset < count
        }
        self.split_events: tuple[SplitEvent, ...] = tuple(
            SplitEvent(self.dates[offset], ratio)
            for offset, ratio in sorted(self.split_by_offset.items())
        )
        self.dividend_events: tuple[DividendEvent, ...] = tuple(
            _dividend_event(path.first_index + offset, amount)
            for offset, amount in sorted(self.dividend_by_offset.items())
        )
        self.adjusted_close_values = self._adjust()

    def _adjust(self) -> array[float]:
        closes = self.closes
        count = len(closes)
        adjusted = array("d", bytes(8 * count))
        factor = 1.0
        splits = self.split_by_offset
        dividends = self.dividend_by_offset
        for offset in range(count - 1, -1, -1):
            adjusted[offset] = closes[offset] / TICKS_PER_UNIT * factor
            ratio = splits.get(offset)
            if ratio is not None:
                factor /= float(ratio)
            amount = dividends.get(offset)
            if amount is not None and offset > 0:
                factor *= 1.0 - float(amount) / (closes[offset - 1] / TICKS_PER_UNIT)
        return adjusted

    def __len__(self) -> int:
        return len(self.dates)

    @functools.cached_property
    def bars(self) -> tuple[Bar, ...]:
        """The as-traded bars, ascending by date."""
        return tuple(
            Bar(
                day,
                ticks_to_decimal(o),
                ticks_to_decimal(h),
                ticks_to_decimal(lo),
                ticks_to_decimal(c),
                v,
            )
            for day, o, h, lo, c, v in zip(
                self.dates,
                self.opens,
                self.highs,
                self.lows,
                self.closes,
                self.volumes,
                strict=True,
            )
        )

    @functools.cached_property
    def adjusted_closes(self) -> tuple[Decimal, ...]:
        """Adjusted closes as Decimals of the exact strings the API sends."""
        return tuple(Decimal(repr(value)) for value in self.adjusted_close_values)

    @property
    def splits(self) -> tuple[SplitEvent, ...]:
        """Splits effective on or before ``today``, ascending."""
        return self.split_events

    @property
    def dividends(self) -> tuple[DividendEvent, ...]:
        """Dividends with ex-date on or before ``today``, ascending."""
        return self.dividend_events


def _dividend_event(session_index: int, amount: Decimal) -> DividendEvent:
    sessions = all_sessions()
    ex_date = sessions[session_index]
    if ex_date.year < _FIRST_YEAR_WITH_DIVIDEND_DATES:
        return DividendEvent(ex_date, amount, None, None, None)
    declaration = sessions[max(0, session_index - 10)]
    record = ex_date if ex_date >= _T_PLUS_ONE else sessions[session_index + 1]
    payment = sessions[min(len(sessions) - 1, session_index + 20)]
    return DividendEvent(ex_date, amount, declaration, record, payment)


def _round_price(price: float) -> int:
    """Return ``price`` in ticks: whole cents from $1 up, 0.0001 below."""
    if price >= 1.0:
        return int(price * 100.0 + 0.5) * 100
    return max(1, int(price * TICKS_PER_UNIT + 0.5))


def _explicit_offsets(
    listed: ListedSymbol,
    label: str,
    events: tuple[tuple[date, Decimal], ...],
    first_index: int,
    count: int,
) -> dict[int, Decimal]:
    sessions = all_sessions()
    offsets: dict[int, Decimal] = {}
    for day, value in events:
        index = session_index_on_or_after(day)
        if index >= len(sessions) or sessions[index] != day:
            raise ValueError(
                f"{listed.symbol}: {label} date {day.isoformat()} is not an NYSE "
                "session"
            )
        offset = index - first_index
        if not 0 <= offset < count:
            raise ValueError(
                f"{listed.symbol}: {label} date {day.isoformat()} is outside the "
                "listing period"
            )
        offsets[offset] = value
    return offsets


def _quarterly_ex_offsets(
    month_offset: int, day_of_month: int, first_index: int, count: int
) -> set[int]:
    sessions = all_sessions()
    offsets: set[int] = set()
    for year in range(sessions[0].year, sessions[-1].year + 1):
        for month in range(1 + month_offset, 13, 3):
            index = session_index_on_or_after(date(year, month, day_of_month))
            offset = index - first_index
            if 60 <= offset < count:  # a new listing pays after a quarter or so
                offsets.add(offset)
    return offsets


@functools.lru_cache(maxsize=64)
def _generate_path(listed: ListedSymbol, seed: int) -> _Path:
    sessions = all_sessions()
    first_index = session_index_on_or_after(listed.ipo_date)
    end_index = len(sessions) - 1
    if listed.delisting_date is not None:
        end_index = min(end_index, session_index_on_or_before(listed.delisting_date))
    count = max(0, end_index - first_index + 1)

    rng = random.Random(symbol_seed(listed.symbol, seed))
    uniform = rng.random
    # Per-symbol parameters: a fixed number of draws, whatever is used.
    draws = [uniform() for _ in range(16)]
    profile = listed.profile or PROFILES[int(draws[0] * len(PROFILES))]
    start_price = math.exp(math.log(15.0) + draws[1] * math.log(150.0 / 15.0))
    annual_vol = 0.18 + 0.22 * draws[2]
    trend = {
        "growth": 0.14 + 0.10 * draws[3],
        "income": 0.01 + 0.05 * draws[3],
        "decline": -0.14 - 0.10 * draws[3],
        "flat": -0.01 + 0.04 * draws[3],
    }[profile]
    split_threshold = 250.0 + 450.0 * draws[4]
    base_volume = math.exp(math.log(2e5) + draws[5] * math.log(4e7 / 2e5))
    pays_dividends = profile == "income" or (profile == "growth" and draws[6] < 0.5)
    first_dividend_year = 1999 if profile == "income" else 2003 + int(draws[7] * 15.0)
    quarterly_yield = 0.003 + 0.009 * draws[8]
    has_odd_split = profile == "income" and draws[9] < 0.3
    odd_offset = int(count * (0.2 + 0.7 * draws[10]))
    odd_ratio = (Decimal("1.046"), Decimal("1.0335"), Decimal("1.1"))[
        int(draws[11] * 3)
    ]

    explicit_splits = (
        _explicit_offsets(listed, "split", listed.splits, first_index, count)
        if listed.splits is not None
        else None
    )
    explicit_dividends = (
        _explicit_offsets(listed, "dividend", listed.dividends, first_index, count)
        if listed.dividends is not None
        else None
    )
    ex_offsets: set[int] = (
        _quarterly_ex_offsets(
            int(draws[12] * 3), 5 + int(draws[13] * 20), first_index, count
        )
        if pays_dividends and explicit_dividends is None
        else set()
    )

    sigma = annual_vol / math.sqrt(_SESSIONS_PER_YEAR)
    drift = trend / _SESSIONS_PER_YEAR
    kappa = 0.004  # pull towards the trend line: a half-life of about 170 sessions
    log_start = math.log(start_price)
    years_per_session = 1.0 / _SESSIONS_PER_YEAR

    opens = array("q", bytes(8 * count))
    highs = array("q", bytes(8 * count))
    lows = array("q", bytes(8 * count))
    closes = array("q", bytes(8 * count))
    volumes = array("q", bytes(8 * count))
    splits: list[tuple[int, Decimal]] = []
    dividends: list[tuple[int, Decimal]] = []

    previous = _round_price(start_price)
    log_ratio = 0.0  # log of the cumulative split ratio
    volume_scale = base_volume
    last_split = -10_000
    dividend_ticks = 0  # the current quarterly amount, in ticks
    dividend_year = 0
    exp, log, sqrt, cos, sin = math.exp, math.log, math.sqrt, math.cos, math.sin
    is_growth = explicit_splits is None and profile == "growth"
    is_decline = explicit_splits is None and profile == "decline"
    odd_at = odd_offset if explicit_splits is None and has_odd_split else -1
    gap_scale = 0.35 * sigma
    range_scale = 0.6 * sigma
    base_change = drift + kappa * log_start
    kappa_trend = kappa * trend * years_per_session

    for offset in range(count):
        # Box-Muller: two pairs of standard normals, then one uniform.
        radius = sqrt(-2.0 * log(1.0 - uniform()))
        angle = _TWO_PI * uniform()
        z_close, z_gap = radius * cos(angle), radius * sin(angle)
        radius = sqrt(-2.0 * log(1.0 - uniform()))
        angle = _TWO_PI * uniform()
        z_range, z_volume = radius * cos(angle), radius * sin(angle)
        u_split = uniform()
        reference = previous / TICKS_PER_UNIT

        ratio: Decimal | None = None
        if explicit_splits is not None:
            ratio = explicit_splits.get(offset)
        elif is_growth:
            if reference > split_threshold and offset - last_split >= 250:
                ratio = _TWO if u_split < 0.7 else _THREE
        elif is_decline:
            if reference < 1.5 and offset - last_split >= 250:
                ratio = _ONE_TENTH
        elif offset == odd_at:
            ratio = odd_ratio
        if ratio is not None:
            splits.append((offset, ratio))
            last_split = offset
            ratio_value = float(ratio)
            log_ratio += log(ratio_value)
            volume_scale *= ratio_value
            reference /= ratio_value
            dividend_ticks = int(dividend_ticks / ratio_value)

        amount: Decimal | None = None
        if explicit_dividends is not None:
            amount = explicit_dividends.get(offset)
            if amount is not None and offset > 0 and amount >= Decimal(reference):
                raise ValueError(
                    f"{listed.symbol}: dividend {amount} on "
                    f"{sessions[first_index + offset].isoformat()} is not below the "
                    f"previous close {reference:.4f}"
                )
        elif offset in ex_offsets:
            year = sessions[first_index + offset].year
            if year >= first_dividend_year:
                if (
                    year != dividend_year
                    or dividend_ticks <= 0
                    or dividend_ticks > 0.05 * previous
                ):
                    # whole cents, recomputed once a year from the yield
                    dividend_ticks = int(reference * quarterly_yield * 100 + 0.5) * 100
                    dividend_year = year
                if dividend_ticks > 0:
                    amount = Decimal(dividend_ticks).scaleb(-4).normalize()
        if amount is not None:
            dividends.append((offset, amount))
            reference -= float(amount)

        # mean reversion towards log_start + trend * years - log_ratio
        change = (
            base_change
            + kappa_trend * offset
            - kappa * (log_ratio + log(reference))
            + sigma * z_close
        )
        close_price = reference * exp(change)
        open_price = reference * (1.0 + gap_scale * z_gap)
        spread = range_scale * (z_range if z_range > 0 else -z_range)
        if open_price > close_price:
            high_price = open_price * (1.0 + spread * u_split)
            low_price = close_price * (1.0 - spread * (1.0 - u_split))
        else:
            high_price = close_price * (1.0 + spread * u_split)
            low_price = open_price * (1.0 - spread * (1.0 - u_split))

        # whole cents from $1 up, 0.0001 below (and never zero)
        if close_price >= 1.0:
            close_ticks = int(close_price * 100.0 + 0.5) * 100
        else:
            close_ticks = int(close_price * TICKS_PER_UNIT + 0.5) or 1
        if open_price >= 1.0:
            open_ticks = int(open_price * 100.0 + 0.5) * 100
        else:
            open_ticks = int(open_price * TICKS_PER_UNIT + 0.5) or 1
        if high_price >= 1.0:
            high_ticks = int(high_price * 100.0 + 0.5) * 100
        else:
            high_ticks = int(high_price * TICKS_PER_UNIT + 0.5)
        if low_price >= 1.0:
            low_ticks = int(low_price * 100.0 + 0.5) * 100
        else:
            low_ticks = int(low_price * TICKS_PER_UNIT + 0.5) or 1
        opens[offset] = open_ticks
        closes[offset] = close_ticks
        top = open_ticks if open_ticks > close_ticks else close_ticks
        bottom = close_ticks if open_ticks > close_ticks else open_ticks
        highs[offset] = high_ticks if high_ticks > top else top
        lows[offset] = low_ticks if low_ticks < bottom else bottom
        volumes[offset] = int(
            volume_scale
            * exp(0.35 * z_volume + 8.0 * (change if change > 0 else -change) - 0.06)
        )
        previous = close_ticks

    return _Path(
        listed=listed,
        first_index=first_index,
        opens=opens,
        highs=highs,
        lows=lows,
        closes=closes,
        volumes=volumes,
        splits=tuple(splits),
        dividends=tuple(dividends),
    )


def symbol_history(listed: ListedSymbol, today: date, seed: int = 0) -> SymbolHistory:
    """Return ``listed``'s deterministic history as the API shows it on ``today``.

    The path is generated once per process (to the 2035 horizon) and cut at
    ``today``; adjusted closes take only the events up to ``today`` into account.

    Args:
        listed: the symbol and its listing data (and optional explicit events).
        today: the emulator's "today"; no session after it is included.
        seed: the market-wide seed.

    Returns:
        The history; empty when ``today`` is before the first session.

    Raises:
        ValueError: an explicit event is not on a session of the listing period,
            or an explicit dividend is not below the previous close.
    """
    return SymbolHistory(_generate_path(listed, seed), today)


class Market:
    """A universe's histories with caching; thread-safe.

    Args:
        universe: the listed symbols.
        seed: the market-wide seed.
        cache_size: how many (symbol, day) histories to keep.
    """

    def __init__(
        self, universe: tuple[ListedSymbol, ...], seed: int = 0, cache_size: int = 64
    ) -> None:
        self.universe = universe
        self.seed = seed
        self._by_symbol = {listed.symbol: listed for listed in universe}
        self._cache: OrderedDict[tuple[str, int], SymbolHistory] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def listed(self, symbol: str) -> ListedSymbol | None:
        """Return the universe entry of ``symbol`` (case-insensitive), or None."""
        return self._by_symbol.get(symbol.upper())

    def history(self, symbol: str, today: date) -> SymbolHistory | None:
        """Return ``symbol``'s history as of ``today``.

        Args:
            symbol: the ticker (case-insensitive).
            today: the emulator's "today".

        Returns:
            The history, or None when the symbol is unknown or not yet listed.
        """
        listed = self.listed(symbol)
        if listed is None or listed.ipo_date > today:
            return None
        key = (listed.symbol, session_index_on_or_before(today))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        history = symbol_history(listed, today, self.seed)
        with self._lock:
            self._cache[key] = history
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return history
