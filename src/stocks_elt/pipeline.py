"""
The one door: the CLI, the Airflow DAGs and the tests reach every stage here.

Each function reads the settings once when none are given, does its stage and
returns a small frozen dataclass that logs well and fits in an XCom (lake keys and
counts, never data). The stage modules are imported inside the functions, so
importing this module is cheap (Airflow parses DAG files that import it).

    plan_batches      tickers -> batches of symbols (deferred symbols first)
    extract_batch     symbols -> new lake objects + per-symbol outcomes
    load_objects      lake keys, and every object extract announced and no load
                      recorded -> merged raw rows
    run_quality_gate  raw tables -> audit.dq_results; raises on a blocking failure
    transform         raw tables -> dbt staging, intermediate and marts
    run_pipeline      all four for a universe, in-process (``stocks-elt run``)

A stage given ``record_as`` (an Airflow DAG id) records itself in
``audit.pipeline_runs`` under its run id, so runs started by Airflow show up next
to the CLI's (``run_pipeline`` records its own run). A warehouse that stops
answering mid-stage becomes a one-line ``WarehouseError`` naming it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from stocks_elt.results import (
    ExtractResult,
    LoadResult,
    QualityResult,
    RunSummary,
    TransformResult,
)

if TYPE_CHECKING:
    from stocks_elt.stages.universe import Universe

if TYPE_CHECKING:
    from stocks_elt.config import Settings
    from stocks_elt.warehouse.audit.runs import PipelineRunRecorder


class Progress(Protocol):
    """Told as a stage advances: ``(stage, done, total, detail)``.

    ``total`` is None while a stage does not know it yet; ``detail`` is a few
    words for people (``IBM fetched``).
    """

    def __call__(self, stage: str, done: int, total: int | None, detail: str) -> None:
        """Hear that ``stage`` has done ``done`` of ``total`` things."""


#: Told a one-line message a person should see (a run waiting for a lock).
Notice = Callable[[str], None]


def _settings(settings: Settings | None) -> Settings:
    """The settings given, or read now; and the warehouse they name, migrated
    (once per process: this door is where migrations run)."""
    from stocks_elt.config import load_settings
    from stocks_elt.warehouse.migrate import migrated_url

    chosen = settings if settings is not None else load_settings()
    migrated_url(chosen)
    return chosen


@contextmanager
def _outages(settings: Settings, stage: str) -> Iterator[None]:
    """Turn a warehouse that stops answering mid-stage into one line that names it.

    The stages retry lost connections a few times where a retry is safe; what
    still escapes them is an outage, reported as ``WarehouseError`` (exit 1).
    """
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        from stocks_elt.config import redact_url
        from stocks_elt.errors import WarehouseError

        where = (
            redact_url(settings.warehouse_url.get_secret_value())
            if settings.warehouse_url is not None
            else f"embedded in {settings.data_dir}"
        )
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise WarehouseError(
            f"{stage}: the warehouse ({where}) stopped answering: {lines[0]}"
        ) from None


@contextmanager
def _recorded(
    settings: Settings, run_id: str | None, record_as: str | None, stage: str
) -> Iterator[dict[str, Any]]:
    """Record the stage in ``audit.pipeline_runs`` when ``record_as`` is given.

    Yields a dict the caller fills with the stage's counts.
    """
    counts: dict[str, Any] = {}
    if record_as is None or run_id is None:
        yield counts
        return
    from stocks_elt.errors import StocksEltError
    from stocks_elt.warehouse.audit.runs import record_stage

    started = time.perf_counter()
    failure: str | None = None
    try:
        yield counts
    except StocksEltError as exc:
        failure = f"{stage}: {exc}"
        counts = {"error": str(exc)}
        raise
    finally:
        record_stage(
            settings,
            run_id,
            command=record_as,
            stage=stage,
            seconds=time.perf_counter() - started,
            counts=counts,
            failure=failure,
        )


def choose_universe(
    settings: Settings | None = None,
    tickers: Sequence[str] | None = None,
    universe: str | None = None,
) -> Universe:
    """Return the symbols to extract: explicit tickers, or a ``listing:`` universe
    (``STOCKS_ELT_UNIVERSE``) read from the newest LISTING_STATUS in the lake,
    fetched first when there is none.

    Raises:
        InvalidSymbol: a ticker breaks the symbol rule.
        UniverseError: the universe does not parse or selects nothing (exit 2).
    """
    from stocks_elt.stages.universe import choose_universe as _choose

    chosen = _settings(settings)
    with _outages(chosen, "universe"):
        return _choose(chosen, list(tickers) if tickers is not None else None, universe)


def plan_batches(
    tickers: Sequence[str] | None = None,
    settings: Settings | None = None,
    *,
    universe: str | None = None,
    run_id: str | None = None,
    record_as: str | None = None,
) -> list[list[str]]:
    """Split the universe into batches of ``settings.batch_size`` symbols.

    Args:
        tickers: symbols to extract; None means the universe (``universe``, or the
            configured tickers or ``STOCKS_ELT_UNIVERSE``; see
            ``choose_universe``).
        universe: a ``listing:`` spec, used when no tickers are given.
        run_id: the run; with ``record_as``, its universe is recorded.

    Returns:
        Batches of validated symbols, symbols deferred by an earlier run first.

    Raises:
        InvalidSymbol: a ticker breaks the symbol rule.
        UniverseError: the universe does not parse or selects nothing.
    """
    from stocks_elt.stages.extract import plan_batches as _plan

    chosen = _settings(settings)
    picked = choose_universe(chosen, tickers, universe)
    if record_as is not None and run_id is not None:
        from stocks_elt.warehouse.audit.runs import record_universe_of

        record_universe_of(chosen, run_id, picked.source, command=record_as)
    with _outages(chosen, "plan"):
        return _plan(chosen, picked.symbols)


def extract_batch(
    symbols: Sequence[str],
    settings: Settings | None = None,
    run_id: str | None = None,
    as_of: date | None = None,
    *,
    progress: Progress | None = None,
    record_as: str | None = None,
) -> ExtractResult:
    """Fetch ``symbols`` from Alpha Vantage and land every answer in the lake.

    ``as_of`` is the trading date the run is for (default: today in New York); a
    DAG passes the date of its data interval's end.
    """
    from stocks_elt.stages.extract import extract

    chosen = _settings(settings)
    done = 0

    def advance(symbol: str, outcome: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("extract", done, len(symbols), f"{symbol} {outcome}")

    with (
        _outages(chosen, "extract"),
        _recorded(chosen, run_id, record_as, "extract") as counts,
    ):
        result = extract(chosen, symbols, run_id=run_id, as_of=as_of, progress=advance)
        counts.update(result.summary())
        return result


def load_objects(
    object_keys: Sequence[str] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    record_as: str | None = None,
) -> LoadResult:
    """Load the given lake objects, plus every object extract announced that no
    load recorded yet (a run killed before its load left them); None loads every
    object of the lake not yet loaded (a scan of the whole lake).

    ``rebuild`` empties the raw tables and reloads every lake object instead, in
    one transaction (the lake is the source of truth).
    """
    from stocks_elt.stages.load import load

    chosen = _settings(settings)

    def advance(done: int, total: int) -> None:
        if progress is not None:
            progress("load", done, total, "")

    with (
        _outages(chosen, "load"),
        _recorded(chosen, run_id, record_as, "load") as counts,
    ):
        result = load(
            chosen, object_keys, run_id=run_id, rebuild=rebuild, progress=advance
        )
        counts.update(result.as_dict())
        return result


def run_quality_gate(
    settings: Settings | None = None,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
    *,
    record_as: str | None = None,
) -> QualityResult:
    """Run the data-quality checks; raise QualityGateFailed on a blocking failure."""
    from stocks_elt.quality.gate import run_quality_gate as _gate

    chosen = _settings(settings)
    with (
        _outages(chosen, "quality gate"),
        _recorded(chosen, run_id, record_as, "quality") as counts,
    ):
        result = _gate(chosen, run_id=run_id, symbols=symbols)
        counts.update(result.as_dict())
        return result


def transform(
    settings: Settings | None = None,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
    *,
    holder: str = "stocks-elt transform",
    on_wait: Notice | None = None,
) -> TransformResult:
    """Run ``dbt build`` on the warehouse; raise TransformError on failure.

    The build holds the warehouse's transform lock: a second run's transform
    waits for the first (``on_wait`` hears about it in one line) instead of
    building the same views at the same time.

    Args:
        settings: the configuration; None reads it.
        select: dbt node selectors; None builds everything.
        full_refresh: rebuild the incremental marts from scratch.
        holder: how this transform appears to one that waits for it.
        on_wait: called with a one-line message when another transform holds
            the lock.
    """
    from stocks_elt.transform.dbt import run_dbt_build
    from stocks_elt.warehouse.connection import warehouse_url
    from stocks_elt.warehouse.locks import process_name, transform_lock

    chosen = _settings(settings)
    with (
        _outages(chosen, "transform"),
        transform_lock(
            warehouse_url(chosen),
            holder=f"{holder} ({process_name()})",
            on_wait=on_wait,
        ),
    ):
        return run_dbt_build(chosen, select=select, full_refresh=full_refresh)


#: ``run_pipeline``'s ``transform`` flag hides the stage function of that name.
_transform_stage = transform


def finish_run(
    settings: Settings | None,
    run_id: str | None,
    *,
    record_as: str,
    outcome: str,
    message: str | None = None,
) -> None:
    """Record how a run whose stages were recorded with ``record_as`` ended."""
    from stocks_elt.warehouse.audit.runs import finish_recorded_run

    if run_id is None:
        return
    chosen = _settings(settings)
    with _outages(chosen, "finish"):
        finish_recorded_run(
            chosen, run_id, command=record_as, outcome=outcome, message=message
        )


def write_run_manifest(
    settings: Settings | None, run_id: str, *, dag_id: str
) -> tuple[str, int] | None:
    """Write the manifest of a run's new lake objects; return its key and how many
    objects it names, or None when the run wrote none.

    The objects are the ones the run announced and no load took yet
    (``raw.pending_objects``), so the run's tasks need not pass their keys along.
    """
    from stocks_elt.lake import open_lake
    from stocks_elt.lake.manifests import manifest_key, write_manifest
    from stocks_elt.warehouse.audit import as_run_uuid
    from stocks_elt.warehouse.connection import connect, warehouse_url
    from stocks_elt.warehouse.pending import keys_of_run

    chosen = _settings(settings)
    run_uuid = as_run_uuid(run_id)
    with _outages(chosen, "manifest"):
        with connect(warehouse_url(chosen)) as conn:
            keys = keys_of_run(conn, run_uuid)
        if not keys:
            return None
        key = write_manifest(
            open_lake(chosen), manifest_key(dag_id, run_uuid), run_id, keys
        )
    return key, len(keys)


def read_run_manifest(settings: Settings | None, key: str) -> list[str]:
    """Return the lake keys a run manifest names."""
    from stocks_elt.lake import open_lake
    from stocks_elt.lake.manifests import read_manifest

    return read_manifest(open_lake(_settings(settings)), key)


# -- the whole pipeline, in-process ---------------------------------------------


def run_pipeline(
    settings: Settings,
    symbols: Sequence[str] | None = None,
    *,
    universe: str | None = None,
    as_of: date | None = None,
    transform: bool = True,
    progress: Progress | None = None,
    notice: Notice | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Run extract, load, the quality gate and the transform for ``symbols``.

    The run is recorded in ``audit.pipeline_runs``; the load takes every object an
    earlier, interrupted run left, and the gate every load no gate checked, so a
    run killed anywhere is completed by the next one.

    Args:
        settings: the configuration, read once by the caller.
        symbols: symbols to fetch, in this order; None runs the universe
            (``universe``, or the configured one: see ``choose_universe``).
        universe: a ``listing:`` spec, used when no symbols are given.
        as_of: the trading date the run is for (default: today in New York).
        transform: False stops after the quality gate.
        progress: told as extract and load advance.
        notice: told one-line messages for people (waiting for a lock).
        run_id: the run's id (a UUID's text); None makes one. A caller that
            must name the run after a failure (``--notify``) chooses it.

    Returns:
        The summary; its ``outcome`` is ``success``, or ``failed`` when a symbol
        could not be fetched (the other stages still ran for the rest).

    Raises:
        QualityGateFailed: a blocking check failed; the transform did not run.
        StocksEltError: another stage failed as a whole.
    """
    from stocks_elt.warehouse.audit.runs import PipelineRunRecorder

    settings = _settings(settings)
    picked = choose_universe(settings, symbols, universe)
    symbols = picked.symbols
    run_id = run_id or str(uuid.uuid4())
    summary = RunSummary(run_id=run_id, symbols=symbols, universe=picked.source)
    with PipelineRunRecorder(settings, run_id, command="run") as recorder:
        recorder.record_universe(picked.source)
        with _stage(summary, "extract", recorder):
            extracted = extract_batch(
                symbols, settings, run_id, as_of, progress=progress
            )
            summary.stages["extract"] = extracted.as_dict()
        with _stage(summary, "load", recorder):
            loaded = load_objects(
                list(extracted.object_keys), settings, run_id, progress=progress
            )
            summary.stages["load"] = loaded.as_dict()
        with _stage(summary, "quality", recorder):
            checked = run_quality_gate(settings, run_id, symbols)
            summary.stages["quality"] = checked.as_dict()
        if transform:
            with _stage(summary, "transform", recorder):
                transformed = _transform_stage(
                    settings, holder=f"stocks-elt run {run_id}", on_wait=notice
                )
                summary.stages["transform"] = transformed.as_dict()
        failed = [o for o in extracted.outcomes if o.outcome == "failed"]
        summary.outcome = "failed" if failed else "success"
        if failed:
            summary.message = "; ".join(
                reason if reason.startswith(o.symbol) else f"{o.symbol}: {reason}"
                for o in failed
                for reason in [o.reason or "no reason given"]
            )
        recorder.finish(summary.outcome, summary.message)
    return summary


@contextmanager
def _stage(
    summary: RunSummary, name: str, recorder: PipelineRunRecorder
) -> Iterator[None]:
    from stocks_elt.errors import StocksEltError

    started = time.perf_counter()
    try:
        yield
    except StocksEltError as exc:
        summary.outcome = "failed"
        summary.message = f"{name}: {exc}"
        summary.durations[name] = time.perf_counter() - started
        recorder.fail_stage(name, summary.durations[name], exc)
        raise
    summary.durations[name] = time.perf_counter() - started
    recorder.add_stage(name, summary.durations[name], summary.stages.get(name, {}))
