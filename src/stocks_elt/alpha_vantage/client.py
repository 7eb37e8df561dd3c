"""
The Alpha Vantage HTTP client: one pooled connection set, every answer classified,
every call counted in the quota ledger, the key never let out.

    with AlphaVantageClient.from_settings(settings, ledger=ledger) as client:
        answer = client.daily("IBM", outputsize="compact")
        answer.body, answer.sha256, answer.metadata()

Each method returns an ``ApiAnswer`` only when the answer is data; anything else
raises (see ``fetch``). Retryable answers (burst and per-minute notices, HTTP 5xx
and 405, timeouts, dropped connections, truncated or malformed bodies) are retried
up to ``max_retries`` times: notices after the wait they ask for, the rest with
exponential backoff and jitter. An empty ``{}`` from a time series, SPLITS or
DIVIDENDS (whose unknown-symbol answer is an "Error Message") is asked once more
before it counts as not found. Every attempt is a call: it is reserved in the
ledger before it is sent.

How the key stays secret: the ``httpx.Client`` never sees it. A transport wrapper
adds ``apikey`` to a copy of each outgoing request just before the wire, so the
URL httpx logs, attaches to responses and puts in exceptions carries no key; any
text that could still carry it (a notice echoing it, a library message) goes
through ``redact``. Symbols are validated with ``stocks_elt.market.symbols``
before anything is sent; lower case is normalised to upper case there.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import httpx
import orjson
from pydantic import SecretStr

from stocks_elt import __version__
from stocks_elt.alpha_vantage.classify import (
    CSV_HEADERS,
    AnswerKind,
    Classification,
    classify_answer,
    classify_transport_error,
)
from stocks_elt.alpha_vantage.limits import DAILY_CAP_OUTCOME, CallLedger
from stocks_elt.alpha_vantage.redact import redact
from stocks_elt.errors import (
    ApiError,
    ApiNotice,
    DailyQuotaExhausted,
    ExtractError,
    RateLimited,
    SymbolNotFound,
)
from stocks_elt.market.symbols import normalize_symbol
from stocks_elt.market.universe import ListingState

if TYPE_CHECKING:
    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

OutputSize = Literal["compact", "full"]
QUERY_PATH = "/query"
#: Backoff for transient failures: base * 2**(attempt - 1), capped, with jitter.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
_PARAMETER = re.compile(r"[A-Za-z0-9_.,:=\-]{1,64}")
#: Functions whose documented "unknown symbol" answer is an "Error Message", so an
#: empty ``{}`` from them is a glitch seen in the wild (RomelTorres #154): asked
#: once more before it counts as "not found".
_EMPTY_IS_SUSPECT = frozenset(
    {"TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED", "SPLITS", "DIVIDENDS"}
)


@dataclass(frozen=True)
class ApiAnswer:
    """One data answer of the API, as received.

    Attributes:
        function: the Alpha Vantage function called.
        symbol: the symbol asked for; None for universe-wide functions.
        parameters: the query parameters without the key (function included).
        body: the body exactly as received (decompressed).
        http_status: the HTTP status (200).
        fetched_at: when the answer arrived (UTC).
        attempts: how many calls it took (retries included).
    """

    function: str
    symbol: str | None
    parameters: Mapping[str, str]
    body: bytes = field(repr=False)
    http_status: int
    fetched_at: datetime
    attempts: int = 1

    @cached_property
    def sha256(self) -> str:
        """The hex sha256 of the body."""
        return hashlib.sha256(self.body).hexdigest()

    @property
    def ext(self) -> str:
        """The lake file extension: ``csv`` for CSV functions, else ``json``."""
        return "csv" if self.function in CSV_HEADERS else "json"

    def metadata(self) -> dict[str, str]:
        """Return the lake metadata of this answer (the key is never in it)."""
        return {
            "function": self.function,
            "symbol": self.symbol or "",
            "parameters": orjson.dumps(
                dict(self.parameters), option=orjson.OPT_SORT_KEYS
            ).decode(),
            "fetched_at": self.fetched_at.astimezone(UTC).isoformat(
                timespec="microseconds"
            ),
            "http_status": str(self.http_status),
            "bytes": str(len(self.body)),
            "sha256": self.sha256,
        }


class _KeyedTransport(httpx.BaseTransport):
    """Adds the key to a copy of each request on its way to the wire."""

    def __init__(self, inner: httpx.BaseTransport, api_key: str) -> None:
        self._inner = inner
        self._api_key = api_key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        keyed = httpx.Request(
            request.method,
            request.url.copy_merge_params({"apikey": self._api_key}),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return self._inner.handle_request(keyed)

    def close(self) -> None:
        self._inner.close()


class AlphaVantageClient:
    """A thread-safe Alpha Vantage client over one pooled ``httpx.Client``."""

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = "https://www.alphavantage.co",
        timeout: float = 30.0,
        max_retries: int = 4,
        ledger: CallLedger | None = None,
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Prepare a client; nothing is sent until the first call.

        Args:
            api_key: the Alpha Vantage key (sent only in requests).
            base_url: where the API is (the emulator in tests).
            timeout: seconds to wait for a connection or an answer.
            max_retries: retries of a retryable answer before giving up.
            ledger: counts and paces every call (the warehouse quota ledger);
                None sends without limits.
            max_connections: size of the connection pool.
            transport: an httpx transport (tests pass ``httpx.MockTransport``).
            sleep: how to wait between retries (tests pass a fake).
            rng: randomness for the backoff jitter.
        """
        secret = (
            api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        )
        self._api_key = secret
        self._ledger = ledger
        self._max_retries = max_retries
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._count_lock = threading.Lock()
        self._calls_made = 0
        self._key_refusal: str | None = None
        inner = transport or httpx.HTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
            ),
            retries=0,
        )
        self._http = httpx.Client(
            base_url=base_url,
            transport=_KeyedTransport(inner, secret),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": f"stocks-elt/{__version__}"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        ledger: CallLedger | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> AlphaVantageClient:
        """Return a client configured from ``settings``.

        Args:
            settings: key, base URL, timeout, retries and concurrency.
            ledger: the quota ledger (``WarehouseQuota.from_settings``).
            transport: an httpx transport for tests.
        """
        return cls(
            settings.alpha_vantage_api_key,
            base_url=settings.alpha_vantage_base_url,
            timeout=settings.alpha_vantage_timeout_seconds,
            max_retries=settings.alpha_vantage_max_retries,
            ledger=ledger,
            max_connections=settings.extract_concurrency + 2,
            transport=transport,
        )

    def __enter__(self) -> AlphaVantageClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @property
    def calls_made(self) -> int:
        """How many HTTP calls this client has sent (retries included)."""
        with self._count_lock:
            return self._calls_made

    @property
    def key_refusal(self) -> str | None:
        """The API's words when it refused the key ("apikey is invalid"), else None.

        Once set, every later call would fail the same way; callers stop.
        """
        return self._key_refusal

    def redact(self, text: str) -> str:
        """Return ``text`` without this client's key (for messages built outside)."""
        return redact(text, self._api_key)

    # -- the functions the pipeline uses -----------------------------------------

    def daily(self, symbol: str, *, outputsize: OutputSize = "compact") -> ApiAnswer:
        """TIME_SERIES_DAILY: raw daily bars, latest 100 (compact) or 20+ years."""
        return self.fetch("TIME_SERIES_DAILY", symbol, outputsize=outputsize)

    def daily_adjusted(
        self, symbol: str, *, outputsize: OutputSize = "compact"
    ) -> ApiAnswer:
        """TIME_SERIES_DAILY_ADJUSTED (premium keys): bars with dividends and
        split coefficients."""
        return self.fetch("TIME_SERIES_DAILY_ADJUSTED", symbol, outputsize=outputsize)

    def splits(self, symbol: str) -> ApiAnswer:
        """SPLITS: every split of the symbol."""
        return self.fetch("SPLITS", symbol)

    def dividends(self, symbol: str) -> ApiAnswer:
        """DIVIDENDS: every cash dividend of the symbol."""
        return self.fetch("DIVIDENDS", symbol)

    def overview(self, symbol: str) -> ApiAnswer:
        """OVERVIEW: the company's name, exchange, sector, industry and ratios."""
        return self.fetch("OVERVIEW", symbol)

    def listing_status(
        self, *, on: date | None = None, state: ListingState = "active"
    ) -> ApiAnswer:
        """LISTING_STATUS (CSV): every listed (or delisted) symbol, on ``on`` or
        today."""
        parameters: dict[str, str] = {"state": state}
        if on is not None:
            parameters["date"] = on.isoformat()
        return self.fetch("LISTING_STATUS", None, **parameters)

    # -- the one place a request is made -----------------------------------------

    def fetch(self, function: str, symbol: str | None, **parameters: str) -> ApiAnswer:
        """Call ``function`` for ``symbol`` and return its answer if it is data.

        Args:
            function: an Alpha Vantage function name.
            symbol: the symbol (validated and upper-cased here), or None.
            parameters: further query parameters (``outputsize="full"``).

        Returns:
            The data answer.

        Raises:
            InvalidSymbol: the symbol breaks the rule; nothing was sent.
            ApiError: a parameter is malformed (nothing sent); the API refused the
                key; an HTTP error status; or a transient failure outlived the
                retries.
            SymbolNotFound: an empty answer, or an "Error Message" about the
                symbol: the API has nothing for it.
            RateLimited: burst or per-minute notices outlived the retries.
            DailyQuotaExhausted: the day's quota is spent (by the ledger's count or
                the API's word).
            ApiNotice: a premium, demo or other information notice (``kind`` says
                which: ``premium_outputsize``, ``premium_endpoint``, ``demo``,
                ``information``).
        """
        query = self._query(function, symbol, parameters)
        symbol = query.get("symbol")
        subject = f"{symbol}: {function}" if symbol else function
        attempt = 0
        while True:
            attempt += 1
            classification, status, body = self._call_once(function, symbol, query)
            if classification.is_data:
                logger.info(
                    "fetched function=%s symbol=%s bytes=%d attempts=%d",
                    function,
                    symbol,
                    len(body),
                    attempt,
                )
                return ApiAnswer(
                    function=function,
                    symbol=symbol,
                    parameters=query,
                    body=body,
                    http_status=status,
                    fetched_at=datetime.now(UTC),
                    attempts=attempt,
                )
            if self._should_retry(function, classification, attempt):
                wait = self._wait_before_retry(classification, attempt)
                logger.warning(
                    "retrying function=%s symbol=%s kind=%s attempt=%d wait_s=%.2f "
                    "reason=%s",
                    function,
                    symbol,
                    classification.kind,
                    attempt,
                    wait,
                    classification.detail,
                )
                self._sleep(wait)
                continue
            raise self._error(subject, classification, attempt)

    def _query(
        self, function: str, symbol: str | None, parameters: Mapping[str, str]
    ) -> dict[str, str]:
        query = {"function": function}
        if symbol is not None:
            query["symbol"] = normalize_symbol(symbol)
        for name, value in parameters.items():
            if not _PARAMETER.fullmatch(name) or not _PARAMETER.fullmatch(str(value)):
                raise ApiError(
                    f"{function}: parameter {name!r}={str(value)[:40]!r} is not "
                    "allowed (letters, digits and _ . , : = - only); nothing sent"
                )
            if name.lower() == "apikey":
                raise ApiError(f"{function}: the key is not a parameter; nothing sent")
            query[name] = str(value)
        if not _PARAMETER.fullmatch(function):
            raise ApiError(f"function {function[:40]!r} is not allowed; nothing sent")
        return query

    def _call_once(
        self, function: str, symbol: str | None, query: Mapping[str, str]
    ) -> tuple[Classification, int, bytes]:
        reservation = (
            self._ledger.reserve(function, symbol) if self._ledger is not None else None
        )
        with self._count_lock:
            self._calls_made += 1
        status, body = 0, b""
        try:
            response = self._http.get(QUERY_PATH, params=query)
            status, body = response.status_code, response.content
            classification = classify_answer(
                function,
                symbol,
                status,
                body,
                secret=self._api_key,
                retry_after_header=response.headers.get("Retry-After"),
            )
        except httpx.HTTPError as exc:
            classification = classify_transport_error(exc, secret=self._api_key)
        if classification.kind is AnswerKind.DAILY_CAP:
            outcome = DAILY_CAP_OUTCOME
        else:
            outcome = str(classification.kind)
        if self._ledger is not None:
            self._ledger.record(reservation, outcome)
        logger.debug(
            "called function=%s symbol=%s status=%d kind=%s bytes=%d",
            function,
            symbol,
            status,
            classification.kind,
            len(body),
        )
        return classification, status, body

    def _should_retry(
        self, function: str, classification: Classification, attempt: int
    ) -> bool:
        if attempt > self._max_retries:
            return False
        if classification.kind is AnswerKind.NOT_FOUND:
            return attempt == 1 and function in _EMPTY_IS_SUSPECT
        return classification.is_retryable

    def _wait_before_retry(self, classification: Classification, attempt: int) -> float:
        if classification.retry_after is not None:
            return classification.retry_after + self._rng.uniform(0, 0.25)
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _error(
        self, subject: str, classification: Classification, attempts: int
    ) -> ExtractError:
        kind, detail = classification.kind, classification.detail
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if kind is AnswerKind.NOT_FOUND:
            return SymbolNotFound(f"{subject} found no data: {detail}")
        if kind is AnswerKind.ERROR_MESSAGE:
            return SymbolNotFound(
                f"{subject} answered with an error, so the API does not know the "
                f"symbol (or refuses it): {detail}"
            )
        if kind is AnswerKind.INVALID_KEY:
            self._key_refusal = detail
            return ApiError(f"{subject}: the API refused the key: {detail}")
        if kind is AnswerKind.DAILY_CAP:
            return DailyQuotaExhausted(
                f"{subject}: the API says the day's quota is spent: {detail}"
            )
        if kind in (AnswerKind.BURST, AnswerKind.MINUTE_LIMIT):
            return RateLimited(
                f"{subject} still rate limited{tries}; lower "
                "STOCKS_ELT_ALPHA_VANTAGE_CALLS_PER_SECOND/_PER_MINUTE: "
                f"{detail}",
                retry_after=classification.retry_after or 1.0,
            )
        if kind in (
            AnswerKind.PREMIUM_OUTPUTSIZE,
            AnswerKind.PREMIUM_ENDPOINT,
            AnswerKind.DEMO,
            AnswerKind.INFORMATION,
        ):
            return ApiNotice(
                f"{subject} answered with a {kind.value.replace('_', ' ')} notice; "
                f"nothing written to the lake: {detail}",
                kind=kind.value,
            )
        return ApiError(f"{subject} failed{tries}: {detail}")
