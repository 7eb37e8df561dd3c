"""
The lake's key layout: how a key is built from an API answer and read back.

    raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date=2026-11-27/
        20261127T223015123456Z-3f2a9c1b7d4e.json

Hive-style partitions (function, symbol, the UTC fetch date), then a name that is
the fetch time (UTC, microseconds) and the first 12 hex digits of the body's
sha256, so keys sort by fetch time within a symbol and function. Universe-wide
answers (LISTING_STATUS) live under ``symbol=_ALL``. A refused object moves to
``quarantine/<its key>``.

Extract builds keys here, the lake backends check them here, the loader reads
them here: one home for the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from stocks_elt.errors import InvalidSymbol, LakeError
from stocks_elt.market.symbols import normalize_symbol

RAW_PREFIX = "raw/alpha_vantage/"
#: Where refused objects are moved aside: ``quarantine/<their key>``.
QUARANTINE_PREFIX = "quarantine/"
#: The ``symbol=`` value of answers about the whole universe.
ALL_SYMBOLS = "_ALL"
MAX_KEY_LENGTH = 1024
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_=.\-]+")
_FETCH_TIME = "%Y%m%dT%H%M%S%fZ"
_ANSWER_KEY = re.compile(
    re.escape(RAW_PREFIX)
    + r"function=(?P<function>[A-Z0-9_]+)/symbol=(?P<symbol>[A-Za-z0-9_.\-]+)/"
    r"ingest_date=\d{4}-\d{2}-\d{2}/"
    r"(?P<name>(?P<time>\d{8}T\d{12}Z)-(?P<sha>[0-9a-f]{12})\.(?:json|csv))"
)


class InvalidLakeKey(LakeError):  # noqa: N818 - the domain's word
    """A key that is not an API answer's key (the message quotes it)."""


@dataclass(frozen=True)
class AnswerKey:
    """What an answer's key says: function, symbol, fetch time.

    Attributes:
        key: the key itself.
        function: the Alpha Vantage function.
        symbol: the symbol, or None for a universe-wide answer.
        fetched_at: when the answer arrived (UTC).
        name: the last part, ``<fetch time>-<sha12>.<ext>``.
        sha_prefix: the first 12 hex digits of the body's sha256.
    """

    key: str
    function: str
    symbol: str | None
    fetched_at: datetime
    name: str
    sha_prefix: str

    @property
    def fetch_order(self) -> tuple[str, str]:
        """Sort key: fetch time first (the name starts with it), then the key."""
        return (self.name, self.key)


def answer_key(
    function: str, symbol: str | None, fetched_at: datetime, sha256: str, ext: str
) -> str:
    """Return the lake key for one API answer.

    Args:
        function: the Alpha Vantage function, e.g. ``TIME_SERIES_DAILY``.
        symbol: a validated symbol, or None for universe-wide answers
            (LISTING_STATUS), stored under ``symbol=_ALL``.
        fetched_at: when the answer arrived (any timezone; stored as UTC).
        sha256: hex digest of the body.
        ext: ``json`` or ``csv``.
    """
    at = fetched_at.astimezone(UTC)
    return (
        f"{answer_prefix(function, symbol)}"
        f"ingest_date={at:%Y-%m-%d}/{at:{_FETCH_TIME}}-{sha256[:12]}.{ext}"
    )


def answer_prefix(function: str, symbol: str | None) -> str:
    """Return the prefix of every answer of ``function`` about ``symbol``."""
    return f"{RAW_PREFIX}function={function}/symbol={symbol or ALL_SYMBOLS}/"


def read_answer_key(key: str) -> AnswerKey:
    """Read function, symbol and fetch time from an answer's key.

    Raises:
        InvalidLakeKey: the key does not follow the layout (or names a symbol
            that breaks the symbol rule, or not in canonical form).
    """
    match = _ANSWER_KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidLakeKey(
            f"{key!r} is not a lake object key (expected {RAW_PREFIX}function=F/"
            "symbol=S/ingest_date=YYYY-MM-DD/<YYYYMMDDTHHMMSSffffffZ>-<sha12>.json)"
        )
    raw_symbol = match["symbol"]
    symbol: str | None = None
    if raw_symbol != ALL_SYMBOLS:
        try:
            symbol = normalize_symbol(raw_symbol)
        except InvalidSymbol as exc:
            raise InvalidLakeKey(f"{key}: {exc}") from None
        if symbol != raw_symbol:
            raise InvalidLakeKey(
                f"{key}: symbol {raw_symbol!r} is not in canonical form"
            )
    try:
        fetched_at = datetime.strptime(match["time"], _FETCH_TIME).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidLakeKey(f"{key}: {match['time']!r} is not a fetch time") from None
    return AnswerKey(
        key=key,
        function=match["function"],
        symbol=symbol,
        fetched_at=fetched_at,
        name=match["name"],
        sha_prefix=match["sha"],
    )


def quarantine_key(key: str) -> str:
    """Return where a refused object under ``key`` is moved."""
    return QUARANTINE_PREFIX + check_key(key)


def check_key(key: str) -> str:
    """Return ``key`` when every backend can store it safely; raise otherwise.

    A key is ``/``-separated segments of ASCII letters, digits, ``_ = . -``; no
    segment is empty, ``.`` or ``..`` or starts with ``.`` (names the stores keep
    for themselves), so a key can never climb out of the lake's folder or prefix.

    Raises:
        LakeError: the key breaks the rule; the message quotes it.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise LakeError(f"lake key {key!r} is empty or too long")
    for segment in key.split("/"):
        if not _KEY_SEGMENT.fullmatch(segment) or segment.startswith("."):
            raise LakeError(
                f"lake key {key!r} has a bad segment {segment!r}: a segment is "
                "letters, digits, '_', '=', '.', '-' and does not start with '.'"
            )
    return key
