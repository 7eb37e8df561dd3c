"""
The messages: one ``Notice`` per event, built from what the pipeline knows, and
rendered as an e-mail (plain text and HTML) or a Slack-compatible JSON payload.

    task_failed            a task of a DAG failed (after its retries), or a stage
                           of ``stocks-elt run``
    quality_gate_failed    a blocking check found something: check, symbol,
                           observed vs threshold
    symbols_not_fetched    symbols extract could not fetch, with the reasons
    deferred_piling_up     symbols deferred (quota spent) for more than N days
    freshness_missed       the marts not current for the last session by the
                           deadline

Every notice says what failed, the run id (the Airflow run id or the CLI's run,
and the UUID ``audit.*`` and ``stocks-elt history`` know it by) and where to
look. Nothing here sends anything; ``scrub`` removes secrets from every text
before a channel sees it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from stocks_elt.results import number_text

#: Prefix of every subject line, so mail filters and channels can route them.
SUBJECT_PREFIX = "[stocks-elt]"
#: Findings listed in one message before "and N more".
SHOWN_LINES = 20
#: Longest error text quoted (a traceback's first lines, not a whole log).
MAX_ERROR_CHARS = 1500

EVENTS = (
    "task_failed",
    "quality_gate_failed",
    "symbols_not_fetched",
    "deferred_piling_up",
    "freshness_missed",
)


@dataclass(frozen=True)
class Notice:
    """One event, ready to render.

    Attributes:
        event: one of :data:`EVENTS`.
        title: what happened, in a few words (the subject line after the prefix).
        run_id: the run as its runner names it (Airflow run id, CLI run UUID).
        audit_run_id: the run's UUID in ``audit.*`` (``stocks-elt history --run``).
        source: who ran it: ``airflow <dag>.<task>`` or ``stocks-elt run``.
        failed: one line per failed thing (check, symbol, task).
        where: where to look, one line each (a log URL, a command).
        dedupe_key: for events announced once (a session's deadline, a day's
            deferrals): a later notice with the same key is not sent again.
    """

    event: str
    title: str
    run_id: str | None
    audit_run_id: str | None
    source: str
    failed: tuple[str, ...]
    where: tuple[str, ...]
    dedupe_key: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """The e-mail subject, also the first line of a chat message."""
        return f"{SUBJECT_PREFIX} {self.title}"

    def text(self) -> str:
        """The plain-text body."""
        lines = [self.title, ""]
        lines.append("What failed:")
        lines.extend(f"  - {line}" for line in self.failed)
        lines.append("")
        lines.append("Run:")
        lines.append(f"  source: {self.source}")
        lines.append(f"  run id: {self.run_id or '-'}")
        if self.audit_run_id and self.audit_run_id != self.run_id:
            lines.append(f"  audit run id: {self.audit_run_id}")
        for name, value in self.facts.items():
            lines.append(f"  {name}: {value}")
        lines.append("")
        lines.append("Where to look:")
        lines.extend(f"  - {line}" for line in self.where)
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """The HTML body (the same content, escaped)."""
        return (
            "<html><body>"
            f"<p><b>{html.escape(self.title)}</b></p>"
            "<p>What failed:</p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in self.failed)
            + "</ul><p>Run:</p><ul>"
            + f"<li>source: {html.escape(self.source)}</li>"
            + f"<li>run id: {html.escape(self.run_id or '-')}</li>"
            + (
                f"<li>audit run id: {html.escape(self.audit_run_id)}</li>"
                if self.audit_run_id and self.audit_run_id != self.run_id
                else ""
            )
            + "".join(
                f"<li>{html.escape(name)}: {html.escape(value)}</li>"
                for name, value in self.facts.items()
            )
            + "</ul><p>Where to look:</p><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in self.where)
            + "</ul></body></html>"
        )

    def payload(self) -> dict[str, Any]:
        """A Slack-compatible JSON payload (``text`` plus ``blocks``), with the
        same facts under ``stocks_elt`` for any other receiver."""
        failed = "\n".join(f"• {_mrkdwn(line)}" for line in self.failed)
        where = "\n".join(f"• {_mrkdwn(line)}" for line in self.where)
        run = f"*run id:* `{_mrkdwn(self.run_id or '-')}`  *source:* {self.source}"
        return {
            "text": f"{self.subject}\n{self.text()}",
            "blocks": [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": self.subject[:150]},
                },
                {"type": "section", "text": {"type": "mrkdwn", "text": failed[:2900]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": run[:2900]}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*Where to look*\n{where}"},
                },
            ],
            "stocks_elt": {
                "event": self.event,
                "title": self.title,
                "run_id": self.run_id,
                "audit_run_id": self.audit_run_id,
                "source": self.source,
                "failed": list(self.failed),
                "where": list(self.where),
                "facts": dict(self.facts),
            },
        }

    def scrubbed(self, secrets: Sequence[str]) -> Notice:
        """Return the notice with every secret (and any ``apikey=`` value or URL
        password) replaced by ``***`` in every text."""

        def clean(text: str) -> str:
            return scrub(text, secrets)

        return replace(
            self,
            title=clean(self.title),
            source=clean(self.source),
            run_id=None if self.run_id is None else clean(self.run_id),
            failed=tuple(clean(line) for line in self.failed),
            where=tuple(clean(line) for line in self.where),
            facts={clean(k): clean(v) for k, v in self.facts.items()},
        )


_API_KEY_PARAMETER = re.compile(r"(?i)(apikey=)[^&\s\"')\]>]+")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")
#: The newer daily-cap notice quotes the key: "detected your API key as <KEY> and".
_QUOTED_KEY = re.compile(r"(?i)(API key as )\S+")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` by ``***``; also any ``apikey=`` value,
    the password of any URL and a key the API quoted back."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _API_KEY_PARAMETER.sub(r"\1***", text)
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _QUOTED_KEY.sub(r"\1***", text)


def _mrkdwn(text: str) -> str:
    """Escape Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _first_lines(text: str) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def _capped(lines: Sequence[str]) -> tuple[str, ...]:
    if len(lines) <= SHOWN_LINES:
        return tuple(lines)
    return (*lines[:SHOWN_LINES], f"and {len(lines) - SHOWN_LINES} more")


