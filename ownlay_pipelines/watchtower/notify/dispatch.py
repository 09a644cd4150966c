"""Delivering the outbox: immediate notifications and due digests, to Discord and e-mail.

Each pending delivery is first claimed (its next attempt pushed past a lease) so two dispatchers
never send it twice; it becomes `sent` only after the channel accepted it, and a failure keeps it
pending with an exponential back-off, so a failed notification is retried, never lost. Deliveries
of a muted (rule, entity) become `muted`. `last_notified_at` is set on every rule that was sent.
"""

from __future__ import annotations

import smtplib
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.http.errors import ApiError, RateLimited
from ownlay_pipelines.watchtower.clock import require_aware
from ownlay_pipelines.watchtower.notify.channels import DISCORD_WEBHOOK_ENV, Notifiers
from ownlay_pipelines.watchtower.notify.digest import latest_occurrence
from ownlay_pipelines.watchtower.notify.discord import (
    AlertNotice,
    alert_embed,
    digest_embed,
    pack_messages,
)
from ownlay_pipelines.watchtower.notify.email import (
    SmtpMailer,
    alert_email,
    digest_email,
)
from ownlay_pipelines.watchtower.outbox import Channel, DeliveryKind, DeliveryStatus
from ownlay_pipelines.watchtower.redact import redact_secrets
from ownlay_pipelines.watchtower.tables import (
    watchtower_alert_states,
    watchtower_alerts,
    watchtower_deliveries,
    watchtower_rules,
)

CLAIM_LEASE = timedelta(minutes=5)
"""A claimed delivery is invisible to other dispatchers this long (longer than any send)."""
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)


@dataclass
class DispatchReport:
    """What one dispatch did: deliveries sent, muted and failed (kept pending), with reasons."""

    sent: int = 0
    muted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Pending:
    delivery_id: uuid.UUID
    channel: str
    kind: str
    attempts: int
    created_at: datetime
    muted: bool
    notice: AlertNotice
    rule: Mapping[str, Any]


def dispatch_notifications(
    store: sa.Engine, notifiers: Notifiers, *, now: datetime
) -> DispatchReport:
    """Send every due immediate notification and every digest whose scheduled time has come."""
    now = require_aware(now, "dispatch time")
    report = DispatchReport()
    pending = _claim(store, _due(store, now), now)
    muted = [p for p in pending if p.muted]
    if muted:
        _finish(store, [p.delivery_id for p in muted], DeliveryStatus.MUTED, now)
        report.muted += len(muted)
    live = [p for p in pending if not p.muted]
    sender = _Sender(store, notifiers, report, now)
    sender.discord_immediate([p for p in live if p.kind == "immediate" and p.channel == "discord"])
    sender.email_immediate([p for p in live if p.kind == "immediate" and p.channel == "email"])
    sender.digests([p for p in live if p.kind == "digest"])
    return report


def _due(store: sa.Engine, now: datetime) -> list[_Pending]:
    d, a, r, s = watchtower_deliveries, watchtower_alerts, watchtower_rules, watchtower_alert_states
    query = (
        sa.select(
            d.c.id.label("delivery_id"),
            d.c.channel,
            d.c.kind,
            d.c.attempts,
            d.c.created_at.label("delivery_created_at"),
            a.c.id.label("alert_id"),
            a.c.message,
            a.c.severity,
            a.c.client_id,
            a.c.current_value,
            a.c.previous_value,
            a.c.created_at,
            r.c.id.label("rule_id"),
            r.c.name.label("rule_name"),
            r.c.discord_channel_id,
            r.c.email_recipients,
            r.c.notify_schedule,
            r.c.notify_time,
            r.c.notify_day_of_week,
            s.c.muted_until,
            s.c.entity,
            s.c.entity_key,
        )
        .select_from(
            d.join(a, a.c.id == d.c.alert_id)
            .join(r, r.c.id == d.c.rule_id)
            .outerjoin(s, sa.and_(s.c.rule_id == a.c.rule_id, s.c.alert_id == a.c.id))
        )
        .where(
            d.c.status == DeliveryStatus.PENDING.value,
            sa.or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
        )
        .order_by(a.c.created_at, a.c.id)
    )
    with store.connect() as connection:
        rows = connection.execute(query).mappings().all()
    due = []
    for row in rows:
        if row["kind"] == DeliveryKind.DIGEST.value:
            if not row["notify_schedule"] or row["notify_time"] is None:
                continue
            moment = latest_occurrence(
                row["notify_schedule"], row["notify_time"], row["notify_day_of_week"], now
            )
            # A digest covers alerts raised up to its scheduled moment; later ones wait for the next.
            if row["delivery_created_at"] > moment:
                continue
        due.append(
            _Pending(
                delivery_id=row["delivery_id"],
                channel=row["channel"],
                kind=row["kind"],
                attempts=row["attempts"],
                created_at=row["delivery_created_at"],
                muted=row["muted_until"] is not None and row["muted_until"] > now,
                notice=AlertNotice(
                    alert_id=str(row["alert_id"]),
                    rule_id=str(row["rule_id"]),
                    rule_name=row["rule_name"],
                    severity=row["severity"],
                    message=row["message"],
                    client_id=row["client_id"],
                    entity=row["entity"] or {},
                    entity_key=row["entity_key"],
                    current_value=row["current_value"],
                    previous_value=row["previous_value"],
                    created_at=row["created_at"],
                ),
                rule=row,
            )
        )
    return due


