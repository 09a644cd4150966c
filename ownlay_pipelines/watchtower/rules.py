"""Watchtower rules: validating a definition, storing it, listing and disabling rules.

A definition is checked against the real fields of its target before it is stored, so every
stored rule can be evaluated; the same check runs again at evaluation in case a view changed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time
from typing import Any, Literal

import duckdb
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.conditions import (
    Condition,
    Dependency,
    FieldSpec,
    LogicOperator,
    Operand,
    Severity,
    parse_operand,
)
from ownlay_pipelines.watchtower.errors import NotFoundError, RuleDefinitionError
from ownlay_pipelines.watchtower.tables import api_sources, watchtower_rules
from ownlay_pipelines.watchtower.targets import (
    OpsTarget,
    Target,
    WarehouseTarget,
    metric_ranges,
    ops_fields,
    resolve_field,
    resolve_target,
    warehouse_fields,
)

BUILTIN_PREFIX = "builtin: "
"""Names of the shipped rules (builtin_rules.py) start with this; user rules may not."""

EMAIL_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
DISCORD_CHANNEL_ID = re.compile(r"^\d{1,30}$")


class RuleSpec(BaseModel):
    """A rule as a person writes it (seed 004's `createRule` arguments), validated on its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    field_name: str = Field(min_length=1, max_length=100)
    condition: Condition
    threshold_value: str | None = Field(default=None, max_length=255)
    description: str | None = None
    source_id: uuid.UUID | None = None
    client_id: str | None = None
    target_table: str | None = Field(default=None, max_length=100)
    parent_rule_id: uuid.UUID | None = None
    dependency_condition: Dependency | None = None
    logic_operator: LogicOperator = LogicOperator.AND
    group_id: uuid.UUID | None = None
    severity: Severity = Severity.WARNING
    is_active: bool = True
    notify_immediately: bool = True
    notify_schedule: Literal["daily", "weekly"] | None = None
    notify_time: time | None = None
    notify_day_of_week: int | None = Field(default=None, ge=0, le=6)
    notify_discord: bool = False
    notify_email: bool = False
    discord_channel_id: str | None = Field(default=None, max_length=100)
    email_recipients: tuple[str, ...] | None = None

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, value: str) -> str:
        if value.startswith(BUILTIN_PREFIX):
            raise ValueError(
                f"names starting with {BUILTIN_PREFIX!r} are reserved for shipped rules"
            )
        return value

    @field_validator("client_id")
    @classmethod
    def _client_slug(cls, value: str | None) -> str | None:
        return None if value is None else validate_workspace_id(value, "client_id")

    @field_validator("discord_channel_id")
    @classmethod
    def _channel_id(cls, value: str | None) -> str | None:
        if value is not None and not DISCORD_CHANNEL_ID.fullmatch(value):
            raise ValueError(f"discord_channel_id {value!r} must be a numeric Discord id")
        return value

    @field_validator("email_recipients")
    @classmethod
    def _addresses(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for address in value or ():
            if not EMAIL_ADDRESS.fullmatch(address):
                raise ValueError(f"email recipient {address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if (self.parent_rule_id is None) != (self.dependency_condition is None):
            raise ValueError(
                "parent_rule_id and dependency_condition go together: give both or none"
            )
        if self.notify_schedule and self.notify_time is None:
            raise ValueError(
                f"notify_schedule {self.notify_schedule} needs notify_time (UTC HH:MM)"
            )
        if (self.notify_schedule == "weekly") != (self.notify_day_of_week is not None):
            raise ValueError(
                "notify_day_of_week (0=Sunday … 6=Saturday) goes with weekly digests only"
            )
        if self.notify_email and not self.email_recipients:
            raise ValueError("notify_email needs email_recipients")
        return self


@dataclass(frozen=True)
class Rule:
    """One stored `watchtower_rules` row."""

    id: uuid.UUID
    name: str
    field_name: str
    condition: str
    threshold_value: str | None
    description: str | None
    source_id: uuid.UUID | None
    client_id: str | None
    target_table: str | None
    parent_rule_id: uuid.UUID | None
    dependency_condition: str | None
    logic_operator: str
    group_id: uuid.UUID | None
    severity: str
    is_active: bool
    notify_immediately: bool
    notify_schedule: str | None
    notify_time: time | None
    notify_day_of_week: int | None
    notify_discord: bool
    notify_email: bool
    discord_channel_id: str | None
    email_recipients: tuple[str, ...] | None
    last_notified_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Rule:
        values: dict[str, Any] = {f.name: row[f.name] for f in fields(cls)}
        if values["email_recipients"] is not None:
            values["email_recipients"] = tuple(values["email_recipients"])
        return cls(**values)

    @property
    def target(self) -> Target:
        return resolve_target(self.target_table)

    @property
    def is_builtin(self) -> bool:
        return self.name.startswith(BUILTIN_PREFIX)


@dataclass(frozen=True)
class Term:
    """One checked condition of a rule: the real field, the condition and its typed operand."""

    rule: Rule
    field: FieldSpec
    condition: Condition
    operand: Operand


def check_term(
    connection: sa.Connection,
    warehouse: duckdb.DuckDBPyConnection | None,
    *,
    target: Target,
    source_id: uuid.UUID | None,
    field_name: str,
    condition: Condition,
    threshold_value: str | None,
) -> tuple[FieldSpec, Operand]:
    """The real field and typed operand of one condition on `target`, or RuleDefinitionError."""
    if isinstance(target, WarehouseTarget):
        if warehouse is None:
            raise RuleDefinitionError(
                f"checking field {field_name!r} of {target.name} needs the warehouse; "
                "open warehouse.duckdb (build it first) and pass its connection"
            )
        if source_id is not None:
            raise RuleDefinitionError(f"target {target.name} is a warehouse view; drop source_id")
        if condition is Condition.CHANGED and target.time_column is None:
            raise RuleDefinitionError(
                f"target {target.name} keeps no history, so condition changed cannot apply"
            )
        fields_ = warehouse_fields(warehouse, target, metric_ranges(connection))
    else:
        fields_ = ops_fields(connection, target, _source_provider(connection, target, source_id))
    field = resolve_field(fields_, field_name, target.name)
    return field, parse_operand(field, condition, threshold_value)


def _source_provider(
    connection: sa.Connection, target: OpsTarget, source_id: uuid.UUID | None
) -> str | None:
    if source_id is None:
        return None
    row = connection.execute(
        sa.select(api_sources.c.provider, api_sources.c.endpoint).where(
            api_sources.c.id == source_id
        )
    ).one_or_none()
    if row is None:
        raise RuleDefinitionError(f"source_id {source_id} is not in api_sources")
    if target.source is not None and tuple(row) != target.source:
        raise RuleDefinitionError(
            f"target {target.name} holds {'/'.join(target.source)} records, but source_id "
            f"{source_id} is {row.provider}/{row.endpoint}; drop source_id or the target"
        )
    return row.provider


def source_id_by_name(connection: sa.Connection, provider_endpoint: str) -> uuid.UUID:
    """The id of the source written `provider/endpoint` (e.g. `omnisend/campaigns`)."""
    provider, _, endpoint = provider_endpoint.partition("/")
    found = connection.execute(
        sa.select(api_sources.c.id).where(
            api_sources.c.provider == provider, api_sources.c.endpoint == endpoint
        )
    ).scalar_one_or_none()
    if found is None:
        known = connection.execute(sa.select(api_sources.c.provider, api_sources.c.endpoint))
        raise NotFoundError(
            f"source {provider_endpoint!r} is not registered; known: "
            + ", ".join(f"{p}/{e}" for p, e in known)
        )
    return found


def add_rule(
    engine: sa.Engine,
    spec: RuleSpec,
    *,
    warehouse: duckdb.DuckDBPyConnection | None = None,
    clock: Clock = utc_now,
) -> Rule:
    """Validate `spec` against its target, group and parent, store it and return the new rule."""
    target = resolve_target(spec.target_table)
    with engine.begin() as connection:
        check_term(
            connection,
            warehouse,
            target=target,
            source_id=spec.source_id,
            field_name=spec.field_name,
            condition=spec.condition,
            threshold_value=spec.threshold_value,
        )
        if spec.parent_rule_id is not None:
            _get_rule(connection, spec.parent_rule_id)
        if spec.group_id is not None:
            _check_group_fit(connection, spec, target)
        now = clock()
        values = spec.model_dump()
        values["email_recipients"] = (
            list(spec.email_recipients) if spec.email_recipients is not None else None
        )
        values.update(id=uuid.uuid4(), created_at=now, updated_at=now)
        connection.execute(watchtower_rules.insert().values(values))
        return _get_rule(connection, values["id"])


def _check_group_fit(connection: sa.Connection, spec: RuleSpec, target: Target) -> None:
    members = [
        Rule.from_row(row)
        for row in connection.execute(
            sa.select(watchtower_rules)
            .where(watchtower_rules.c.group_id == spec.group_id)
            .order_by(watchtower_rules.c.created_at, watchtower_rules.c.id)
        ).mappings()
    ]
    if not members:
        return
    lead = members[0]
    mismatches = [
        what
        for what, ours, theirs in (
            ("target_table", target.name, lead.target.name),
            ("source_id", spec.source_id, lead.source_id),
            ("client_id", spec.client_id, lead.client_id),
            ("logic_operator", spec.logic_operator.value, lead.logic_operator),
        )
        if ours != theirs
    ]
    if spec.parent_rule_id is not None and spec.parent_rule_id != lead.parent_rule_id:
        mismatches.append("parent_rule_id")
    if mismatches:
        raise RuleDefinitionError(
            f"rule {spec.name!r} does not fit group {spec.group_id} led by {lead.name!r}: "
            f"{', '.join(mismatches)} must match the group's"
        )


def _get_rule(connection: sa.Connection, rule_id: uuid.UUID) -> Rule:
    row = (
        connection.execute(sa.select(watchtower_rules).where(watchtower_rules.c.id == rule_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFoundError(f"rule {rule_id} does not exist in watchtower_rules")
    return Rule.from_row(row)


def get_rule(engine: sa.Engine, rule_id: uuid.UUID) -> Rule:
    """The stored rule with this id."""
    with engine.connect() as connection:
        return _get_rule(connection, rule_id)


def list_rules(
    engine: sa.Engine, *, include_inactive: bool = False, client_id: str | None = None
) -> list[Rule]:
    """Stored rules in creation order, active ones only unless `include_inactive`."""
    query = sa.select(watchtower_rules).order_by(
        watchtower_rules.c.created_at, watchtower_rules.c.id
    )
    if not include_inactive:
        query = query.where(watchtower_rules.c.is_active.is_(True))
    if client_id is not None:
        query = query.where(watchtower_rules.c.client_id == client_id)
    with engine.connect() as connection:
        return [Rule.from_row(row) for row in connection.execute(query).mappings()]


def disable_rule(engine: sa.Engine, rule_id: uuid.UUID) -> Rule:
    """Stop evaluating a rule; its alerts and their history stay."""
    with engine.begin() as connection:
        _get_rule(connection, rule_id)
        connection.execute(
            watchtower_rules.update()
            .where(watchtower_rules.c.id == rule_id)
            .values(is_active=False)
        )
        return _get_rule(connection, rule_id)


def units_of(rules: Sequence[Rule]) -> list[tuple[Rule, ...]]:
    """Rules grouped into evaluation units: each compound group together, lead (oldest) first."""
    by_group: dict[uuid.UUID, list[Rule]] = {}
    units: list[tuple[Rule, ...]] = []
    for rule in sorted(rules, key=lambda r: (r.created_at, str(r.id))):
        if rule.group_id is None:
            units.append((rule,))
        else:
            by_group.setdefault(rule.group_id, []).append(rule)
    units.extend(tuple(members) for members in by_group.values())
    return units
