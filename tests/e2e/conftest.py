"""
End-to-end fixtures: a real Airflow 3 (four processes, LocalExecutor) with the
project's DAGs, its metadata in a Postgres database of its own, wired to the
emulator, a moto S3 server and a migrated warehouse database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from stocks_elt.config import Settings
from stocks_elt.orchestration.local import LocalAirflow
from stocks_elt.warehouse.connection import connection_parameters
from tests.fixtures.databases import throwaway_database
from tests.fixtures.lineage import file_transport
from tests.fixtures.s3 import free_port

#: The login the tests use; not "postgres" or "admin", which the secrets masker
#: would then hide everywhere in task logs.
AIRFLOW_PASSWORD = "e2e-airflow-pass-7351"


@pytest.fixture
def airflow_metadata_url(postgres_admin_url: str) -> Iterator[str]:
    """A SQLAlchemy URL of a new Postgres database for Airflow; dropped afterwards."""
    with throwaway_database(
        postgres_admin_url, "airflow_e2e", migrated=False
    ) as created:
        name = urlsplit(created).path.lstrip("/")
        params = connection_parameters(postgres_admin_url)
        password = f":{params['password']}" if params["password"] else ""
        host = str(params["host"])
        if host.startswith("/"):  # the embedded Postgres: a socket directory
            yield (
                f"postgresql+psycopg2://{params['user']}{password}@/{name}"
                f"?host={host}&port={params['port']}"
            )
        else:
            yield (
                f"postgresql+psycopg2://{params['user']}{password}@{host}:"
                f"{params['port']}/{name}"
            )


def lineage_events(settings: Settings) -> Path:
    """Where the OpenLineage file transport of ``local_airflow`` writes."""
    return settings.data_dir / "openlineage.jsonl"


def local_filesystem_secrets(
    folder: Path, variables: Mapping[str, str], api_base_url: str
) -> dict[str, str]:
    """Environment for an Airflow whose secrets backend is a local file.

    ``variables`` go into a JSON file read by Airflow's ``LocalFilesystemBackend``
    (``[secrets] backend``): a task's ``Variable.get`` finds them there, and the
    metadata database never holds them. The ``alpha_vantage`` connection is given
    without a password, so the key comes from the ``alpha_vantage_api_key``
    variable of the backend.
    """
    folder.mkdir(parents=True, exist_ok=True)
    variables_file = folder / "variables.json"
    variables_file.write_text(json.dumps(dict(variables)), encoding="utf-8")
    return {
        "AIRFLOW__SECRETS__BACKEND": (
            "airflow.secrets.local_filesystem.LocalFilesystemBackend"
        ),
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
            {"variables_file_path": str(variables_file)}
        ),
        "AIRFLOW_CONN_ALPHA_VANTAGE": json.dumps(
            {"conn_type": "http", "host": api_base_url}
        ),
    }


def metadata_dump(sqlalchemy_url: str) -> dict[str, bytes]:
    """Every table of an Airflow metadata database, as COPY text, by table name."""
    url = sqlalchemy_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    dump: dict[str, bytes] = {}
    with psycopg.connect(url) as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'public' and table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            query = sql.SQL("copy (select * from public.{}) to stdout").format(
                sql.Identifier(table)
            )
            with conn.cursor().copy(query) as copy:
                dump[table] = b"".join(bytes(block) for block in copy)
    return dump


def local_airflow(
    settings: Settings,
    metadata_url: str,
    extra_env: Mapping[str, str] | None = None,
    **options: Any,
) -> LocalAirflow:
    """A LocalAirflow on free ports with ``metadata_url``; ``with`` starts it.

    ``extra_env`` is added to Airflow's environment; ``options`` go to
    ``LocalAirflow`` (``executor="celery"``, ``workers=2``...).
    """
    return LocalAirflow(
        settings,
        port=free_port(),
        log_server_ports=(free_port(), free_port()),
        parallelism=8,
        pool_slots=4,
        stop_timeout=10.0,
        extra_env={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            # Nothing edits the DAG files during a test: parse them once.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            # OpenLineage events go to a file the tests read (lineage_events).
            **file_transport(lineage_events(settings)),
            **(extra_env or {}),
        },
        **options,
    )
