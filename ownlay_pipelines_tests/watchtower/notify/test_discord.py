"""Discord webhooks against a loopback HTTP server: content, limits, 429 and a failing webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import CircuitOpen, FatalApiError, PermissionDenied, RateLimited
from ownlay_pipelines.watchtower.notify.discord import (
    DESCRIPTION_LIMIT,
    EMBED_CHARS_PER_MESSAGE,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    AlertNotice,
    DiscordWebhook,
    alert_embed,
    digest_embed,
    embed_chars,
    pack_messages,
)
from ownlay_pipelines_tests.watchtower.servers import ScriptedResponse, WebhookServer


def notice(
    index: int = 1, message: str = "Low CVR: cvr < 2 for client_id=acme-outdoor"
) -> AlertNotice:
    return AlertNotice(
        alert_id=f"00000000-0000-0000-0000-{index:012d}",
        rule_id="11111111-1111-1111-1111-111111111111",
        rule_name="Low CVR",
        severity="critical",
        message=message,
        client_id="acme-outdoor",
        entity={"client_id": "acme-outdoor", "source": "scraper/cvr", "external_id": "2026-11"},
        entity_key="ab" * 32,
        current_value="1.5",
        previous_value="2.4",
        created_at=datetime(2026, 11, 21, 8, 5, tzinfo=UTC),
    )


@pytest.fixture
def server():
    with WebhookServer() as running:
        yield running


def test_alert_embed_reaches_the_webhook_with_wait_true(server):
    DiscordWebhook(server.url()).post([alert_embed(notice())])
    (request,) = server.requests
    assert request["path"] == "/api/webhooks/1234/s3cr3t-token" and request["query"] == "wait=true"
    (embed,) = request["json"]["embeds"]
    assert embed["title"] == "[CRITICAL] Low CVR"
    assert embed["color"] == 0xE74C3C
    assert {f["name"]: f["value"] for f in embed["fields"]} == {
        "Client": "acme-outdoor",
        "Now": "1.5",
        "Before": "2.4",
        "Entity": "client_id=acme-outdoor, source=scraper/cvr, external_id=2026-11",
    }
    assert request["json"]["allowed_mentions"] == {"parse": []}


def test_long_texts_are_cut_to_discord_limits():
    long = notice(message="x" * 10_000)
    embed = alert_embed(
        AlertNotice(**{**long.__dict__, "rule_name": "r" * 400, "current_value": "9" * 2000})
    )
    assert len(embed["title"]) == TITLE_LIMIT and embed["title"].endswith("…")
    assert len(embed["description"]) == DESCRIPTION_LIMIT
    assert max(len(f["value"]) for f in embed["fields"]) == FIELD_VALUE_LIMIT


def test_messages_hold_at_most_ten_embeds_and_6000_characters():
    small = [alert_embed(notice(i)) for i in range(23)]
    assert [len(m) for m in pack_messages(small)] == [10, 10, 3]
    big = [alert_embed(notice(i, message="y" * 2500)) for i in range(5)]
    messages = pack_messages(big)
    assert all(sum(embed_chars(e) for e in m) <= EMBED_CHARS_PER_MESSAGE for m in messages)
    assert sum(len(m) for m in messages) == 5 and len(messages) == 3


def test_digest_embed_lists_what_fits_and_counts_the_rest():
    embed = digest_embed(
        "Digest: Low CVR", "warning", [f"line {i} " + "z" * 200 for i in range(40)], "40 new"
    )
    assert len(embed["description"]) <= DESCRIPTION_LIMIT
    assert embed["description"].startswith("40 new\n\nline 0")
    assert embed["description"].splitlines()[-1].startswith("… and ")


def test_429_waits_retry_after_from_the_body_then_succeeds(server):
    server.reply(
        ScriptedResponse(
            429, {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
        ),
        ScriptedResponse(429, {"retry_after": 1.5}, {"Retry-After": "2"}),
        ScriptedResponse(204),
    )
    clock = FakeClock()
    DiscordWebhook(server.url(), clock=clock).post([alert_embed(notice())])
    assert clock.sleeps == [0.25, 1.5]
    assert len(server.requests) == 3


def test_a_long_429_is_not_waited_out(server):
    server.reply(ScriptedResponse(429, {"retry_after": 600.0}))
    clock = FakeClock()
    with pytest.raises(RateLimited) as raised:
        DiscordWebhook(server.url(), clock=clock).post([alert_embed(notice())])
    assert raised.value.wait_seconds == 600.0 and clock.sleeps == []
    assert len(server.requests) == 1


def test_a_failing_webhook_is_left_alone_after_three_failures(server, caplog):
    server.reply(ScriptedResponse(404, {"code": 10015, "message": "Unknown Webhook"}))
    clock = FakeClock(datetime(2026, 11, 21, 8, tzinfo=UTC))
    webhook = DiscordWebhook(server.url(), clock=clock)
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        with pytest.raises(PermissionDenied, match="Unknown Webhook") as raised:
            webhook.post([alert_embed(notice())])
        assert "s3cr3t-token" not in str(raised.value)
    with pytest.raises(CircuitOpen, match=r"webhooks/1234/\*\*\*: circuit open after 3"):
        webhook.post([alert_embed(notice())])
    assert len(server.requests) == 3
    clock.advance(301)  # after the cool-down one trial call goes through
    server.reply(ScriptedResponse(204))
    webhook.post([alert_embed(notice())])
    assert len(server.requests) == 4
    assert "s3cr3t-token" not in caplog.text


def test_invalid_form_body_is_a_fatal_error_without_the_token(server):
    server.reply(ScriptedResponse(400, {"code": 50035, "message": "Invalid Form Body"}))
    with pytest.raises(FatalApiError, match="code 50035: Invalid Form Body") as raised:
        DiscordWebhook(server.url()).post([alert_embed(notice())])
    assert "s3cr3t-token" not in str(raised.value)
    assert "/api/webhooks/1234/***" in str(raised.value)
