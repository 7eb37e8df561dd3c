"""
## check_freshness

At the freshness deadline on every weekday, checks that the chain
(`ingest_stocks` -> `load_stocks_from_minio` -> `dbt_run_models`) finished for the
last session: every configured ticker's newest bar in `marts.fct_daily_bars` is
the last XNYS session that closed.

* **Schedule:** `STOCKS_ELT_FRESHNESS_DEADLINE` (New York time, default 21:00),
  Monday to Friday; on a holiday the last session is the one before.
* **Fails** (no retries) when a ticker is behind; the failure notice (e-mail,
  webhook: see docs/operations.md) lists each ticker, what the marts hold and how
  the chain's latest runs ended. Announced once per session.
* A scheduled check rather than a deadline alert: the chain's last two DAGs are
  asset-triggered runs without a logical date, and a run that never starts has no
  deadline (`stocks_elt.orchestration.freshness` says more).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from stocks_elt.orchestration.defaults import DEFAULT_ARGS
from stocks_elt.orchestration.freshness import deadline_timetable


@dag(
    dag_id="check_freshness",
    schedule=deadline_timetable(),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["stocks", "monitoring"],
    doc_md=__doc__,
)
def check_freshness() -> None:
    @task
    def check_marts_are_current(
        *, run_id: str | None = None, dag_run: Any = None
    ) -> dict[str, Any]:
        """Fail when a ticker's marts miss the last session at the deadline."""
        from stocks_elt.orchestration import freshness

        return freshness.check_freshness(run_id, dag_run)

    check_marts_are_current()


check_freshness()
