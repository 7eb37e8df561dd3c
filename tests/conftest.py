"""Shared pytest set-up: one fixture module per outside system, in tests/fixtures/."""

from __future__ import annotations

import os

# dbt and Airflow read these at import time; tests must never phone home.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

pytest_plugins = [
    "tests.fixtures.warehouse",
    "tests.fixtures.s3",
    "tests.fixtures.emulator",
    "tests.fixtures.lake",
]


def pytest_unconfigure() -> None:
    """Silence pgserver's exit-time log line.

    An embedded Postgres started by a test is stopped by pgserver's atexit hook,
    which logs after pytest has closed its captured streams; the record would only
    print a "Logging error" traceback after the test summary.
    """
    import logging

    logging.getLogger("pgserver").disabled = True
