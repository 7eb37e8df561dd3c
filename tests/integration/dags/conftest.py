"""
DAG integrity fixtures: Airflow in-process with a throwaway home and SQLite.

Airflow reads its configuration when first imported, so the environment is set by
the session fixture ``airflow_home`` before any test here imports Airflow (none of
these modules imports it at module level). No Airflow server runs.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DAGS_FOLDER = REPO / "dags"
DBT_PROJECT = REPO / "src" / "stocks_elt" / "transform" / "dbt_project"
DAG_IDS = (
    "ingest_stocks",
    "load_stocks_from_minio",
    "dbt_run_models",
    "check_freshness",
)


@pytest.fixture(scope="session", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's AIRFLOW_HOME (tests/conftest.py made it before any import of
    Airflow), with this project's DAG folder."""
    home = Path(os.environ["AIRFLOW_HOME"])
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
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


@pytest.fixture(scope="session")
def parsed_dags(airflow_home: Path) -> ParsedDags:
    """``dags/`` parsed into a DagBag with every network call refused, then again."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()  # Cosmos keeps its dbt ls cache in Airflow Variables
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_network)
        patch.setattr(socket.socket, "connect_ex", _refuse_network)
        patch.setattr(socket, "getaddrinfo", _refuse_network)
        dagbag = DagBag(
            dag_folder=DAGS_FOLDER, known_pools={"default_pool", "alpha_vantage"}
        )
    new_modules = frozenset(set(sys.modules) - before)
    return ParsedDags(
        dagbag=dagbag,
        new_modules=new_modules,
    )


def imported_modules(path: Path, *, module_level_only: bool = False) -> set[str]:
    """Return the modules a Python file imports (at module level, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def dag_file_paths() -> list[Path]:
    """The DAG files."""
    return sorted(DAGS_FOLDER.glob("*.py"))
