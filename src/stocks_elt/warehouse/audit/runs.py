"""
The audit trail of pipeline runs: ``audit.pipeline_runs``.

A run is started once, gains one entry per stage (name, seconds, counts) and is
finished with an outcome. Every call is its own short transaction, so what a run
did stays recorded even when a later stage fails and rolls back its own work.

    with PipelineRunRecorder(settings, run_id, command="run") as recorder:
        ...
        recorder.add_stage("load", 2.5, loaded.as_dict())
        recorder.finish("success")

Run ids are UUIDs in the warehouse. Any other text (an Airflow run id such as
``scheduled__2026-11-27T23:30:00+00:00``) maps to a stable UUID (``as_run_uuid``),
so the same run id always names the same run.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, LiteralString

import psycopg

from stocks_elt.config import Settings
from stocks_elt.errors import StocksEltError
from stocks_elt.warehouse import locks
from stocks_elt.warehouse.connection import connect, warehouse_url

logger = logging.getLogger(__name__)

#: Namespace of the UUIDs derived from run ids that are not UUIDs themselves.
_RUN_NAMESPACE = uuid.UUID("8a0c2d7e-4f57-4c1b-9a8e-5f0b6f1d2c3a")

Connection = psycopg.Connection[tuple[Any, ...]]


def as_run_uuid(run_id: str | uuid.UUID | None) -> uuid.UUID:
    """Return the UUID a run id names; a new random one for None.

    Args:
        run_id: a UUID (or its text), any other text (mapped to a stable UUID5),
            or None.

    Returns:
        The run's UUID: the same text always gives the same UUID.
    """
    if run_id is None:
        return uuid.uuid4()
    if isinstance(run_id, uuid.UUID):
        return run_id
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return uuid.uuid5(_RUN_NAMESPACE, run_id)


def start_pipeline_run(
    conn: Connection, run_id: uuid.UUID, command: str, process: str | None = None
) -> None:
    """Record that a run started (a no-op when the run is already recorded).

    Args:
        conn: an open warehouse connection.
        run_id: the run's UUID.
        command: what started it (``run``, ``load``, an Airflow DAG id).
        process: ``host:pid`` of the process that holds the run's lock for its
            whole life (see ``PipelineRunRecorder``); None when no one process
            does (an Airflow run spans several).
    """
    with conn.transaction():
        conn.execute(
            """
            insert into audit.pipeline_runs (run_id, command, outcome, process)
            values (%s, %s, 'running', %s)
            on conflict (run_id) do nothing
            """,
            (run_id, command, process),
        )
    logger.info("pipeline run started run_id=%s command=%s", run_id, command)


def record_universe(
    conn: Connection, run_id: uuid.UUID, universe: str, command: str
) -> None:
    """Record the universe a run extracted (``tickers`` or a ``listing:`` spec).

    Starts the run's record when it has none yet (an Airflow run's first task).
    """
    start_pipeline_run(conn, run_id, command)
    with conn.transaction():
        conn.execute(
            "update audit.pipeline_runs set universe = %s where run_id = %s",
            (universe, run_id),
        )


def mark_abandoned_runs(conn: Connection, found_by: uuid.UUID) -> list[uuid.UUID]:
    """Mark ``abandoned`` every run left ``running`` whose process is gone.

    A run started by ``PipelineRunRecorder`` holds its lock for as long as its
    process lives; when the lock is free, the process was killed (or the machine
    lost) before the run could record its end.

    Args:
        conn: a warehouse connection in autocommit mode.
        found_by: the run that noticed (named in the message).

    Returns:
        The runs marked.
    """
    rows = conn.execute(
        "select run_id, process from audit.pipeline_runs"
        " where outcome = 'running' and process is not null and run_id <> %s",
        (found_by,),
    ).fetchall()
    marked: list[uuid.UUID] = []
    for run_id, process in rows:
        key = (locks.RUN_CLASS, run_lock_id(run_id))
        (is_free,) = _one(conn, "select pg_try_advisory_lock(%s, %s)", key)
        if not is_free:
            continue  # its process is alive: the run is still going
        try:
            conn.execute(
                """
                update audit.pipeline_runs
                set outcome = 'abandoned', finished_at = now(), message = %s
                where run_id = %s and outcome = 'running'
                """,
                (
                    f"abandoned: its process {process} ended before the run "
                    f"finished (noticed by run {found_by}); the next run picks up "
                    "its unfinished work",
                    run_id,
                ),
            )
        finally:
            conn.execute("select pg_advisory_unlock(%s, %s)", key)
        marked.append(run_id)
        logger.warning(
            "pipeline run abandoned run_id=%s process=%s found_by=%s",
            run_id,
            process,
            found_by,
        )
    return marked


def run_lock_id(run_id: uuid.UUID) -> int:
    """The run's lock id: its UUID's first 31 bits (a positive int4)."""
    return int(run_id.hex[:8], 16) & 0x7FFFFFFF


def _one(conn: Connection, query: LiteralString, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def add_pipeline_stage(
    conn: Connection,
    run_id: uuid.UUID,
    stage: str,
    duration_seconds: float,
    counts: Mapping[str, Any],
) -> None:
    """Append one stage's entry to the run's ``stages`` list.

    Args:
        conn: an open warehouse connection.
        run_id: the run's UUID (started before).
        stage: the stage's name (``extract``, ``load``, ``quality``...).
        duration_seconds: how long it took.
        counts: what it did (a stage result's ``as_dict()``); stored as JSON.
    """
    entry = {
        "stage": stage,
        "duration_s": round(duration_seconds, 3),
        "counts": dict(counts),
    }
    with conn.transaction():
        conn.execute(
            """
            update audit.pipeline_runs
            set stages = stages || jsonb_build_array(%s::jsonb)
            where run_id = %s
            """,
            (json.dumps(entry, default=str), run_id),
        )
    logger.info(
        "pipeline stage recorded run_id=%s stage=%s seconds=%.3f",
        run_id,
        stage,
        duration_seconds,
    )


def finish_pipeline_run(
    conn: Connection, run_id: uuid.UUID, outcome: str, message: str | None = None
) -> None:
    """Record how the run ended.

    Args:
        conn: an open warehouse connection.
        run_id: the run's UUID (started before).
        outcome: ``success`` or ``failed`` (or another word the caller defines).
        message: what went wrong, for a failed run.
    """
    with conn.transaction():
        conn.execute(
            """
            update audit.pipeline_runs
            set finished_at = now(), outcome = %s, message = %s
            where run_id = %s
            """,
            (outcome, message, run_id),
        )
    logger.info("pipeline run finished run_id=%s outcome=%s", run_id, outcome)


class PipelineRunRecorder:
    """Record one pipeline run in ``audit.pipeline_runs``, as a context manager.

    Entering (on a migrated warehouse) takes the run's lock on a connection kept
    open until the end (so the run counts as alive while this process is), marks
    ``abandoned`` the runs whose process died, and records the start;
    ``add_stage`` appends a stage; ``finish`` records the outcome. Leaving without
    ``finish`` records ``failed`` (with the exception's text) when an exception is
    on its way out, ``success`` otherwise.

    Args:
        settings_or_url: the settings (the warehouse they name) or a warehouse URL.
        run_id: the run's id (any text; see ``as_run_uuid``).
        command: what started the run.
    """

    def __init__(
        self, settings_or_url: Settings | str, run_id: str, *, command: str
    ) -> None:
        self._target = settings_or_url
        self.run_id = as_run_uuid(run_id)
        self.command = command
        self._url: str | None = None
        self._is_finished = False
        self._alive = ExitStack()

    def _connect(self) -> AbstractContextManager[Connection]:
        if self._url is None:
            self._url = (
                self._target
                if isinstance(self._target, str)
                else warehouse_url(self._target)
            )
        return connect(self._url, autocommit=True)

    def __enter__(self) -> PipelineRunRecorder:
        conn = self._alive.enter_context(self._connect())
        try:
            conn.execute(
                "select pg_advisory_lock(%s, %s)",
                (locks.RUN_CLASS, run_lock_id(self.run_id)),
            )
            mark_abandoned_runs(conn, self.run_id)
            start_pipeline_run(conn, self.run_id, self.command, locks.process_name())
        except BaseException:
            self._alive.close()
            raise
        return self

    def add_stage(
        self, stage: str, duration_seconds: float, counts: Mapping[str, Any]
    ) -> None:
        """Append a stage to the run (see ``add_pipeline_stage``)."""
        with self._connect() as conn:
            add_pipeline_stage(conn, self.run_id, stage, duration_seconds, counts)

    def record_universe(self, universe: str) -> None:
        """Record the universe the run extracts (see ``record_universe``)."""
        with self._connect() as conn:
            record_universe(conn, self.run_id, universe, self.command)

    def fail_stage(self, stage: str, duration_seconds: float, exc: Exception) -> None:
        """Record a failed stage and the run's failure, as far as the warehouse
        lets: when it is the warehouse that failed, the error on its way out says
        so, and the next run marks this one abandoned."""
        try:
            self.add_stage(stage, duration_seconds, {"error": str(exc)})
            self.finish("failed", f"{stage}: {exc}")
        except (StocksEltError, psycopg.Error) as unrecorded:
            logger.warning("run outcome not recorded reason=%s", unrecorded)

    def finish(self, outcome: str, message: str | None = None) -> None:
        """Record the run's outcome (see ``finish_pipeline_run``); once only."""
        if self._is_finished:
            return
        with self._connect() as conn:
            finish_pipeline_run(conn, self.run_id, outcome, message)
        self._is_finished = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._is_finished:
                return
            if exc is None:
                self.finish("success")
                return
            try:
                self.finish("failed", f"{type(exc).__name__}: {exc}")
            except (StocksEltError, psycopg.Error) as unrecorded:
                # The warehouse is down: the error on its way out says so; the
                # next run marks this one abandoned.
                logger.warning("run outcome not recorded reason=%s", unrecorded)
        finally:
            with suppress(psycopg.Error):
                self._alive.close()


def record_stage(
    settings_or_url: Settings | str,
    run_id: str,
    *,
    command: str,
    stage: str,
    seconds: float,
    counts: Mapping[str, Any],
    failure: str | None = None,
) -> None:
    """Record one stage of a run no single process holds (an Airflow DAG run).

    The run is started on its first stage; a ``failure`` also finishes it as
    ``failed``. Best effort: a warehouse that cannot take the record is logged,
    never raised, so recording never fails the stage it records.

    Args:
        settings_or_url: where the warehouse is.
        run_id: the run (any text; see ``as_run_uuid``).
        command: what runs it (the DAG id).
        stage: the stage's name.
        seconds: how long it took.
        counts: what it did.
        failure: the error that ended it, if it failed.
    """
    run_uuid = as_run_uuid(run_id)
    try:
        with _connect(settings_or_url) as conn:
            start_pipeline_run(conn, run_uuid, command)
            add_pipeline_stage(conn, run_uuid, stage, seconds, counts)
            if failure is not None:
                finish_pipeline_run(conn, run_uuid, "failed", failure)
    except (StocksEltError, psycopg.Error) as exc:
        logger.warning(
            "stage not recorded run_id=%s stage=%s reason=%s", run_uuid, stage, exc
        )


def finish_recorded_run(
    settings_or_url: Settings | str,
    run_id: str,
    *,
    command: str,
    outcome: str,
    message: str | None = None,
) -> None:
    """Record how a run recorded stage by stage ended (unless it already failed).

    Best effort, like ``record_stage``.
    """
    run_uuid = as_run_uuid(run_id)
    try:
        with _connect(settings_or_url) as conn:
            start_pipeline_run(conn, run_uuid, command)
            conn.execute(
                """
                update audit.pipeline_runs
                set finished_at = now(), outcome = %s, message = %s
                where run_id = %s and outcome = 'running'
                """,
                (outcome, message, run_uuid),
            )
    except (StocksEltError, psycopg.Error) as exc:
        logger.warning("run end not recorded run_id=%s reason=%s", run_uuid, exc)


@contextmanager
def _connect(settings_or_url: Settings | str) -> Iterator[Connection]:
    url = (
        settings_or_url
        if isinstance(settings_or_url, str)
        else warehouse_url(settings_or_url)
    )
    with connect(url, autocommit=True) as conn:
        yield conn


def record_universe_of(
    settings_or_url: Settings | str, run_id: str, universe: str, *, command: str
) -> None:
    """Record a run's universe from a task (best effort, like ``record_stage``)."""
    run_uuid = as_run_uuid(run_id)
    try:
        with _connect(settings_or_url) as conn:
            record_universe(conn, run_uuid, universe, command)
    except (StocksEltError, psycopg.Error) as exc:
        logger.warning("universe not recorded run_id=%s reason=%s", run_uuid, exc)


@dataclass(frozen=True)
class RecordedRun:
    """One row of ``audit.pipeline_runs``, as people read it."""

    run_id: uuid.UUID
    command: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    message: str | None
    stages: tuple[dict[str, Any], ...]
    universe: str | None = None

    @property
    def seconds(self) -> float | None:
        """Wall time from start to finish (None while running)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def recent_runs(
    conn: Connection,
    *,
    limit: int = 10,
    commands: list[str] | None = None,
    run_id: uuid.UUID | None = None,
) -> list[RecordedRun]:
    """Return the latest runs, newest first (read along the started_at index).

    Args:
        conn: a warehouse connection.
        limit: how many.
        commands: only runs started by these (``run``, a DAG id); None: all.
        run_id: only this run.
    """
    rows = conn.execute(
        """
        select run_id, command, started_at, finished_at, outcome, message, stages,
            universe
        from audit.pipeline_runs
        where (%(commands)s::text[] is null or command = any(%(commands)s::text[]))
            and (%(run_id)s::uuid is null or run_id = %(run_id)s::uuid)
        order by started_at desc, run_id
        limit %(limit)s
        """,
        {"commands": commands, "run_id": run_id, "limit": limit},
    ).fetchall()
    return [
        RecordedRun(
            run_id=row[0],
            command=str(row[1]),
            started_at=row[2],
            finished_at=row[3],
            outcome=row[4],
            message=row[5],
            stages=tuple(row[6] or ()),
            universe=row[7],
        )
        for row in rows
    ]
