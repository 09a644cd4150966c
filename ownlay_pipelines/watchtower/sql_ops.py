"""Set-based evaluation of rules on ops-store targets with SQLAlchemy Core.

One statement per rule (or compound group): the latest completed snapshot of each (source, client)
is "current", the one before it "previous", records are matched across them by `external_id`.
Columns come from the table metadata and metric names are bound parameters, so nothing of the
rule's text reaches the SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ownlay_pipelines.watchtower.conditions import Condition, FieldKind, FieldSpec, LogicOperator
from ownlay_pipelines.watchtower.matches import Match, render_value
from ownlay_pipelines.watchtower.rules import Term
from ownlay_pipelines.watchtower.snapshots import SnapshotStatus
from ownlay_pipelines.watchtower.tables import (
    UtcDateTime,
    api_record_metrics,
    api_records,
    api_snapshots,
    api_sources,
)
from ownlay_pipelines.watchtower.targets import OpsTarget


def ops_matches(
    connection: sa.Connection,
    target: OpsTarget,
    terms: Sequence[Term],
    logic: LogicOperator,
    *,
    client_id: str | None,
    source_id: uuid.UUID | None,
) -> list[Match]:
    """Entities of `target` whose current record meets the terms, or holds an out-of-range value."""
    ranked = _ranked_snapshots(target, client_id=client_id, source_id=source_id)
    current_snapshot = ranked.alias("current_snapshot")
    previous_snapshot = ranked.alias("previous_snapshot")
    current = api_records.alias("current_record")
    previous = api_records.alias("previous_record")
    joined = (
        current.join(
            current_snapshot,
            sa.and_(current.c.snapshot_id == current_snapshot.c.id, current_snapshot.c.rank == 1),
        )
        .join(api_sources, api_sources.c.id == current_snapshot.c.source_id)
        .outerjoin(
            previous_snapshot,
            sa.and_(
                previous_snapshot.c.rank == 2,
                previous_snapshot.c.source_id == current_snapshot.c.source_id,
                previous_snapshot.c.client_id.is_not_distinct_from(current_snapshot.c.client_id),
            ),
        )
        .outerjoin(
            previous,
            sa.and_(
                previous.c.snapshot_id == previous_snapshot.c.id,
                previous.c.external_id == current.c.external_id,
            ),
        )
    )
    dialect = connection.dialect.name
    tests: list[ColumnElement[bool]] = []
    ranges: list[ColumnElement[bool]] = []
    values: list[sa.Label[object]] = []
    for index, term in enumerate(terms):
        now_value = _value(current, term.field)
        before_value = _value(previous, term.field)
        tests.append(_test(dialect, term, now_value, before_value, previous.c.id))
        ranges.extend(_out_of_range(term.field, now_value))
        values += [now_value.label(f"current_{index}"), before_value.label(f"previous_{index}")]
    matched = sa.and_(*tests) if logic is LogicOperator.AND else sa.or_(*tests)
    out_of_range = sa.or_(*ranges) if ranges else sa.false()
    statement = (
        sa.select(
            current.c.id.label("record_id"),
            current_snapshot.c.id.label("snapshot_id"),
            current_snapshot.c.client_id,
            api_sources.c.provider,
            api_sources.c.endpoint,
            current.c.external_id,
            current.c.record_date,
            sa.case((out_of_range, True), else_=False).label("out_of_range"),
            *values,
        )
        .select_from(joined)
        .where(sa.or_(matched, out_of_range))
    )
    return [_match(row, len(terms)) for row in connection.execute(statement).mappings()]


def _ranked_snapshots(
    target: OpsTarget, *, client_id: str | None, source_id: uuid.UUID | None
) -> sa.CTE:
    snapshots = api_snapshots
    query = sa.select(
        snapshots.c.id,
        snapshots.c.source_id,
        snapshots.c.client_id,
        sa.func.row_number()
        .over(
            partition_by=(snapshots.c.source_id, snapshots.c.client_id),
            order_by=(snapshots.c.created_at.desc(), snapshots.c.id.desc()),
        )
        .label("rank"),
    ).where(snapshots.c.status == SnapshotStatus.COMPLETED.value)
    if client_id is not None:
        query = query.where(snapshots.c.client_id == client_id)
    if source_id is not None:
        query = query.where(snapshots.c.source_id == source_id)
    if target.source is not None:
        provider, endpoint = target.source
        query = query.where(
            snapshots.c.source_id.in_(
                sa.select(api_sources.c.id).where(
                    api_sources.c.provider == provider, api_sources.c.endpoint == endpoint
                )
            )
        )
    return query.cte("ranked_snapshots")


def _value(record: sa.FromClause, field: FieldSpec) -> ColumnElement[object]:
    if not field.is_metric:
        return record.c[field.name]
    metric = api_record_metrics.alias()
    return (
        sa.select(metric.c.metric_value)
        .where(
            metric.c.record_id == record.c.id,
            metric.c.metric_name == sa.bindparam(None, field.name, type_=sa.String),
        )
        .scalar_subquery()
    )


def _operand(value: object) -> ColumnElement[object]:
    type_: sa.types.TypeEngine[object]
    if isinstance(value, bool):
        type_ = sa.Boolean()
    elif isinstance(value, Decimal):
        type_ = sa.Numeric(38, 10)
    elif isinstance(value, datetime):
        type_ = UtcDateTime()
    elif isinstance(value, date):
        type_ = sa.Date()
    else:
        type_ = sa.String()
    return sa.literal(value, type_)


def _test(
    dialect: str,
    term: Term,
    now_value: ColumnElement[object],
    before_value: ColumnElement[object],
    previous_id: ColumnElement[object],
) -> ColumnElement[bool]:
    if term.condition is Condition.CHANGED:
        return sa.and_(previous_id.is_not(None), now_value.is_distinct_from(before_value))
    operand = _operand(term.operand)
    if term.condition is Condition.EQUALS:
        return now_value == operand
    if term.condition is Condition.GREATER_THAN:
        return now_value > operand
    if term.condition is Condition.LESS_THAN:
        return now_value < operand
    if term.field.kind is FieldKind.TEXT_LIST:
        return _list_contains(dialect, now_value, str(term.operand))
    # Case-sensitive substring on both databases (SQLite's LIKE ignores ASCII case).
    position = sa.func.strpos if dialect == "postgresql" else sa.func.instr
    return position(now_value, operand) > 0


def _list_contains(dialect: str, tags: ColumnElement[object], item: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return sa.literal(item, sa.Text) == sa.any_(tags)
    element = sa.func.json_each(tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(element).where(element.c.value == item))


def _out_of_range(field: FieldSpec, value: ColumnElement[object]) -> list[ColumnElement[bool]]:
    if not field.has_range:
        return []
    checks: list[ColumnElement[bool]] = []
    if field.min_value is not None:
        checks.append(value < _operand(field.min_value))
    if field.max_value is not None:
        checks.append(value > _operand(field.max_value))
    return checks


def _match(row: sa.RowMapping, count: int) -> Match:
    return Match(
        entity={
            "client_id": row["client_id"],
            "source": f"{row['provider']}/{row['endpoint']}",
            "external_id": row["external_id"],
        },
        client_id=row["client_id"],
        currents=tuple(render_value(row[f"current_{i}"]) for i in range(count)),
        previouses=tuple(render_value(row[f"previous_{i}"]) for i in range(count)),
        out_of_range=bool(row["out_of_range"]),
        as_of=render_value(row["record_date"]),
        snapshot_id=row["snapshot_id"],
        record_id=row["record_id"],
    )
