"""``stocks-elt airflow``: what the local Airflow's processes are given (no server)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from stocks_elt.config import Settings, load_settings
from stocks_elt.orchestration.connections import (
    ConnectionFields,
    connection_environment,
    resolve_settings,
    settings_environment,
    settings_overrides,
)
from stocks_elt.orchestration.local import LocalAirflow

DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"

WAREHOUSE = "postgresql://loader:w%40rehouse-pass@db.internal:5433/stocks"


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "alpha_vantage_api_key": "KEY-1234567890",
        "alpha_vantage_base_url": "http://127.0.0.1:8765",
        "alpha_vantage_is_premium": True,
        "batch_size": 50,
        "tickers": ["IBM", "BRK.B"],
        "data_dir": tmp_path / "data",
        "warehouse_url": WAREHOUSE,
        "airflow_password": "local-airflow-pass-1",
    }
    values.update(overrides)
    return load_settings(**{k: v for k, v in values.items() if v is not None})


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No STOCKS_ELT_*, AWS_*, ALPHA_* or AIRFLOW* variable from outside the test."""
    for name in list(os.environ):
        if name.startswith(("STOCKS_ELT_", "AWS_", "ALPHA_", "AIRFLOW")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    return monkeypatch


def test_every_setting_reaches_the_tasks_unchanged(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    resolved = resolve_settings(_settings(tmp_path))
    for name, value in settings_environment(resolved).items():
        clean_environment.setenv(name, value)

    in_a_task = load_settings()

    assert in_a_task.model_dump(exclude={"airflow_password"}) == resolved.model_dump(
        exclude={"airflow_password"}
    )
    assert in_a_task.resolved_lake_url == (tmp_path / "data" / "lake").as_uri()
    assert in_a_task.airflow_password is None  # the admin login stays home


@pytest.mark.parametrize(
    ("given", "chosen_in_a_task"),
    [
        ({"tickers": None, "universe": "listing:limit=5"}, ("listing:limit=5", False)),
        (
            {"tickers": "IBM,MSFT", "universe": "listing:limit=5"},
            ("listing:limit=5", True),
        ),
    ],
)
def test_the_tasks_see_tickers_only_when_the_user_set_them(
    tmp_path: Path,
    clean_environment: pytest.MonkeyPatch,
    given: dict[str, str | None],
    chosen_in_a_task: tuple[str, bool],
) -> None:
    resolved = resolve_settings(_settings(tmp_path, **given))
    for name, value in settings_environment(resolved).items():
        clean_environment.setenv(name, value)

    in_a_task = load_settings()

    assert (in_a_task.universe, in_a_task.has_explicit_tickers) == chosen_in_a_task


def test_the_connections_give_the_tasks_the_same_lake_warehouse_and_api(
    tmp_path: Path,
) -> None:
    from airflow.sdk import Connection

    settings = resolve_settings(
        _settings(
            tmp_path,
            lake_url="s3://stocks-lake/raw",
            s3_endpoint_url="http://127.0.0.1:9000",
            aws_access_key_id="minio-id",
            aws_secret_access_key="minio-secret-1",
        )
    )
    env = connection_environment(settings)
    conns = {
        name.removeprefix("AIRFLOW_CONN_").lower(): ConnectionFields.of(
            Connection.from_json(value, conn_id=name)
        )
        for name, value in env.items()
    }

    overrides = settings_overrides(
        lake=conns["stocks_lake"],
        warehouse=conns["stocks_warehouse"],
        alpha_vantage=conns["alpha_vantage"],
    )
    seen = load_settings(**overrides)

    assert set(conns) == {"stocks_lake", "stocks_warehouse", "alpha_vantage"}
    assert seen.resolved_lake_url == "s3://stocks-lake/raw"
    assert seen.s3_endpoint_url == "http://127.0.0.1:9000"
    assert seen.aws_access_key_id is not None
    assert seen.aws_access_key_id.get_secret_value() == "minio-id"
    assert seen.aws_secret_access_key is not None
    assert seen.aws_secret_access_key.get_secret_value() == "minio-secret-1"
    assert seen.warehouse_url is not None
    assert seen.warehouse_url.get_secret_value() == WAREHOUSE
    assert seen.alpha_vantage_base_url == "http://127.0.0.1:8765"
    assert seen.alpha_vantage_api_key.get_secret_value() == "KEY-1234567890"


def test_a_folder_lake_needs_no_lake_connection(tmp_path: Path) -> None:
    env = connection_environment(resolve_settings(_settings(tmp_path)))

    assert set(env) == {"AIRFLOW_CONN_STOCKS_WAREHOUSE", "AIRFLOW_CONN_ALPHA_VANTAGE"}


def test_a_generated_password_is_shown_once_then_reused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, airflow_password=None)
    first, second = LocalAirflow(settings), LocalAirflow(settings)
    first.home.mkdir(parents=True)

    assert first._write_password_file() is True
    assert second._write_password_file() is False

    path = first.home / "passwords.json"
    assert second.password == first.password
    assert len(first.password) >= 20
    assert json.loads(path.read_text(encoding="utf-8")) == {"admin": first.password}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_password_replaces_the_stored_one(tmp_path: Path) -> None:
    generated = LocalAirflow(_settings(tmp_path, airflow_password=None))
    generated.home.mkdir(parents=True)
    generated._write_password_file()

    chosen = LocalAirflow(_settings(tmp_path, airflow_password="chosen-pass-42"))

    assert chosen._write_password_file() is False
    assert chosen.password == "chosen-pass-42"
    stored = json.loads((chosen.home / "passwords.json").read_text(encoding="utf-8"))
    assert stored == {"admin": "chosen-pass-42"}


def test_the_processes_get_the_project_dags_and_a_home_under_the_data_dir(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    clean_environment.setenv("AIRFLOW__CORE__PARALLELISM", "3")
    clean_environment.setenv("AIRFLOW_HOME", "/elsewhere")
    airflow = LocalAirflow(_settings(tmp_path), port=8091, dags_folder=DAGS_FOLDER)

    env = airflow.environment()

    assert env["AIRFLOW_HOME"] == str(tmp_path / "data" / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_FOLDER)
    assert env["AIRFLOW__CORE__PARALLELISM"] == "3"  # the user's own setting wins
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__API__PORT"] == "8091"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://127.0.0.1:8091/execution/"
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"sqlite:///{tmp_path / 'data' / 'airflow' / 'airflow.db'}"
    )
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert "STOCKS_ELT_AIRFLOW_PASSWORD" not in env
