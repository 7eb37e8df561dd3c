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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

RAW_PREFIX = "raw/alpha_vantage/"


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
