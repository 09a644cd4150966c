"""What the watchtower can watch, and which fields of each target a rule may name.

Two families: ops-store targets (`api_records` and the internal `communication_reports` and
`clients` sources stored as records + metrics) and warehouse targets (views on a DuckDB
connection). A rule's `field_name` is only ever a lookup key into the fields read here from the
real catalog — the table metadata, `metric_definitions` and DuckDB's information schema — so no
SQL is built from rule text (reference/perf_reliability.md §4.3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ownlay_pipelines.registry.tenant import TENANT_COLUMN
from ownlay_pipelines.watchtower.conditions import FieldKind, FieldSpec
from ownlay_pipelines.watchtower.errors import RuleDefinitionError, UnknownTargetError
from ownlay_pipelines.watchtower.tables import api_records, metric_definitions

if TYPE_CHECKING:  # only annotations: `ownlay rules add --help` lists targets without DuckDB
    import duckdb

FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,99}$")
"""A field name is a lower-case identifier; anything else cannot be a column or metric name."""


@dataclass(frozen=True)
class OpsTarget:
    """Records in the ops store (`api_records` + `api_record_metrics`), optionally of one source."""

    name: str
    source: tuple[str, str] | None = None
    """(provider, endpoint) every record of this target comes from; None = any source."""


@dataclass(frozen=True)
class WarehouseTarget:
    """A warehouse view; one entity per `entity_columns`, its latest `time_column` row current."""

    name: str
    relation: str
    entity_columns: tuple[str, ...]
    time_column: str | None = None
    tenant_column: str = TENANT_COLUMN


Target = OpsTarget | WarehouseTarget

DEFAULT_TARGET = "api_records"
"""Seed 004: a rule without `target_table` watches `api_records`."""

UNIFIED_CAMPAIGN_METRICS = WarehouseTarget(
    "unified/campaign_metrics_daily",
    relation="unified_campaign_metrics_daily",
    entity_columns=(TENANT_COLUMN, "platform", "account_id", "campaign_id"),
    time_column="report_date",
)
"""One row per workspace, platform, account, campaign and report date; the entity is the campaign."""

RESTATEMENT_LEDGER = WarehouseTarget(
    "ledger/restatements",
    relation="ledger_restatements",
    entity_columns=(TENANT_COLUMN, "platform", "account_id", "report_date"),
    time_column="synced_at",
)
"""How much each re-sync moved a day (`connectors/restatements.py`); one entity per workspace,
platform, ad account and report date (rules: `watchtower/restatement_rules.py`)."""

TARGETS: Mapping[str, Target] = {
    target.name: target
    for target in (
        OpsTarget("api_records"),
        OpsTarget("communication_reports", source=("internal", "communication_reports")),
        OpsTarget("clients", source=("internal", "clients")),
        UNIFIED_CAMPAIGN_METRICS,
        RESTATEMENT_LEDGER,
        WarehouseTarget(
            "marts/roas_daily",
            relation="marts_roas_daily",
            entity_columns=(TENANT_COLUMN, "platform"),
            time_column="report_date",
        ),
    )
}
"""Every target by the name rules use in `target_table`."""

RECORD_FIELD_KINDS: Mapping[str, FieldKind] = {
    "external_id": FieldKind.TEXT,
    "name": FieldKind.TEXT,
    "email": FieldKind.TEXT,
    "status": FieldKind.TEXT,
    "category": FieldKind.TEXT,
    "tags": FieldKind.TEXT_LIST,
    "amount": FieldKind.NUMBER,
    "quantity": FieldKind.NUMBER,
    "record_date": FieldKind.TIMESTAMP,
}
"""The typed `api_records` columns a rule may watch (ids, scoping and JSON overflow excluded)."""

_DUCKDB_NUMBER_TYPES = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|"
    r"FLOAT|DOUBLE|REAL|DECIMAL(\(\d+,\s*\d+\))?)$"
)


def resolve_target(name: str | None) -> Target:
    """The target a rule's `target_table` names (None means `api_records`)."""
    key = DEFAULT_TARGET if name is None else name
    try:
        return TARGETS[key]
    except KeyError:
        raise UnknownTargetError(
            f"target_table {name!r} is not watched; use one of {', '.join(sorted(TARGETS))}"
        ) from None


