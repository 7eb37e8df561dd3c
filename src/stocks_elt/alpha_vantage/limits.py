"""
The limits an API key is held to, and how a caller asks before each call.

Alpha Vantage counts calls per key (and IP), not per process, so every process and
Airflow worker that uses one key must share one count: the client asks a
``CallLedger`` before each HTTP call and tells it how the call ended. The ledger
every stage uses keeps its count in the warehouse
(``stocks_elt.warehouse.audit.api_calls.WarehouseQuota``); this module holds what
the client and the ledger agree on: the limits, their windows, the outcomes and
the key's hash.

* The key itself is never stored: ``key_hash`` is a salted sha256 prefix.
* The API day runs midnight to midnight America/New_York (when the daily quota
  resets).
* A "day's quota spent" notice from the API closes the day for every caller.
* A burst notice from the API means the key's real burst limit is lower than the
  configured one (or the key is used elsewhere too): for a minute after one,
  every caller is paced at one call per second plus the margin (``AFTER_BURST``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from stocks_elt.market.calendar import NEW_YORK

if TYPE_CHECKING:
    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

#: Outcome recorded for a call the API answered with its day's-quota notice.
DAILY_CAP_OUTCOME = "daily_cap"
_KEY_HASH_SALT = b"stocks-elt/alpha-vantage-key/v1\x00"
_KEY_HASH_LENGTH = 16
#: Extra spacing past each window, so calls reserved just far enough apart still
#: arrive far enough apart when the network delays the first more than the second.
_MAX_MARGIN_SECONDS = 0.25
#: Outcome recorded for a call the API answered with its burst notice.
BURST_OUTCOME = "burst"
#: How long a burst notice slows every caller of the key to ``AFTER_BURST``.
BURST_COOLDOWN_SECONDS = 60.0


def key_hash(api_key: str) -> str:
    """Return the ledger's name for ``api_key``: a salted sha256 prefix (16 hex).

    The same key gives the same hash in every process; the key cannot be read back.
    """
    return hashlib.sha256(_KEY_HASH_SALT + api_key.encode()).hexdigest()[
        :_KEY_HASH_LENGTH
    ]


def api_day(at: datetime) -> date:
    """Return the API day (America/New_York date) ``at`` falls in (aware datetime)."""
    return at.astimezone(NEW_YORK).date()


@dataclass(frozen=True)
class RateWindow:
    """At most ``calls`` calls in any ``seconds``-long window."""

    calls: int
    seconds: float

    @property
    def margin(self) -> float:
        """Seconds of spacing added past the window (10 % of it, at most 0.25 s)."""
        return min(_MAX_MARGIN_SECONDS, self.seconds / 10)


#: The pace after a burst notice: the free key's documented one call per second.
AFTER_BURST = RateWindow(1, 1.0)


@dataclass(frozen=True)
class Limits:
    """The limits one key is held to.

    Attributes:
        calls_per_second: the burst limit; below 1 means one call per
            ``1 / calls_per_second`` seconds (0.5: one call every 2 s).
        calls_per_minute: 0 for none.
        daily_quota: calls per API day; 0 for none.
    """

    calls_per_second: float = 1.0
    calls_per_minute: int = 0
    daily_quota: int = 25

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """Return the limits configured in ``settings``."""
        return cls(
            calls_per_second=settings.alpha_vantage_calls_per_second,
            calls_per_minute=settings.alpha_vantage_calls_per_minute,
            daily_quota=settings.alpha_vantage_daily_quota,
        )

    def windows(self) -> tuple[RateWindow, ...]:
        """Return the sliding windows these limits define, shortest first."""
        if self.calls_per_second >= 1:
            found = [RateWindow(math.floor(self.calls_per_second), 1.0)]
        else:
            found = [RateWindow(1, 1.0 / self.calls_per_second)]
        if self.calls_per_minute > 0:
            found.append(RateWindow(self.calls_per_minute, 60.0))
        return tuple(found)


class CallLedger(Protocol):
    """What the client asks before and tells after each HTTP call."""

    def reserve(self, function: str, symbol: str | None) -> int | None:
        """Wait until a call is allowed, then count it; return a reservation id.

        Raises:
            DailyQuotaExhausted: the API day's quota is spent.
        """

    def record(self, reservation: int | None, outcome: str) -> None:
        """Record how the reserved call ended (its classification)."""


@dataclass(frozen=True)
class QuotaUsage:
    """One key's calls on one API day.

    Attributes:
        api_day: the America/New_York date.
        key_hash: the ledger's name for the key.
        calls_used: calls made (reserved) that day.
        daily_quota: the configured quota; 0 for none.
        remaining: calls left, or None when there is no quota.
        is_capped: the API itself answered that the day's quota is spent.
        per_function: calls per Alpha Vantage function.
        per_outcome: calls per outcome (``data``, ``burst``, ``daily_cap``, ...).
    """

    api_day: date
    key_hash: str
    calls_used: int
    daily_quota: int
    remaining: int | None
    is_capped: bool
    per_function: Mapping[str, int] = field(default_factory=dict)
    per_outcome: Mapping[str, int] = field(default_factory=dict)
