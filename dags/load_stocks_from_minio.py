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

from typing import Any

from airflow.sdk import dag, task

from stocks_elt.orchestration.assets import LAKE_RAW, WAREHOUSE_RAW
from stocks_elt.orchestration.defaults import DEFAULT_ARGS


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
        """Load the announced objects (and any an earlier run left) into raw.*."""
        from stocks_elt.orchestration import tasks

        return tasks.load_new_objects(triggering_asset_events, run_id)

    @task(outlets=[WAREHOUSE_RAW])
    def run_quality_gate(
        loaded: dict[str, Any], *, outlet_events: Any = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Check what this run loaded; a blocking failure fails the task at once."""
        from stocks_elt.orchestration import tasks

        return tasks.run_quality_gate(loaded, outlet_events, run_id)

    run_quality_gate(load_new_objects())


load_stocks_from_minio()