def metric_ranges(connection: sa.Connection) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """Valid (min, max) of every metric in `metric_definitions`, by metric name."""
    rows = connection.execute(
        sa.select(
            metric_definitions.c.metric_name,
            metric_definitions.c.min_value,
            metric_definitions.c.max_value,
        )
    )
    return {name: (low, high) for name, low, high in rows}


def ops_fields(
    connection: sa.Connection, target: OpsTarget, source_provider: str | None
) -> dict[str, FieldSpec]:
    """Fields of an ops target: typed record columns plus the metrics its provider may carry."""
    provider = target.source[0] if target.source else source_provider
    query = sa.select(
        metric_definitions.c.metric_name,
        metric_definitions.c.min_value,
        metric_definitions.c.max_value,
    )
    if provider is not None:
        query = query.where(
            sa.or_(
                metric_definitions.c.provider.is_(None), metric_definitions.c.provider == provider
            )
        )
    fields = {
        name: FieldSpec(name, FieldKind.NUMBER, low, high, is_metric=True)
        for name, low, high in connection.execute(query)
    }
    for column in api_records.columns:
        if column.name in RECORD_FIELD_KINDS:
            fields[column.name] = FieldSpec(column.name, RECORD_FIELD_KINDS[column.name])
    return fields


def warehouse_fields(
    warehouse: duckdb.DuckDBPyConnection,
    target: WarehouseTarget,
    ranges: Mapping[str, tuple[Decimal | None, Decimal | None]],
) -> dict[str, FieldSpec]:
    """Fields of a warehouse target, read from DuckDB's catalog; ranges from metric_definitions."""
    columns = warehouse.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
        [target.relation],
    ).fetchall()
    if not columns:
        raise RuleDefinitionError(
            f"the warehouse has no view {target.relation} for target {target.name}; "
            "materialise the asset and rebuild the warehouse views"
        )
    names = {name for name, _ in columns}
    required = {*target.entity_columns, target.tenant_column}
    if target.time_column:
        required.add(target.time_column)
    if missing := sorted(required - names):
        raise RuleDefinitionError(
            f"view {target.relation} lacks the key columns {', '.join(missing)} that target "
            f"{target.name} is declared with in watchtower/targets.py"
        )
    fields: dict[str, FieldSpec] = {}
    for name, data_type in columns:
        kind = _duckdb_kind(data_type)
        if kind is not None:
            low, high = ranges.get(name, (None, None)) if kind is FieldKind.NUMBER else (None, None)
            fields[name] = FieldSpec(name, kind, low, high)
    return fields


def _duckdb_kind(data_type: str) -> FieldKind | None:
    upper = data_type.upper()
    if _DUCKDB_NUMBER_TYPES.match(upper):
        return FieldKind.NUMBER
    if upper == "VARCHAR":
        return FieldKind.TEXT
    if upper == "VARCHAR[]":
        return FieldKind.TEXT_LIST
    if upper == "DATE":
        return FieldKind.DATE
    if upper.startswith("TIMESTAMP"):
        return FieldKind.TIMESTAMP
    if upper == "BOOLEAN":
        return FieldKind.BOOLEAN
    return None


def resolve_field(fields: Mapping[str, FieldSpec], name: str, target_name: str) -> FieldSpec:
    """The field `name` of a target; RuleDefinitionError when it is malformed or unknown."""
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        raise RuleDefinitionError(
            f"field_name {name!r} is not a column or metric name (lower-case letters, digits and "
            f"'_', starting with a letter or '_'); nothing was run"
        )
    try:
        return fields[name]
    except KeyError:
        raise RuleDefinitionError(
            f"field_name {name!r} is neither a column of {target_name} nor a metric in "
            f"metric_definitions; known fields: {', '.join(sorted(fields))}"
        ) from None
