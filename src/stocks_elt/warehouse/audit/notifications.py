"""
``audit.notifications``: every notification attempt, one row per channel.

    record_notification   one attempt (sent or failed, and why)
    was_sent              whether an event with this dedupe key already went out
    notification_counts   sent and failed attempts since an instant
    counts_by_run         sent and failed attempts per run (history)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg

Connection = psycopg.Connection[tuple[Any, ...]]


def record_notification(
    conn: Connection,
    *,
    run_id: uuid.UUID | None,
    event: str,
    channel: str,
    status: str,
    subject: str,
    error: str | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Append one attempt.

    Args:
        conn: a warehouse connection (autocommit, or committed by the caller).
        run_id: the run the event belongs to, if any.
        event: the event kind (``task_failed``, ``quality_gate_failed``...).
        channel: ``email`` or ``webhook``.
        status: ``sent`` or ``failed``.
        subject: the message's subject line (secrets already scrubbed).
        error: why it failed (scrubbed).
        dedupe_key: the key of an event announced once, if it is one.
    """
    conn.execute(
        """
        insert into audit.notifications
            (run_id, event, channel, status, subject, error, dedupe_key)
        values (%s, %s, %s, %s, %s, %s, %s)
        """,
        (run_id, event, channel, status, subject, error, dedupe_key),
    )


def was_sent(conn: Connection, dedupe_key: str, channel: str) -> bool:
    """Whether an event with ``dedupe_key`` already went out on ``channel``."""
    row = conn.execute(
        """
        select 1 from audit.notifications
        where dedupe_key = %s and channel = %s and status = 'sent'
        limit 1
        """,
        (dedupe_key, channel),
    ).fetchone()
    return row is not None


def notification_counts(conn: Connection, since: datetime) -> dict[str, int]:
    """Return ``{"sent": n, "failed": m}`` for the attempts since ``since``."""
    rows = conn.execute(
        """
        select status, count(*) from audit.notifications
        where attempted_at >= %s
        group by status
        """,
        (since,),
    ).fetchall()
    counts = {"sent": 0, "failed": 0}
    counts.update({str(status): int(count) for status, count in rows})
    return counts


def counts_by_run(
    conn: Connection, run_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Return ``{run: {"sent": n, "failed": m}}`` for the runs that notified."""
    rows = conn.execute(
        """
        select run_id, status, count(*) from audit.notifications
        where run_id = any(%s)
        group by run_id, status
        """,
        (run_ids,),
    ).fetchall()
    found: dict[uuid.UUID, dict[str, int]] = {}
    for run_id, status, count in rows:
        found.setdefault(run_id, {"sent": 0, "failed": 0})[str(status)] = int(count)
    return found
