"""
``check_freshness``: at the freshness deadline on every weekday, check that the
chain finished for the last session: every configured ticker's newest bar in
``marts.fct_daily_bars`` is the last session that closed. When it is not, the
task fails and its failure notice lists what the marts lack and how the three
DAGs' latest runs ended.

Why a scheduled check rather than Airflow 3's deadline alerts: a ``DeadlineAlert``
belongs to one DAG run. Only ``ingest_stocks`` could carry one (its logical date
is its 18:30 trigger); the runs of ``load_stocks_from_minio`` and
``dbt_run_models`` are asset-triggered and have no logical date (Airflow 3.3
creates them with ``logical_date=None``), so a deadline on the chain's end cannot
be expressed; and a run that never starts (a paused DAG, a failed ingest that
emitted no Asset) has no deadline at all. The check looks at the outcome, the
marts, whatever went wrong on the way; outside Airflow ``stocks-elt status
--fail-if-stale 0`` asks the same question from cron.

The deadline is ``STOCKS_ELT_FRESHNESS_DEADLINE`` (New York time, default 21:00),
read from the environment when the DAG file is parsed: the schedule needs it then.
This is the one setting read at parse time; it is a cheap lookup of one variable
(no ``.env``, no I/O), and a malformed value is the DAG's import error.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, time
from typing import Any

from stocks_elt.market.calendar import NEW_YORK, parse_new_york_time

logger = logging.getLogger(__name__)

DEADLINE_VARIABLE = "STOCKS_ELT_FRESHNESS_DEADLINE"
DEFAULT_DEADLINE = time(21, 0)


def deadline_from_environment() -> time:
    """The freshness deadline, from ``STOCKS_ELT_FRESHNESS_DEADLINE``.

    Raises:
        ConfigError: the value is not a time of day (the message names it).
    """
    text = os.environ.get(DEADLINE_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_DEADLINE
    try:
        return parse_new_york_time(text)
    except ValueError as exc:
        from stocks_elt.errors import ConfigError

        raise ConfigError(
            f"bad configuration: {DEADLINE_VARIABLE}={text!r}: {exc}; "
            f"for example {DEADLINE_VARIABLE}=21:00"
        ) from None


def deadline_cron(deadline: time) -> str:
    """The cron expression of the check: the deadline, Monday to Friday."""
    return f"{deadline.minute} {deadline.hour} * * 1-5"


def deadline_timetable() -> Any:
    """The check's schedule: the deadline on weekdays, New York time."""
    from airflow.sdk import CronTriggerTimetable

    return CronTriggerTimetable(
        deadline_cron(deadline_from_environment()),
        timezone=NEW_YORK.key,
        run_immediately=False,
    )


def check_freshness(run_id: str | None, dag_run: Any) -> dict[str, Any]:
    """The task body: fail (without retries) when the marts are not current for
    the last session at the deadline; the failure notice says what is missing."""
    from airflow.sdk.exceptions import AirflowFailException

    from stocks_elt import pipeline
    from stocks_elt.notifications.events import freshness_notice
    from stocks_elt.orchestration.connections import task_settings

    settings = task_settings()
    at = check_instant(dag_run)
    symbols = pipeline.choose_universe(settings).symbols  # what ingest runs
    notice = freshness_notice(
        settings,
        at=at,
        run_id=run_id,
        source="airflow check_freshness",
        where=(),
        symbols=symbols,
    )
    if notice is not None:
        raise AirflowFailException(notice.title + ": " + "; ".join(notice.failed))
    logger.info("fresh symbols=%d at=%s", len(symbols), at.isoformat())
    return {"checked_at": at.isoformat(), "symbols": list(symbols)}


def check_instant(dag_run: Any) -> datetime:
    """The instant a check run is for: its logical date (the deadline), or when
    it was triggered."""
    moment = getattr(dag_run, "logical_date", None) or dag_run.run_after
    checked: datetime = moment.astimezone(NEW_YORK)
    return checked
