"""
Run manifests: one lake object per ingest run naming the objects it wrote.

An Airflow Asset event carries a few counts and the manifest's key instead of the
list of new keys, so the event stays the same size whether the universe holds ten
tickers or thirteen thousand; whoever needs the keys (the load, lineage, a person)
reads the manifest.

    manifests/ingest_stocks/run=<run uuid>.json
        {"run_id": ..., "created_at": ..., "objects": [key, ...], ...}

Manifests are written once, never changed, and never loaded as API answers (they
live outside ``raw/``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from stocks_elt.errors import LakeError
from stocks_elt.lake.base import Lake

MANIFEST_PREFIX = "manifests/"


def manifest_key(dag_id: str, run_id: UUID) -> str:
    """Return where the manifest of ``dag_id``'s run ``run_id`` lives."""
    return f"{MANIFEST_PREFIX}{dag_id}/run={run_id}.json"


def write_manifest(
    lake: Lake,
    key: str,
    run_id: str,
    objects: Sequence[str],
    details: Mapping[str, Any] | None = None,
) -> str:
    """Write the manifest under ``key`` (once: an existing one is kept as is).

    Returns:
        ``key``.

    Raises:
        LakeError: the lake refused or could not be reached.
    """
    body = json.dumps(
        {
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "objects": sorted(objects),
            **dict(details or {}),
        },
        indent=1,
        sort_keys=True,
    ).encode()
    lake.put(key, body, {"kind": "manifest", "objects": str(len(objects))})
    return key


def read_manifest(lake: Lake, key: str) -> list[str]:
    """Return the object keys a manifest names.

    Raises:
        LakeError: no such manifest, or it is not one.
    """
    if not key.startswith(MANIFEST_PREFIX):
        raise LakeError(f"{key!r} is not a manifest key (it starts {MANIFEST_PREFIX})")
    try:
        document = json.loads(lake.get(key))
    except ValueError as exc:
        raise LakeError(f"manifest {key} is not JSON: {exc}") from None
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(objects, list) or not all(isinstance(k, str) for k in objects):
        raise LakeError(f"manifest {key} has no list of object keys")
    return objects
