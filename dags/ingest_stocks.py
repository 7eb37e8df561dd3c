"""
## ingest_stocks

Extracts daily prices, splits and dividends from Alpha Vantage for a universe of
tickers and lands every raw answer in the lake.

* **Schedule:** weekdays at 18:30 New York time, after the US close.
* **Params:** `tickers`, a list of symbols; or `universe`, a `listing:` spec
  (`listing:exchange=NYSE,NASDAQ;type=Stock;limit=500`) that selects symbols from
  the listing; both null: the configured universe (`STOCKS_ELT_TICKERS`, else
  `STOCKS_ELT_UNIVERSE`). The universe chosen is recorded with the run.
* **Mapping:** the tickers are split into batches (`STOCKS_ELT_BATCH_SIZE`) and
  one `extract_batch` task runs per batch, never per ticker; the batches are merged
  further when they would exceed `[core] max_map_length`.
* **Pool `alpha_vantage`:** bounds how many batches call the API at once; size it
  to the key's quota.
* **Deferred symbols** (the day's quota ran out) are logged and returned by
  `announce_new_objects`; the next run extracts them first.
* **Failed symbols** (not found, refused): the others are announced and loaded,
  then `check_symbol_outcomes` fails the run naming each symbol and the reason.
* **Emits** `s3://stocks-lake/raw/alpha_vantage` with `extra.manifest`, the lake
  object listing the run's new keys (the event stays small whatever the
  universe), which `load_stocks_from_minio` loads.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from stocks_elt.orchestration.assets import ALPHA_VANTAGE_POOL, LAKE_RAW
from stocks_elt.orchestration.defaults import DEFAULT_ARGS


@dag(
    dag_id="ingest_stocks",
    # No start_date: a new or unpaused deployment waits for the next 18:30 instead
    # of starting a surprise run for the last one it missed.
    schedule=CronTriggerTimetable(
        "30 18 * * 1-5", timezone="America/New_York", run_immediately=False
    ),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "tickers": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            minItems=1,
            description="Symbols to extract; null means the universe.",
        ),
        "universe": Param(
            None,
            type=["null", "string"],
            pattern="^listing:",
            description="Symbols from the listing, e.g. "
            "listing:exchange=NYSE,NASDAQ;type=Stock;limit=500; null means "
            "STOCKS_ELT_UNIVERSE (or STOCKS_ELT_TICKERS). tickers wins.",
        ),
    },
    tags=["stocks", "extract"],
    doc_md=__doc__,
)
def ingest_stocks() -> None:
    @task
    def plan_batches(
        *, params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> list[list[str]]:
        """Choose the universe and split it into batches that fit the map."""
        from stocks_elt.orchestration import tasks

        return tasks.plan_batches(params, run_id)

    @task(pool=ALPHA_VANTAGE_POOL)
    def extract_batch(
        symbols: list[str], *, run_id: str | None = None, dag_run: Any = None
    ) -> dict[str, Any]:
        """Fetch one batch into the lake; return its new keys and outcomes."""
        from stocks_elt.orchestration import tasks

        return tasks.extract_batch(symbols, run_id, dag_run)

    @task(outlets=[LAKE_RAW])
    def announce_new_objects(
        results: Any, *, outlet_events: Any = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Emit the lake Asset with the new keys; skip when there are none."""
        from stocks_elt.orchestration import tasks

        return tasks.announce_new_objects(results, outlet_events, run_id)

    @task(trigger_rule="none_failed")
    def check_symbol_outcomes(
        results: Any, *, run_id: str | None = None
    ) -> dict[str, Any]:
        """Fail the run, after the announcement, when a symbol could not be
        fetched; the other symbols' objects are announced and loaded all the same.
        """
        from stocks_elt.orchestration import tasks

        return tasks.check_symbol_outcomes(results, run_id)

    extracts = extract_batch.expand(symbols=plan_batches())
    announce_new_objects(extracts) >> check_symbol_outcomes(extracts)


ingest_stocks()
