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
