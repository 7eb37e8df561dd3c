"""
Shared pytest set-up: the tiers, and one fixture module per outside system
(``tests/fixtures/``).

Tiers follow the directories, never a marker written file by file:

    tests/unit         no marker       needs nothing: no server, no subprocess
    tests/integration  ``integration`` Postgres, an S3 protocol server, the emulator,
                                       dbt and Airflow's parser
    tests/e2e          ``e2e``         a real Airflow, driven through its REST API
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# dbt and Airflow read these at import time; tests must never phone home, and an
# Airflow imported by any test (the glue's Assets import airflow.sdk) must use a
# home of the session's own, never ~/airflow.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="stocks-elt-tests-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(_AIRFLOW_HOME / "cosmos"),
    }
)

pytest_plugins = [
    "tests.fixtures.warehouse",
    "tests.fixtures.s3",
    "tests.fixtures.emulator",
    "tests.fixtures.lake",
    "tests.fixtures.receivers",
]

_TESTS = Path(__file__).resolve().parent
#: Directory -> the marker every test under it carries.
TIERS = {
    _TESTS / "integration": pytest.mark.integration,
    _TESTS / "e2e": pytest.mark.e2e,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its directory's tier."""
    for item in items:
        path = Path(str(item.path)).resolve()
        for folder, marker in TIERS.items():
            if folder in path.parents:
                item.add_marker(marker)


def pytest_unconfigure() -> None:
    """Silence pgserver's exit-time log line.

    An embedded Postgres started by a test is stopped by pgserver's atexit hook,
    which logs after pytest has closed its captured streams; the record would only
    print a "Logging error" traceback after the test summary.
    """
    import logging

    logging.getLogger("pgserver").disabled = True
