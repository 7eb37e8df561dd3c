"""
The bodies of the ingest and load tasks: the DAG files call these inside their
tasks, so a DAG file declares and this module does.

Every function takes what Airflow hands a task (params, the DAG run, triggering
Asset events, outlet events) and calls ``stocks_elt.pipeline``; the helpers that
need no Airflow at all (``fit_batches``, ``summarize_extracts``,
``objects_from_events``) are plain functions, tested without it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.orchestration.assets import LAKE_RAW, WAREHOUSE_RAW

logger = logging.getLogger(__name__)

INGEST_DAG = "ingest_stocks"
LOAD_DAG = "load_stocks_from_minio"


# -- ingest_stocks -------------------------------------------------------------------


def plan_batches(
    params: Mapping[str, Any] | None, run_id: str | None = None
) -> list[list[str]]:
    """Choose the universe (the ``tickers`` or ``universe`` param, or the
    configured one) and split it into batches that fit ``[core] max_map_length``.
    """
    from airflow.sdk import conf

    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    given = params or {}
    batches = pipeline.plan_batches(
        given.get("tickers"),
        task_settings(),
        universe=given.get("universe"),
        run_id=run_id,
        record_as=INGEST_DAG,
    )
    limit = conf.getint("core", "max_map_length")
    fitted = fit_batches(batches, limit)
    logger.info(
        "planned symbols=%d batches=%d max_map_length=%d",
        sum(len(batch) for batch in fitted),
        len(fitted),
        limit,
    )
    return fitted


def extract_batch(
    symbols: Sequence[str], run_id: str | None, dag_run: Any
) -> dict[str, Any]:
    """Fetch one batch into the lake; return its summary and its new keys."""
    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    settings = task_settings()
    result = pipeline.extract_batch(
        symbols,
        settings,
        run_id,
        trading_date(dag_run),
        record_as=INGEST_DAG,
    )
    from stocks_elt.orchestration import lineage

    lineage.report_extract(settings, result.object_keys)  # OpenLineage outputs
    summary = result.summary()
    for symbol, why in summary["failed"].items():
        logger.warning("symbol=%s reason=%s", symbol, why)
    if summary["deferred"]:
        logger.warning(
            "deferred symbols=%s reason=daily quota; the next run takes them first",
            ",".join(summary["deferred"]),
        )
    return summary


def announce_new_objects(
    results: Iterable[Mapping[str, Any]], outlet_events: Any, run_id: str | None
) -> dict[str, Any]:
    """Write the run's manifest and emit the lake Asset naming it; skip when the
    run wrote nothing. The event's size does not grow with the universe."""
    from airflow.sdk.exceptions import AirflowSkipException

    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    summary = summarize_extracts(results)
    deferred = summary["deferred"]
    logger.info(
        "extracted batches=%d objects=%d deferred=%d outcomes=%s",
        summary["batches"],
        summary["objects"],
        deferred,
        summary["outcomes"],
    )
    written = (
        pipeline.write_run_manifest(task_settings(), run_id, dag_id=INGEST_DAG)
        if run_id is not None
        else None
    )
    if written is None:
        raise AirflowSkipException("no new lake objects; nothing to load")
    manifest, objects = written
    outlet_events[LAKE_RAW].extra = {
        "manifest": manifest,
        "objects": objects,
        "deferred": deferred,
        "source_run_id": run_id,
    }
    return {"manifest": manifest, "objects": objects, "deferred": deferred}


