"""The notification outbox: one `watchtower_deliveries` row per alert, channel and kind.

Rows are written in the same transaction as the alert they announce, so an alert can never exist
without its pending notifications, and the unique key (alert, channel, kind) means it is never
queued twice. The dispatcher (notify/dispatch.py) moves rows from pending to sent or muted.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

import sqlalchemy as sa

from ownlay_pipelines.watchtower.rules import Rule
from ownlay_pipelines.watchtower.tables import watchtower_deliveries


class Channel(StrEnum):
    """Where a notification goes."""

    DISCORD = "discord"
    EMAIL = "email"


class DeliveryKind(StrEnum):
    """`immediate` as soon as the alert opens, `digest` in the rule's daily/weekly digest."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"


class DeliveryStatus(StrEnum):
    """`pending` until delivered (`sent`) or dropped because its (rule, entity) is muted."""

    PENDING = "pending"
    SENT = "sent"
    MUTED = "muted"


def rule_channels(rule: Rule) -> list[Channel]:
    """The channels a rule notifies on."""
    return [
        channel
        for channel, wanted in (
            (Channel.DISCORD, rule.notify_discord),
            (Channel.EMAIL, rule.notify_email),
        )
        if wanted
    ]


def rule_kinds(rule: Rule) -> list[DeliveryKind]:
    """Immediate and/or digest, as the rule's notify_immediately/notify_schedule ask."""
    kinds = [DeliveryKind.IMMEDIATE] if rule.notify_immediately else []
    if rule.notify_schedule:
        kinds.append(DeliveryKind.DIGEST)
    return kinds


def enqueue_deliveries(
    connection: sa.Connection, rule: Rule, alert_id: uuid.UUID, created_at: object
) -> int:
    """Queue the notifications a new alert of `rule` needs; returns how many rows were queued."""
    rows = [
        {
            "id": uuid.uuid4(),
            "alert_id": alert_id,
            "rule_id": rule.id,
            "channel": channel.value,
            "kind": kind.value,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "created_at": created_at,
        }
        for channel in rule_channels(rule)
        for kind in rule_kinds(rule)
    ]
    if rows:
        connection.execute(watchtower_deliveries.insert(), rows)
    return len(rows)
