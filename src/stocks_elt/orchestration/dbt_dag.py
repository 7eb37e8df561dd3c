"""
``dbt_run_models``: the packaged dbt project as an Airflow DAG (astronomer-cosmos).

Every model is a task that runs ``dbt build`` on it (its unit tests, the model,
its data tests), in the project's dependency order, so a failing model or test is
visible at a glance and stops what depends on it. Tests that span two models run
in tasks of their own once both are built. The warehouse is the Airflow connection
``stocks_warehouse`` (postgres; its ``schema`` field is the database name), mapped
to a dbt profile by Cosmos.

Each task holds the warehouse's transform lock in shared mode while it builds, so
a ``stocks-elt run`` (which takes it exclusively) never builds the same models at
the same time: one waits for the other, saying so.

Parsing: Cosmos lists the project with ``dbt ls`` and caches the result until a
dbt file changes. When the connection is set in the environment
(``AIRFLOW_CONN_STOCKS_WAREHOUSE``, as ``stocks-elt airflow`` does), ``dbt ls``
parses with the real profile, so every task starts from its partial parse (about
1 s) instead of parsing the whole project again (about 10 s of CPU per task).
Without it, ``dbt ls`` uses a mock profile and needs no connection.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

from stocks_elt.orchestration.assets import WAREHOUSE_CONN_ID, WAREHOUSE_RAW
from stocks_elt.orchestration.defaults import DEFAULT_ARGS
from stocks_elt.transform import packaged_project_dir

logger = logging.getLogger(__name__)

DAG_ID = "dbt_run_models"

#: The transform lock of the task running in this process (one task a process).
_held = ExitStack()


def hold_transform_lock(context: Any) -> None:
    """Take the transform lock (shared) before a model's ``dbt build``."""
    from stocks_elt.orchestration.connections import task_settings
    from stocks_elt.warehouse.connection import warehouse_url
    from stocks_elt.warehouse.locks import process_name, transform_lock

    task = getattr(context.get("ti"), "task_id", "?")
    _held.enter_context(
        transform_lock(
            warehouse_url(task_settings()),
            holder=f"airflow {DAG_ID}.{task} ({process_name()})",
            shared=True,
        )
    )


def release_transform_lock(context: Any, result: Any = None) -> None:
    """Let go of the transform lock once the model is built (a task that fails
    lets go when its process ends)."""
    _held.close()


def build_dbt_dag(doc_md: str | None = None) -> Any:
    """Return the ``dbt_run_models`` DAG (a Cosmos ``DbtDag``).

    Cosmos is imported here, at DAG parse time, because it builds the tasks then.
    """
    from cosmos import (  # type: ignore[import-untyped]
        DbtDag,
        ExecutionConfig,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import (  # type: ignore[import-untyped]
        ExecutionMode,
        InvocationMode,
        LoadMode,
        TestBehavior,
    )

    # dbt's partial parse is kept only when the profile's connection fields match,
    # so `dbt ls` parses with the real profile whenever it needs no lookup.
    parse_with_real_profile = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}" in os.environ
    return DbtDag(
        dag_id=DAG_ID,
        schedule=[WAREHOUSE_RAW],
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 1},
        tags=["stocks", "transform", "dbt"],
        doc_md=doc_md or __doc__,
        project_config=ProjectConfig(packaged_project_dir(), install_dbt_deps=False),
        profile_config=ProfileConfig(
            profile_name="stocks_elt",
            target_name="airflow",
            profile_mapping=_profile_mapping()(
                conn_id=WAREHOUSE_CONN_ID, profile_args={"schema": "marts"}
            ),
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # dbt runs in-process, but Cosmos still looks for the executable
            # before `dbt ls`: the one installed next to this interpreter, found
            # even when its folder is not on PATH (a plain AIRFLOW_HOME).
            dbt_executable_path=_installed_dbt(),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            enable_mock_profile=not parse_with_real_profile,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # One task per model runs `dbt build` on it: its unit tests, the
            # model, then its data tests, so a failing test stops what follows.
            test_behavior=TestBehavior.BUILD,
            # A test on two models (relationships to dim_symbols) runs once both
            # are built, in a task of its own, as a project-wide build orders it.
            should_detach_multiple_parents_tests=True,
            # The DAGs chain on our own Assets; per-model Assets would cost each
            # task seconds of lineage work for nobody.
            emit_datasets=False,
        ),
        operator_args={
            "pre_execute": hold_transform_lock,
            "post_execute": release_transform_lock,
        },
    )


def _installed_dbt() -> str:
    """The dbt executable next to this interpreter, or plain ``dbt`` (on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.is_file() else "dbt"


def _profile_mapping() -> type[Any]:
    """Cosmos' Postgres mapping, also for servers that need no password.

    A local server that trusts loopback or socket connections (the embedded
    warehouse of ``stocks-elt airflow``) has a connection without a password;
    Cosmos' own mapping refuses such a connection.
    """
    from cosmos.profiles import (  # type: ignore[import-untyped]
        PostgresUserPasswordProfileMapping,
    )

    class PostgresProfileMapping(PostgresUserPasswordProfileMapping):  # type: ignore[misc]
        """Cosmos' Postgres mapping; a password is optional."""

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

    return PostgresProfileMapping
