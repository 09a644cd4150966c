"""Alert lifecycle per (rule, entity): ok → firing → acknowledged → resolved, plus mute-until.

The state row (`watchtower_alert_states`, keyed by rule and entity) is the dedup guard: while it is
firing or acknowledged no second alert is written for that entity; a resolved entity that matches
again opens a new alert (a new episode). Mute silences notifications until a time, never the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.watchtower.clock import require_aware
from ownlay_pipelines.watchtower.errors import NotFoundError, TransitionError
from ownlay_pipelines.watchtower.matches import Match
from ownlay_pipelines.watchtower.outbox import enqueue_deliveries
from ownlay_pipelines.watchtower.rules import Rule
from ownlay_pipelines.watchtower.tables import (
    watchtower_alert_states,
    watchtower_alerts,
    watchtower_rules,
)

VALUE_MAX_CHARS = 255
"""`current_value`/`previous_value` are VARCHAR(255) in seed 004."""


class AlertState(StrEnum):
    """Where one (rule, entity) stands; `ok` is every entity that never fired (no state row)."""

    OK = "ok"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATES = (AlertState.FIRING.value, AlertState.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class Finding:
    """A matched entity ready to be recorded: its match and the alert text for it."""

    match: Match
    message: str
    current_value: str | None
    previous_value: str | None


@dataclass(frozen=True)
class Transitions:
    """What one evaluation changed: alerts opened and entities resolved; states after it."""

    opened: tuple[uuid.UUID, ...]
    resolved: tuple[str, ...]
    states: dict[str, str]
    muted: frozenset[str]


def record_evaluation(
    connection: sa.Connection,
    rule: Rule,
    *,
    alerting: Sequence[Finding],
    matching: Sequence[Finding],
    evaluation_snapshot_id: uuid.UUID | None,
    now: datetime,
) -> Transitions:
    """Apply one evaluation of `rule` to its alert states.

    `matching` is every entity whose condition holds now; `alerting` the subset the rule's
    dependency lets raise an alert. Open entities no longer matching are resolved.
    """
    now = require_aware(now, "evaluation time")
    known = {
        row.entity_key: row
        for row in connection.execute(
            sa.select(watchtower_alert_states).where(watchtower_alert_states.c.rule_id == rule.id)
        )
    }
    open_keys = {key for key, row in known.items() if row.state in OPEN_STATES}
    matching_by_key = {finding.match.key: finding for finding in matching}
    refresh = [matching_by_key[key] for key in open_keys & matching_by_key.keys()]
    if refresh:
        connection.execute(
            watchtower_alert_states.update()
            .where(
                watchtower_alert_states.c.rule_id == rule.id,
                watchtower_alert_states.c.entity_key == sa.bindparam("key"),
            )
            .values(
                current_value=sa.bindparam("current"),
                previous_value=sa.bindparam("previous"),
                evaluated_at=now,
            ),
            [
                {
                    "key": f.match.key,
                    "current": _cut(f.current_value),
                    "previous": _cut(f.previous_value),
                }
                for f in refresh
            ],
        )
    opened = [
        _open_alert(
            connection, rule, finding, known.get(finding.match.key), evaluation_snapshot_id, now
        )
        for finding in alerting
        if finding.match.key not in open_keys
    ]
    resolved = sorted(open_keys - matching_by_key.keys())
    if resolved:
        connection.execute(
            watchtower_alert_states.update()
            .where(
                watchtower_alert_states.c.rule_id == rule.id,
                watchtower_alert_states.c.entity_key.in_(resolved),
                watchtower_alert_states.c.state.in_(OPEN_STATES),
            )
            .values(state=AlertState.RESOLVED.value, changed_at=now, evaluated_at=now)
        )
    states = {key: known[key].state for key in open_keys & matching_by_key.keys()}
    states.update(
        {
            finding.match.key: AlertState.FIRING.value
            for finding in alerting
            if finding.match.key not in open_keys
        }
    )
    muted = frozenset(
        key
        for key, row in known.items()
        if key in matching_by_key and row.muted_until is not None and row.muted_until > now
    )
    return Transitions(tuple(opened), tuple(resolved), states, muted)


def _open_alert(
    connection: sa.Connection,
    rule: Rule,
    finding: Finding,
    existing: sa.Row[Any] | None,
    evaluation_snapshot_id: uuid.UUID | None,
    now: datetime,
) -> uuid.UUID:
    match = finding.match
    snapshot_id = match.snapshot_id or evaluation_snapshot_id
    if snapshot_id is None:
        raise ValueError(f"rule {rule.name!r}: an alert needs the snapshot it was found in")
    alert_id = uuid.uuid4()
    connection.execute(
        watchtower_alerts.insert().values(
            id=alert_id,
            rule_id=rule.id,
            snapshot_id=snapshot_id,
            record_id=match.record_id,
            client_id=match.client_id,
            message=finding.message,
            severity=rule.severity,
            current_value=_cut(finding.current_value),
            previous_value=_cut(finding.previous_value),
            is_acknowledged=False,
            created_at=now,
        )
    )
    state_values = {
        "state": AlertState.FIRING.value,
        "alert_id": alert_id,
        "current_value": _cut(finding.current_value),
        "previous_value": _cut(finding.previous_value),
        "changed_at": now,
        "evaluated_at": now,
    }
    if existing is None:
        # The primary key (rule_id, entity_key) makes a concurrent second insert fail, rolling back
        # its alert with it: one alert per unresolved (rule, entity) even across parallel runs.
        connection.execute(
            watchtower_alert_states.insert().values(
                rule_id=rule.id,
                entity_key=match.key,
                entity=dict(match.entity),
                client_id=match.client_id,
                **state_values,
            )
        )
    else:
        claimed = connection.execute(
            watchtower_alert_states.update()
            .where(
                watchtower_alert_states.c.rule_id == rule.id,
                watchtower_alert_states.c.entity_key == match.key,
                watchtower_alert_states.c.state == AlertState.RESOLVED.value,
            )
            .values(**state_values)
        ).rowcount
        if claimed != 1:
            raise TransitionError(
                f"rule {rule.name!r}: entity {match.key[:12]} was reopened by a concurrent "
                "evaluation; this evaluation's alert is rolled back"
            )
    enqueue_deliveries(connection, rule, alert_id, now)
    return alert_id


def _cut(value: str | None) -> str | None:
    if value is None or len(value) <= VALUE_MAX_CHARS:
        return value
    return value[: VALUE_MAX_CHARS - 1] + "…"


@dataclass(frozen=True)
class AlertView:
    """One alert with its rule's name and the current state of its (rule, entity)."""

    id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    client_id: str | None
    severity: str
    message: str
    current_value: str | None
    previous_value: str | None
    state: str
    muted_until: datetime | None
    is_acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    created_at: datetime
    entity: dict[str, str | None] | None
    entity_key: str | None


