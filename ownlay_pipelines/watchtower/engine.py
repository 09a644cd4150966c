"""Evaluating every active rule on one target and recording what it found.

`evaluate_target` is what the Dagster asset checks call: one set-based query per rule (or compound
group), parents before their children, each result applied to the alert states in its own
transaction. It returns one `RuleOutcome` (outcome.py) per rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import duckdb
import sqlalchemy as sa

from ownlay_pipelines.watchtower.alerts import OPEN_STATES, AlertState, Finding, record_evaluation
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.conditions import Condition, Dependency, LogicOperator, Severity
from ownlay_pipelines.watchtower.errors import RuleDefinitionError
from ownlay_pipelines.watchtower.matches import Match
from ownlay_pipelines.watchtower.outcome import FiredEntity, RuleOutcome
from ownlay_pipelines.watchtower.restatement_rules import SHIPPED_BY_NAME
from ownlay_pipelines.watchtower.rules import BUILTIN_PREFIX, Rule, Term, check_term, units_of
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog, SnapshotType
from ownlay_pipelines.watchtower.sql_ops import ops_matches
from ownlay_pipelines.watchtower.sql_warehouse import quote, warehouse_matches
from ownlay_pipelines.watchtower.tables import watchtower_alert_states, watchtower_rules
from ownlay_pipelines.watchtower.targets import (
    DEFAULT_TARGET,
    OpsTarget,
    Target,
    WarehouseTarget,
    resolve_target,
    warehouse_fields,
)

WAREHOUSE_PROVIDER = "warehouse"
"""`api_sources.provider` of warehouse evaluations; the endpoint is the target name."""

_SYMBOLS = {
    Condition.EQUALS: "=",
    Condition.GREATER_THAN: ">",
    Condition.LESS_THAN: "<",
    Condition.CONTAINS: "contains",
}


def evaluate_target(
    target_name: str,
    *,
    store: sa.Engine,
    warehouse: duckdb.DuckDBPyConnection | None = None,
    clock: Clock = utc_now,
    source_id: uuid.UUID | None = None,
) -> list[RuleOutcome]:
    """Evaluate every active rule watching `target_name` (built-in ones included) and record alerts.

    Warehouse targets need `warehouse`, a DuckDB connection on which the target's view exists.
    `source_id` limits the evaluation to the rules scoped to that `api_sources` row.
    """
    target = resolve_target(target_name)
    if isinstance(target, WarehouseTarget) and warehouse is None:
        raise RuleDefinitionError(
            f"target {target.name} is a warehouse view; pass its DuckDB connection"
        )
    now = clock()
    with store.connect() as connection:
        rules = _active_rules(connection, target)
    if source_id is not None:
        rules = [rule for rule in rules if rule.source_id == source_id]
    if not rules:
        return []
    units = _parents_first(units_of(rules))
    if isinstance(target, OpsTarget):
        return [_evaluate_unit(store, warehouse, target, unit, None, now) for unit in units]
    assert warehouse is not None
    # Fails with the fix ("materialise … rebuild the views") when the view is missing.
    warehouse_fields(warehouse, target, {})
    log = ApiSnapshotLog(store, clock=lambda: now)
    with log.capture(WAREHOUSE_PROVIDER, target.name, snapshot_type=SnapshotType.TRIGGERED) as run:
        row = warehouse.execute(f"SELECT count(*) FROM {quote(target.relation)}").fetchone()
        run.total_records = int(row[0]) if row else 0
        return [
            _evaluate_unit(store, warehouse, target, unit, run.snapshot_id, now) for unit in units
        ]


def _active_rules(connection: sa.Connection, target: Target) -> list[Rule]:
    rules = watchtower_rules
    on_target = rules.c.target_table == target.name
    if target.name == DEFAULT_TARGET:
        on_target = sa.or_(on_target, rules.c.target_table.is_(None))
    query = sa.select(rules).where(rules.c.is_active.is_(True), on_target)
    return [Rule.from_row(row) for row in connection.execute(query).mappings()]


def _parents_first(units: list[tuple[Rule, ...]]) -> list[tuple[Rule, ...]]:
    """Units ordered so a parent evaluated in the same pass goes before its children."""
    unit_of = {rule.id: index for index, unit in enumerate(units) for rule in unit}
    ordered: list[int] = []

    def visit(index: int, trail: tuple[int, ...]) -> None:
        if index in ordered or index in trail:
            return
        parent = units[index][0].parent_rule_id
        if parent is not None and parent in unit_of:
            visit(unit_of[parent], (*trail, index))
        ordered.append(index)

    for index in range(len(units)):
        visit(index, ())
    return [units[index] for index in ordered]


def _evaluate_unit(
    store: sa.Engine,
    warehouse: duckdb.DuckDBPyConnection | None,
    target: Target,
    unit: tuple[Rule, ...],
    evaluation_snapshot_id: uuid.UUID | None,
    now: datetime,
) -> RuleOutcome:
    lead = unit[0]
    builtin = SHIPPED_BY_NAME.get(lead.name) if lead.is_builtin else None
    try:
        if builtin is not None:
            assert warehouse is not None
            matches = builtin.matches(warehouse)
            describe: Callable[[Match], Finding] = _builtin_finding(lead)
        else:
            with store.connect() as connection:
                terms = [_term(connection, warehouse, target, rule) for rule in unit]
            matches = _matches(store, warehouse, target, lead, terms)
            describe = _finding(lead, terms)
    except RuleDefinitionError as exc:
        # One broken rule (e.g. a column dropped from a view) must not hide the others' results.
        return RuleOutcome(
            lead.id,
            lead.name,
            target.name,
            Severity(lead.severity),
            error=str(exc),
            member_rule_ids=tuple(r.id for r in unit),
        )
    # A source may repeat an external id within one snapshot; one entity is one entity.
    unique: dict[str, Match] = {}
    for match in matches:
        unique.setdefault(match.key, match)
    matches = list(unique.values())
    findings = {m.key: describe(m) for m in matches}
    in_range = [m for m in matches if not m.out_of_range]
    with store.begin() as connection:
        alerting, held_back = _gate(connection, lead, in_range)
        transitions = record_evaluation(
            connection,
            lead,
            alerting=[findings[m.key] for m in alerting],
            matching=[findings[m.key] for m in in_range],
            evaluation_snapshot_id=evaluation_snapshot_id,
            now=now,
        )

    def view(match: Match) -> FiredEntity:
        finding = findings[match.key]
        return FiredEntity(
            entity=dict(match.entity),
            entity_key=match.key,
            client_id=match.client_id,
            current_value=finding.current_value,
            previous_value=finding.previous_value,
            as_of=match.as_of,
            state=transitions.states.get(match.key, AlertState.OK.value),
            muted=match.key in transitions.muted,
        )

    held_back_keys = {m.key for m in held_back}
    return RuleOutcome(
        rule_id=lead.id,
        rule_name=lead.name,
        target=target.name,
        severity=Severity(lead.severity),
        # An entity already alerted on stays fired while its condition holds, even if the parent's
        # state has since closed the gate; the gate only decides whether a new alert opens.
        fired=tuple(
            view(m) for m in in_range if m.key not in held_back_keys or m.key in transitions.states
        ),
        suppressed=tuple(view(m) for m in held_back if m.key not in transitions.states),
        out_of_range=tuple(view(m) for m in matches if m.out_of_range),
        opened_alert_ids=transitions.opened,
        resolved_count=len(transitions.resolved),
        member_rule_ids=tuple(r.id for r in unit),
    )


def _term(
    connection: sa.Connection,
    warehouse: duckdb.DuckDBPyConnection | None,
    target: Target,
    rule: Rule,
) -> Term:
    condition = Condition(rule.condition)
    field_spec, operand = check_term(
        connection,
        warehouse,
        target=target,
        source_id=rule.source_id,
        field_name=rule.field_name,
        condition=condition,
        threshold_value=rule.threshold_value,
    )
    return Term(rule, field_spec, condition, operand)


def _matches(
    store: sa.Engine,
    warehouse: duckdb.DuckDBPyConnection | None,
    target: Target,
    lead: Rule,
    terms: Sequence[Term],
) -> list[Match]:
    logic = LogicOperator(lead.logic_operator)
    if isinstance(target, WarehouseTarget):
        assert warehouse is not None
        return warehouse_matches(warehouse, target, terms, logic, client_id=lead.client_id)
    with store.connect() as connection:
        return ops_matches(
            connection, target, terms, logic, client_id=lead.client_id, source_id=lead.source_id
        )


def _gate(
    connection: sa.Connection, rule: Rule, matches: list[Match]
) -> tuple[list[Match], list[Match]]:
    """Split matches into those the rule's parent lets alert and those it holds back.

    A parent on the same target and source is matched entity by entity; a parent elsewhere (the
    seed's "low CVR only if no contact" example) is matched by client.
    """
    if rule.parent_rule_id is None or rule.dependency_condition is None:
        return matches, []
    parent = _group_lead(connection, rule.parent_rule_id)
    same_entities = parent.target.name == rule.target.name and parent.source_id == rule.source_id
    states = connection.execute(
        sa.select(
            watchtower_alert_states.c.entity_key,
            watchtower_alert_states.c.client_id,
            watchtower_alert_states.c.state,
        ).where(
            watchtower_alert_states.c.rule_id == parent.id,
            watchtower_alert_states.c.state.in_(OPEN_STATES),
        )
    ).all()

    def label(key: str, client_id: str | None) -> str | None:
        return key if same_entities else client_id

    firing = {label(k, c) for k, c, s in states if s == AlertState.FIRING.value}
    acknowledged = {label(k, c) for k, c, s in states if s == AlertState.ACKNOWLEDGED.value}
    dependency = Dependency(rule.dependency_condition)
    passes: dict[Dependency, Callable[[str | None], bool]] = {
        Dependency.TRIGGERED: lambda value: value in firing,
        Dependency.NOT_TRIGGERED: lambda value: value not in firing,
        Dependency.ACKNOWLEDGED: lambda value: value in acknowledged,
    }
    allowed, held_back = [], []
    for match in matches:
        if passes[dependency](label(match.key, match.client_id)):
            allowed.append(match)
        else:
            held_back.append(match)
    return allowed, held_back


def _group_lead(connection: sa.Connection, rule_id: uuid.UUID) -> Rule:
    rules = watchtower_rules
    group = sa.select(rules.c.group_id).where(rules.c.id == rule_id).scalar_subquery()
    row = (
        connection.execute(
            sa.select(rules)
            .where(
                sa.or_(
                    rules.c.id == rule_id,
                    sa.and_(rules.c.group_id.is_not(None), rules.c.group_id == group),
                )
            )
            .order_by(rules.c.created_at, rules.c.id)
            .limit(1)
        )
        .mappings()
        .one()
    )
    return Rule.from_row(row)


def _describe_entity(match: Match) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in match.entity.items() if v is not None)
    return f"{labels} on {match.as_of}" if match.as_of else labels


def _finding(lead: Rule, terms: Sequence[Term]) -> Callable[[Match], Finding]:
    def describe(match: Match) -> Finding:
        if len(terms) == 1:
            current, previous = match.currents[0], match.previouses[0]
        else:
            current = "; ".join(
                f"{t.field.name}={v}" for t, v in zip(terms, match.currents, strict=True)
            )
            previous = "; ".join(
                f"{t.field.name}={v}" for t, v in zip(terms, match.previouses, strict=True)
            )
        joiner = f" {lead.logic_operator} "
        condition = joiner.join(
            f"{t.field.name} changed"
            if t.condition is Condition.CHANGED
            else f"{t.field.name} {_SYMBOLS[t.condition]} {t.rule.threshold_value}"
            for t in terms
        )
        message = f"{lead.name}: {condition} for {_describe_entity(match)} (now {current}"
        message += f", before {previous})" if previous is not None else ")"
        return Finding(match, message, current, previous)

    return describe


def _builtin_finding(lead: Rule) -> Callable[[Match], Finding]:
    def describe(match: Match) -> Finding:
        current, baseline = match.currents[0], match.previouses[0]
        name = lead.name.removeprefix(BUILTIN_PREFIX)
        message = f"{name}: {_describe_entity(match)}: {lead.field_name} {current}"
        message += f" (baseline {baseline})" if baseline is not None else ""
        return Finding(match, message, current, baseline)

    return describe