# -- the five events --------------------------------------------------------------


def task_failed(
    *,
    source: str,
    what: str,
    error: str,
    run_id: str | None,
    audit_run_id: str | None,
    where: Sequence[str],
    facts: Mapping[str, str] | None = None,
) -> Notice:
    """A task (or a CLI stage) failed for a reason none of the others names.

    Args:
        source: ``airflow <dag>.<task>`` or ``stocks-elt run``.
        what: the task or stage (``load_stocks_from_minio.load_new_objects``).
        error: the exception's text.
        run_id: the run as its runner names it.
        audit_run_id: its UUID in ``audit.*``.
        where: where to look.
        facts: more ``name: value`` lines (the try number).
    """
    return Notice(
        event="task_failed",
        title=f"{what} failed",
        run_id=run_id,
        audit_run_id=audit_run_id,
        source=source,
        failed=(f"{what}: {_first_lines(error)}",),
        where=tuple(where),
        facts=dict(facts or {}),
    )


@dataclass(frozen=True)
class FailedCheck:
    """One flagged symbol of a blocking check, as ``audit.dq_results`` has it."""

    check_name: str
    symbol: str | None
    observed: Any
    threshold: Any
    details: str | None = None


def quality_gate_failed(
    checks: Sequence[FailedCheck],
    *,
    source: str,
    run_id: str | None,
    audit_run_id: str | None,
    where: Sequence[str],
    summary: str | None = None,
) -> Notice:
    """The quality gate stopped the chain: each failed check, symbol, observed
    value and threshold.

    Args:
        checks: the blocking findings (one per check and symbol).
        summary: the gate's one-line message, used when ``checks`` is empty (the
            results could not be read back).
    """
    lines = [
        f"{check.check_name}: {check.symbol or 'all symbols'} observed "
        f"{_number(check.observed)} vs threshold {_number(check.threshold)}"
        + (f" ({check.details})" if check.details else "")
        for check in checks
    ]
    if not lines:
        lines = [_first_lines(summary or "a blocking check failed")]
    names = sorted({check.check_name for check in checks})
    return Notice(
        event="quality_gate_failed",
        title="quality gate failed"
        + (f": {', '.join(names)}" if names else "")
        + "; the transform did not run",
        run_id=run_id,
        audit_run_id=audit_run_id,
        source=source,
        failed=_capped(lines),
        where=tuple(where),
    )


