"""
Lake objects into the raw tables: plan, prepare (parse, validate, encode), merge.

Each lake object is loaded in one transaction, together with its row in
``raw.load_ledger``: it is loaded wholly or not at all, and never twice.

    1. take the object's lock: a transaction-level advisory lock on its symbol
       (``writer.lock_name``); the second of two loaders waits, then finds the
       ledger row.
    2. skip it when the ledger already has it.
    3. COPY its valid rows: straight into ``raw.daily_prices`` when the symbol
       has no row yet (the first, full history), otherwise into a temporary
       staging table, then merge: rows with a new key are inserted, rows whose
       values differ are updated and their old values kept in ``raw.revisions``,
       equal rows are not touched.
    4. COPY its rejected rows into ``raw.quarantine`` with their reasons.
    5. insert the ledger row (key, sha256, row counts), drop the object from
       ``raw.pending_objects``, commit.

Objects are loaded in fetch order (the time in their key), so a later answer wins.
An update also requires the stored row to come from an object fetched no later
than this one, so an object that reaches the loader late cannot overwrite a newer
answer. An object that is not data (a notice, an error, a body whose sha256 does
not match its key) is "refused": one quarantine row, a ledger row with the reason,
and the object moved to ``quarantine/`` in the lake.

    plan        what to load (given keys, pending objects, a lake scan)
    encode      object -> COPY text, ahead of the database in a thread
    merge_sql   the insert/update/revision statement per table
    writer      the per-object transaction, reconnects, rebuild from the lake
    tables      the raw tables and the columns each answer fills
"""

from __future__ import annotations

from stocks_elt.warehouse.loader.encode import (
    PreparedObject,
    prepare_body,
    prepare_object,
)
from stocks_elt.warehouse.loader.plan import LoadPlan, list_lake_objects, plan_objects
from stocks_elt.warehouse.loader.writer import (
    LOADED,
    MISSING,
    REFUSED,
    SKIPPED,
    ObjectOutcome,
    Progress,
    load_objects,
    rebuild_from_lake,
)

__all__ = [
    "LOADED",
    "MISSING",
    "REFUSED",
    "SKIPPED",
    "LoadPlan",
    "ObjectOutcome",
    "PreparedObject",
    "Progress",
    "list_lake_objects",
    "load_objects",
    "plan_objects",
    "prepare_body",
    "prepare_object",
    "rebuild_from_lake",
]
