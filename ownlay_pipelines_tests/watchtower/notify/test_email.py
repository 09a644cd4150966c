"""SMTP e-mail against a loopback SMTP server: content, threading headers and refusals."""

from __future__ import annotations

import email
import smtplib
from email import policy

import pytest

from ownlay_pipelines.watchtower.notify.email import (
    SmtpMailer,
    SmtpSecurity,
    SmtpSettings,
    alert_email,
    digest_email,
)
from ownlay_pipelines_tests.watchtower.notify.test_discord import notice
from ownlay_pipelines_tests.watchtower.servers import SmtpServer


@pytest.fixture
def smtp():
    with SmtpServer() as running:
        yield running


def _mailer(smtp: SmtpServer) -> SmtpMailer:
    return SmtpMailer(
        SmtpSettings(
            host="127.0.0.1",
            port=smtp.port,
            sender="watchtower@ownlay.test",
            security=SmtpSecurity.NONE,
        )
    )


def test_alert_email_arrives_with_text_html_and_thread_headers(smtp):
    mailer = _mailer(smtp)
    mailer.send(
        alert_email(
            notice(), sender="watchtower@ownlay.test", recipients=["am@acme.test", "ops@acme.test"]
        )
    )
    (received,) = smtp.messages
    assert received.mail_from == "watchtower@ownlay.test"
    assert received.recipients == ["am@acme.test", "ops@acme.test"]
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert message["Subject"] == "[CRITICAL] Low CVR (acme-outdoor)"
    assert message["Message-ID"] == "<alert-00000000-0000-0000-0000-000000000001@watchtower.ownlay>"
    assert (
        message["References"]
        == f"<rule-11111111-1111-1111-1111-111111111111-{'ab' * 8}@watchtower.ownlay>"
    )
    text = message.get_body(("plain",)).get_content()
    assert "Now: 1.5" in text and "Before: 2.4" in text
    assert "<th>Client</th><td>acme-outdoor</td>" in message.get_body(("html",)).get_content()


def test_digest_email_lists_every_line(smtp):
    _mailer(smtp).send(
        digest_email(
            subject="[WARNING] Digest: Low CVR",
            summary="2 new alerts",
            lines=["a <b>", "c"],
            sender="watchtower@ownlay.test",
            recipients=["am@acme.test"],
        )
    )
    message = email.message_from_bytes(smtp.messages[0].data, policy=policy.default)
    assert message.get_body(("plain",)).get_content().splitlines() == [
        "2 new alerts",
        "",
        "a <b>",
        "c",
    ]
    assert "<li>a &lt;b&gt;</li>" in message.get_body(("html",)).get_content()


def test_refused_recipients_raise_smtp_errors(smtp):
    smtp.refuse_recipients = True
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _mailer(smtp).send(
            alert_email(notice(), sender="w@ownlay.test", recipients=["am@acme.test"])
        )
    assert smtp.messages == []


def test_settings_from_env_keep_the_password_secret():
    settings = SmtpSettings.from_env(
        {
            "OWNLAY_SMTP_HOST": "smtp.example.test",
            "OWNLAY_SMTP_PORT": "465",
            "OWNLAY_SMTP_SECURITY": "ssl",
            "OWNLAY_SMTP_USERNAME": "bot",
            "OWNLAY_SMTP_PASSWORD": "hunter2",
            "OWNLAY_SMTP_SENDER": "w@x.test",
        }
    )
    assert (settings.port, settings.security, settings.password.get_secret_value()) == (
        465,
        "ssl",
        "hunter2",
    )
    assert "hunter2" not in repr(settings)
    assert SmtpSettings.from_env({}) is None