def symbols_not_fetched(
    failed: Mapping[str, str],
    *,
    source: str,
    run_id: str | None,
    audit_run_id: str | None,
    where: Sequence[str],
) -> Notice:
    """Symbols extract could not fetch (not found, refused, failed), with why."""
    return Notice(
        event="symbols_not_fetched",
        title=f"{len(failed)} symbol(s) could not be fetched: "
        + ", ".join(list(failed)[:5])
        + (" ..." if len(failed) > 5 else ""),
        run_id=run_id,
        audit_run_id=audit_run_id,
        source=source,
        failed=_capped([f"{symbol}: {why}" for symbol, why in failed.items()]),
        where=tuple(where),
    )


@dataclass(frozen=True)
class Deferred:
    """A symbol waiting in the deferred queue."""

    symbol: str
    since: datetime
    times: int
    reason: str | None


def deferred_piling_up(
    deferred: Sequence[Deferred],
    *,
    days: int,
    today: date,
    source: str,
    run_id: str | None,
    audit_run_id: str | None,
    where: Sequence[str],
) -> Notice:
    """Symbols deferred (the day's quota spent) for more than ``days`` days: the
    key's quota is too small for the universe. Announced once a day."""
    lines = [
        f"{item.symbol}: deferred since {item.since:%Y-%m-%d %H:%M %Z} "
        f"({item.times} run(s))" + (f": {item.reason}" if item.reason else "")
        for item in deferred
    ]
    return Notice(
        event="deferred_piling_up",
        title=f"{len(deferred)} symbol(s) deferred for more than {days} day(s)",
        run_id=run_id,
        audit_run_id=audit_run_id,
        source=source,
        failed=_capped(lines),
        where=tuple(where),
        dedupe_key=f"deferred_piling_up:{today.isoformat()}:"
        + ",".join(sorted(item.symbol for item in deferred)),
    )


@dataclass(frozen=True)
class Stale:
    """A symbol the marts do not hold the expected session for."""

    symbol: str
    last_session: date | None


def freshness_missed(
    stale: Sequence[Stale],
    *,
    session: date,
    deadline: time,
    checked_at: datetime,
    source: str,
    run_id: str | None,
    where: Sequence[str],
    latest_runs: Sequence[str] = (),
) -> Notice:
    """The marts are not current for ``session`` at the deadline. Announced once
    per session."""
    lines = [
        f"{item.symbol}: marts end at {item.last_session or 'nothing'}, "
        f"expected {session.isoformat()}"
        for item in stale
    ]
    return Notice(
        event="freshness_missed",
        title=f"freshness deadline {deadline:%H:%M} New York missed for "
        f"{session.isoformat()}: {len(stale)} symbol(s) not in the marts",
        run_id=run_id,
        audit_run_id=None,
        source=source,
        failed=_capped(lines),
        where=tuple(where),
        dedupe_key=f"freshness_missed:{session.isoformat()}",
        facts={
            "checked at": f"{checked_at:%Y-%m-%d %H:%M %Z}",
            **{f"latest run {index + 1}": run for index, run in enumerate(latest_runs)},
        },
    )


def _number(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return number_text(float(value))
    except (TypeError, ValueError):
        return str(value)