def _claim(store: sa.Engine, due: list[_Pending], now: datetime) -> list[_Pending]:
    d = watchtower_deliveries
    claimed = []
    with store.begin() as connection:
        for pending in due:
            taken = connection.execute(
                d.update()
                .where(
                    d.c.id == pending.delivery_id,
                    d.c.status == DeliveryStatus.PENDING.value,
                    sa.or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= now),
                )
                .values(next_attempt_at=now + CLAIM_LEASE)
            ).rowcount
            if taken == 1:
                claimed.append(pending)
    return claimed


def _finish(
    store: sa.Engine, ids: Sequence[uuid.UUID], status: DeliveryStatus, now: datetime
) -> None:
    d = watchtower_deliveries
    with store.begin() as connection:
        connection.execute(
            d.update()
            .where(d.c.id.in_(list(ids)))
            .values(
                status=status.value,
                sent_at=now if status is DeliveryStatus.SENT else None,
                next_attempt_at=None,
                last_error=None,
            )
        )
        if status is DeliveryStatus.SENT:
            rules = sa.select(d.c.rule_id).where(d.c.id.in_(list(ids))).distinct()
            connection.execute(
                watchtower_rules.update()
                .where(watchtower_rules.c.id.in_(rules))
                .values(last_notified_at=now)
            )


