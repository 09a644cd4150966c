"""Set-based evaluation of rules on warehouse views with DuckDB.

One statement per rule (or compound group). For a target with a time column, each entity's latest
row is current and the row before it previous (what `changed` compares with). Identifiers come
from the target registry and DuckDB's catalog (quoted), every operand is a `?` parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from ownlay_pipelines.watchtower.conditions import Condition, FieldKind, LogicOperator
from ownlay_pipelines.watchtower.matches import Match, render_value
from ownlay_pipelines.watchtower.rules import Term
from ownlay_pipelines.watchtower.targets import WarehouseTarget

_RANK = "__watchtower_rank"


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes, embedded quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def warehouse_matches(
    warehouse: duckdb.DuckDBPyConnection,
    target: WarehouseTarget,
    terms: Sequence[Term],
    logic: LogicOperator,
    *,
    client_id: str | None,
) -> list[Match]:
    """Entities of `target` whose current row meets the terms, or holds an out-of-range value."""
    scope_params: list[object] = []
    scope = ""
    if client_id is not None:
        scope = f"WHERE {quote(target.tenant_column)} = ?"
        scope_params.append(client_id)
    keys = [quote(column) for column in target.entity_columns]
    if target.time_column is None:
        source = f"SELECT * FROM {quote(target.relation)} {scope}"
        current_filter = "TRUE"
        previous_join = ""
    else:
        source = (
            f"SELECT *, row_number() OVER (PARTITION BY {', '.join(keys)} "
            f"ORDER BY {quote(target.time_column)} DESC) AS {_RANK} "
            f"FROM {quote(target.relation)} {scope}"
        )
        current_filter = f"cur.{_RANK} = 1"
        previous_join = f"LEFT JOIN entities AS prev ON prev.{_RANK} = 2 AND " + " AND ".join(
            f"prev.{key} IS NOT DISTINCT FROM cur.{key}" for key in keys
        )
    tests: list[str] = []
    test_params: list[object] = []
    ranges: list[str] = []
    range_params: list[object] = []
    values: list[str] = []
    for index, term in enumerate(terms):
        column = quote(term.field.name)
        previous = f"prev.{column}" if previous_join else "NULL"
        tests.append(_test(term, f"cur.{column}", previous))
        if term.operand is not None:
            test_params.append(term.operand)
        values += [f"cur.{column} AS current_{index}", f"{previous} AS previous_{index}"]
        if term.field.has_range and term.field.min_value is not None:
            ranges.append(f"cur.{column} < ?")
            range_params.append(term.field.min_value)
        if term.field.has_range and term.field.max_value is not None:
            ranges.append(f"cur.{column} > ?")
            range_params.append(term.field.max_value)
    joiner = " AND " if logic is LogicOperator.AND else " OR "
    matched = f"coalesce(({joiner.join(tests)}), FALSE)"
    out_of_range = f"coalesce(({' OR '.join(ranges)}), FALSE)" if ranges else "FALSE"
    time_select = f"cur.{quote(target.time_column)}" if target.time_column else "NULL"
    sql = (
        f"WITH entities AS ({source}) "
        f"SELECT {', '.join(f'cur.{key}' for key in keys)}, "
        f"cur.{quote(target.tenant_column)} AS watchtower_client_id, "
        f"{time_select} AS watchtower_as_of, {out_of_range} AS watchtower_out_of_range, "
        f"{', '.join(values)} "
        f"FROM entities AS cur {previous_join} "
        f"WHERE {current_filter} AND ({matched} OR {out_of_range})"
    )
    # Placeholders appear in this order: scope, SELECT's range bounds, WHERE's tests and bounds.
    cursor = warehouse.execute(sql, [*scope_params, *range_params, *test_params, *range_params])
    names = [description[0] for description in cursor.description]
    return [
        _match(dict(zip(names, row, strict=True)), target, len(terms)) for row in cursor.fetchall()
    ]


def _test(term: Term, current: str, previous: str) -> str:
    if term.condition is Condition.CHANGED:
        # A first observation (no previous row) is not a change.
        return f"prev.{_RANK} IS NOT NULL AND {current} IS DISTINCT FROM {previous}"
    if term.condition is Condition.EQUALS:
        return f"{current} = ?"
    if term.condition is Condition.GREATER_THAN:
        return f"{current} > ?"
    if term.condition is Condition.LESS_THAN:
        return f"{current} < ?"
    if term.field.kind is FieldKind.TEXT_LIST:
        return f"list_contains({current}, ?)"
    return f"contains({current}, ?)"


def _match(row: Mapping[str, object], target: WarehouseTarget, count: int) -> Match:
    client_id = row["watchtower_client_id"]
    entity = {column: render_value(row[column]) for column in target.entity_columns}
    # Every target speaks of its tenant as client_id in alerts (registry/tenant.py).
    entity = {"client_id": entity.pop(target.tenant_column), **entity}
    return Match(
        entity=entity,
        client_id=None if client_id is None else str(client_id),
        currents=tuple(render_value(row[f"current_{i}"]) for i in range(count)),
        previouses=tuple(render_value(row[f"previous_{i}"]) for i in range(count)),
        out_of_range=bool(row["watchtower_out_of_range"]),
        as_of=render_value(row["watchtower_as_of"]),
    )
