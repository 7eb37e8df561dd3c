"""
``--notify``: send what went wrong in a command's run, as the Airflow DAGs do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from stocks_elt.config import Settings
from stocks_elt.errors import StocksEltError
from stocks_elt.results import RunSummary


@dataclass
class RunOutcome:
    """What the run returned (set by the caller inside the ``with``)."""

    summary: RunSummary | None = None


@contextmanager
def notify_outcome(
    settings: Settings, run_id: str, enabled: bool
) -> Iterator[RunOutcome]:
    """Around a run: on the way out, send its notices when ``enabled`` (the
    failure it raised, the symbols it could not fetch, symbols deferred too
    long). A notice that cannot be sent is logged and counted, never raised."""
    outcome = RunOutcome()
    if not enabled:
        yield outcome
        return
    from stocks_elt.notifications import notify_run

    try:
        yield outcome
    except StocksEltError as exc:
        notify_run(settings, run_id, error=exc)
        raise
    notify_run(settings, run_id, summary=outcome.summary)
