"""
Classifying Alpha Vantage answers before anything reads them as data.

Alpha Vantage answers almost every failure with HTTP 200 and a small JSON body
(ALPHA_VANTAGE.md §6), so the status code says little. ``classify_answer`` looks at
the status, then the body's top-level keys, then the notice's wording:

============================  =====================================  ===============
kind                          recognised by                          what to do
============================  =====================================  ===============
``data``                      the function's data key, non-empty     store it
``not_found``                 ``{}``, ``{"Global Quote": {}}``, no   the API has no
                              data key                               such symbol
``error_message``             ``"Error Message"``                    permanent for
                                                                     the symbol
``invalid_key``               ``"Error Message"`` about ``apikey``   permanent for
                                                                     the key
``burst``                     Information/Note: "spreading out",     retry after ~1 s
                              "per second"
``minute_limit``              Information/Note: "per minute",        retry after the
                              "call frequency", "higher API call     minute
                              volume"
``daily_cap``                 Information/Note: "detected your API   stop for the
                              key", "daily rate limits", "per day"   API day
``premium_outputsize``        Information: "outputsize=full"         fall back to
                                                                     compact
``premium_endpoint``          Information: "premium endpoint"        fall back to a
                                                                     free function
``demo``                      Information: "demo"                    the demo key
                                                                     serves IBM only
``information``               any other Information/Note             fail the call
``transient``                 HTTP 5xx/405/429, empty, truncated or  retry with
                              malformed body, timeout, dropped       backoff
                              connection
``http_error``                any other non-200 status               fail the call
============================  =====================================  ===============

Both ``"Note"`` and ``"Information"`` are accepted for every notice. Notice texts
can echo the key (the newer daily-cap wording does): every detail passes through
``redact`` first.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from stocks_elt.alpha_vantage.redact import redact

#: Top-level keys that carry a notice instead of data.
NOTICE_KEYS = ("Information", "Note")
ERROR_KEY = "Error Message"
DAILY_SERIES_KEY = "Time Series (Daily)"

#: The key each function's data lives under, for JSON answers.
DATA_KEYS: dict[str, str] = {
    "TIME_SERIES_DAILY": DAILY_SERIES_KEY,
    "TIME_SERIES_DAILY_ADJUSTED": DAILY_SERIES_KEY,
    "SPLITS": "data",
    "DIVIDENDS": "data",
    "OVERVIEW": "Symbol",
    "GLOBAL_QUOTE": "Global Quote",
}
#: Where each function's answer names its symbol: (outer key, inner key or None).
_SYMBOL_FIELDS: dict[str, tuple[str, str | None]] = {
    "TIME_SERIES_DAILY": ("Meta Data", "2. Symbol"),
    "TIME_SERIES_DAILY_ADJUSTED": ("Meta Data", "2. Symbol"),
    "SPLITS": ("symbol", None),
    "DIVIDENDS": ("symbol", None),
    "OVERVIEW": ("Symbol", None),
}
#: The header of each function answered in CSV.
CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "LISTING_STATUS": (
        "symbol",
        "name",
        "exchange",
        "assetType",
        "ipoDate",
        "delistingDate",
        "status",
    ),
}

BURST_RETRY_SECONDS = 1.0
MINUTE_RETRY_SECONDS = 60.0
_MAX_DETAIL = 300


class AnswerKind(StrEnum):
    """What an answer is; see the module docstring for how each is recognised."""

    DATA = "data"
    NOT_FOUND = "not_found"
    ERROR_MESSAGE = "error_message"
    INVALID_KEY = "invalid_key"
    BURST = "burst"
    MINUTE_LIMIT = "minute_limit"
    DAILY_CAP = "daily_cap"
    PREMIUM_OUTPUTSIZE = "premium_outputsize"
    PREMIUM_ENDPOINT = "premium_endpoint"
    DEMO = "demo"
    INFORMATION = "information"
    TRANSIENT = "transient"
    HTTP_ERROR = "http_error"


#: Kinds worth the same call again: after ``retry_after`` or a backoff.
RETRYABLE_KINDS = frozenset(
    {AnswerKind.BURST, AnswerKind.MINUTE_LIMIT, AnswerKind.TRANSIENT}
)
#: Kinds that are an Information/Note notice.
NOTICE_KINDS = frozenset(
    {
        AnswerKind.BURST,
        AnswerKind.MINUTE_LIMIT,
        AnswerKind.DAILY_CAP,
        AnswerKind.PREMIUM_OUTPUTSIZE,
        AnswerKind.PREMIUM_ENDPOINT,
        AnswerKind.DEMO,
        AnswerKind.INFORMATION,
    }
)


@dataclass(frozen=True)
class Classification:
    """The verdict on one answer.

    Attributes:
        kind: what the answer is.
        detail: why, in words (the notice text, the status, what was missing);
            the API key is already redacted from it.
        retry_after: seconds to wait before the same call again, for notices that
            say so; None when a backoff (or no retry) applies.
    """

    kind: AnswerKind
    detail: str = ""
    retry_after: float | None = None

    @property
    def is_data(self) -> bool:
        """Whether the answer carries data that may be stored."""
        return self.kind is AnswerKind.DATA

    @property
    def is_retryable(self) -> bool:
        """Whether the same call may succeed when repeated later today."""
        return self.kind in RETRYABLE_KINDS


def classify_answer(
    function: str,
    symbol: str | None,
    status_code: int,
    body: bytes,
    *,
    secret: str | None = None,
    retry_after_header: str | None = None,
) -> Classification:
    """Classify one HTTP answer of ``function`` before anything reads it as data.

    Args:
        function: the Alpha Vantage function called, e.g. ``TIME_SERIES_DAILY``.
        symbol: the symbol asked for (checked against the one the answer names),
            or None for universe-wide functions.
        status_code: the HTTP status.
        body: the whole body, decompressed.
        secret: the API key, redacted from every detail.
        retry_after_header: the ``Retry-After`` header, if any (for HTTP 429).

    Returns:
        The classification; ``detail`` never contains the key.
    """
    if status_code != 200:
        return _classify_status(status_code, retry_after_header)
    stripped = body.lstrip()
    if not stripped:
        return Classification(AnswerKind.TRANSIENT, "empty body")
    if function in CSV_HEADERS and not stripped.startswith(b"{"):
        return _classify_csv(function, body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Classification(
            AnswerKind.TRANSIENT,
            f"truncated or malformed JSON ({len(body)} bytes): {exc}",
        )
    if not isinstance(document, dict):
        return Classification(
            AnswerKind.TRANSIENT,
            f"malformed answer: a JSON {type(document).__name__}, not an object",
        )
    return _classify_document(function, symbol, document, secret)


def classify_notice(text: str, *, secret: str | None = None) -> Classification:
    """Sub-classify the text of an ``Information`` or ``Note`` notice.

    The 25-per-day wording appears both in the burst notice and in the daily-cap
    notice, so burst phrases are checked first (ALPHA_VANTAGE.md §6).

    Args:
        text: the notice's text.
        secret: the API key, redacted from the detail.

    Returns:
        A notice classification whose detail is the redacted, shortened text.
    """
    detail = _shorten(redact(text, secret))
    lowered = text.lower()
    if "spreading out" in lowered or "per second" in lowered or "burst" in lowered:
        return Classification(AnswerKind.BURST, detail, BURST_RETRY_SECONDS)
    if (
        "detected your api key" in lowered
        or "daily rate limit" in lowered
        or ("per day" in lowered and "per minute" not in lowered)
    ):
        return Classification(AnswerKind.DAILY_CAP, detail)
    if (
        "per minute" in lowered
        or "call frequency" in lowered
        or "higher api call volume" in lowered
    ):
        return Classification(AnswerKind.MINUTE_LIMIT, detail, MINUTE_RETRY_SECONDS)
    if "outputsize=full" in lowered:
        return Classification(AnswerKind.PREMIUM_OUTPUTSIZE, detail)
    if "premium endpoint" in lowered or "premium feature" in lowered:
        return Classification(AnswerKind.PREMIUM_ENDPOINT, detail)
    if "demo" in lowered:
        return Classification(AnswerKind.DEMO, detail)
    return Classification(AnswerKind.INFORMATION, detail)


def classify_transport_error(
    exc: BaseException, *, secret: str | None = None
) -> Classification:
    """Classify a failure to get an answer at all (timeout, refused, dropped).

    Every such failure is transient. The detail names the exception type and its
    message with any URL's key redacted.
    """
    message = redact(str(exc), secret) or "no details"
    return Classification(
        AnswerKind.TRANSIENT, _shorten(f"{type(exc).__name__}: {message}")
    )


def _classify_status(
    status_code: int, retry_after_header: str | None
) -> Classification:
    if status_code == 429:
        return Classification(
            AnswerKind.TRANSIENT,
            "HTTP 429 Too Many Requests",
            _seconds(retry_after_header) or BURST_RETRY_SECONDS,
        )
    if status_code >= 500 or status_code == 405:
        return Classification(AnswerKind.TRANSIENT, f"HTTP {status_code}")
    return Classification(AnswerKind.HTTP_ERROR, f"HTTP {status_code}")


def _classify_document(
    function: str, symbol: str | None, document: dict[str, Any], secret: str | None
) -> Classification:
    if ERROR_KEY in document:
        text = str(document[ERROR_KEY])
        kind = (
            AnswerKind.INVALID_KEY
            if "apikey" in text.lower()
            else AnswerKind.ERROR_MESSAGE
        )
        return Classification(kind, _shorten(redact(text, secret)))
    for key in NOTICE_KEYS:
        if key in document:
            return classify_notice(str(document[key]), secret=secret)
    if not document:
        return Classification(AnswerKind.NOT_FOUND, "empty answer {}")
    data_key = DATA_KEYS.get(function)
    if data_key is not None:
        data = document.get(data_key)
        if data is None:
            seen = ", ".join(sorted(document)[:5])
            return Classification(
                AnswerKind.NOT_FOUND,
                _shorten(f"no {data_key!r} in the answer (keys: {seen})"),
            )
        if not data and not isinstance(data, list):
            # An empty list is a real answer for SPLITS/DIVIDENDS (no events);
            # an empty series or quote means the API has nothing for the symbol.
            return Classification(AnswerKind.NOT_FOUND, f"empty {data_key!r}")
    named = _named_symbol(function, document)
    if symbol is not None and named is not None and named.upper() != symbol.upper():
        return Classification(
            AnswerKind.TRANSIENT,
            _shorten(f"answer names symbol {named!r}, not {symbol!r}"),
        )
    return Classification(AnswerKind.DATA)


def _named_symbol(function: str, document: dict[str, Any]) -> str | None:
    fields = _SYMBOL_FIELDS.get(function)
    if fields is None:
        return None
    outer, inner = fields
    value = document.get(outer)
    if inner is not None:
        value = value.get(inner) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _classify_csv(function: str, body: bytes) -> Classification:
    expected = CSV_HEADERS[function]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Classification(AnswerKind.TRANSIENT, f"CSV is not UTF-8: {exc}")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(rows[0]) != expected:
        header = ",".join(rows[0]) if rows else ""
        return Classification(
            AnswerKind.TRANSIENT,
            _shorten(f"CSV header {header!r} is not {','.join(expected)!r}"),
        )
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != len(expected):
            return Classification(
                AnswerKind.TRANSIENT,
                f"truncated or malformed CSV: line {number} has {len(row)} fields, "
                f"not {len(expected)}",
            )
    return Classification(AnswerKind.DATA)


def _seconds(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