def check_symbol_outcomes(
    results: Iterable[Mapping[str, Any]], run_id: str | None
) -> dict[str, Any]:
    """Fail the run, after the announcement, when a symbol could not be fetched."""
    from airflow.sdk.exceptions import AirflowFailException

    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    summary = summarize_extracts(results)
    failed = summary["failed"]
    message = (
        f"{len(failed)} symbol(s) could not be fetched: "
        + "; ".join(f"{s} ({why})" for s, why in failed.items())
        if failed
        else None
    )
    settings = task_settings()
    pipeline.finish_run(
        settings,
        run_id,
        record_as=INGEST_DAG,
        outcome="failed" if failed else "success",
        message=message,
    )
    from stocks_elt.orchestration.notifiers import notify_deferred

    notify_deferred(settings, run_id)  # symbols deferred for too long; never raises
    if message is not None:
        raise AirflowFailException(message)
    return {"outcomes": summary["outcomes"], "deferred": summary["deferred"]}


# -- load_stocks_from_minio -------------------------------------------------------


def load_new_objects(
    triggering_asset_events: Any, run_id: str | None
) -> dict[str, Any]:
    """Load the objects the triggering events' manifests name, and every one
    extract announced that no load recorded (a run without an event scans the
    whole lake)."""
    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    settings = task_settings()
    announced = announced_by_events(triggering_asset_events)
    keys: list[str] | None = None
    if announced is not None:
        keys = sorted(set(announced.objects))
        for manifest in announced.manifests:
            keys.extend(pipeline.read_run_manifest(settings, manifest))
        keys = sorted(set(keys))
    logger.info(
        "loading announced=%s",
        "none: every object not yet loaded" if keys is None else len(keys),
    )
    result = pipeline.load_objects(keys, settings, run_id, record_as=LOAD_DAG)
    from stocks_elt.orchestration import lineage

    lineage.report_load(settings, keys)  # OpenLineage inputs and outputs
    return summarize_load(result.as_dict())


def run_quality_gate(
    loaded: Mapping[str, Any], outlet_events: Any, run_id: str | None
) -> dict[str, Any]:
    """Check what this run loaded (and any load no gate checked); a blocking
    failure fails the task at once (not retried). Emits the warehouse Asset."""
    from airflow.sdk.exceptions import AirflowSkipException

    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    settings = task_settings()
    if not loaded["objects_loaded"]:
        pipeline.finish_run(settings, run_id, record_as=LOAD_DAG, outcome="success")
        raise AirflowSkipException("no object loaded; nothing to check or build")
    result = pipeline.run_quality_gate(settings, run_id, record_as=LOAD_DAG)
    logger.info(
        "quality gate passed=%d warned=%d failed=%d",
        result.passed,
        result.warned,
        result.failed,
    )
    pipeline.finish_run(settings, run_id, record_as=LOAD_DAG, outcome="success")
    outlet_events[WAREHOUSE_RAW].extra = warehouse_event_extra(loaded, run_id)
    return result.as_dict()


# -- helpers that need no Airflow -----------------------------------------------------


def fit_batches(batches: Sequence[Sequence[str]], limit: int) -> list[list[str]]:
    """Merge batches so that there are at most ``limit`` of them, order kept.

    Dynamic task mapping refuses more than ``[core] max_map_length`` mapped task
    instances (1024 by default); a universe of 5,000 tickers in batches of 1 would
    break it. Nothing changes when the batches already fit.

    Raises:
        ValueError: ``limit`` is below 1.
    """
    if limit < 1:
        raise ValueError(f"max_map_length must be at least 1, got {limit}")
    if len(batches) <= limit:
        return [list(batch) for batch in batches]
    symbols = [symbol for batch in batches for symbol in batch]
    size = math.ceil(len(symbols) / limit)
    return [symbols[start : start + size] for start in range(0, len(symbols), size)]


