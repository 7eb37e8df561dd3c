"""
The events, detected from what the warehouse recorded, so the CLI and Airflow
send the same messages from the same facts:

    quality_notice      the failed checks a gate recorded under a run
    fetch_notice        the symbols a run could not fetch (audit.extract_outcomes)
    deferred_notice     symbols deferred for more than ``notify_deferred_days``
    freshness_notice    the marts not current for the last session at the deadline
    run_notices         every notice of one ``stocks-elt run`` (``--notify``)

Reading the warehouse is best effort: when it cannot be read (the failure being
notified may be the warehouse), a notice falls back to the error's own text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from stocks_elt.config import Settings
from stocks_elt.errors import QualityGateFailed
from stocks_elt.market import calendar
from stocks_elt.market.calendar import NEW_YORK
from stocks_elt.notifications.messages import (
    Deferred,
    FailedCheck,
    Notice,
    Stale,
    deferred_piling_up,
    freshness_missed,
    quality_gate_failed,
    symbols_not_fetched,
    task_failed,
)
from stocks_elt.results import SUCCESS_OUTCOMES, RunSummary

logger = logging.getLogger(__name__)

#: The commands people run to look at a run, in every notice's "where to look".
HISTORY_COMMAND = "stocks-elt history --run {run}"
STATUS_COMMAND = "stocks-elt status"
#: The DAGs whose latest runs a missed deadline lists.
CHAIN = ("ingest_stocks", "load_stocks_from_minio", "dbt_run_models")


def audit_run_id(run_id: str | None) -> str | None:
    """The UUID ``audit.*`` knows a run by (see ``as_run_uuid``)."""
    from stocks_elt.warehouse.audit.runs import as_run_uuid

    return None if run_id is None else str(as_run_uuid(run_id))


def where_to_look(run_id: str | None, *first: str) -> tuple[str, ...]:
    """``first`` (a log URL), then the commands that show the run."""
    audit = audit_run_id(run_id)
    commands = [HISTORY_COMMAND.format(run=audit)] if audit else []
    return (*first, *commands, STATUS_COMMAND)


def quality_notice(
    settings: Settings,
    run_id: str | None,
    *,
    source: str,
    where: Sequence[str],
    error: BaseException | str | None = None,
) -> Notice:
    """The quality gate's failure, check by check and symbol by symbol, as the
    gate recorded it in ``audit.dq_results`` under ``run_id``."""
    checks: list[FailedCheck] = []
    if run_id is not None:
        try:
            checks = _failed_checks(settings, run_id)
        except Exception as exc:  # fall back to the error text
            logger.warning("quality results not read run_id=%s reason=%s", run_id, exc)
    return quality_gate_failed(
        checks,
        source=source,
        run_id=run_id,
        audit_run_id=audit_run_id(run_id),
        where=where,
        summary=None if error is None else str(error),
    )


def _failed_checks(settings: Settings, run_id: str) -> list[FailedCheck]:
    from stocks_elt.warehouse.audit.quality import run_results
    from stocks_elt.warehouse.audit.runs import as_run_uuid
    from stocks_elt.warehouse.connection import connect
    from stocks_elt.warehouse.migrate import migrated_url

    with connect(migrated_url(settings)) as conn:
        results = run_results(conn, as_run_uuid(run_id))
    return [
        FailedCheck(r.check_name, r.symbol, r.observed_value, r.threshold, r.details)
        for r in results
        if r.status == "fail"
    ]


def fetch_notice(
    settings: Settings,
    run_id: str,
    *,
    source: str,
    where: Sequence[str],
    failed: dict[str, str] | None = None,
) -> Notice | None:
    """The symbols ``run_id`` could not fetch, with why; None when there are none.

    Args:
        failed: ``{symbol: reason}`` when the caller knows them; else they are
            read from ``audit.extract_outcomes``.
    """
    if failed is None:
        from stocks_elt.warehouse.audit.extract import failed_outcomes
        from stocks_elt.warehouse.connection import connect
        from stocks_elt.warehouse.migrate import migrated_url

        with connect(migrated_url(settings)) as conn:
            failed = failed_outcomes(conn, run_id)
    if not failed:
        return None
    return symbols_not_fetched(
        dict(sorted(failed.items())),
        source=source,
        run_id=run_id,
        audit_run_id=audit_run_id(run_id),
        where=where,
    )


def deferred_notice(
    settings: Settings,
    *,
    now: datetime,
    run_id: str | None,
    source: str,
    where: Sequence[str],
) -> Notice | None:
    """Symbols deferred without a break for more than ``notify_deferred_days``
    days at ``now``; None when none has waited that long."""
    from stocks_elt.warehouse.audit.extract import deferred_streaks
    from stocks_elt.warehouse.connection import connect
    from stocks_elt.warehouse.migrate import migrated_url

    days = settings.notify_deferred_days
    with connect(migrated_url(settings)) as conn:
        streaks = deferred_streaks(conn)
    waiting = [
        Deferred(s.symbol, s.since.astimezone(NEW_YORK), s.times, s.reason)
        for s in streaks
        if now - s.since > timedelta(days=days)
    ]
    if not waiting:
        return None
    return deferred_piling_up(
        waiting,
        days=days,
        today=now.astimezone(NEW_YORK).date(),
        source=source,
        run_id=run_id,
        audit_run_id=audit_run_id(run_id),
        where=where,
    )


def freshness_notice(
    settings: Settings,
    *,
    at: datetime,
    run_id: str | None,
    source: str,
    where: Sequence[str],
    symbols: Sequence[str] | None = None,
) -> Notice | None:
    """Whether the chain finished for the last session by the deadline: every
    symbol's newest bar in ``marts.fct_daily_bars`` must be the last session that
    closed before ``at`` (a delisted symbol's: its final session). None when it
    is.

    Args:
        at: the instant of the check (the deadline).
        symbols: the universe to check; None means ``settings.tickers``.
    """
    from stocks_elt.warehouse.audit.runs import recent_runs
    from stocks_elt.warehouse.connection import connect
    from stocks_elt.warehouse.migrate import migrated_url
    from stocks_elt.warehouse.sessions import (
        expected_session,
        final_sessions,
        last_sessions,
    )

    session = calendar.last_completed_session(at)
    universe = list(symbols if symbols is not None else settings.tickers)
    with connect(migrated_url(settings)) as conn:
        built = last_sessions(conn, "marts", "fct_daily_bars", universe)
        finals = final_sessions(conn, universe)
        runs = recent_runs(conn, limit=len(CHAIN) * 2, commands=list(CHAIN))
    stale = [
        Stale(symbol, built.get(symbol))
        for symbol in universe
        if (built.get(symbol) or date.min)
        < expected_session(session, finals.get(symbol))
    ]
    if not stale:
        return None
    latest: dict[str, str] = {}
    for run in runs:
        latest.setdefault(
            run.command,
            f"{run.command} {run.outcome or 'running'} "
            f"{run.started_at.astimezone(NEW_YORK):%Y-%m-%d %H:%M}"
            + (f": {run.message}" if run.message else ""),
        )
    return freshness_missed(
        stale,
        session=session,
        deadline=settings.freshness_deadline,
        checked_at=at.astimezone(NEW_YORK),
        source=source,
        run_id=run_id,
        where=where,
        latest_runs=[latest.get(dag, f"{dag}: no run recorded") for dag in CHAIN],
    )


def run_notices(
    settings: Settings,
    run_id: str,
    *,
    summary: RunSummary | None = None,
    error: BaseException | None = None,
    now: datetime | None = None,
) -> list[Notice]:
    """Every notice one ``stocks-elt run`` calls for (``--notify``): its failure
    (the quality gate's, or any other stage's), the symbols it could not fetch,
    and symbols deferred for too long.

    Args:
        run_id: the run's id (a UUID: ``audit.*`` knows it as is).
        summary: what the run returned, when it returned.
        error: what it raised, when it raised.
        now: the instant deferrals are judged at; None means now.
    """
    source = "stocks-elt run"
    where = where_to_look(run_id)
    notices: list[Notice] = []
    if isinstance(error, QualityGateFailed):
        notices.append(
            quality_notice(settings, run_id, source=source, where=where, error=error)
        )
    elif error is not None:
        notices.append(
            task_failed(
                source=source,
                what="stocks-elt run",
                error=f"{type(error).__name__}: {error}",
                run_id=run_id,
                audit_run_id=audit_run_id(run_id),
                where=where,
            )
        )
    if summary is not None:
        outcomes = summary.stages.get("extract", {}).get("outcomes", [])
        failed = {
            item[
                "symbol"
            ]: f"{item['outcome']}: {item.get('reason') or 'no reason given'}"
            for item in outcomes
            if item["outcome"] not in SUCCESS_OUTCOMES
        }
        fetch = (
            fetch_notice(settings, run_id, source=source, where=where, failed=failed)
            if failed
            else None
        )
        if fetch is not None:
            notices.append(fetch)
    try:
        deferred = deferred_notice(
            settings,
            now=now or datetime.now(tz=NEW_YORK),
            run_id=run_id,
            source=source,
            where=where,
        )
    except Exception as exc:  # the warehouse may be what failed
        logger.warning("deferred symbols not checked reason=%s", exc)
        deferred = None
    if deferred is not None:
        notices.append(deferred)
    return notices
