"""SMTP e-mail: alert and digest messages (text + HTML) and a sender for the configured server.

Port semantics from reference/analytics.md §3.8: 465 is implicit TLS, 587 STARTTLS. Each alert's
Message-ID is its own and `References` names its (rule, entity), so repeats thread in mail clients;
subjects carry the rule and the client slug only, never record contents.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ownlay_pipelines.watchtower.notify.discord import AlertNotice

MESSAGE_ID_DOMAIN = "watchtower.ownlay"


class SmtpSecurity(StrEnum):
    """How the connection is protected: STARTTLS (587), implicit TLS (465) or none (local relay)."""

    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"


class SmtpSettings(BaseModel):
    """Where and as whom alert e-mail is sent; the password is a SecretStr and never printed."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    username: str | None = None
    password: SecretStr | None = None
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings | None:
        """`OWNLAY_SMTP_HOST`, `_PORT`, `_SENDER`, `_USERNAME`, `_PASSWORD`, `_SECURITY`; None if no host."""
        host = environ.get("OWNLAY_SMTP_HOST", "").strip()
        if not host:
            return None
        password = environ.get("OWNLAY_SMTP_PASSWORD")
        return cls(
            host=host,
            port=int(environ.get("OWNLAY_SMTP_PORT", "587")),
            sender=environ.get("OWNLAY_SMTP_SENDER", f"watchtower@{host}"),
            username=environ.get("OWNLAY_SMTP_USERNAME") or None,
            password=SecretStr(password) if password else None,
            security=SmtpSecurity(environ.get("OWNLAY_SMTP_SECURITY", SmtpSecurity.STARTTLS)),
        )


class SmtpMailer:
    """Sends messages through one SMTP server; errors are smtplib's or OSError, passwords omitted."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        """Deliver one message to every address in its To header."""
        settings = self.settings
        if settings.security is SmtpSecurity.SSL:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            if settings.security is SmtpSecurity.STARTTLS:
                client.starttls(context=ssl.create_default_context())
            if settings.username and settings.password:
                client.login(settings.username, settings.password.get_secret_value())
            client.send_message(message)


def _thread_id(notice: AlertNotice) -> str:
    return f"<rule-{notice.rule_id}-{(notice.entity_key or 'none')[:16]}@{MESSAGE_ID_DOMAIN}>"


def alert_email(notice: AlertNotice, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """One e-mail for one alert, threaded with earlier alerts of the same (rule, entity)."""
    message = EmailMessage()
    client = f" ({notice.client_id})" if notice.client_id else ""
    message["Subject"] = f"[{notice.severity.upper()}] {notice.rule_name}{client}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(notice.created_at)
    message["Message-ID"] = f"<alert-{notice.alert_id}@{MESSAGE_ID_DOMAIN}>"
    message["In-Reply-To"] = _thread_id(notice)
    message["References"] = _thread_id(notice)
    rows = [
        ("Rule", notice.rule_name),
        ("Severity", notice.severity),
        ("Client", notice.client_id or "—"),
        ("Now", notice.current_value or "—"),
        ("Before", notice.previous_value or "—"),
        ("Entity", ", ".join(f"{k}={v}" for k, v in notice.entity.items() if v is not None)),
        ("Alert", notice.alert_id),
    ]
    text = "\n".join([notice.message, "", *(f"{k}: {v}" for k, v in rows)])
    message.set_content(text)
    message.add_alternative(
        f"<p>{html.escape(notice.message)}</p><table>"
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        + "</table>",
        subtype="html",
    )
    return message


def digest_email(
    *, subject: str, summary: str, lines: Sequence[str], sender: str, recipients: Sequence[str]
) -> EmailMessage:
    """One digest e-mail: a summary line and one line per alert."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content("\n".join([summary, "", *lines]))
    message.add_alternative(
        f"<p>{html.escape(summary)}</p><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        + "</ul>",
        subtype="html",
    )
    return message
