"""
The lake: raw API answers, immutable, under Hive-style keys.

    raw/alpha_vantage/function=TIME_SERIES_DAILY/symbol=IBM/ingest_date=2026-11-27/
        20261127T223015123456Z-3f2a9c1b7d4e.json

The key sorts by fetch time within a symbol and function; its last part is the
fetch time (UTC, microseconds) and the first 12 hex digits of the body's sha256.
Objects are never overwritten. Each object carries metadata: function, symbol,
request parameters without the key (JSON), fetched_at, http_status, bytes, sha256.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stocks_elt.errors import LakeError

RAW_PREFIX = "raw/alpha_vantage/"
#: Where refused objects are moved aside: ``quarantine/<their key>``.
QUARANTINE_PREFIX = "quarantine/"
#: Metadata naming why an object was moved to quarantine.
QUARANTINE_REASON = "quarantine_reason"
MAX_KEY_LENGTH = 1024
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_=.\-]+")
_METADATA_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class LakeObject:
    """One stored object: its key and the metadata written with it."""

    key: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)


def object_key(
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
        f"{RAW_PREFIX}function={function}/symbol={symbol or '_ALL'}/"
        f"ingest_date={at:%Y-%m-%d}/{at:%Y%m%dT%H%M%S%fZ}-{sha256[:12]}.{ext}"
    )


def parse_object_key(key: str) -> dict[str, str]:
    """Return the partition values of a key: function, symbol, ingest_date, name."""
    parts: dict[str, str] = {}
    for segment in key.removeprefix(RAW_PREFIX).split("/"):
        name, sep, value = segment.partition("=")
        if sep:
            parts[name] = value
        else:
            parts["name"] = segment
    return parts


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


def check_metadata(metadata: Mapping[str, str]) -> Mapping[str, str]:
    """Return ``metadata`` when every backend can store it; raise otherwise.

    Names are lower-case ``[a-z][a-z0-9_]*`` (S3 lower-cases metadata names);
    values are printable ASCII (S3 sends them as HTTP headers), at most 2 KiB in
    all.

    Raises:
        LakeError: a name or value breaks the rule; the message names it.
    """
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _METADATA_NAME.fullmatch(name):
            raise LakeError(f"lake metadata name {name!r} is not [a-z][a-z0-9_]*")
        if not isinstance(value, str) or not (value.isascii() and value.isprintable()):
            raise LakeError(f"lake metadata {name} is not printable ASCII text")
        total += len(name) + len(value)
    if total > 2048:
        raise LakeError(f"lake metadata is {total} characters; at most 2048 fit")
    return metadata


class Lake(abc.ABC):
    """An object store that never overwrites."""

    url: str

    @abc.abstractmethod
    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> bool:
        """Store ``body`` under ``key`` unless the key exists.

        Returns:
            True when written; False when the key already existed (nothing changed).

        Raises:
            LakeError: the store refused or could not be reached.
        """

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Return the body stored under ``key``.

        Raises:
            LakeError: no such key, or the store could not be reached.
        """

    @abc.abstractmethod
    def head(self, key: str) -> LakeObject | None:
        """Return the object's size and metadata, or None when there is none."""

    @abc.abstractmethod
    def list(self, prefix: str = RAW_PREFIX) -> Iterator[LakeObject]:
        """Yield every object under ``prefix`` in key order (metadata may be empty)."""

    @abc.abstractmethod
    def quarantine(self, key: str, reason: str) -> str:
        """Move the object under ``key`` aside to ``quarantine/<key>``, never
        deleting it; its metadata gains ``quarantine_reason``.

        The only change a lake object ever sees: an object the loader refused
        (corrupted, not data) leaves the raw prefix, so the next extract no longer
        finds it as the newest answer and fetches the symbol again. Moving an
        object already moved (or gone) is not an error.

        Returns:
            The object's new key.

        Raises:
            LakeError: the store refused or could not be reached.
        """


def quarantine_key(key: str) -> str:
    """Return where ``quarantine`` moves the object under ``key``."""
    return QUARANTINE_PREFIX + check_key(key)


def reason_metadata(reason: str) -> str:
    """Return ``reason`` as a metadata value: printable ASCII, at most 512 chars."""
    text = "".join(c if c.isascii() and c.isprintable() else "?" for c in reason)
    return text[:512]
