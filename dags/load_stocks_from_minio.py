"""
## load_stocks_from_minio

Loads the lake objects that `ingest_stocks` announced into the warehouse's `raw`
tables, then runs the data-quality gate.

* **Schedule:** on the Asset `s3://stocks-lake/raw/alpha_vantage`. Events that
  arrive while a run is busy are combined into the next run.
* **Loads** the objects listed in the triggering events plus any earlier object the
  load ledger has not seen; a manual run (no event) loads everything not yet loaded.
* **Quality gate:** a blocking check failure fails `run_quality_gate` with the
  gate's message, without retries, and nothing downstream runs.
* **Emits** `warehouse_raw_daily_prices`, which `dbt_run_models` is scheduled on.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import dag, task

from common import DEFAULT_ARGS, LAKE_RAW, WAREHOUSE_RAW

logger = logging.getLogger(__name__)


@dag(
    dag_id="load_stocks_from_minio",
    schedule=[LAKE_RAW],
    start_date=pendulum.datetime(2024, 1, 1, tz="America/New_York"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["stocks", "load"],
    doc_md=__doc__,
)
def load_stocks_from_minio() -> None:
    @task
    def load_new_objects(
        *, triggering_asset_events: Any = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Load the announced objects (and any the ledger missed) into raw.*."""
        from common import objects_from_events, task_settings
        from stocks_elt import pipeline
        from stocks_elt.lake.base import parse_object_key

        keys = objects_from_events(triggering_asset_events, LAKE_RAW)
        logger.info(
            "loading announced=%s",
            "all unloaded" if keys is None else f"{len(keys)} objects",
        )
        result = pipeline.load_objects(keys, task_settings(), run_id)
        symbols = sorted(
            {
                symbol
                for key in keys or ()
                if (symbol := parse_object_key(key).get("symbol", "_ALL")) != "_ALL"
            }
        )
        return {
            "announced": None if keys is None else len(keys),
            "symbols": symbols,
            "load": result.as_dict(),
        }

    @task(outlets=[WAREHOUSE_RAW])
    def run_quality_gate(
        loaded: dict[str, Any],
        *,
        outlet_events: Any = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Check the raw tables; a blocking failure fails this task (no retry)."""
        from common import task_settings
        from stocks_elt import pipeline

        symbols = loaded["symbols"] or None
        result = pipeline.run_quality_gate(task_settings(), run_id, symbols)
        summary = result.as_dict()
        outlet_events[WAREHOUSE_RAW].extra = {
            "source_run_id": run_id,
            "symbols": symbols,
        }
        return summary

    run_quality_gate(load_new_objects())


load_stocks_from_minio()
