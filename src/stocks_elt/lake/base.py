"""
The lake's interface: an object store that never overwrites.

Objects live under the keys of ``stocks_elt.lake.keys``; each carries metadata:
function, symbol, request parameters without the API key (JSON), fetched_at,
http_status, bytes, sha256. The only change an object ever sees is being moved
aside to ``quarantine/`` when the loader refuses it.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from stocks_elt.errors import LakeError
from stocks_elt.lake.keys import RAW_PREFIX

#: Metadata naming why an object was moved to quarantine.
QUARANTINE_REASON = "quarantine_reason"
_METADATA_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class LakeObject:
    """One stored object: its key and the metadata written with it."""

    key: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)


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


def reason_metadata(reason: str) -> str:
    """Return ``reason`` as a metadata value: printable ASCII, at most 512 chars."""
    text = "".join(c if c.isascii() and c.isprintable() else "?" for c in reason)
    return text[:512]