def summarize_extracts(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine the XCom summaries of the mapped extract tasks.

    Deferred symbols are counted, not listed: on a free key most of a large
    universe can be deferred, and each ``extract_batch`` task already logs its
    own (at most a batch of them); the queue itself is in the warehouse.

    Returns:
        ``{"objects": new lake objects, "deferred": how many symbols, "failed":
        {symbol: reason} by symbol, "outcomes": {outcome: count}, "batches": n}``.
    """
    objects = 0
    deferred: set[str] = set()
    failed: dict[str, str] = {}
    outcomes: dict[str, int] = {}
    batches = 0
    for result in results:
        batches += 1
        objects += int(result.get("objects", 0))
        deferred.update(result.get("deferred", ()))
        failed.update(result.get("failed", {}))
        for outcome, count in result.get("outcomes", {}).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
    return {
        "objects": objects,
        "deferred": len(deferred),
        "failed": dict(sorted(failed.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "batches": batches,
    }


def summarize_load(loaded: Mapping[str, Any]) -> dict[str, Any]:
    """Return a load's XCom: its counts and how many symbols it loaded.

    Not which symbols: their list would grow with the universe (5,000 symbols are
    about 40 KB), and the load ledger already holds them.
    """
    summary = {name: value for name, value in loaded.items() if name != "symbols"}
    summary["symbol_count"] = len(loaded.get("symbols", ()))
    return summary


def warehouse_event_extra(
    loaded: Mapping[str, Any], run_id: str | None
) -> dict[str, Any]:
    """Return the warehouse Asset event's extra: the run and its counts, a size
    that does not grow with the universe."""
    return {
        "source_run_id": run_id,
        "objects_loaded": loaded["objects_loaded"],
        "symbol_count": loaded["symbol_count"],
    }


@dataclass(frozen=True)
class Announced:
    """What the triggering events of the lake Asset announced."""

    manifests: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()


def announced_by_events(
    triggering_asset_events: Mapping[Any, Sequence[Any]] | None,
) -> Announced | None:
    """Return the manifests (and any listed keys) the lake Asset's events name.

    Args:
        triggering_asset_events: Airflow's ``{asset: [event, ...]}`` of the run;
            an event's ``extra`` names a ``manifest`` (what ``ingest_stocks``
            emits), or lists ``objects`` as keys (an event posted by hand).

    Returns:
        What they announce; None when the run has no event, or an event names
        neither (a manual run, or a bare REST event): then the load scans the lake
        for every object not yet loaded.

    Raises:
        ValueError: an event's ``manifest`` or ``objects`` is malformed; the
            message names the event's source run.
    """
    manifests: set[str] = set()
    keys: set[str] = set()
    seen_event = False
    for event_asset, events in (triggering_asset_events or {}).items():
        if _asset_uri(event_asset) != LAKE_RAW.uri:
            continue
        for event in events:
            seen_event = True
            extra = getattr(event, "extra", None) or {}
            manifest, listed = extra.get("manifest"), extra.get("objects")
            source = getattr(event, "source_run_id", None) or "?"
            if manifest is not None:
                if not isinstance(manifest, str):
                    raise ValueError(
                        f"asset event from run {source} has extra.manifest="
                        f"{manifest!r:.200}; expected a lake key"
                    )
                manifests.add(manifest)
            elif listed is not None:
                if not isinstance(listed, list) or not all(
                    isinstance(key, str) for key in listed
                ):
                    raise ValueError(
                        f"asset event from run {source} has extra.objects="
                        f"{listed!r:.200}; expected a list of lake keys"
                    )
                keys.update(listed)
            else:
                return None
    if not seen_event:
        return None
    return Announced(tuple(sorted(manifests)), tuple(sorted(keys)))


def _asset_uri(asset: Any) -> str | None:
    uri = getattr(asset, "uri", None)
    if uri is None and isinstance(asset, str):
        return asset
    return uri if isinstance(uri, str) else None


def trading_date(dag_run: Any) -> date:
    """Return the New York date a DAG run is for: its data interval's end.

    A scheduled run at 18:30 New York time is for that day's session; a manual run
    without a logical date is for the day it was triggered.
    """
    import pendulum

    moment = getattr(dag_run, "data_interval_end", None) or dag_run.run_after
    day: date = pendulum.instance(moment).in_timezone(NEW_YORK.key).date()
    return day
