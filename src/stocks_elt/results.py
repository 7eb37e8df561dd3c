"""
What each stage returns: small frozen dataclasses that log well, print as JSON and
fit in an Airflow XCom (lake keys and counts, never data).

The stages build them, ``stocks_elt.pipeline`` hands them out, and the command line
and the DAGs read them; this module imports nothing of the pipeline, so reading a
result never loads a stage.

    ExtractResult   (SymbolOutcome per symbol)   extract
    LoadResult                                   load
    QualityResult   (CheckSummary per check)     quality gate
    TransformResult                              transform (dbt build)
    RunSummary                                   a whole run
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["fetched", "unchanged", "not_found", "deferred", "failed"]
OUTCOMES: tuple[Outcome, ...] = (
    "fetched",
    "unchanged",
    "not_found",
    "deferred",
    "failed",
)
#: Outcomes after which a run counts as a success.
SUCCESS_OUTCOMES = frozenset({"fetched", "unchanged", "deferred"})


@dataclass(frozen=True)
class SymbolOutcome:
    """What the extract did for one symbol.

    Attributes:
        symbol: the symbol.
        outcome: ``fetched``, ``unchanged``, ``not_found``, ``deferred`` or
            ``failed``.
        reason: why (for anything but a plain fetch), or the history-gap warning.
        object_keys: the new lake objects written for it, in fetch order.
        has_history_gap: the stored history and this fetch do not join up (the key
            could not fetch the full history).
    """

    symbol: str
    outcome: Outcome
    reason: str | None = None
    object_keys: tuple[str, ...] = ()
    has_history_gap: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "symbol": self.symbol,
            "outcome": self.outcome,
            "reason": self.reason,
            "object_keys": list(self.object_keys),
            "has_history_gap": self.has_history_gap,
        }


@dataclass(frozen=True)
class ExtractResult:
    """What one extract run did.

    Attributes:
        run_id: the run's id (as given, or a new UUID).
        object_keys: every new lake object, in fetch order.
        outcomes: one per symbol, in the order the symbols were processed.
        calls_made: HTTP calls sent to the API (retries included).
    """

    run_id: str
    object_keys: tuple[str, ...]
    outcomes: tuple[SymbolOutcome, ...]
    calls_made: int

    @property
    def is_success(self) -> bool:
        """Whether every symbol was fetched, unchanged or deferred."""
        return all(item.outcome in SUCCESS_OUTCOMES for item in self.outcomes)

    def count(self, outcome: Outcome) -> int:
        """Return how many symbols ended with ``outcome``."""
        return sum(1 for item in self.outcomes if item.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        """Everything, in plain JSON types (``stocks-elt run --json``)."""
        return {
            "run_id": self.run_id,
            "object_keys": list(self.object_keys),
            "outcomes": [item.as_dict() for item in self.outcomes],
            "calls_made": self.calls_made,
        }

    def summary(self) -> dict[str, Any]:
        """A summary whose size does not grow with the objects (for an XCom or a
        run record): counts per outcome, and the symbols that need a person or a
        later run, with why.
        """
        counts: dict[str, int] = {}
        for item in self.outcomes:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return {
            "run_id": self.run_id,
            "objects": len(self.object_keys),
            "calls_made": self.calls_made,
            "outcomes": dict(sorted(counts.items())),
            "deferred": sorted(
                o.symbol for o in self.outcomes if o.outcome == "deferred"
            ),
            "failed": {
                o.symbol: f"{o.outcome}: {o.reason}"
                for o in sorted(self.outcomes, key=lambda o: o.symbol)
                if o.outcome not in SUCCESS_OUTCOMES
            },
        }


@dataclass(frozen=True)
class LoadResult:
    """What one load did; small enough for an XCom.

    Attributes:
        run_id: the run the ledger and quarantine rows carry (a UUID).
        objects_loaded: objects merged in this call.
        objects_skipped: objects the ledger already had.
        objects_refused: objects that were not data (recorded, never loaded).
        rows_parsed: rows the loaded objects held (valid or not).
        rows_inserted: rows with a key the tables did not have.
        rows_updated: rows whose values changed (old values in raw.revisions).
        rows_unchanged: rows equal to the stored ones, left alone.
        rows_quarantined: rows that failed validation (in raw.quarantine).
        duration_seconds: wall time of the call.
        symbols: the symbols of the objects loaded, sorted.
        objects_missing: announced objects not (or never) in the lake.
    """

    run_id: str
    objects_loaded: int
    objects_skipped: int
    objects_refused: int
    rows_parsed: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    duration_seconds: float
    symbols: tuple[str, ...] = ()
    objects_missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        data = asdict(self)
        data["symbols"] = list(self.symbols)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        return data


#: A check's status: it found nothing, a warning found something, a blocking
#: check found something.
PASS = "pass"  # noqa: S105 - a check status, not a password
WARN = "warn"
FAIL = "fail"
#: Symbols a check's message names before it says "and N more".
SHOWN_SYMBOLS = 10


@dataclass(frozen=True)
class CheckSummary:
    """One check's outcome.

    Attributes:
        name: the check.
        severity: ``blocking`` or ``warning``.
        status: ``pass``, ``warn`` (a warning found something) or ``fail`` (a
            blocking check found something).
        observed: the total over the flagged symbols (the largest move for
            ``extreme_moves``, the most sessions behind for ``stale_symbols``).
        threshold: the check's threshold.
        symbols: the flagged symbols, sorted (None spelled ``-``).
        details: the first findings, for people.
    """

    name: str
    severity: str
    status: str
    observed: float
    threshold: float
    symbols: tuple[str, ...]
    details: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        data = asdict(self)
        data["symbols"] = list(self.symbols)
        return data


@dataclass(frozen=True)
class QualityResult:
    """What the gate found; small enough for an XCom.

    Attributes:
        run_id: the UUID the results are recorded under.
        passed: checks that found nothing.
        warned: warning checks that found something.
        failed: blocking checks that found something.
        checks: one summary per check, in check order.
        duration_seconds: wall time of the gate.
    """

    run_id: str
    passed: int
    warned: int
    failed: int
    checks: tuple[CheckSummary, ...]
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "run_id": self.run_id,
            "passed": self.passed,
            "warned": self.warned,
            "failed": self.failed,
            "checks": [check.as_dict() for check in self.checks],
            "duration_seconds": round(self.duration_seconds, 3),
        }

    def failure_message(self) -> str:
        """One line naming each failed check, its symbols and counts."""
        parts = []
        for check in self.checks:
            if check.status != FAIL:
                continue
            shown = ", ".join(check.symbols[:SHOWN_SYMBOLS])
            more = len(check.symbols) - SHOWN_SYMBOLS
            parts.append(
                f"{check.name}: {number_text(check.observed)} in "
                f"{len(check.symbols)} symbol(s) ({shown}"
                + (f" and {more} more" if more > 0 else "")
                + f"): {check.details}"
            )
        return "quality gate failed: " + "; ".join(parts)


@dataclass(frozen=True)
class TransformResult:
    """What one ``dbt build`` did.

    Attributes:
        models_built: models that built successfully.
        tests_passed: data and unit tests that passed.
        tests_failed: data and unit tests that failed or errored.
        tests_warned: data tests that only warned.
        duration: wall-clock seconds of the dbt invocation.
        failures: one ``"<node id>: <message>"`` per failed model or test.
    """

    models_built: int
    tests_passed: int
    tests_failed: int
    tests_warned: int
    duration: float
    failures: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-ready values (for XCom and logs)."""
        values = asdict(self)
        values["failures"] = list(self.failures)
        values["duration"] = round(self.duration, 3)
        return values


@dataclass
class RunSummary:
    """What one run did, stage by stage; printed as a table or as JSON."""

    run_id: str
    symbols: tuple[str, ...]
    universe: str = "tickers"
    outcome: str = "running"
    message: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only."""
        return {
            "run_id": self.run_id,
            "symbols": list(self.symbols),
            "universe": self.universe,
            "outcome": self.outcome,
            "message": self.message,
            "stages": self.stages,
            "durations_s": {k: round(v, 3) for k, v in self.durations.items()},
        }


def number_text(value: float) -> str:
    """A check's observed value as people read it (no trailing zeros)."""
    return f"{value:g}"
