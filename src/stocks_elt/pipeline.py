"""
Stage functions: the one door through which the DAGs, the CLI and the tests reach
each stage.

Each function reads the settings once when none are given, does its stage and
returns a small frozen dataclass that logs well and fits in an XCom (lake keys and
counts, never data). The stage modules are imported inside the functions, so
importing this module is cheap (Airflow parses DAG files that import it).

    plan_batches      tickers -> batches of symbols (deferred symbols first)
    extract_batch     symbols -> new lake objects + per-symbol outcomes
    load_objects      lake keys (or everything not yet loaded) -> merged raw rows
    run_quality_gate  raw tables -> audit.dq_results; raises on a blocking failure
    transform         raw tables -> dbt staging, intermediate and marts
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stocks_elt.config import Settings
    from stocks_elt.quality.gate import QualityResult
    from stocks_elt.stages.extract import ExtractResult
    from stocks_elt.stages.load import LoadResult
    from stocks_elt.transform.dbt import TransformResult


def _settings(settings: Settings | None) -> Settings:
    from stocks_elt.config import load_settings

    return settings if settings is not None else load_settings()


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


def plan_batches(
    tickers: Sequence[str] | None = None, settings: Settings | None = None
) -> list[list[str]]:
    """Split the universe into batches of ``settings.batch_size`` symbols.

    Args:
        tickers: symbols to extract; None means ``settings.tickers``.

    Returns:
        Batches of validated symbols, symbols deferred by an earlier run first.

    Raises:
        InvalidSymbol: a ticker breaks the symbol rule.
    """
    from stocks_elt.stages.extract import plan_batches as _plan

    chosen = _settings(settings)
    with _outages(chosen, "plan"):
        return _plan(chosen, tickers)


def extract_batch(
    symbols: Sequence[str],
    settings: Settings | None = None,
    run_id: str | None = None,
    as_of: date | None = None,
) -> ExtractResult:
    """Fetch ``symbols`` from Alpha Vantage and land every answer in the lake.

    ``as_of`` is the trading date the run is for (default: today in New York); a
    DAG passes the date of its data interval's end.
    """
    from stocks_elt.stages.extract import extract

    chosen = _settings(settings)
    with _outages(chosen, "extract"):
        return extract(chosen, symbols, run_id=run_id, as_of=as_of)


def load_objects(
    object_keys: Sequence[str] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> LoadResult:
    """Load the given lake objects, plus every object extract announced that no
    load recorded yet (a run killed before its load left them); None loads every
    object of the lake not yet loaded."""
    from stocks_elt.stages.load import load

    chosen = _settings(settings)
    with _outages(chosen, "load"):
        return load(chosen, object_keys, run_id=run_id)


def run_quality_gate(
    settings: Settings | None = None,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
) -> QualityResult:
    """Run the data-quality checks; raise QualityGateFailed on a blocking failure."""
    from stocks_elt.quality.gate import run_quality_gate as _gate

    chosen = _settings(settings)
    with _outages(chosen, "quality gate"):
        return _gate(chosen, run_id=run_id, symbols=symbols)


def transform(
    settings: Settings | None = None,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
    *,
    holder: str = "stocks-elt transform",
    on_wait: Callable[[str], None] | None = None,
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
