"""
DAG integrity fixtures: Airflow in-process with a throwaway home and SQLite.

Airflow reads its configuration when first imported, so the environment is set by
the session fixture ``airflow_home`` before any test here imports Airflow (none of
these modules imports it at module level). No Airflow server runs.
"""

from __future__ import annotations

import ast
import json
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DAGS_FOLDER = REPO / "dags"
DBT_PROJECT = REPO / "src" / "stocks_elt" / "transform" / "dbt_project"
DAG_IDS = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")


@pytest.fixture(scope="session", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An AIRFLOW_HOME of the session's own, with SQLite, set before the import."""
    home = tmp_path_factory.mktemp("airflow_home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
            # Cosmos' first dbt ls takes seconds; a busy CI box must not time out.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            # As `stocks-elt airflow` sets it: dbt ls then parses with the real
            # profile (it opens no connection all the same).
            "AIRFLOW_CONN_STOCKS_WAREHOUSE": json.dumps(
                {
                    "conn_type": "postgres",
                    "host": "127.0.0.1",
                    "port": 5432,
                    "login": "postgres",
                    "password": "not-a-real-password",
                    "schema": "stocks_integrity",
                }
            ),
        }.items():
            patch.setenv(name, value)
        patch.syspath_prepend(str(DAGS_FOLDER))
        yield home


class NetworkAtParseTimeError(AssertionError):
    """A DAG file opened a network connection while being parsed."""


def _refuse_network(*args: Any, **kwargs: Any) -> Any:
    raise NetworkAtParseTimeError(f"network call at parse time: {args!r:.200}")


@dataclass(frozen=True)
class ParsedDags:
    """What parsing ``dags/`` did: the DagBag and what it imported meanwhile."""

    dagbag: Any
    new_modules: frozenset[str]
    reparse_seconds: float


@pytest.fixture(scope="session")
def parsed_dags(airflow_home: Path) -> ParsedDags:
    """``dags/`` parsed into a DagBag with every network call refused, then again."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()  # Cosmos keeps its dbt ls cache in Airflow Variables
    before = set(sys.modules)
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_network)
        patch.setattr(socket.socket, "connect_ex", _refuse_network)
        patch.setattr(socket, "getaddrinfo", _refuse_network)
        dagbag = DagBag(
            dag_folder=DAGS_FOLDER, known_pools={"default_pool", "alpha_vantage"}
        )
    new_modules = frozenset(set(sys.modules) - before)
    # Parse again, as the DAG processor does every 30 s: Cosmos' dbt ls is cached.
    started = time.perf_counter()
    DagBag(dag_folder=DAGS_FOLDER, known_pools={"default_pool", "alpha_vantage"})
    return ParsedDags(
        dagbag=dagbag,
        new_modules=new_modules,
        reparse_seconds=time.perf_counter() - started,
    )


def module_level_imports(path: Path) -> set[str]:
    """Return the modules a Python file imports at module level (not in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.fixture(scope="session")
def common(airflow_home: Path) -> Any:
    """``dags/common.py``, imported the way the DAG files import it."""
    import common as module

    assert Path(module.__file__).resolve() == DAGS_FOLDER / "common.py"
    return module


def dag_file_paths() -> list[Path]:
    """The DAG files (``.airflowignore`` keeps ``common.py`` out)."""
    return sorted(p for p in DAGS_FOLDER.glob("*.py") if p.name != "common.py")
