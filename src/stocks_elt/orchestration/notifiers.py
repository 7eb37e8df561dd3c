"""
Notifications inside Airflow: the notifier every task of the DAGs calls when it
fails, and the hooks the task bodies call for the events that are not failures.

    StocksEltNotifier     a ``BaseNotifier``, in ``default_args`` as
                          ``on_failure_callback`` of every task of the three DAGs
                          (and check_freshness): runs in the task's process once
                          its retries are spent; one notice per failed task
    notify_deferred       ingest_stocks: symbols deferred for too long

The failed task decides the message: ``run_quality_gate`` failing on
``QualityGateFailed`` sends the gate's findings (check, symbol, observed vs
threshold, read from ``audit.dq_results``), ``check_symbol_outcomes`` the
symbols not fetched with why (``audit.extract_outcomes``), ``check_freshness``
the symbols the marts lack at the deadline, any other failure the task, its
error and its log. E-mail goes through the smtp provider's
``SmtpHook`` when the ``stocks_smtp`` connection exists, else through
``STOCKS_ELT_SMTP_URL``; the webhook through ``stocks_webhook`` or
``STOCKS_ELT_NOTIFY_WEBHOOK_URL``. Nothing here ever fails a task: a notice
that cannot be built or sent is logged (and counted in ``audit.notifications``).

Importing this module is cheap (DAG files import ``defaults``, which names the
notifier): the package is imported inside the callbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from stocks_elt.orchestration.assets import SMTP_CONN_ID

if TYPE_CHECKING:
    from stocks_elt.config import Settings
    from stocks_elt.notifications.channels import Channel
    from stocks_elt.notifications.messages import Notice
    from stocks_elt.notifications.send import Delivery

logger = logging.getLogger(__name__)

#: The task whose failure means "symbols could not be fetched".
CHECK_SYMBOLS_TASK = "check_symbol_outcomes"
#: The DAG whose failure means "the freshness deadline was missed".
FRESHNESS_DAG = "check_freshness"


class StocksEltNotifier(BaseNotifier):
    """Send one stocks-elt notice for the failed task in ``context``.

    Used as ``on_failure_callback``; never raises (Airflow would only log it, but
    a half-sent notice must not hide the task's own error either).
    """

    template_fields = ()

    def notify(self, context: Mapping[str, Any]) -> None:
        """Build the notice for the failed task and send it on every channel."""
        notify_task_failure(context)


def notify_task_failure(context: Mapping[str, Any]) -> list[Delivery]:
    """Send the notice a failed task calls for; never raise.

    Args:
        context: Airflow's task context (``ti``, ``run_id``, ``exception``...).

    Returns:
        One delivery per channel (empty when notifications are off).
    """
    try:
        from stocks_elt.orchestration.connections import task_settings

        settings = task_settings()
        channels = airflow_channels(settings)
        if not channels:
            return []
        notice = failure_notice(settings, context)
    except Exception as exc:  # a notice never fails the task
        logger.warning("failure notice not built reason=%s", exc)
        return []
    return _send(settings, notice, channels)


def failure_notice(settings: Settings, context: Mapping[str, Any]) -> Notice:
    """The notice for the failed task in ``context`` (see the module docstring)."""
    from stocks_elt.errors import QualityGateFailed
    from stocks_elt.notifications.events import (
        audit_run_id,
        quality_notice,
        where_to_look,
    )
    from stocks_elt.notifications.messages import task_failed

    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(getattr(ti, "dag_id", None) or "?")
    task_id = str(getattr(ti, "task_id", None) or "?")
    map_index = getattr(ti, "map_index", -1)
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    error = context.get("exception")
    what = f"{dag_id}.{task_id}" + (
        f"[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else ""
    )
    source = f"airflow {what}"
    log_url = getattr(ti, "log_url", None)
    where = where_to_look(run_id, *([f"task log: {log_url}"] if log_url else []))
    if isinstance(error, QualityGateFailed):
        return quality_notice(settings, run_id, source=source, where=where, error=error)
    try:
        found = _read_back_notice(
            settings, context, run_id, dag_id, task_id, source, where
        )
    except Exception as exc:  # the warehouse may be what failed: say that instead
        logger.warning("failure details not read task=%s reason=%s", what, exc)
        found = None
    if found is not None:
        return found
    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    facts = {}
    if isinstance(try_number, int):
        facts["try"] = (
            f"{try_number} of {max_tries + 1}"
            if isinstance(max_tries, int)
            else str(try_number)
        )
    return task_failed(
        source=source,
        what=what,
        error=f"{type(error).__name__}: {error}" if error is not None else "failed",
        run_id=run_id,
        audit_run_id=audit_run_id(run_id),
        where=where,
        facts=facts,
    )


def _read_back_notice(
    settings: Settings,
    context: Mapping[str, Any],
    run_id: str | None,
    dag_id: str,
    task_id: str,
    source: str,
    where: tuple[str, ...],
) -> Notice | None:
    """The notice of a failure whose details the warehouse holds: the symbols
    check_symbol_outcomes found, what the marts lack at check_freshness."""
    from stocks_elt.notifications.events import fetch_notice, freshness_notice
    from stocks_elt.orchestration.freshness import check_instant

    if task_id == CHECK_SYMBOLS_TASK and run_id is not None:
        return fetch_notice(settings, run_id, source=source, where=where)
    if dag_id == FRESHNESS_DAG:
        return freshness_notice(
            settings,
            at=check_instant(context.get("dag_run")),
            run_id=run_id,
            source=source,
            where=where,
        )
    return None


def notify_deferred(settings: Settings, run_id: str | None) -> list[Delivery]:
    """ingest_stocks: announce symbols deferred for more than
    ``notify_deferred_days`` days (once a day); never raise."""
    from stocks_elt.market.calendar import NEW_YORK
    from stocks_elt.notifications.events import deferred_notice, where_to_look

    try:
        channels = airflow_channels(settings)
        if not channels:
            return []
        notice = deferred_notice(
            settings,
            now=datetime.now(tz=NEW_YORK),
            run_id=run_id,
            source="airflow ingest_stocks",
            where=where_to_look(run_id),
        )
    except Exception as exc:  # a notice never fails the task
        logger.warning("deferred symbols not checked reason=%s", exc)
        return []
    return [] if notice is None else _send(settings, notice, channels)


def airflow_channels(settings: Settings) -> list[Channel]:
    """The configured channels, e-mail through the smtp provider's hook when the
    ``stocks_smtp`` connection exists."""
    from stocks_elt.notifications.send import configured_channels

    channels = configured_channels(settings)
    if not settings.notify_email_to or not _has_connection(SMTP_CONN_ID):
        return channels
    return [
        ProviderSmtpChannel(
            conn_id=SMTP_CONN_ID,
            sender=settings.notify_email_from,
            recipients=settings.notify_email_to,
        )
        if channel.name == "email"
        else channel
        for channel in channels
    ]


def _has_connection(conn_id: str) -> bool:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        Connection.get(conn_id)
    except AirflowNotFoundException:
        return False
    return True


@dataclass(frozen=True)
class ProviderSmtpChannel:
    """E-mail through ``apache-airflow-providers-smtp``'s ``SmtpHook`` and an
    Airflow connection (its TLS, login and OAuth2 settings are the provider's).

    Attributes:
        conn_id: the smtp connection.
        sender: the From address (the connection's ``from_email`` wins).
        recipients: the To addresses.
    """

    conn_id: str
    sender: str
    recipients: tuple[str, ...]
    name: str = "email"

    def send(self, notice: Notice) -> None:
        """Send the notice as an HTML e-mail.

        Raises:
            NotificationError: the hook could not connect, log in or send.
        """
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        from stocks_elt.notifications.channels import NotificationError

        hook = SmtpHook(smtp_conn_id=self.conn_id)
        try:
            with hook:
                hook.send_email_smtp(
                    to=list(self.recipients),
                    subject=notice.subject,
                    html_content=notice.html(),
                    from_email=hook.from_email or self.sender,
                    custom_headers={"X-Stocks-Elt-Event": notice.event},
                )
        except Exception as exc:
            raise NotificationError(
                f"e-mail via connection {self.conn_id} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from None


def _send(
    settings: Settings, notice: Notice, channels: list[Channel]
) -> list[Delivery]:
    from stocks_elt.notifications.send import send_notice

    return send_notice(settings, notice, channels)
