"""
The emulator's request handling, without HTTP: keys, limits, faults, the call log,
the clock and the body cache around :func:`stocks_elt.emulator.render.render_response`.

A GET /query goes through these steps, in order:

1. No ``apikey`` (or an empty one): the missing-key error. Not counted.
2. The call is counted toward the key's limits (every call with a key counts).
3. Fault injection: a failing rule answers for the service (the call still
   counted); a latency rule only delays the answer.
4. Limits for free keys: daily cap, then burst, then per-minute; premium keys
   only have their own per-minute limit.
5. Empty or unknown ``function``: "This API function (...) does not exist."
6. The ``demo`` key: IBM, LISTING_STATUS and ``keywords=tesco`` only.
7. Free keys: TIME_SERIES_DAILY_ADJUSTED and the ``entitlement`` parameter get the
   premium-endpoint notice; TIME_SERIES_DAILY with ``outputsize=full`` the
   outputsize notice.
8. The data (or the real service's answer for unknown symbols and bad parameters).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from stocks_elt.emulator import notices
from stocks_elt.emulator.config import EmulatorConfig
from stocks_elt.emulator.faults import (
    NO_FAULT,
    FaultDecision,
    FaultPlan,
    parse_fault_spec,
)
from stocks_elt.emulator.limits import Limits, RateLimiter
from stocks_elt.emulator.market import Market, symbol_history
from stocks_elt.emulator.render import (
    FUNCTIONS,
    Response,
    dumps,
    json_message,
    render_response,
)
from stocks_elt.market.calendar import (
    HORIZON,
    NEW_YORK,
    last_completed_session,
    next_session,
)

logger = logging.getLogger(__name__)

DEMO_KEY = "demo"
#: the HTTP status pages of injected 5xx faults (what a proxy in front would send)
_STATUS_PAGES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_CALL_LOG_SIZE = 1_000_000


@dataclass(frozen=True)
class CallRecord:
    """One call the emulator received on /query.

    Attributes:
        at: when it arrived (UTC), before any rendering or injected latency.
        key: the API key sent ("" when missing).
        function: the function parameter ("" when missing).
        symbol: the symbol parameter, if any.
        params: every query parameter except ``apikey``.
        outcome: ``data``, ``error``, ``not_found``, ``burst``, ``per_minute``,
            ``daily_cap``, ``premium``, ``outputsize_premium``, ``demo``,
            ``fault:<kind>``, ``method_not_allowed`` or ``missing_key``.
        status: the HTTP status sent (0 when the connection was dropped).
        latency_ms: injected latency, in milliseconds.
    """

    at: datetime
    key: str
    function: str
    symbol: str | None
    params: dict[str, str]
    outcome: str
    status: int
    latency_ms: int = 0

    def as_json(self) -> dict[str, object]:
        """Return the record as a JSON-ready dict (for GET /_admin/calls)."""
        return {
            "at": self.at.isoformat(),
            "key": self.key,
            "function": self.function,
            "symbol": self.symbol,
            "params": self.params,
            "outcome": self.outcome,
            "status": self.status,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True)
class Reply:
    """What the HTTP layer must do for one call.

    Attributes:
        response: the answer to send (ignored when ``transport_fault`` is drop).
        transport_fault: ``drop`` or ``truncate`` for socket-level faults, else None.
        latency_seconds: how long to wait before answering.
    """

    response: Response
    transport_fault: str | None = None
    latency_seconds: float = 0.0


@dataclass
class _BodyCache:
    max_bytes: int
    entries: OrderedDict[tuple[object, ...], Response] = field(
        default_factory=OrderedDict
    )
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[object, ...]) -> Response | None:
        with self.lock:
            response = self.entries.get(key)
            if response is not None:
                self.entries.move_to_end(key)
            return response

    def put(self, key: tuple[object, ...], response: Response) -> None:
        if len(response.body) > self.max_bytes:
            return
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = response
            self.size += len(response.body)
            while self.size > self.max_bytes:
                _, evicted = self.entries.popitem(last=False)
                self.size -= len(evicted.body)


class EmulatorService:
    """The emulator's state and rules; thread-safe, one per running server.

    Args:
        config: the settings.

    Raises:
        FaultSpecError: ``config.faults`` does not parse.
        ValueError: an explicit split or dividend of the universe is not on a
            session of its listing period (the message names the symbol and date).
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.market = Market(config.universe, config.seed)
        self.limiter = RateLimiter(
            Limits(
                per_second=config.per_second_limit,
                per_minute=config.per_minute_limit,
                daily=config.daily_limit,
                premium_per_minute=config.premium_per_minute_limit,
            ),
            clock=config.clock,
        )
        self._today = config.today
        self._at: datetime | None = None
        self._lock = threading.Lock()
        self._faults = FaultPlan(
            parse_fault_spec(config.faults, FUNCTIONS), config.seed
        )
        self._calls: deque[CallRecord] = deque(maxlen=_CALL_LOG_SIZE)
        self._cache = _BodyCache(config.cache_bytes)
        for listed in config.universe:
            if listed.splits is not None or listed.dividends is not None:
                # explicit events are checked now, not on some later request
                symbol_history(listed, HORIZON, config.seed)

    # -- clock ----------------------------------------------------------------

    def clock(self) -> tuple[date, date]:
        """Return ``(today, published)``: the API day (New York) that counts the
        daily quota, and the last session whose bar the answers hold.

        A fixed today is over (its bar is published); an instant (pinned with
        ``set_now`` or the wall clock) publishes a session ``publication_lag``
        after its close.
        """
        with self._lock:
            fixed, pinned = self._today, self._at
        if fixed is not None:
            return fixed, fixed
        moment = (pinned or self.config.now()).astimezone(NEW_YORK)
        published = last_completed_session(moment, self.config.publication_lag)
        return moment.date(), published

    @property
    def today(self) -> date:
        """The emulator's "today": the API day in New York."""
        return self.clock()[0]

    @property
    def published_through(self) -> date:
        """The last session whose bar exists (``Last Refreshed`` of a series)."""
        return self.clock()[1]

    def set_today(self, day: date) -> None:
        """Fix the clock at the end of ``day`` (forward or back)."""
        with self._lock:
            self._today, self._at = day, None
        logger.info("emulator clock set today=%s", day.isoformat())

    def set_now(self, moment: datetime) -> None:
        """Pin the clock at the instant ``moment`` (aware; the close rule applies).

        Raises:
            ValueError: ``moment`` has no time zone.
        """
        if moment.tzinfo is None:
            raise ValueError(f"{moment.isoformat()} has no time zone")
        with self._lock:
            self._today, self._at = None, moment
        logger.info("emulator clock set now=%s", moment.isoformat())

    def advance(self, sessions: int = 1) -> date:
        """Fix the clock at the ``sessions``-th NYSE session after the last one
        published (after its close).

        Raises:
            ValueError: ``sessions`` < 1 or the result is past the horizon.
        """
        start = self.published_through
        day = next_session(start, sessions)
        if day > HORIZON:
            raise ValueError(
                f"{sessions} session(s) after {start.isoformat()} is past "
                f"the emulator's horizon {HORIZON.isoformat()}"
            )
        with self._lock:
            self._today, self._at = day, None
        logger.info("emulator clock advanced sessions=%d today=%s", sessions, day)
        return day

    # -- faults and log -------------------------------------------------------

    def set_faults(self, spec: str) -> None:
        """Replace the fault rules (their call counters start again).

        Raises:
            FaultSpecError: the spec does not parse.
        """
        plan = FaultPlan(parse_fault_spec(spec, FUNCTIONS), self.config.seed)
        with self._lock:
            self._faults = plan
        logger.info("emulator faults set rules=%d", len(plan.rules))

    def calls(self, key: str | None = None) -> list[CallRecord]:
        """Return the call log, oldest first, for one key or for all."""
        with self._lock:
            records = list(self._calls)
        return records if key is None else [r for r in records if r.key == key]

    def reset(self) -> None:
        """Forget the call log and every limit counter."""
        with self._lock:
            self._calls.clear()
        self.limiter.reset()

    def record(
        self,
        params: dict[str, str],
        outcome: str,
        status: int,
        latency_seconds: float = 0.0,
        at: datetime | None = None,
    ) -> None:
        """Append one call to the log (``at``: its arrival; default now)."""
        record = CallRecord(
            at=at or datetime.now(UTC),
            key=params.get("apikey", ""),
            function=params.get("function", ""),
            symbol=params.get("symbol"),
            params={k: v for k, v in params.items() if k != "apikey"},
            outcome=outcome,
            status=status,
            latency_ms=round(latency_seconds * 1000),
        )
        with self._lock:
            self._calls.append(record)
        logger.debug(
            "call function=%s symbol=%s outcome=%s status=%d",
            record.function,
            record.symbol,
            outcome,
            status,
        )

    # -- the query path -------------------------------------------------------

    def handle_query(self, params: dict[str, str]) -> Reply:
        """Decide the answer to one GET /query and log the call.

        Args:
            params: the query parameters (last value wins for repeated names).

        Returns:
            The response, a socket-level fault to apply, and a delay.
        """
        arrived = datetime.now(UTC)
        key = params.get("apikey", "")
        if not key:
            response = json_message("Error Message", notices.MISSING_KEY, "missing_key")
            self.record(params, response.outcome, response.status, at=arrived)
            return Reply(response)
        function = params.get("function", "")
        symbol = params.get("symbol")
        today, published = self.clock()
        is_premium = key in self.config.premium_keys
        limit = self.limiter.register(key, today, is_premium)
        with self._lock:
            faults = self._faults
        decision = faults.decide(function, symbol) if faults.rules else NO_FAULT
        if decision.kind is not None:
            reply = self._fault_reply(decision, params, published)
        else:
            response = self._answer(params, key, function, published, is_premium, limit)
            reply = Reply(response, None, decision.latency_seconds)
        status = 0 if reply.transport_fault == "drop" else reply.response.status
        self.record(
            params, reply.response.outcome, status, decision.latency_seconds, arrived
        )
        return reply

    def _answer(
        self,
        params: dict[str, str],
        key: str,
        function: str,
        today: date,
        is_premium: bool,
        limit: str | None,
    ) -> Response:
        if limit == "daily_cap":
            return json_message("Information", notices.daily_cap(key), limit)
        if limit == "burst":
            return json_message("Information", notices.BURST, limit)
        if limit == "per_minute":
            return json_message("Note", notices.PER_MINUTE, limit)
        if function not in FUNCTIONS:
            return json_message(
                "Error Message", notices.unknown_function(function), "error"
            )
        if key == DEMO_KEY:
            if not _demo_allows(function, params):
                return json_message("Information", notices.DEMO, "demo")
        elif not is_premium:
            if function == "TIME_SERIES_DAILY_ADJUSTED" or params.get("entitlement"):
                return json_message("Information", notices.PREMIUM_ENDPOINT, "premium")
            if (
                function == "TIME_SERIES_DAILY"
                and params.get("outputsize", "").lower() == "full"
            ):
                return json_message(
                    "Information", notices.OUTPUTSIZE_PREMIUM, "outputsize_premium"
                )
        return self.render(function, params, today)

    def render(self, function: str, params: dict[str, str], today: date) -> Response:
        """Return the data answer for a request, from the cache when possible."""
        cache_key = (
            today,
            tuple(sorted((k, v) for k, v in params.items() if k != "apikey")),
        )
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        response = render_response(function, params, self.market, today)
        self._cache.put(cache_key, response)
        return response

    def _fault_reply(
        self, decision: FaultDecision, params: dict[str, str], today: date
    ) -> Reply:
        kind = decision.kind
        assert kind is not None
        outcome = f"fault:{kind}"
        if kind in ("500", "502", "503"):
            status = int(kind)
            page = (
                f"<html><head><title>{status} {_STATUS_PAGES[status]}</title></head>"
                f"<body><h1>{status} {_STATUS_PAGES[status]}</h1></body></html>"
            )
            response = Response(status, page.encode(), "text/html", outcome=outcome)
            return Reply(response, None, decision.latency_seconds)
        if kind == "empty":
            return Reply(
                Response(200, dumps({}), outcome=outcome),
                None,
                decision.latency_seconds,
            )
        real = self.render(params.get("function", ""), params, today)
        if kind == "malformed":
            broken = real.body[: len(real.body) // 2]
            return Reply(
                Response(200, broken, real.content_type, real.filename, outcome),
                None,
                decision.latency_seconds,
            )
        # drop and truncate happen on the socket
        response = Response(
            real.status, real.body, real.content_type, real.filename, outcome
        )
        return Reply(response, kind, decision.latency_seconds)


def _demo_allows(function: str, params: dict[str, str]) -> bool:
    if function == "LISTING_STATUS":
        return True
    if function == "SYMBOL_SEARCH":
        return params.get("keywords", "").strip().lower() == "tesco"
    return params.get("symbol", "").strip().upper() == "IBM"
