"""
## dbt_run_models

The Airflow DAG that builds the dbt project shipped in the package
(`stocks_elt/transform/dbt_project`:
staging, intermediate and marts) on the warehouse with astronomer-cosmos: every
model is a task that runs `dbt build` on it (its unit tests, the model, its data
tests), in the project's dependency order, so a failing model or test is visible at
a glance and stops what depends on it. Tests that span two models run in tasks of
their own once both are built.

* **Schedule:** on the Asset `warehouse_raw_daily_prices`, which
  `load_stocks_from_minio` emits once the raw tables passed the quality gate.
* **Warehouse:** the Airflow connection `stocks_warehouse` (postgres; its `schema`
  field is the database name), mapped to a dbt profile by Cosmos.
* **Side by side:** each task holds the warehouse's transform lock (shared), so a
  `stocks-elt run` on the same warehouse waits for it, and the reverse.
"""

from __future__ import annotations

from stocks_elt.orchestration.dbt_dag import build_dbt_dag

dbt_run_models = build_dbt_dag(__doc__)
