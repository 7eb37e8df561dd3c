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

from collections.abc import Sequence
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

    return _plan(_settings(settings), tickers)


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

    return extract(_settings(settings), symbols, run_id=run_id, as_of=as_of)


def load_objects(
    object_keys: Sequence[str] | None = None,
    settings: Settings | None = None,
    run_id: str | None = None,
) -> LoadResult:
    """Load the given lake objects plus any earlier ones the ledger has not seen."""
    from stocks_elt.stages.load import load

    return load(_settings(settings), object_keys, run_id=run_id)


def run_quality_gate(
    settings: Settings | None = None,
    run_id: str | None = None,
    symbols: Sequence[str] | None = None,
) -> QualityResult:
    """Run the data-quality checks; raise QualityGateFailed on a blocking failure."""
    from stocks_elt.quality.gate import run_quality_gate as _gate

    return _gate(_settings(settings), run_id=run_id, symbols=symbols)


def transform(
    settings: Settings | None = None,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
) -> TransformResult:
    """Run ``dbt build`` on the warehouse; raise TransformError on failure."""
    from stocks_elt.transform.dbt import run_dbt_build

    return run_dbt_build(_settings(settings), select=select, full_refresh=full_refresh)
