"""
## ingest_stocks

Extracts daily prices, splits and dividends from Alpha Vantage for a universe of
tickers and lands every raw answer in the lake.

* **Schedule:** weekdays at 18:30 New York time, after the US close.
* **Param `tickers`:** a list of symbols, or null for the configured universe
  (`STOCKS_ELT_TICKERS`).
* **Mapping:** the tickers are split into batches (`STOCKS_ELT_BATCH_SIZE`) and
  one `extract_batch` task runs per batch, never per ticker; the batches are merged
  further when they would exceed `[core] max_map_length`.
* **Pool `alpha_vantage`:** bounds how many batches call the API at once; size it
  to the key's quota.
* **Deferred symbols** (the day's quota ran out) are logged and returned by
  `announce_new_objects`; the next run extracts them first.
* **Failed symbols** (not found, refused): the others are announced and loaded,
  then `check_symbol_outcomes` fails the run naming each symbol and the reason.
* **Emits** `s3://stocks-lake/raw/alpha_vantage` with `extra.objects`, the new lake
  keys, which `load_stocks_from_minio` loads.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from common import ALPHA_VANTAGE_POOL, DEFAULT_ARGS, LAKE_RAW

logger = logging.getLogger(__name__)


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
            description="Symbols to extract; null means the configured universe.",
        )
    },
    tags=["stocks", "extract"],
    doc_md=__doc__,
)
def ingest_stocks() -> None:
    @task
    def plan_batches(*, params: dict[str, Any] | None = None) -> list[list[str]]:
        """Validate the tickers and split them into batches that fit the map."""
        from airflow.sdk import conf

        from common import fit_batches, task_settings
        from stocks_elt import pipeline

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

    @task(pool=ALPHA_VANTAGE_POOL)
    def extract_batch(
        symbols: list[str], *, run_id: str | None = None, dag_run: Any = None
    ) -> dict[str, Any]:
        """Fetch one batch into the lake; return its new keys and deferred symbols."""
        from common import task_settings, trading_date
        from stocks_elt import pipeline
        from stocks_elt.results import SUCCESS_OUTCOMES

        as_of = trading_date(dag_run)
        result = pipeline.extract_batch(symbols, task_settings(), run_id, as_of)
        outcomes: dict[str, int] = {}
        failed: dict[str, str] = {}
        for item in result.outcomes:
            outcomes[item.outcome] = outcomes.get(item.outcome, 0) + 1
            if item.outcome not in SUCCESS_OUTCOMES:
                failed[item.symbol] = f"{item.outcome}: {item.reason}"
                logger.warning(
                    "symbol=%s outcome=%s reason=%s",
                    item.symbol,
                    item.outcome,
                    item.reason,
                )
        deferred = sorted(o.symbol for o in result.outcomes if o.outcome == "deferred")
        if deferred:
            logger.warning(
                "deferred symbols=%s reason=daily quota; the next run takes them first",
                ",".join(deferred),
            )
        return {
            "objects": sorted(result.object_keys),
            "deferred": deferred,
            "failed": failed,
            "outcomes": outcomes,
        }

    @task(outlets=[LAKE_RAW])
    def announce_new_objects(
        results: Any, *, outlet_events: Any = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Emit the lake Asset with the new keys; skip when there are none."""
        from airflow.sdk.exceptions import AirflowSkipException

        from common import summarize_extracts

        summary = summarize_extracts(results)
        objects, deferred = summary["objects"], summary["deferred"]
        logger.info(
            "extracted batches=%d objects=%d deferred=%d outcomes=%s",
            summary["batches"],
            len(objects),
            len(deferred),
            summary["outcomes"],
        )
        if deferred:
            logger.warning("deferred symbols=%s", ",".join(deferred))
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

    @task(trigger_rule="none_failed")
    def check_symbol_outcomes(results: Any) -> dict[str, Any]:
        """Fail the run, after the announcement, when a symbol could not be fetched.

        The other symbols' objects are announced and loaded all the same.
        """
        from airflow.sdk.exceptions import AirflowFailException

        from common import summarize_extracts

        summary = summarize_extracts(results)
        if summary["failed"]:
            raise AirflowFailException(
                f"{len(summary['failed'])} symbol(s) could not be fetched: "
                + "; ".join(f"{s} ({why})" for s, why in summary["failed"].items())
            )
        return {"outcomes": summary["outcomes"], "deferred": summary["deferred"]}

    extracts = extract_batch.expand(symbols=plan_batches())
    announce_new_objects(extracts) >> check_symbol_outcomes(extracts)


ingest_stocks()
