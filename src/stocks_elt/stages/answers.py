"""
Where extract puts what the API answered: the lake, announced first, never the
same answer twice in a row.

``AnswerStore.store`` writes an answer under its key unless its sha256 equals the
newest answer of the same request already in the lake: the same function and
symbol and, for LISTING_STATUS, the same ``state`` (the active and the delisted
lists share one lake prefix). A same-day re-run costs nothing in the lake.
Before the put, the key is announced in ``raw.pending_objects``, so a run killed
after the put leaves the object for the next load (a key never written is
dropped later). Notices and errors never reach here: the client raises for them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from uuid import UUID

import orjson

from stocks_elt.alpha_vantage.client import AlphaVantageClient, ApiAnswer
from stocks_elt.config import Settings
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import answer_key, answer_prefix
from stocks_elt.warehouse.audit.api_calls import WarehouseQuota
from stocks_elt.warehouse.connection import warehouse_url
from stocks_elt.warehouse.pending import PendingRecorder

logger = logging.getLogger(__name__)

#: The parameters that make answers of one function and symbol different lists,
#: with the value the API assumes when a request leaves one out.
VARIANTS: Mapping[str, Mapping[str, str]] = {"LISTING_STATUS": {"state": "active"}}


def variant_of(function: str, parameters: Mapping[str, str]) -> dict[str, str]:
    """The parameters that tell this answer's list apart (empty for most)."""
    return {
        name: parameters.get(name, default)
        for name, default in VARIANTS.get(function, {}).items()
    }


class AnswerStore:
    """The lake as extract writes it; safe to share between threads."""

    def __init__(self, lake: Lake, announcer: PendingRecorder) -> None:
        self.lake = lake
        self.announcer = announcer

    def store(self, answer: ApiAnswer, *, always: bool = False) -> str | None:
        """Store ``answer``; return its new key, or None when nothing was written
        (it equals the newest stored answer of its request, or another writer
        stored it first).

        Args:
            answer: what the API answered.
            always: store it even when it equals the newest stored answer (so it
                becomes the newest: see ``Run.fetch_listings``).
        """
        variant = variant_of(answer.function, answer.parameters)
        newest = (
            None if always else self.newest(answer.function, answer.symbol, variant)
        )
        if newest is not None and self._sha256_of(newest) == answer.sha256:
            logger.info(
                "unchanged function=%s symbol=%s sha256=%s",
                answer.function,
                answer.symbol,
                answer.sha256[:12],
            )
            return None
        key = answer_key(
            answer.function, answer.symbol, answer.fetched_at, answer.sha256, answer.ext
        )
        self.announcer.announce(key, answer.function, answer.symbol)
        if not self.lake.put(key, answer.body, answer.metadata()):
            return None
        logger.info(
            "stored function=%s symbol=%s bytes=%d object=%s",
            answer.function,
            answer.symbol,
            len(answer.body),
            key,
        )
        return key

    def newest(
        self,
        function: str,
        symbol: str | None,
        variant: Mapping[str, str] | None = None,
    ) -> str | None:
        """The key of the newest stored answer of ``function`` about ``symbol``;
        with ``variant`` (``{"state": "delisted"}``), of that list only (its
        parameters are read from the objects' metadata, newest first)."""
        keys = [item.key for item in self.lake.list(answer_prefix(function, symbol))]
        if not variant:
            return keys[-1] if keys else None
        for key in reversed(keys):
            if self._variant_stored(function, key) == dict(variant):
                return key
        return None

    def _variant_stored(self, function: str, key: str) -> dict[str, str]:
        found = self.lake.head(key)
        text = found.metadata.get("parameters") if found is not None else None
        try:
            parameters = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            parameters = {}
        if not isinstance(parameters, dict):
            parameters = {}
        return variant_of(function, {k: str(v) for k, v in parameters.items()})

    def has_any(self, function: str, symbol: str) -> bool:
        """Whether any answer of ``function`` about ``symbol`` is stored."""
        listed = self.lake.list(answer_prefix(function, symbol))
        return next(iter(listed), None) is not None

    def _sha256_of(self, key: str) -> str:
        found = self.lake.head(key)
        if found is not None and found.metadata.get("sha256"):
            return found.metadata["sha256"]
        return hashlib.sha256(self.lake.get(key)).hexdigest()


@contextmanager
def api_session(
    settings: Settings, lake: Lake, run_id: UUID
) -> Iterator[tuple[AlphaVantageClient, AnswerStore]]:
    """A client held to the key's shared limits, and the store its answers go to.

    Raises:
        WarehouseError: the warehouse (the quota ledger) cannot be reached.
    """
    with (
        WarehouseQuota.from_settings(settings) as ledger,
        PendingRecorder(warehouse_url(settings), run_id) as announcer,
        AlphaVantageClient.from_settings(settings, ledger=ledger) as client,
    ):
        yield client, AnswerStore(lake, announcer)
