"""
Where notices go: e-mail over SMTP and a JSON webhook, both usable without Airflow.

    EmailChannel     smtplib: ``smtp://`` (STARTTLS when the server offers it) or
                     ``smtps://`` (TLS from the start); the login in the URL is
                     only ever sent over TLS
    WebhookChannel   one JSON POST: Slack's incoming-webhook payload, which any
                     other receiver can read too

A channel's ``send`` raises on failure; ``stocks_elt.notifications.send`` catches,
logs and counts it. Inside Airflow an ``stocks_smtp`` connection sends through the
smtp provider's hook instead (``stocks_elt.orchestration.notifiers``).
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from stocks_elt.errors import StocksEltError
from stocks_elt.notifications.messages import Notice

#: Default ports: plain SMTP (STARTTLS when offered) and SMTP over TLS.
SMTP_PORT = 25
SMTPS_PORT = 465


class NotificationError(StocksEltError):
    """A channel could not deliver a notice (logged and counted, never raised
    out of ``send_notice``)."""


class Channel(Protocol):
    """Something that delivers a notice, or raises."""

    @property
    def name(self) -> str:
        """``email`` or ``webhook``: how ``audit.notifications`` counts it."""

    def send(self, notice: Notice) -> None:
        """Deliver ``notice``; raise when it could not be delivered."""


@dataclass(frozen=True)
class EmailChannel:
    """E-mail through an SMTP server.

    Attributes:
        url: ``smtp://[user:password@]host[:port]`` or ``smtps://...``.
        sender: the From address.
        recipients: the To addresses.
        timeout: seconds for the connection and each command.
    """

    url: str
    sender: str
    recipients: tuple[str, ...]
    timeout: float = 10.0
    name: str = "email"

    def message(self, notice: Notice) -> EmailMessage:
        """The MIME message: plain text with an HTML alternative."""
        # Headers up to RFC 5322's 998 characters: a folded subject would read
        # back with a leading space in some clients.
        message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
        message["Subject"] = notice.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="stocks-elt")
        message["X-Stocks-Elt-Event"] = notice.event
        message.set_content(notice.text())
        message.add_alternative(notice.html(), subtype="html")
        return message

    def send(self, notice: Notice) -> None:
        """Send the notice to every recipient.

        Raises:
            NotificationError: the server could not be reached, refused the login
                or a recipient, or a password would travel without TLS.
        """
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        is_tls = parts.scheme == "smtps"
        port = parts.port or (SMTPS_PORT if is_tls else SMTP_PORT)
        try:
            client: smtplib.SMTP = (
                smtplib.SMTP_SSL(
                    host,
                    port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
                if is_tls
                else smtplib.SMTP(host, port, timeout=self.timeout)
            )
            with client:
                client.ehlo()
                if not is_tls and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                    is_tls = True
                if parts.username:
                    if not is_tls:
                        raise NotificationError(
                            f"SMTP server {host}:{port} offers no STARTTLS: refusing "
                            "to send the login without TLS (use smtps:// or a "
                            "server with STARTTLS)"
                        )
                    client.login(unquote(parts.username), unquote(parts.password or ""))
                client.send_message(self.message(notice))
        except NotificationError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(
                f"e-mail via {host}:{port} failed: {type(exc).__name__}: {exc}"
            ) from None


@dataclass(frozen=True)
class WebhookChannel:
    """One JSON POST per notice (Slack's incoming-webhook payload).

    Attributes:
        url: where to POST (a secret: never in a message or a log line).
        timeout: seconds for the whole request.
    """

    url: str
    timeout: float = 10.0
    name: str = "webhook"

    def send(self, notice: Notice) -> None:
        """POST the notice's payload.

        Raises:
            NotificationError: no answer, or an HTTP error status; the message
                names the host only, never the URL's path (Slack's token).
        """
        host = urlsplit(self.url).hostname or "?"
        try:
            response = httpx.post(
                self.url,
                json=notice.payload(),
                timeout=self.timeout,
                headers={"User-Agent": "stocks-elt"},
            )
        except httpx.HTTPError as exc:
            raise NotificationError(
                f"webhook at {host} failed: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code >= 400:
            raise NotificationError(
                f"webhook at {host} answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
