"""
Sending a notice on every configured channel, never failing the caller.

Each channel is tried once; a failure (a bad SMTP host, an unreachable webhook, a
refused login) is logged as one line and recorded as ``failed`` in
``audit.notifications``, and the caller goes on. A notice with a dedupe key (a
missed deadline, a day's deferrals) is skipped on a channel that already sent it.
Every text is scrubbed of the configuration's secrets first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stocks_elt.config import Settings, secret_values
from stocks_elt.notifications.channels import Channel, EmailChannel, WebhookChannel
from stocks_elt.notifications.messages import Notice, scrub

logger = logging.getLogger(__name__)

DeliveryStatus = Literal["sent", "failed", "skipped"]


@dataclass(frozen=True)
class Delivery:
    """What became of a notice on one channel.

    Attributes:
        channel: ``email`` or ``webhook``.
        status: ``sent``, ``failed`` or ``skipped`` (already sent: dedupe key).
        error: why it failed (scrubbed).
    """

    channel: str
    status: DeliveryStatus
    error: str | None = None


def configured_channels(settings: Settings) -> list[Channel]:
    """The channels the settings turn on (none by default)."""
    channels: list[Channel] = []
    if settings.notify_email_to and settings.smtp_url is not None:
        channels.append(
            EmailChannel(
                url=settings.smtp_url.get_secret_value(),
                sender=settings.notify_email_from,
                recipients=settings.notify_email_to,
                timeout=settings.notify_timeout_seconds,
            )
        )
    if settings.notify_webhook_url is not None:
        channels.append(
            WebhookChannel(
                url=settings.notify_webhook_url.get_secret_value(),
                timeout=settings.notify_timeout_seconds,
            )
        )
    return channels


def send_notice(
    settings: Settings,
    notice: Notice,
    channels: Sequence[Channel] | None = None,
) -> list[Delivery]:
    """Send ``notice`` on each channel; never raise.

    Args:
        settings: the configuration (its secrets are scrubbed from the notice; its
            warehouse records the attempts).
        notice: what to send.
        channels: where; None means ``configured_channels(settings)``.

    Returns:
        One delivery per channel (empty when notifications are off).
    """
    secrets = secret_values(settings)
    clean = notice.scrubbed(secrets)
    chosen = list(channels) if channels is not None else configured_channels(settings)
    deliveries: list[Delivery] = []
    for channel in chosen:
        if clean.dedupe_key and _already_sent(settings, clean.dedupe_key, channel.name):
            logger.info(
                "notification skipped event=%s channel=%s reason=already sent key=%s",
                clean.event,
                channel.name,
                clean.dedupe_key,
            )
            deliveries.append(Delivery(channel.name, "skipped"))
            continue
        try:
            channel.send(clean)
        except Exception as exc:  # a notice never fails the pipeline
            error = scrub(f"{exc}", secrets)
            logger.warning(
                "notification failed event=%s channel=%s reason=%s",
                clean.event,
                channel.name,
                error,
            )
            delivery = Delivery(channel.name, "failed", error)
        else:
            logger.info(
                "notification sent event=%s channel=%s", clean.event, channel.name
            )
            delivery = Delivery(channel.name, "sent")
        deliveries.append(delivery)
        _record(settings, clean, delivery)
    return deliveries


def _already_sent(settings: Settings, key: str, channel: str) -> bool:
    from stocks_elt.warehouse.audit.notifications import was_sent
    from stocks_elt.warehouse.connection import connect, has_warehouse
    from stocks_elt.warehouse.migrate import migrated_url

    if not has_warehouse(settings):
        return False
    try:
        with connect(migrated_url(settings), autocommit=True) as conn:
            return was_sent(conn, key, channel)
    except Exception as exc:  # unknown: better twice than never
        logger.warning("notification dedupe not checked key=%s reason=%s", key, exc)
        return False


def _record(settings: Settings, notice: Notice, delivery: Delivery) -> None:
    """Count the attempt in ``audit.notifications``; best effort (the failure
    being notified may be the warehouse itself)."""
    import uuid

    from stocks_elt.warehouse.audit.notifications import record_notification
    from stocks_elt.warehouse.connection import connect, has_warehouse
    from stocks_elt.warehouse.migrate import migrated_url

    if not has_warehouse(settings):
        return  # no warehouse yet (a new data dir): none is started to count it
    try:
        run_uuid = uuid.UUID(notice.audit_run_id) if notice.audit_run_id else None
        with connect(migrated_url(settings), autocommit=True) as conn:
            record_notification(
                conn,
                run_id=run_uuid,
                event=notice.event,
                channel=delivery.channel,
                status=delivery.status,
                subject=notice.subject,
                error=delivery.error,
                dedupe_key=notice.dedupe_key,
            )
    except Exception as exc:  # recording never fails the pipeline
        logger.warning(
            "notification not recorded event=%s channel=%s reason=%s",
            notice.event,
            delivery.channel,
            scrub(str(exc), secret_values(settings)),
        )
