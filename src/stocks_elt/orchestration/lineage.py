"""
Lineage for OpenLineage (``apache-airflow-providers-openlineage``): what the
ingest and load tasks read and wrote, reported through Airflow's hook lineage
collector, which the OpenLineage listener turns into each task's inputs and
outputs. Cosmos reports the dbt models' inputs and outputs itself, so the path
reads end to end:

    s3://<lake>/raw/alpha_vantage/...  (extract_batch: outputs)
        -> load_new_objects: inputs; outputs postgres://host:port/<db>/raw/<table>
        -> dbt_run_models tasks: <db>.raw.daily_prices -> ... -> marts.*

Datasets are the lake objects themselves, as long as a task handles at most
:data:`MAX_OBJECTS` of them; past that (a universe of thousands of symbols), one
dataset per answer kind (``.../function=TIME_SERIES_DAILY``) stands for them, so
an event stays small (Airflow's collector keeps 100 assets a task by default).
Warehouse tables are named as dbt names them (``postgres://host:port``,
``<database>.<schema>.<table>``), so the load's outputs are the same datasets as
the dbt models' inputs.

Off unless OpenLineage is configured (``AIRFLOW__OPENLINEAGE__TRANSPORT``...):
Airflow then hands out a collector that drops everything. Nothing here raises
into a task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stocks_elt.config import Settings

logger = logging.getLogger(__name__)

#: Most lake objects reported one by one for a task.
MAX_OBJECTS = 60


def lake_object_uris(
    lake_url: str, keys: Sequence[str], limit: int = MAX_OBJECTS
) -> list[str]:
    """The lineage datasets of lake objects: one URI per object, or one per
    answer kind when there are more than ``limit``.

    Args:
        lake_url: the lake's URL (``s3://bucket/prefix`` or ``file:///path``).
        keys: lake keys (``raw/alpha_vantage/function=.../...``).
        limit: most objects reported one by one.
    """
    from stocks_elt.lake.keys import RAW_PREFIX, read_answer_key

    base = lake_url.rstrip("/")
    if len(keys) <= limit:
        return [f"{base}/{key}" for key in sorted(set(keys))]
    functions = sorted({read_answer_key(key).function for key in keys})
    return [f"{base}/{RAW_PREFIX}function={function}" for function in functions]


def warehouse_table_uris(warehouse_url: str, tables: Iterable[str]) -> list[str]:
    """``postgres://host:port/<db>/<schema>/<table>`` for ``schema.table`` names;
    a socket directory (the embedded warehouse) is named ``localhost``."""
    from stocks_elt.warehouse.connection import connection_parameters

    params = connection_parameters(warehouse_url)
    host = str(params["host"])
    host = "localhost" if host.startswith("/") else host
    prefix = f"postgres://{host}:{params['port']}/{params['dbname']}"
    return [f"{prefix}/{table.replace('.', '/')}" for table in sorted(set(tables))]


def raw_tables_of(keys: Iterable[str]) -> list[str]:
    """The ``raw.*`` tables the objects at ``keys`` feed."""
    from stocks_elt.lake.keys import read_answer_key
    from stocks_elt.warehouse.loader.tables import TABLES_BY_FUNCTION

    tables = {
        f"raw.{table.name}"
        for key in keys
        for table in TABLES_BY_FUNCTION.get(read_answer_key(key).function, ())
    }
    return sorted(tables)


def report_extract(settings: Settings, object_keys: Sequence[str]) -> None:
    """extract_batch: the new lake objects are its outputs."""
    _report(outputs=lake_object_uris(settings.resolved_lake_url, object_keys))


def report_load(settings: Settings, object_keys: Sequence[str] | None) -> None:
    """load_new_objects: the objects it was asked to load are its inputs (the
    whole raw prefix for a run without a list), the raw tables they feed its
    outputs (every raw table for a run without a list)."""
    from stocks_elt.lake.keys import RAW_PREFIX
    from stocks_elt.warehouse.connection import warehouse_url
    from stocks_elt.warehouse.loader.tables import MERGED_TABLES

    lake = settings.resolved_lake_url
    if object_keys is None:
        inputs = [f"{lake.rstrip('/')}/{RAW_PREFIX.rstrip('/')}"]
        tables = [f"raw.{table.name}" for table in MERGED_TABLES]
    else:
        inputs = lake_object_uris(lake, object_keys)
        tables = raw_tables_of(object_keys)
    _report(
        inputs=inputs,
        outputs=warehouse_table_uris(warehouse_url(settings), tables),
    )


def _report(inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> None:
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector

        collector = get_hook_lineage_collector()
        context = _context()
        for uri in inputs:
            collector.add_input_asset(context=context, uri=uri)
        for uri in outputs:
            collector.add_output_asset(context=context, uri=uri)
    except Exception as exc:  # lineage never fails a task
        logger.warning("lineage not reported reason=%s", exc)
        return
    logger.info("lineage inputs=%d outputs=%d", len(inputs), len(outputs))


def _context() -> Any:
    """The "hook" the lineage is reported by (the collector keys entries by it)."""
    from airflow.sdk import BaseHook

    class StocksEltLineage(BaseHook):
        """stocks-elt's own I/O (the lake client, psycopg), reported as a hook."""

    return StocksEltLineage()
