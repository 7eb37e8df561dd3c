"""
What a load will do: the keys it is given, every object extract announced and no
load recorded (``raw.pending_objects``), and with a lake scan every other object
the ledger has not seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from stocks_elt.errors import LoadError
from stocks_elt.lake.base import Lake
from stocks_elt.lake.keys import (
    QUARANTINE_PREFIX,
    RAW_PREFIX,
    AnswerKey,
    InvalidLakeKey,
    read_answer_key,
)
from stocks_elt.warehouse import pending

logger = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]
#: Keys asked about the ledger in one query.
_LEDGER_CHUNK = 5000


def list_lake_objects(
    lake: Lake, *, include_quarantined: bool = False
) -> list[AnswerKey]:
    """Return every API answer in the lake, in fetch order.

    Keys outside the lake's layout (files someone dropped in the folder) are
    skipped with a warning: they are not API answers.

    Args:
        lake: the lake.
        include_quarantined: also the objects a load refused and moved aside,
            under their original keys (a rebuild records them as refused again).

    Raises:
        LakeError: the lake cannot be listed.
    """
    listed = [item.key for item in lake.list(RAW_PREFIX)]
    if include_quarantined:
        moved = lake.list(QUARANTINE_PREFIX + RAW_PREFIX)
        listed += [item.key.removeprefix(QUARANTINE_PREFIX) for item in moved]
    refs = []
    for key in listed:
        try:
            refs.append(read_answer_key(key))
        except InvalidLakeKey as exc:
            logger.warning("skipped lake key key=%s reason=%s", key, exc)
    refs.sort(key=lambda ref: ref.fetch_order)
    return refs


def loaded_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Return which of ``keys`` the ledger already has (loaded or refused)."""
    found: set[str] = set()
    batch: list[str] = []

    def flush() -> None:
        rows = conn.execute(
            "select object_key from raw.load_ledger where object_key = any(%s)",
            (batch,),
        ).fetchall()
        found.update(row[0] for row in rows)
        batch.clear()

    for key in keys:
        batch.append(key)
        if len(batch) >= _LEDGER_CHUNK:
            flush()
    if batch:
        flush()
    return found


@dataclass(frozen=True)
class LoadPlan:
    """What one load will do.

    Attributes:
        to_load: objects to load, in fetch order.
        already_loaded: candidates the ledger already has (skipped).
        pending_since: for each object extract announced (``raw.pending_objects``),
            when; an announced object missing from the lake is skipped while
            young (its extract may be writing it) and dropped once old.
    """

    to_load: list[AnswerKey]
    already_loaded: list[AnswerKey]
    pending_since: dict[str, datetime]


def plan_objects(
    conn: Connection,
    lake: Lake,
    object_keys: Sequence[str] | None,
    *,
    scan_lake: bool = False,
) -> LoadPlan:
    """Decide what to load: the given keys, every pending object, and with
    ``scan_lake`` every other lake object the ledger has not seen.

    Pending objects are the ones extract announced and no load recorded yet, so a
    run killed between its extract and its load leaves nothing behind: the next
    load picks them up whatever keys it was given. Their cost is one index scan,
    not a listing of the lake.

    Args:
        conn: a warehouse connection (autocommit).
        lake: where the objects are.
        object_keys: keys to load; each must be in the lake.
        scan_lake: also list the whole lake (objects written by earlier versions,
            or put there by hand); its cost grows with the lake.

    Returns:
        The plan, in fetch order.

    Raises:
        LoadError: a given key is malformed or not in the lake.
        LakeError: the lake cannot be listed or read.
    """
    try:
        given = {key: read_answer_key(key) for key in object_keys or ()}
    except InvalidLakeKey as exc:
        raise LoadError(str(exc)) from None
    pending_since: dict[str, datetime] = {}
    candidates: dict[str, AnswerKey] = dict(given)
    for key, since in pending.pending_keys(conn):
        try:
            candidates.setdefault(key, read_answer_key(key))
        except InvalidLakeKey as exc:
            pending.drop_never_written(conn, key, f"not a lake key: {exc}")
            continue
        pending_since[key] = since
    if scan_lake:
        for ref in list_lake_objects(lake):
            candidates.setdefault(ref.key, ref)
    done = loaded_keys(conn, candidates)
    for key in sorted(done & pending_since.keys()):
        pending.forget(conn, key)  # loaded by a rebuild or an earlier version
    unchecked = sorted(set(given) - done - pending_since.keys())
    missing = [key for key in unchecked if lake.head(key) is None]
    if missing:
        raise LoadError(
            f"{len(missing)} object(s) are not in the lake {lake.url}: "
            + ", ".join(missing[:5])
        )
    ordered = sorted(candidates.values(), key=lambda ref: ref.fetch_order)
    return LoadPlan(
        to_load=[ref for ref in ordered if ref.key not in done],
        already_loaded=[ref for ref in ordered if ref.key in done],
        pending_since=pending_since,
    )
