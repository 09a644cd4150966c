"""The outbox dispatcher end to end: alerts from the engine delivered to loopback servers."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
import sqlalchemy as sa

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.watchtower.alerts import list_alerts, mute_alert
from ownlay_pipelines.watchtower.engine import evaluate_target
from ownlay_pipelines.watchtower.notify.channels import Notifiers
from ownlay_pipelines.watchtower.notify.discord import DiscordWebhook
from ownlay_pipelines.watchtower.notify.dispatch import dispatch_notifications
from ownlay_pipelines.watchtower.notify.email import SmtpMailer, SmtpSecurity, SmtpSettings
from ownlay_pipelines.watchtower.rules import RuleSpec, add_rule, get_rule
from ownlay_pipelines.watchtower.tables import watchtower_deliveries
from ownlay_pipelines_tests.watchtower.factories import put_snapshot
from ownlay_pipelines_tests.watchtower.servers import ScriptedResponse, SmtpServer, WebhookServer


@pytest.fixture
def webhook_server():
    with WebhookServer() as running:
        yield running


@pytest.fixture
def smtp():
    with SmtpServer() as running:
        yield running


def _notifiers(webhook_server=None, smtp=None) -> Notifiers:
    discord = (
        {"123": DiscordWebhook(webhook_server.url(), clock=FakeClock())} if webhook_server else {}
    )
    mailer = (
        SmtpMailer(
            SmtpSettings(
                host="127.0.0.1", port=smtp.port, sender="w@ownlay.test", security=SmtpSecurity.NONE
            )
        )
        if smtp
        else None
    )
    return Notifiers(discord=discord, mailer=mailer)


def _alerting_rule(store, clock, clients=("acme-outdoor",), **notify):
    rule = add_rule(
        store,
        RuleSpec(
            name="Low CVR", field_name="cvr", condition="less_than", threshold_value="2", **notify
        ),
        clock=clock,
    )
    for client in clients:
        put_snapshot(
            store,
            clock,
            "scraper",
            "cvr",
            [{"external_id": "2026-11", "metrics": {"cvr": 1.5}}],
            client_id=client,
        )
    evaluate_target("api_records", store=store, clock=clock)
    return rule


def _deliveries(store):
    d = watchtower_deliveries
    with store.connect() as connection:
        return connection.execute(
            sa.select(
                d.c.channel, d.c.kind, d.c.status, d.c.attempts, d.c.next_attempt_at, d.c.last_error
            )
        ).all()


def test_immediate_discord_notification_is_sent_once(sqlite_store, clock, webhook_server):
    rule = _alerting_rule(sqlite_store, clock, notify_discord=True, discord_channel_id="123")
    notifiers = _notifiers(webhook_server)
    report = dispatch_notifications(sqlite_store, notifiers, now=clock())
    assert (report.sent, report.failed) == (1, 0)
    (request,) = webhook_server.requests
    (embed,) = request["json"]["embeds"]
    assert (
        embed["title"] == "[WARNING] Low CVR" and "client_id=acme-outdoor" in embed["description"]
    )
    assert get_rule(sqlite_store, rule.id).last_notified_at == clock()
    assert dispatch_notifications(sqlite_store, notifiers, now=clock.advance(hours=2)).sent == 0
    assert len(webhook_server.requests) == 1
    assert [d.status for d in _deliveries(sqlite_store)] == ["sent"]


def test_a_failing_webhook_keeps_the_alert_pending_and_sends_it_once_later(
    store, clock, webhook_server
):
    _alerting_rule(
        store,
        clock,
        clients=("acme-outdoor", "kumo-tea"),
        notify_discord=True,
        discord_channel_id="123",
    )
    webhook_server.reply(ScriptedResponse(500, {"message": "oops"}), ScriptedResponse(204))
    notifiers = _notifiers(webhook_server)
    report = dispatch_notifications(store, notifiers, now=clock())
    assert (report.sent, report.failed) == (0, 2)
    assert "s3cr3t-token" not in report.errors[0]
    rows = _deliveries(store)
    assert [(d.status, d.attempts, d.next_attempt_at) for d in rows] == [
        ("pending", 1, clock() + timedelta(minutes=1))
    ] * 2
    assert len(list_alerts(store)) == 2
    assert (
        dispatch_notifications(store, notifiers, now=clock.advance(seconds=30)).sent == 0
    )  # backing off
    assert dispatch_notifications(store, notifiers, now=clock.advance(minutes=1)).sent == 2
    assert (
        len(webhook_server.requests) == 2
    )  # the failed post and one successful post with both embeds
    assert len(webhook_server.requests[1]["json"]["embeds"]) == 2
    assert dispatch_notifications(store, notifiers, now=clock.advance(hours=1)).sent == 0


def test_a_long_rate_limit_postpones_delivery_by_retry_after(sqlite_store, clock, webhook_server):
    _alerting_rule(sqlite_store, clock, notify_discord=True, discord_channel_id="123")
    webhook_server.reply(ScriptedResponse(429, {"retry_after": 900.0, "global": False}))
    dispatch_notifications(sqlite_store, _notifiers(webhook_server), now=clock())
    (row,) = _deliveries(sqlite_store)
    assert (row.status, row.next_attempt_at) == ("pending", clock() + timedelta(seconds=900))
    assert "rate limited" in row.last_error


def test_many_alerts_are_split_into_messages_of_ten_embeds(sqlite_store, clock, webhook_server):
    clients = [f"client-{i:02d}" for i in range(12)]
    _alerting_rule(
        sqlite_store, clock, clients=clients, notify_discord=True, discord_channel_id="123"
    )
    report = dispatch_notifications(sqlite_store, _notifiers(webhook_server), now=clock())
    assert report.sent == 12
    assert [len(r["json"]["embeds"]) for r in webhook_server.requests] == [10, 2]


def test_immediate_email_and_its_retry_after_a_server_failure(sqlite_store, clock, smtp):
    _alerting_rule(sqlite_store, clock, notify_email=True, email_recipients=("am@acme.test",))
    smtp.fail_data = True
    notifiers = _notifiers(smtp=smtp)
    assert dispatch_notifications(sqlite_store, notifiers, now=clock()).failed == 1
    assert smtp.messages == []
    smtp.fail_data = False
    assert dispatch_notifications(sqlite_store, notifiers, now=clock.advance(minutes=2)).sent == 1
    (received,) = smtp.messages
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert (received.recipients, message["Subject"]) == (
        ["am@acme.test"],
        "[WARNING] Low CVR (acme-outdoor)",
    )


def test_unconfigured_channels_keep_deliveries_pending_with_the_fix(sqlite_store, clock):
    _alerting_rule(
        sqlite_store,
        clock,
        notify_discord=True,
        discord_channel_id="123",
        notify_email=True,
        email_recipients=("am@acme.test",),
    )
    report = dispatch_notifications(sqlite_store, Notifiers(), now=clock())
    assert report.failed == 2
    errors = sorted(d.last_error for d in _deliveries(sqlite_store))
    assert errors == [
        "no Discord webhook for channel 123: set OWNLAY_DISCORD_WEBHOOK_URL_123 or OWNLAY_DISCORD_WEBHOOK_URL",
        "no SMTP server configured: set OWNLAY_SMTP_HOST and OWNLAY_SMTP_SENDER",
    ]


def test_muted_alerts_are_not_sent(sqlite_store, clock, webhook_server):
    _alerting_rule(sqlite_store, clock, notify_discord=True, discord_channel_id="123")
    (alert,) = list_alerts(sqlite_store)
    mute_alert(sqlite_store, alert.id, until=clock() + timedelta(hours=1), now=clock())
    report = dispatch_notifications(sqlite_store, _notifiers(webhook_server), now=clock())
    assert (report.sent, report.muted) == (0, 1)
    assert webhook_server.requests == []
    assert [d.status for d in _deliveries(sqlite_store)] == ["muted"]


def test_daily_digest_waits_for_notify_time_and_sends_one_message(
    sqlite_store, clock, webhook_server, smtp
):
    rule = _alerting_rule(
        sqlite_store,
        clock,
        clients=("acme-outdoor", "kumo-tea"),
        notify_immediately=False,
        notify_schedule="daily",
        notify_time="09:00",
        notify_discord=True,
        discord_channel_id="123",
        notify_email=True,
        email_recipients=("am@acme.test",),
    )
    notifiers = _notifiers(webhook_server, smtp)
    assert dispatch_notifications(sqlite_store, notifiers, now=clock.advance(minutes=30)).sent == 0
    report = dispatch_notifications(sqlite_store, notifiers, now=clock.advance(minutes=40))
    assert report.sent == 4  # two alerts, each in the Discord digest and the e-mail digest
    (request,) = webhook_server.requests
    (embed,) = request["json"]["embeds"]
    assert embed["title"] == "Digest: Low CVR"
    assert embed["description"].startswith("2 new alerts (daily digest up to 2026-11-21 09:00 UTC)")
    assert "acme-outdoor" in embed["description"] and "kumo-tea" in embed["description"]
    (mail,) = smtp.messages
    assert (
        email.message_from_bytes(mail.data, policy=policy.default)["Subject"]
        == "[WARNING] Digest: Low CVR"
    )
    assert get_rule(sqlite_store, rule.id).last_notified_at == clock()


def test_notifiers_from_env_route_channels(monkeypatch):
    notifiers = Notifiers.from_env(
        {
            "OWNLAY_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/default-token",
            "OWNLAY_DISCORD_WEBHOOK_URL_123": "https://discord.com/api/webhooks/2/channel-token",
        }
    )
    assert notifiers.webhook_for("123").name == "https://discord.com/api/webhooks/2/***"
    assert notifiers.webhook_for("999").name == "https://discord.com/api/webhooks/1/***"
    assert notifiers.mailer is None
