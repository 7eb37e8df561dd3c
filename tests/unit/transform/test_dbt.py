"""The transform stage's Python side, without a database: results, errors, CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from stocks_elt.cli import cli
from stocks_elt.config import Settings
from stocks_elt.errors import TransformError
from stocks_elt.results import TransformResult
from stocks_elt.transform import dbt
from stocks_elt.transform.dbt import (
    dbt_environment,
    dbt_project_dir,
    run_dbt_build,
)
from stocks_elt.warehouse import locks, migrate


def _node_result(kind: str, status: str, name: str, message: str = "") -> Any:
    node = SimpleNamespace(resource_type=kind, unique_id=f"{kind}.stocks_elt.{name}")
    return SimpleNamespace(node=node, status=status, message=message)


def _outcome(*results: Any, success: bool = True) -> Any:
    return SimpleNamespace(
        success=success,
        exception=None,
        result=SimpleNamespace(results=list(results)),
    )


def test_the_default_project_is_the_one_the_package_ships() -> None:
    import stocks_elt.transform

    shipped = Path(stocks_elt.transform.__file__).parent / "dbt_project"
    assert dbt_project_dir() == shipped.resolve()
    assert (shipped / "dbt_project.yml").is_file()


def test_a_folder_without_dbt_project_yml_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(TransformError, match=str(tmp_path)):
        dbt_project_dir(tmp_path)


def test_the_profile_variables_come_from_the_warehouse_url() -> None:
    settings = Settings(
        warehouse_url="postgresql://analyst:s3cret@db.example:6543/stocks"
    )
    assert dbt_environment(settings) == {
        "STOCKS_ELT_DBT_HOST": "db.example",
        "STOCKS_ELT_DBT_PORT": "6543",
        "STOCKS_ELT_DBT_USER": "analyst",
        "DBT_ENV_SECRET_STOCKS_ELT_PASSWORD": "s3cret",
        "STOCKS_ELT_DBT_DBNAME": "stocks",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def test_a_socket_directory_becomes_the_host() -> None:
    settings = Settings(
        warehouse_url="postgresql://postgres:@/stocks?host=/var/pg/socket"
    )
    assert dbt_environment(settings)["STOCKS_ELT_DBT_HOST"] == "/var/pg/socket"


def test_a_successful_build_counts_models_and_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = _outcome(
        _node_result("operation", "success", "on-run-start-0"),
        _node_result("model", "success", "fct_daily_bars"),
        _node_result("model", "success", "dim_symbols"),
        _node_result("test", "pass", "unique_fct_daily_bars_daily_bar_id"),
        _node_result("unit_test", "pass", "ema_12_is_seeded"),
        _node_result("test", "warn", "source_freshness", "Got 1 result"),
    )
    monkeypatch.setattr(dbt, "run_dbt", lambda *args, **kwargs: outcome)
    result = run_dbt_build(Settings(warehouse_url="postgresql://u@h/d"))
    assert (result.models_built, result.tests_passed, result.tests_warned) == (
        2,
        2,
        1,
    )
    assert result.tests_failed == 0
    assert result.failures == ()


def test_a_failed_build_raises_naming_every_failing_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = _outcome(
        _node_result("model", "error", "fct_daily_bars", "relation does not\nexist"),
        _node_result("test", "fail", "unique_dim_symbols_symbol", "Got 2 results"),
        _node_result("model", "skipped", "fct_daily_indicators"),
        success=False,
    )
    monkeypatch.setattr(dbt, "run_dbt", lambda *args, **kwargs: outcome)
    with pytest.raises(TransformError) as caught:
        run_dbt_build(Settings(warehouse_url="postgresql://u@h/d"))
    assert str(caught.value) == (
        "dbt build failed: model.stocks_elt.fct_daily_bars: relation does not "
        "exist; test.stocks_elt.unique_dim_symbols_symbol: Got 2 results"
    )


def test_a_build_that_could_not_start_raises_with_dbts_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = SimpleNamespace(success=False, exception="profile not found", result=None)
    monkeypatch.setattr(dbt, "run_dbt", lambda *args, **kwargs: outcome)
    with pytest.raises(TransformError, match="did not run: profile not found"):
        run_dbt_build(Settings(warehouse_url="postgresql://u@h/d"))


def test_select_and_full_refresh_reach_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake_run_dbt(settings: Settings, args: list[str], **kwargs: Any) -> Any:
        seen.append(list(args))
        return _outcome()

    monkeypatch.setattr(dbt, "run_dbt", fake_run_dbt)
    run_dbt_build(
        Settings(warehouse_url="postgresql://u@h/d"),
        select=["fct_daily_bars+", "dim_symbols"],
        full_refresh=True,
    )
    assert seen == [
        ["build", "--select", "fct_daily_bars+", "dim_symbols", "--full-refresh"]
    ]


def test_the_result_is_plain_json_values() -> None:
    result = TransformResult(11, 50, 1, 2, 12.34567, ("model.x: boom",))
    assert result.as_dict() == {
        "models_built": 11,
        "tests_passed": 50,
        "tests_failed": 1,
        "tests_warned": 2,
        "duration": 12.346,
        "failures": ["model.x: boom"],
    }


def test_the_transform_command_prints_a_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_build(settings: Settings, **kwargs: Any) -> TransformResult:
        calls.append(kwargs)
        return TransformResult(11, 50, 0, 0, 3.0)

    @contextmanager
    def no_lock(url: str, **kwargs: Any) -> Iterator[None]:
        yield  # the transform lock is tested against a real Postgres

    monkeypatch.setattr(dbt, "run_dbt_build", fake_build)
    monkeypatch.setattr(locks, "transform_lock", no_lock)
    monkeypatch.setattr(migrate, "migrated_url", lambda settings: "postgresql://u@h/d")
    monkeypatch.setenv("STOCKS_ELT_WAREHOUSE_URL", "postgresql://u@h/d")
    outcome = CliRunner().invoke(
        cli, ["transform", "--full-refresh", "-s", "fct_daily_bars+"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert calls == [{"select": ["fct_daily_bars+"], "full_refresh": True}]
    assert outcome.output == (
        "transform: 11 models built, 50 tests passed, 0 warned, 0 failed in "
        "3.0 s (full refresh)\n"
    )
