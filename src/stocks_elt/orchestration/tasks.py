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
from datetime import date
from typing import Any

from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.orchestration.assets import LAKE_RAW, WAREHOUSE_RAW

logger = logging.getLogger(__name__)

INGEST_DAG = "ingest_stocks"
LOAD_DAG = "load_stocks_from_minio"


# -- ingest_stocks -------------------------------------------------------------------


def plan_batches(params: Mapping[str, Any] | None) -> list[list[str]]:
    """Validate the tickers (the ``tickers`` param, or the configured universe)
    and split them into batches that fit ``[core] max_map_length``."""
    from airflow.sdk import conf

    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    tickers = (params or {}).get("tickers")
    batches = pipeline.plan_batches(tickers, task_settings())
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
    return {**summary, "objects": sorted(result.object_keys)}


def announce_new_objects(
    results: Iterable[Mapping[str, Any]], outlet_events: Any, run_id: str | None
) -> dict[str, Any]:
    """Emit the lake Asset naming the new objects; skip when there are none."""
    from airflow.sdk.exceptions import AirflowSkipException

    summary = summarize_extracts(results)
    objects, deferred = summary["objects"], summary["deferred"]
    logger.info(
        "extracted batches=%d objects=%d deferred=%d outcomes=%s",
        summary["batches"],
        len(objects),
        len(deferred),
        summary["outcomes"],
    )
    if not objects:
        raise AirflowSkipException("no new lake objects; nothing to load")
    outlet_events[LAKE_RAW].extra = {
        "objects": objects,
        "deferred": deferred,
        "source_run_id": run_id,
    }
    return {
        "objects": len(objects),
        "deferred": deferred,
        "outcomes": summary["outcomes"],
    }


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
    """Load the announced objects, and every one extract announced that no load
    recorded (a manual run without an event scans the whole lake)."""
    from stocks_elt import pipeline
    from stocks_elt.orchestration.connections import task_settings

    keys = objects_from_events(triggering_asset_events)
    logger.info(
        "loading announced=%s",
        "none: every object not yet loaded" if keys is None else len(keys),
    )
    settings = task_settings()
    result = pipeline.load_objects(keys, settings, run_id, record_as=LOAD_DAG)
    from stocks_elt.orchestration import lineage

    lineage.report_load(settings, keys)  # OpenLineage inputs and outputs
    return result.as_dict()


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
    outlet_events[WAREHOUSE_RAW].extra = {
        "source_run_id": run_id,
        "objects_loaded": loaded["objects_loaded"],
        "symbols": loaded["symbols"],
    }
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

    Returns:
        ``{"objects": sorted new lake keys, "deferred": sorted symbols, "failed":
        {symbol: reason} by symbol, "outcomes": {outcome: count}, "batches": n}``.
    """
    objects: set[str] = set()
    deferred: set[str] = set()
    failed: dict[str, str] = {}
    outcomes: dict[str, int] = {}
    batches = 0
    for result in results:
        batches += 1
        objects.update(result.get("objects", ()))
        deferred.update(result.get("deferred", ()))
        failed.update(result.get("failed", {}))
        for outcome, count in result.get("outcomes", {}).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
    return {
        "objects": sorted(objects),
        "deferred": sorted(deferred),
        "failed": dict(sorted(failed.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "batches": batches,
    }


def objects_from_events(
    triggering_asset_events: Mapping[Any, Sequence[Any]] | None,
) -> list[str] | None:
    """Return the lake keys the triggering events of the lake Asset list.

    Args:
        triggering_asset_events: Airflow's ``{asset: [event, ...]}`` of the run;
            each event's ``extra`` may hold ``"objects": [key, ...]``.

    Returns:
        The union of the listed keys, sorted; None when the run has no event or an
        event lists no objects (a manual run, or an event posted through the REST
        API): then the load scans the lake for every object not yet loaded.

    Raises:
        ValueError: an event's ``objects`` is not a list of strings; the message
            names the event's source run.
    """
    keys: set[str] = set()
    seen_event = False
    for event_asset, events in (triggering_asset_events or {}).items():
        if _asset_uri(event_asset) != LAKE_RAW.uri:
            continue
        for event in events:
            seen_event = True
            extra = getattr(event, "extra", None) or {}
            listed = extra.get("objects")
            if listed is None:
                return None
            if not isinstance(listed, list) or not all(
                isinstance(key, str) for key in listed
            ):
                source = getattr(event, "source_run_id", None) or "?"
                raise ValueError(
                    f"asset event from run {source} has extra.objects={listed!r:.200}; "
                    "expected a list of lake keys"
                )
            keys.update(listed)
    return sorted(keys) if seen_event else None


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
