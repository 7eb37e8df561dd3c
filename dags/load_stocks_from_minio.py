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
* **Emits** `warehouse_raw_daily_prices`, which `dbt_run_models` is scheduled on,
  unless nothing new was loaded (the gate task is then skipped).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import dag, task

from common import DEFAULT_ARGS, LAKE_RAW, WAREHOUSE_RAW

logger = logging.getLogger(__name__)


@dag(
    dag_id="load_stocks_from_minio",
    schedule=[LAKE_RAW],
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

        keys = objects_from_events(triggering_asset_events, LAKE_RAW)
        logger.info(
            "loading announced=%s",
            "none: every object not yet loaded" if keys is None else len(keys),
        )
        result = pipeline.load_objects(keys, task_settings(), run_id)
        return result.as_dict()

    @task(outlets=[WAREHOUSE_RAW])
    def run_quality_gate(
        loaded: dict[str, Any],
        *,
        outlet_events: Any = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Check what this run loaded; a blocking failure fails the task at once."""
        from airflow.sdk.exceptions import AirflowSkipException

        from common import task_settings
        from stocks_elt import pipeline

        if not loaded["objects_loaded"]:
            raise AirflowSkipException("no object loaded; nothing to check or build")
        # The gate reads this run's objects from the load ledger (same run id).
        result = pipeline.run_quality_gate(task_settings(), run_id)
        logger.info(
            "quality gate passed=%d warned=%d failed=%d",
            result.passed,
            result.warned,
            result.failed,
        )
        outlet_events[WAREHOUSE_RAW].extra = {
            "source_run_id": run_id,
            "objects_loaded": loaded["objects_loaded"],
            "symbols": loaded["symbols"],
        }
        return result.as_dict()

    run_quality_gate(load_new_objects())


load_stocks_from_minio()
