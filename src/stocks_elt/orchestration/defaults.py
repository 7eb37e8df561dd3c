"""
``default_args`` of the three DAGs and their retry policy.

Errors that retrying cannot fix (bad input, bad configuration, bad data) fail the
task at once; anything else (an outage, a timeout) is retried with exponential
backoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.retry_policy import (
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
)

from stocks_elt.orchestration.notifiers import StocksEltNotifier

#: Errors retrying cannot fix, by their import path (so nothing is imported here).
NOT_RETRYABLE = [
    "stocks_elt.errors.ConfigError",
    "stocks_elt.errors.InvalidSymbol",
    "stocks_elt.errors.QualityGateFailed",
]

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=list(NOT_RETRYABLE),
            action=RetryAction.FAIL,
            reason="bad input, configuration or data: retrying cannot fix it",
        )
    ]
)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "stocks-elt",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "retry_policy": RETRY_POLICY,
    # One notice per task that failed for good (docs/operations.md); off until a
    # channel is configured.
    "on_failure_callback": [StocksEltNotifier()],
}
