"""
The load stage: lake objects into the warehouse's raw tables.

``load`` decides which objects to load (the given keys
plus any earlier ones the ledger has not seen, or everything not yet loaded), and
hands them to ``stocks_elt.warehouse.loader``. With ``rebuild=True`` it rebuilds
every raw table from the lake alone instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from stocks_elt.config import Settings
from stocks_elt.errors import LoadError
from stocks_elt.lake import open_lake
from stocks_elt.results import LoadResult
from stocks_elt.warehouse import loader
from stocks_elt.warehouse.audit import as_run_uuid
from stocks_elt.warehouse.connection import connect, warehouse_url

logger = logging.getLogger(__name__)


def load(
    settings: Settings,
    object_keys: Sequence[str] | None = None,
    *,
    run_id: str | None = None,
    rebuild: bool = False,
    scan_lake: bool | None = None,
    progress: loader.Progress | None = None,
) -> LoadResult:
    """Load lake objects into the raw tables, each wholly or not at all.

    Every object extract announced and no load recorded yet (``raw.pending_objects``)
    is loaded too, whatever keys are given: a run killed between its extract and
    its load leaves nothing behind.

    Args:
        settings: where the lake and the warehouse are.
        object_keys: lake keys to load; None loads every object not yet loaded.
        run_id: the pipeline run (any text; a new UUID when None).
        rebuild: empty the raw tables and the ledger and reload every lake object,
            in one transaction (``object_keys`` must then be None).
        scan_lake: also list the whole lake for objects neither announced nor
            loaded (written by an earlier version, or by hand); its cost grows
            with the lake. Default: only when no keys are given.
        progress: called after each object with (done, total).

    Returns:
        The counts.

    Raises:
        LoadError: a given key is malformed or not in the lake, or keys were
            given with ``rebuild``.
        LakeError: the lake cannot be listed or read.
        WarehouseError: the warehouse cannot be reached.
    """
    started = time.perf_counter()
    run_uuid = as_run_uuid(run_id)
    if rebuild and object_keys is not None:
        raise LoadError("a rebuild reloads every lake object; give no object keys")
    lake = open_lake(settings)
    url = warehouse_url(settings)
    with connect(url, autocommit=True) as conn:
        if rebuild:
            plan = loader.LoadPlan([], [], {})
        else:
            plan = loader.plan_objects(
                conn,
                lake,
                object_keys,
                scan_lake=object_keys is None if scan_lake is None else scan_lake,
            )
    if rebuild:
        outcomes = loader.rebuild_from_lake(
            url, lake, run_id=run_uuid, progress=progress
        )
    else:
        logger.info(
            "load planned run_id=%s objects=%d already_loaded=%d",
            run_uuid,
            len(plan.to_load),
            len(plan.already_loaded),
        )
        outcomes = loader.load_objects(
            url,
            lake,
            plan.to_load,
            run_id=run_uuid,
            pending_since=plan.pending_since,
            progress=progress,
        )
    result = summarize(
        outcomes,
        run_id=str(run_uuid),
        skipped=len(plan.already_loaded),
        started=started,
    )
    logger.info(
        "load finished run_id=%s loaded=%d skipped=%d refused=%d inserted=%d "
        "updated=%d unchanged=%d quarantined=%d seconds=%.1f",
        result.run_id,
        result.objects_loaded,
        result.objects_skipped,
        result.objects_refused,
        result.rows_inserted,
        result.rows_updated,
        result.rows_unchanged,
        result.rows_quarantined,
        result.duration_seconds,
    )
    return result


def summarize(
    outcomes: Sequence[loader.ObjectOutcome],
    *,
    run_id: str,
    skipped: int = 0,
    started: float | None = None,
) -> LoadResult:
    """Add up per-object outcomes into a ``LoadResult``.

    Args:
        outcomes: what each object did.
        run_id: the run's id.
        skipped: objects skipped before loading started (already in the ledger).
        started: ``time.perf_counter()`` at the start; None gives duration 0.
    """
    loaded = [o for o in outcomes if o.status == loader.LOADED]
    return LoadResult(
        run_id=run_id,
        objects_loaded=len(loaded),
        objects_skipped=skipped
        + sum(1 for o in outcomes if o.status == loader.SKIPPED),
        objects_refused=sum(1 for o in outcomes if o.status == loader.REFUSED),
        rows_parsed=sum(o.rows_parsed for o in loaded),
        rows_inserted=sum(o.rows_inserted for o in loaded),
        rows_updated=sum(o.rows_updated for o in loaded),
        rows_unchanged=sum(o.rows_unchanged for o in loaded),
        rows_quarantined=sum(o.rows_quarantined for o in loaded),
        duration_seconds=0.0 if started is None else time.perf_counter() - started,
        symbols=tuple(sorted({o.symbol for o in loaded if o.symbol is not None})),
        objects_missing=sum(1 for o in outcomes if o.status == loader.MISSING),
    )
