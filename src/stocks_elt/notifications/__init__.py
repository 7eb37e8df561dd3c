"""
Notifications: one message per event, by e-mail and a JSON webhook, from the CLI
(``stocks-elt run --notify``) and from Airflow (``orchestration.notifiers``).

    messages   the Notice, its five events, rendering (text, HTML, Slack JSON),
               scrubbing secrets
    channels   EmailChannel (SMTP), WebhookChannel (HTTP POST)
    send       send_notice: every configured channel, failures logged and
               counted in audit.notifications, never raised
    events     the events, detected from what the warehouse recorded

Off by default: nothing is sent until ``STOCKS_ELT_NOTIFY_EMAIL_TO`` (with
``STOCKS_ELT_SMTP_URL``) or ``STOCKS_ELT_NOTIFY_WEBHOOK_URL`` is set (or, inside
Airflow, the ``stocks_smtp`` / ``stocks_webhook`` connections exist).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stocks_elt.config import Settings
    from stocks_elt.notifications.send import Delivery
    from stocks_elt.results import RunSummary


def notify_run(
    settings: Settings,
    run_id: str,
    *,
    summary: RunSummary | None = None,
    error: BaseException | None = None,
) -> list[Delivery]:
    """Send every notice one ``stocks-elt run`` calls for; never raise.

    Returns:
        One delivery per notice and channel (empty when notifications are off or
        nothing went wrong).
    """
    import logging

    from stocks_elt.notifications.events import run_notices
    from stocks_elt.notifications.send import configured_channels, send_notice

    if not configured_channels(settings):
        return []
    try:
        notices = run_notices(settings, run_id, summary=summary, error=error)
    except Exception as exc:  # a notice never fails the run
        logging.getLogger(__name__).warning("notices not built reason=%s", exc)
        return []
    return [
        delivery for notice in notices for delivery in send_notice(settings, notice)
    ]
