"""Delivery channels for the digest: a Slack incoming webhook (HTTP POST) and e-mail (SMTP).

Each channel's ``send`` returns what it did or raises :class:`DeliveryError` naming the channel
and what went wrong, never the webhook URL (it is a secret) nor a password.
:func:`channels_from_settings` builds the configured channels; a setting that is missing or
unsafe is a :class:`~feedback_miner.errors.ConfigError` naming the ``FM_*`` variables.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit

from feedback_miner.config import Settings
from feedback_miner.errors import ConfigError, DeliveryError

__all__ = ["DeliveryError", "Message", "SlackWebhook", "SmtpEmail", "channels_from_settings"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


class Message(Protocol):
    """What a channel sends (``services.delivery.DigestMessage``)."""

    @property
    def period(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def slack(self) -> Mapping[str, Any]: ...
    @property
    def html(self) -> str: ...


@dataclass(frozen=True)
class SlackWebhook:
    url: str
    timeout_s: float = 20.0
    name: str = "Slack"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"

    def send(self, message: Message) -> str:
        body = json.dumps(message.slack).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # the scheme is checked in _slack()
                answer = resp.read(2000).decode("utf-8", "replace")
                status = resp.status
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            raise DeliveryError(f"Slack: the webhook at {self.host} answered HTTP {exc.code}"
                                + (f" ({detail})" if detail else "")) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"Slack: cannot reach the webhook at {self.host}: {reason}") from exc
        if status != 200:
            raise DeliveryError(f"Slack: the webhook at {self.host} answered HTTP {status} ({answer[:200]})")
        return f"posted the {message.period} summary to Slack ({self.host})"


@dataclass(frozen=True)
class SmtpEmail:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 20.0
    name: str = "e-mail"

    def build(self, message: Message) -> EmailMessage:
        """The e-mail: plain-text summary and the HTML digest as alternatives."""
        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        msg.set_content(message.text)
        msg.add_alternative(message.html, subtype="html")
        return msg

    def _connect(self) -> smtplib.SMTP:
        ctx = ssl.create_default_context()
        if self.port == 465:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=ctx)
        s = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            s.ehlo()
            if self.starttls:
                s.starttls(context=ctx)
                s.ehlo()
        except BaseException:
            s.close()
            raise
        return s

    def send(self, message: Message) -> str:
        where = f"{self.host}:{self.port}"
        try:
            with self._connect() as s:
                if self.user:
                    s.login(self.user, self.password or "")
                refused = s.send_message(self.build(message))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"e-mail: the SMTP server {where} refused the login of FM_SMTP_USER "
                                f"({exc.smtp_code})") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"e-mail: the SMTP server {where} refused all "
                                f"{len(exc.recipients)} recipients") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"e-mail: SMTP server {where}: {type(exc).__name__}: {exc}") from exc
        sent = len(self.recipients) - len(refused)
        note = f" ({len(refused)} refused)" if refused else ""
        return f"e-mailed the {message.period} digest to {sent} recipient{'s' * (sent != 1)} via {where}{note}"


def _slack(settings: Settings) -> SlackWebhook | None:
    if settings.slack_webhook_url is None:
        return None
    url = settings.slack_webhook_url.get_secret_value().strip()
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ConfigError("FM_SLACK_WEBHOOK_URL must be an https:// URL (http:// only for a local test receiver), "
                          "e.g. https://hooks.slack.com/services/T…/B…/…")
    return SlackWebhook(url, timeout_s=settings.delivery_timeout_s)


def _email(settings: Settings) -> SmtpEmail | None:
    recipients = tuple(r.strip() for r in settings.digest_recipients.split(",") if r.strip())
    if not settings.smtp_host and not recipients:
        return None
    missing = [n for n, v in (("FM_SMTP_HOST", settings.smtp_host), ("FM_SMTP_FROM", settings.smtp_from),
                              ("FM_DIGEST_RECIPIENTS", recipients)) if not v]
    if missing:
        raise ConfigError(f"e-mail delivery needs {', '.join(missing)} as well "
                          "(FM_SMTP_HOST, FM_SMTP_FROM and FM_DIGEST_RECIPIENTS go together)")
    bad = [a for a in (settings.smtp_from or "", *recipients) if not _ADDRESS.match(a)]
    if bad:
        raise ConfigError(f"FM_SMTP_FROM / FM_DIGEST_RECIPIENTS: {bad[0]!r} is not an e-mail address "
                          "(give addresses separated by commas)")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    if settings.smtp_user and not password:
        raise ConfigError("FM_SMTP_USER is set but FM_SMTP_PASSWORD is not")
    host = str(settings.smtp_host)
    if settings.smtp_user and not settings.smtp_starttls and settings.smtp_port != 465 and host not in _LOOPBACK:
        raise ConfigError("FM_SMTP_STARTTLS is off: the SMTP password would travel in clear text; "
                          "turn it on, use port 465, or drop FM_SMTP_USER")
    return SmtpEmail(host=host, port=settings.smtp_port, sender=str(settings.smtp_from), recipients=recipients,
                     user=settings.smtp_user, password=password, starttls=settings.smtp_starttls,
                     timeout_s=settings.delivery_timeout_s)


def channels_from_settings(settings: Settings) -> list[SlackWebhook | SmtpEmail]:
    """Every configured channel; :class:`ConfigError` naming the settings when there is none."""
    found: list[SlackWebhook | SmtpEmail] = [ch for ch in (_slack(settings), _email(settings)) if ch is not None]
    if not found:
        raise ConfigError("no delivery channel is configured: set FM_SLACK_WEBHOOK_URL (a Slack incoming-webhook "
                          "URL) and/or FM_SMTP_HOST, FM_SMTP_FROM and FM_DIGEST_RECIPIENTS (with FM_SMTP_PORT, "
                          "FM_SMTP_USER, FM_SMTP_PASSWORD and FM_SMTP_STARTTLS as your server needs)")
    return found
