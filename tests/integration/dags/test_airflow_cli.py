"""
Airflow's own CLI finds the three DAGs as a user's deployment would: a plain
AIRFLOW_HOME, only the DAG folder set, no PYTHONPATH (the DAG files import the
installed package, nothing beside them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.dags.conftest import DAG_IDS, DAGS_FOLDER


@pytest.fixture(scope="module")
def plain_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a fresh AIRFLOW_HOME with a migrated SQLite database."""
    home = tmp_path_factory.mktemp("plain_airflow_home")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "STOCKS_ELT_", "PYTHONPATH"))
    }
    # Only the interpreter's folder on PATH: nothing of the checkout.
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        }
    )
    _airflow(env, home, "db", "migrate")
    return env


def _airflow(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _json_of(output: str) -> object:
    """The JSON document in a command's output (Airflow may print warnings first)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("[", "{")))
    return json.loads("\n".join(lines[start:]))


def test_dags_list_finds_the_three_dags_from_a_plain_home(
    plain_home: dict[str, str],
) -> None:
    cwd = Path(plain_home["AIRFLOW_HOME"])
    listed = _json_of(
        _airflow(plain_home, cwd, "dags", "list", "--local", "-o", "json")
    )

    assert isinstance(listed, list)
    assert sorted(dag["dag_id"] for dag in listed) == sorted(DAG_IDS)


def test_dags_list_import_errors_finds_none_from_a_plain_home(
    plain_home: dict[str, str],
) -> None:
    cwd = Path(plain_home["AIRFLOW_HOME"])
    errors = _airflow(
        plain_home, cwd, "dags", "list-import-errors", "--local", "-o", "json"
    )

    assert _json_of(errors) == []
