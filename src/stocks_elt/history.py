"""
Run history for people (``stocks-elt history``): the last runs with their stages,
durations, row counts, data-quality warnings and failures, and notifications.

Read from ``audit.pipeline_runs`` (one row per ``stocks-elt run`` and per Airflow
DAG run: ``ingest_stocks``, ``load_stocks_from_minio``), ``audit.dq_results`` and
``audit.notifications``. Only reads; a data directory without a warehouse has no
history (and none is started to say so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stocks_elt.config import Settings
from stocks_elt.warehouse.audit.notifications import counts_by_run
from stocks_elt.warehouse.audit.quality import RecordedCheck, findings_of_runs
from stocks_elt.warehouse.audit.runs import RecordedRun, as_run_uuid, recent_runs
from stocks_elt.warehouse.connection import connect, has_warehouse
from stocks_elt.warehouse.migrate import migrated_url

#: Most runs one history lists.
MAX_RUNS = 500


@dataclass(frozen=True)
class StageLine:
    """One stage of a run: its name, seconds and what it did, in a few words."""

    stage: str
    seconds: float | None
    summary: str
    counts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "stage": self.stage,
            "seconds": self.seconds,
            "summary": self.summary,
            "counts": self.counts,
        }


@dataclass(frozen=True)
class RunHistory:
    """One run as ``stocks-elt history`` shows it."""

    run: RecordedRun
    stages: tuple[StageLine, ...]
    findings: tuple[RecordedCheck, ...]
    notifications: dict[str, int]

    @property
    def warnings(self) -> int:
        """Data-quality warnings the run recorded."""
        return sum(1 for f in self.findings if f.status == "warn")

    @property
    def failures(self) -> int:
        """Blocking data-quality failures the run recorded."""
        return sum(1 for f in self.findings if f.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        run = self.run
        finished = run.finished_at
        return {
            "run_id": str(run.run_id),
            "command": run.command,
            "started_at": run.started_at.isoformat(),
            "finished_at": None if finished is None else finished.isoformat(),
            "seconds": None if run.seconds is None else round(run.seconds, 3),
            "outcome": run.outcome,
            "message": run.message,
            "universe": run.universe,
            "stages": [stage.to_dict() for stage in self.stages],
            "quality_warnings": self.warnings,
            "quality_failures": self.failures,
            "findings": [finding.to_dict() for finding in self.findings],
            "notifications": self.notifications,
        }


def collect_history(
    settings: Settings,
    *,
    limit: int = 10,
    run_id: str | None = None,
    command: str | None = None,
) -> list[RunHistory]:
    """Return the latest runs, newest first.

    Args:
        settings: where the warehouse is.
        limit: how many runs (at most :data:`MAX_RUNS`).
        run_id: only this run: its UUID, or the run id its runner gave it (an
            Airflow run id maps to the same UUID ``audit.*`` uses).
        command: only runs of this command or DAG id.

    Raises:
        WarehouseError: the warehouse cannot be reached.
    """
    if not has_warehouse(settings):
        return []
    wanted = None if run_id is None else as_run_uuid(run_id.strip())
    with connect(migrated_url(settings)) as conn:
        runs = recent_runs(
            conn,
            limit=min(max(limit, 1), MAX_RUNS),
            commands=None if command is None else [command],
            run_id=wanted,
        )
        ids = [run.run_id for run in runs]
        findings = findings_of_runs(conn, ids)
        notified = counts_by_run(conn, ids)
    return [
        RunHistory(
            run=run,
            stages=tuple(_stage_line(entry) for entry in run.stages),
            findings=findings.get(run.run_id, ()),
            notifications=notified.get(run.run_id, {"sent": 0, "failed": 0}),
        )
        for run in runs
    ]


def _stage_line(entry: dict[str, Any]) -> StageLine:
    stage = str(entry.get("stage", "?"))
    counts = dict(entry.get("counts") or {})
    seconds = entry.get("duration_s")
    return StageLine(
        stage=stage,
        seconds=None if seconds is None else float(seconds),
        summary=stage_summary(stage, counts),
        counts=counts,
    )


def stage_summary(stage: str, counts: dict[str, Any]) -> str:
    """What a stage did, in a few words, from the counts it recorded."""
    if "error" in counts:
        return f"failed: {counts['error']}"
    if stage == "extract":
        outcomes = counts.get("outcomes") or {}
        if isinstance(outcomes, list):  # a full result (stocks-elt run)
            tally: dict[str, int] = {}
            for item in outcomes:
                tally[item["outcome"]] = tally.get(item["outcome"], 0) + 1
            outcomes = tally
        objects = counts.get("objects", len(counts.get("object_keys") or []))
        words = ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items()))
        return f"{objects} new lake objects; {words or 'no symbol'}"
    if stage == "load":
        return (
            f"{counts.get('objects_loaded', 0)} objects, "
            f"{counts.get('rows_inserted', 0)} rows inserted, "
            f"{counts.get('rows_updated', 0)} updated, "
            f"{counts.get('rows_quarantined', 0)} quarantined"
        )
    if stage == "quality":
        return (
            f"{counts.get('passed', 0)} passed, {counts.get('warned', 0)} warned, "
            f"{counts.get('failed', 0)} failed"
        )
    if stage == "transform":
        return (
            f"{counts.get('models_built', 0)} models built, "
            f"{counts.get('tests_passed', 0)} tests passed, "
            f"{counts.get('tests_failed', 0)} failed"
        )
    return ", ".join(f"{key}={value}" for key, value in sorted(counts.items()))