def _state_of_alert() -> sa.ColumnElement[str]:
    # A state row points at its latest episode's alert; earlier episodes' alerts are resolved.
    return sa.case(
        (watchtower_alert_states.c.alert_id.is_(None), AlertState.RESOLVED.value),
        else_=watchtower_alert_states.c.state,
    )


def _alert_views_query() -> sa.Select[Any]:
    alerts, states = watchtower_alerts, watchtower_alert_states
    return sa.select(
        alerts.c.id,
        alerts.c.rule_id,
        watchtower_rules.c.name.label("rule_name"),
        alerts.c.client_id,
        alerts.c.severity,
        alerts.c.message,
        alerts.c.current_value,
        alerts.c.previous_value,
        _state_of_alert().label("state"),
        states.c.muted_until,
        alerts.c.is_acknowledged,
        alerts.c.acknowledged_by,
        alerts.c.acknowledged_at,
        alerts.c.created_at,
        states.c.entity,
        states.c.entity_key,
    ).select_from(
        alerts.join(watchtower_rules, watchtower_rules.c.id == alerts.c.rule_id).outerjoin(
            states, states.c.alert_id == alerts.c.id
        )
    )


def list_alerts(
    engine: sa.Engine,
    *,
    states: Iterable[AlertState] = (AlertState.FIRING, AlertState.ACKNOWLEDGED),
    client_id: str | None = None,
    rule_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[AlertView]:
    """Alerts in the given states (open ones by default), newest first."""
    query = (
        _alert_views_query()
        .where(_state_of_alert().in_([AlertState(s).value for s in states]))
        .order_by(watchtower_alerts.c.created_at.desc(), watchtower_alerts.c.id)
        .limit(limit)
    )
    if client_id is not None:
        query = query.where(watchtower_alerts.c.client_id == client_id)
    if rule_id is not None:
        query = query.where(watchtower_alerts.c.rule_id == rule_id)
    with engine.connect() as connection:
        return [AlertView(**row) for row in connection.execute(query).mappings()]


def get_alert(connection: sa.Connection, alert_id: uuid.UUID) -> AlertView:
    """The alert with this id, with its current state."""
    row = (
        connection.execute(_alert_views_query().where(watchtower_alerts.c.id == alert_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFoundError(f"alert {alert_id} does not exist in watchtower_alerts")
    return AlertView(**row)


def acknowledge_alert(
    engine: sa.Engine, alert_id: uuid.UUID, *, by: str, now: datetime
) -> AlertView:
    """Mark an alert acknowledged by `by`; a firing (rule, entity) becomes acknowledged."""
    now = require_aware(now, "acknowledgement time")
    if not by.strip():
        raise ValueError("acknowledged_by is empty; say who acknowledges the alert")
    with engine.begin() as connection:
        alert = get_alert(connection, alert_id)
        if alert.is_acknowledged:
            raise TransitionError(
                f"alert {alert_id} was already acknowledged by {alert.acknowledged_by} "
                f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
            )
        connection.execute(
            watchtower_alerts.update()
            .where(watchtower_alerts.c.id == alert_id)
            .values(is_acknowledged=True, acknowledged_at=now, acknowledged_by=by.strip()[:255])
        )
        connection.execute(
            watchtower_alert_states.update()
            .where(
                watchtower_alert_states.c.alert_id == alert_id,
                watchtower_alert_states.c.state == AlertState.FIRING.value,
            )
            .values(state=AlertState.ACKNOWLEDGED.value, changed_at=now)
        )
        return get_alert(connection, alert_id)


def mute_alert(
    engine: sa.Engine, alert_id: uuid.UUID, *, until: datetime, now: datetime
) -> AlertView:
    """Silence notifications for this alert's (rule, entity) until `until`, new episodes included."""
    until = require_aware(until, "mute end")
    if until <= require_aware(now, "mute time"):
        raise ValueError(f"mute end {until.isoformat()} is not in the future")
    with engine.begin() as connection:
        alert = get_alert(connection, alert_id)
        if alert.entity_key is None:
            raise TransitionError(
                f"alert {alert_id} belongs to an earlier episode of its entity; mute the latest one"
            )
        connection.execute(
            watchtower_alert_states.update()
            .where(watchtower_alert_states.c.alert_id == alert_id)
            .values(muted_until=until)
        )
        return get_alert(connection, alert_id)


def alert_id_by_prefix(engine: sa.Engine, prefix: str) -> uuid.UUID:
    """The one alert whose id starts with `prefix` (dashes optional, any case).

    ValueError when the prefix is not hexadecimal, NotFoundError when no alert matches, and
    ValueError listing the candidates when more than one does.
    """
    wanted = prefix.strip().lower().replace("-", "")
    if not wanted or any(c not in "0123456789abcdef" for c in wanted):
        raise ValueError(f"alert id {prefix!r} is not a hexadecimal id or id prefix")
    with engine.connect() as connection:
        ids = connection.execute(sa.select(watchtower_alerts.c.id)).scalars().all()
    matches = sorted((i for i in ids if i.hex.startswith(wanted)), key=str)
    if not matches:
        raise NotFoundError(f"no alert id starts with {prefix!r}")
    if len(matches) > 1:
        shown = ", ".join(str(i) for i in matches[:5]) + (" …" if len(matches) > 5 else "")
        raise ValueError(
            f"alert id prefix {prefix!r} matches {len(matches)} alerts ({shown}); give more characters"
        )
    return matches[0]
