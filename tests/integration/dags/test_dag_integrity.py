"""DAG integrity: dags/ parses cleanly, fast, without I/O, into the intended shape."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from stocks_elt.orchestration.assets import LAKE_RAW, WAREHOUSE_RAW
from tests.integration.dags.conftest import (
    DAG_IDS,
    DBT_PROJECT,
    ParsedDags,
    dag_file_paths,
    imported_modules,
)

#: What a DAG file may import: the package's Airflow glue and Airflow's SDK.
ALLOWED_IMPORTS = ("stocks_elt.orchestration", "airflow.sdk")
#: What parsing may load of the package: the glue, and what it needs to name
#: the dbt project and the retry policy's errors.
PARSE_TIME_MODULES = frozenset(
    {
        "stocks_elt",
        "stocks_elt.errors",
        "stocks_elt.transform",
        "stocks_elt.orchestration",
        "stocks_elt.orchestration.assets",
        "stocks_elt.orchestration.defaults",
        "stocks_elt.orchestration.dbt_dag",
        "stocks_elt.orchestration.freshness",
        "stocks_elt.orchestration.notifiers",
        "stocks_elt.market",
        "stocks_elt.market.calendar",
    }
)


def _dag(parsed_dags: ParsedDags, dag_id: str) -> Any:
    dag = parsed_dags.dagbag.dags.get(dag_id)
    assert dag is not None, (
        f"{dag_id} missing; parsed: {sorted(parsed_dags.dagbag.dags)}"
    )
    return dag


def test_every_dag_file_parses_without_import_errors(parsed_dags: ParsedDags) -> None:
    assert parsed_dags.dagbag.import_errors == {}


def test_the_dags_keep_the_ids_users_know(parsed_dags: ParsedDags) -> None:
    assert set(parsed_dags.dagbag.dags) == set(DAG_IDS)


def test_every_dag_is_tagged_documented_and_never_runs_twice_at_once(
    parsed_dags: ParsedDags,
) -> None:
    for dag_id in DAG_IDS:
        dag = _dag(parsed_dags, dag_id)
        assert "stocks" in dag.tags, dag_id
        assert dag_id in (dag.doc_md or ""), dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id


def test_every_task_retries_with_exponential_backoff(parsed_dags: ParsedDags) -> None:
    for dag_id in DAG_IDS:
        for task in _dag(parsed_dags, dag_id).tasks:
            assert task.retries >= 1, task.task_id
            assert task.retry_exponential_backoff >= 2, task.task_id
            assert task.retry_policy is not None, task.task_id


@pytest.mark.parametrize("path", dag_file_paths(), ids=lambda p: p.name)
def test_dag_files_import_only_the_glue_and_the_sdk(path: Path) -> None:
    found = imported_modules(path) - {"__future__", "typing"}
    strays = {name for name in found if not name.startswith(ALLOWED_IMPORTS)}
    assert strays == set()


@pytest.mark.parametrize("path", dag_file_paths(), ids=lambda p: p.name)
def test_dag_files_import_the_task_bodies_only_inside_tasks(path: Path) -> None:
    at_parse = imported_modules(path, module_level_only=True)
    assert "stocks_elt.orchestration.tasks" not in at_parse


def test_parsing_opens_no_connection_and_loads_no_pipeline_stage(
    parsed_dags: ParsedDags,
) -> None:
    # The fixture refuses every socket; a DAG file that connected would show up
    # as an import error. Only the glue (and what it names) may load.
    assert parsed_dags.dagbag.import_errors == {}
    loaded = {m for m in parsed_dags.new_modules if m.startswith("stocks_elt")}
    assert loaded <= PARSE_TIME_MODULES


def test_ingest_runs_on_weekdays_after_the_new_york_close(
    parsed_dags: ParsedDags,
) -> None:
    timetable = _dag(parsed_dags, "ingest_stocks").timetable
    # 18:30 New York time, Monday to Friday: after the 16:00 close.
    assert timetable.expression == "30 18 * * 1-5"
    assert str(timetable.timezone) == "America/New_York"
    # Unpausing or deploying waits for the next 18:30: no surprise catch-up run.
    assert timetable.run_immediately is False
    assert _dag(parsed_dags, "ingest_stocks").start_date is None


def test_ingest_maps_the_extract_over_batches_in_the_alpha_vantage_pool(
    parsed_dags: ParsedDags,
) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = _dag(parsed_dags, "ingest_stocks")
    extract = dag.get_task("extract_batch")
    assert isinstance(extract, MappedOperator)
    assert extract.pool == "alpha_vantage"
    assert dag.get_task("plan_batches").downstream_task_ids == {"extract_batch"}
    assert extract.downstream_task_ids == {
        "announce_new_objects",
        "check_symbol_outcomes",
    }
    assert "announce_new_objects" in (
        dag.get_task("check_symbol_outcomes").upstream_task_ids
    )


def test_tickers_param_takes_a_list_of_symbols_or_null(
    parsed_dags: ParsedDags,
) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    param = _dag(parsed_dags, "ingest_stocks").params.get_param("tickers")
    assert param.resolve(None) is None
    assert param.resolve(["IBM", "MSFT"]) == ["IBM", "MSFT"]
    for bad in ("IBM", [], [1]):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_the_assets_chain_ingest_to_load_to_dbt(parsed_dags: ParsedDags) -> None:
    ingest = _dag(parsed_dags, "ingest_stocks")
    load = _dag(parsed_dags, "load_stocks_from_minio")
    dbt = _dag(parsed_dags, "dbt_run_models")

    assert ingest.get_task("announce_new_objects").outlets == [LAKE_RAW]
    assert list(load.timetable.asset_condition.objects) == [LAKE_RAW]
    assert load.get_task("run_quality_gate").outlets == [WAREHOUSE_RAW]
    assert list(dbt.timetable.asset_condition.objects) == [WAREHOUSE_RAW]


def _dbt_models() -> set[str]:
    return {path.stem for path in (DBT_PROJECT / "models").rglob("*.sql")}


def _build_task(dag: Any, model: str) -> Any:
    task_id = f"{model}_model_build"
    assert task_id in dag.task_ids, f"no task builds {model}"
    return dag.get_task(task_id)


def test_dbt_renders_one_build_task_per_model(parsed_dags: ParsedDags) -> None:
    dag = _dag(parsed_dags, "dbt_run_models")
    models = _dbt_models()

    assert models, "no dbt model found"
    for model in models:
        assert _build_task(dag, model).task_type == "DbtBuildLocalOperator"


def test_dbt_models_build_in_the_dependency_order_of_the_project(
    parsed_dags: ParsedDags,
) -> None:
    dag = _dag(parsed_dags, "dbt_run_models")
    staging = _build_task(dag, "stg_alpha_vantage__daily_prices")
    bars = _build_task(dag, "fct_daily_bars")
    weekly = _build_task(dag, "fct_weekly_bars")

    downstream_of_staging = {
        t.task_id for t in staging.get_flat_relatives(upstream=False)
    }
    assert {bars.task_id, weekly.task_id} <= downstream_of_staging
    assert bars.task_id in weekly.upstream_task_ids


def test_a_test_on_two_models_runs_after_both_are_built(
    parsed_dags: ParsedDags,
) -> None:
    dag = _dag(parsed_dags, "dbt_run_models")
    relationships = [t for t in dag.tasks if t.task_id.startswith("relationships_")]

    assert relationships, "no relationships test task"
    for task in relationships:
        assert "dim_symbols_model_build" in task.upstream_task_ids, task.task_id
        assert len(task.upstream_task_ids) == 2, task.task_id


def test_dbt_tasks_reuse_the_partial_parse_that_dbt_ls_left(
    parsed_dags: ParsedDags,
    airflow_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task's dbt starts from the cached parse instead of parsing all again.

    dbt keeps a partial parse only when the profile's connection fields match the
    ones it was written with; with a mock profile every first task parses the
    whole project (about 10 s of CPU each).
    """
    from dbt.cli.main import dbtRunner

    dag = _dag(parsed_dags, "dbt_run_models")
    task = _build_task(dag, "stg_alpha_vantage__daily_prices")
    cached = sorted((airflow_home / "cosmos").rglob("partial_parse.msgpack"))
    assert cached, "dbt ls left no partial parse in the Cosmos cache"
    project = tmp_path / "dbt"
    shutil.copytree(
        DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    (project / "target").mkdir()
    shutil.copy2(cached[-1], project / "target" / "partial_parse.msgpack")

    events: list[Any] = []
    with task.profile_config.ensure_profile() as (profile_path, env_vars):
        for name, value in env_vars.items():
            monkeypatch.setenv(name, value)
        result = dbtRunner(callbacks=[events.append]).invoke(
            [
                "parse",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(profile_path.parent),
                "--profile",
                task.profile_config.profile_name,
                "--target",
                task.profile_config.target_name,
            ]
        )

    assert result.success, result.exception
    refusals = [
        event.info.msg for event in events if event.info.name == "UnableToPartialParse"
    ]
    assert refusals == []


def test_every_task_of_every_dag_notifies_when_it_fails_for_good(
    parsed_dags: ParsedDags,
) -> None:
    from stocks_elt.orchestration.notifiers import StocksEltNotifier

    for dag_id in DAG_IDS:
        for task in _dag(parsed_dags, dag_id).tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(isinstance(c, StocksEltNotifier) for c in callbacks), (
                f"{dag_id}.{task.task_id}"
            )


def test_the_freshness_check_runs_at_the_deadline_on_weekdays_in_new_york(
    parsed_dags: ParsedDags,
) -> None:
    dag = _dag(parsed_dags, "check_freshness")
    # The environment of the parse sets no deadline: the default, 21:00.
    assert dag.timetable.expression == "0 21 * * 1-5"
    assert str(dag.timetable.timezone) == "America/New_York"
    assert dag.timetable.run_immediately is False
    assert [task.task_id for task in dag.tasks] == ["check_marts_are_current"]