class _Sender:
    """Sends claimed deliveries channel by channel and records each result."""

    def __init__(
        self, store: sa.Engine, notifiers: Notifiers, report: DispatchReport, now: datetime
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.report = report
        self.now = now

    def sent(self, batch: Sequence[_Pending]) -> None:
        _finish(self.store, [p.delivery_id for p in batch], DeliveryStatus.SENT, self.now)
        self.report.sent += len(batch)

    def failed(
        self, batch: Sequence[_Pending], error: str, wait_seconds: float | None = None
    ) -> None:
        """Keep `batch` pending, retried after a back-off that doubles per attempt (capped)."""
        error = redact_secrets(error)
        d = watchtower_deliveries
        with self.store.begin() as connection:
            for pending in batch:
                backoff = min(FIRST_RETRY * 2**pending.attempts, MAX_RETRY)
                if wait_seconds is not None:
                    backoff = max(backoff, timedelta(seconds=wait_seconds))
                connection.execute(
                    d.update()
                    .where(d.c.id == pending.delivery_id)
                    .values(
                        attempts=d.c.attempts + 1,
                        next_attempt_at=self.now + backoff,
                        last_error=error[:2000],
                    )
                )
        self.report.failed += len(batch)
        self.report.errors.append(error)

    def discord_immediate(self, batch: Sequence[_Pending]) -> None:
        by_channel: dict[str | None, list[_Pending]] = defaultdict(list)
        for pending in batch:
            by_channel[pending.rule["discord_channel_id"]].append(pending)
        for channel_id, items in by_channel.items():
            self._post(channel_id, [(alert_embed(p.notice), [p]) for p in items])

    def _post(
        self, channel_id: str | None, parts: Sequence[tuple[dict[str, Any], list[_Pending]]]
    ) -> None:
        webhook = self.notifiers.webhook_for(channel_id)
        items = [p for _, group in parts for p in group]
        if webhook is None:
            specific = f"{DISCORD_WEBHOOK_ENV}_{channel_id} or " if channel_id else ""
            self.failed(
                items,
                f"no Discord webhook for channel {channel_id or '(default)'}: "
                f"set {specific}{DISCORD_WEBHOOK_ENV}",
            )
            return
        owner = {id(embed): group for embed, group in parts}
        messages = pack_messages([embed for embed, _ in parts])
        for index, message in enumerate(messages):
            delivered = [p for embed in message for p in owner[id(embed)]]
            try:
                webhook.post(message)
            except ApiError as exc:
                # Stop hammering this webhook: everything not yet sent waits for the back-off.
                rest = [
                    p for later in messages[index:] for embed in later for p in owner[id(embed)]
                ]
                wait = exc.wait_seconds if isinstance(exc, RateLimited) else None
                self.failed(rest, str(exc), wait)
                return
            self.sent(delivered)

    def email_immediate(self, batch: Sequence[_Pending]) -> None:
        mailer = self._mailer(batch)
        if mailer is None:
            return
        for index, pending in enumerate(batch):
            message = alert_email(
                pending.notice,
                sender=mailer.settings.sender,
                recipients=pending.rule["email_recipients"] or [],
            )
            if not self._mail(mailer, message, [pending], batch[index + 1 :]):
                return

    def _mailer(self, batch: Sequence[_Pending]) -> SmtpMailer | None:
        if batch and self.notifiers.mailer is None:
            self.failed(
                batch, "no SMTP server configured: set OWNLAY_SMTP_HOST and OWNLAY_SMTP_SENDER"
            )
        return self.notifiers.mailer

    def _mail(
        self,
        mailer: SmtpMailer,
        message: Any,
        items: Sequence[_Pending],
        rest: Sequence[_Pending],
    ) -> bool:
        """Send one message; False when the server is unusable and the rest must wait too."""
        try:
            mailer.send(message)
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPDataError,
            smtplib.SMTPSenderRefused,
        ) as exc:
            self.failed(items, f"SMTP {mailer.settings.host} refused the message: {exc}")
            return True
        except (smtplib.SMTPException, OSError) as exc:
            self.failed(
                [*items, *rest],
                f"SMTP {mailer.settings.host} unusable: {type(exc).__name__}: {exc}",
            )
            return False
        self.sent(items)
        return True

    def digests(self, batch: Sequence[_Pending]) -> None:
        groups: dict[tuple[str, str], list[_Pending]] = defaultdict(list)
        for pending in batch:
            groups[(pending.notice.rule_id, pending.channel)].append(pending)
        for (_, channel), items in groups.items():
            first = items[0]
            worst = _worst_severity(items)
            title = f"Digest: {first.notice.rule_name}"
            moment = latest_occurrence(
                first.rule["notify_schedule"],
                first.rule["notify_time"],
                first.rule["notify_day_of_week"],
                self.now,
            )
            summary = (
                f"{len(items)} new alert{'s' if len(items) != 1 else ''} "
                f"({first.rule['notify_schedule']} digest up to {moment:%Y-%m-%d %H:%M} UTC)"
            )
            lines = [_digest_line(p.notice) for p in items]
            if channel == Channel.DISCORD.value:
                self._post(
                    first.rule["discord_channel_id"],
                    [(digest_embed(title, worst, lines, summary), items)],
                )
                continue
            mailer = self._mailer(items)
            if mailer is not None:
                message = digest_email(
                    subject=f"[{worst.upper()}] {title}",
                    summary=summary,
                    lines=lines,
                    sender=mailer.settings.sender,
                    recipients=first.rule["email_recipients"] or [],
                )
                self._mail(mailer, message, items, [])


_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _worst_severity(items: Sequence[_Pending]) -> str:
    return max((p.notice.severity for p in items), key=lambda s: _SEVERITY_RANK.get(s, 0))


def _digest_line(notice: AlertNotice) -> str:
    return f"[{notice.severity}] {notice.created_at:%Y-%m-%d %H:%M} {notice.message}"
