"""One person's rows in the ops store: captured API records and the CAPI outbox, if deployed.

`api_records.email` holds an address as the provider sent it (seed 004's table), matched without
regard to case. CAPI tables (`CAPI_TABLES`, absent until CAPI is deployed) are matched on
whichever identifier columns they have: `user_id`, `anonymous_id`, `email_hash` /
`*_email_hash`, and a raw `email` column (the outbox is the one place raw contact data may wait).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind
from ownlay_pipelines.watchtower.tables import api_record_metrics, api_records, watchtower_alerts

CAPI_TABLES = ("capi_outbox", "capi_delivery_log", "capi_deliveries")


def find_in_ops_store(engine: sa.Engine, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
    """`{table: rows}` of ops-store rows about the subject (tables with none are left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table, condition in _conditions(engine, subject):
            rows = connection.execute(sa.select(table).where(condition)).mappings().all()
            if rows:
                found[table.name] = [dict(row) for row in rows]
    return found


def delete_from_ops_store(engine: sa.Engine, subject: DataSubject) -> dict[str, int]:
    """Delete the subject's rows (a record's metrics too; alerts lose the link); returns counts."""
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for table, condition in _conditions(engine, subject):
            if table is api_records:
                ids = sa.select(api_records.c.id).where(condition).scalar_subquery()
                connection.execute(
                    api_record_metrics.delete().where(api_record_metrics.c.record_id.in_(ids))
                )
                connection.execute(
                    watchtower_alerts.update()
                    .where(watchtower_alerts.c.record_id.in_(ids))
                    .values(record_id=None)
                )
            deleted = connection.execute(table.delete().where(condition)).rowcount
            if deleted:
                counts[table.name] = deleted
    return counts


def _conditions(engine: sa.Engine, subject: DataSubject) -> list[tuple[sa.Table, Any]]:
    conditions: list[tuple[sa.Table, Any]] = []
    workspace = api_records.c.client_id == subject.workspace_id
    if subject.kind is IdentifierKind.EMAIL:
        conditions.append(
            (api_records, sa.and_(workspace, sa.func.lower(api_records.c.email) == subject.value))
        )
    inspector = sa.inspect(engine)
    for name in CAPI_TABLES:
        if not inspector.has_table(name):
            continue
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        condition = _capi_condition(table, subject)
        if condition is not None:
            conditions.append((table, condition))
    return conditions


def _capi_condition(table: sa.Table, subject: DataSubject) -> Any:
    names = [column.name for column in table.columns]
    matches = [table.c[name] == subject.equality_value for name in subject.equality_columns(names)]
    if subject.kind is IdentifierKind.EMAIL and "email" in names:
        matches.append(sa.func.lower(table.c.email) == subject.value)
    if not matches:
        return None
    tenant = next((n for n in ("workspace_id", "client_id") if n in names), None)
    person = sa.or_(*matches)
    return person if tenant is None else sa.and_(table.c[tenant] == subject.workspace_id, person)
