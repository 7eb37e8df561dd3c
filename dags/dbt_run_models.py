"""
## dbt_run_models

Builds the dbt project shipped in the package
(`stocks_elt/transform/dbt_project`: staging, intermediate and marts) on the warehouse
with astronomer-cosmos: every model is a task that runs `dbt build` on it (its unit
tests, the model, its data tests), in the project's dependency order, so a failing
model or test is visible at a glance and stops what depends on it. Tests that span
two models run in tasks of their own once both are built.

* **Schedule:** on the Asset `warehouse_raw_daily_prices`, which
  `load_stocks_from_minio` emits once the raw tables passed the quality gate.
* **Warehouse:** the Airflow connection `stocks_warehouse` (postgres; its `schema`
  field is the database name), mapped to a dbt profile by Cosmos.
* **Parsing:** Cosmos lists the project with `dbt ls` and caches the result until a
  dbt file changes. When the connection is set in the environment
  (`AIRFLOW_CONN_STOCKS_WAREHOUSE`, as `stocks-elt airflow` does), `dbt ls` parses
  with the real profile, so every task starts from its partial parse (about 1 s)
  instead of parsing the whole project again (about 10 s of CPU per task). Without
  it, `dbt ls` uses a mock profile and needs no connection; the first tasks of the
  first run then parse in full, and later tasks reuse their partial parse.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from common import DEFAULT_ARGS, WAREHOUSE_CONN_ID, WAREHOUSE_RAW
from stocks_elt.transform import packaged_project_dir

DBT_PROJECT = packaged_project_dir()
#: dbt's partial parse is kept only when the profile's connection fields match,
#: so `dbt ls` parses with the real profile whenever it needs no lookup.
PARSE_WITH_REAL_PROFILE = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}" in os.environ


class PostgresProfileMapping(PostgresUserPasswordProfileMapping):
    """Cosmos' Postgres mapping, also for servers that need no password.

    A local server that trusts loopback or socket connections (the embedded
    warehouse of ``stocks-elt airflow``) has a connection without a password;
    Cosmos' own mapping refuses such a connection.
    """

    required_fields: ClassVar[list[str]] = ["host", "user", "dbname"]

    @property
    def profile(self) -> dict[str, Any]:
        """The dbt profile; the password comes from the environment when set."""
        profile: dict[str, Any] = super().profile
        if not self.get_dbt_value("password"):
            profile["password"] = ""
        return profile

    @property
    def mock_profile(self) -> dict[str, Any]:
        """The profile ``dbt ls`` parses with: no connection is looked up."""
        profile: dict[str, Any] = super().mock_profile
        profile.setdefault("password", "mock_value")
        return profile

    @property
    def env_vars(self) -> dict[str, str]:
        """The password's environment variable, when there is a password."""
        if not self.get_dbt_value("password"):
            return {}
        env: dict[str, str] = super().env_vars
        return env


dbt_run_models = DbtDag(
    dag_id="dbt_run_models",
    schedule=[WAREHOUSE_RAW],
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 1},
    tags=["stocks", "transform", "dbt"],
    doc_md=__doc__,
    project_config=ProjectConfig(DBT_PROJECT, install_dbt_deps=False),
    profile_config=ProfileConfig(
        profile_name="stocks_elt",
        target_name="airflow",
        profile_mapping=PostgresProfileMapping(
            conn_id=WAREHOUSE_CONN_ID, profile_args={"schema": "marts"}
        ),
    ),
    execution_config=ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
    ),
    render_config=RenderConfig(
        load_method=LoadMode.DBT_LS,
        enable_mock_profile=not PARSE_WITH_REAL_PROFILE,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # One task per model runs `dbt build` on it: its unit tests, the model,
        # then its data tests, so a failing test stops everything downstream.
        test_behavior=TestBehavior.BUILD,
        # A test on two models (relationships to dim_symbols) runs once both
        # are built, in a task of its own, as a project-wide `dbt build` orders it.
        should_detach_multiple_parents_tests=True,
        # The DAGs chain on our own Assets; per-model Assets would cost each
        # task seconds of lineage work for nobody.
        emit_datasets=False,
    ),
)
