"""`unified/campaign_metrics_daily`: every ad platform's daily campaign metrics in one shape.

One row per (workspace, platform, account, campaign, account-local report date) with impressions,
clicks, spend, conversions and conversion value as the platform reported them (money exact, in
the account currency) and the derived ratios from `metric_definitions`. Uploaded costs join as
their own platform, except on a (platform, day) a connector has rows for: the connector's rows
win (`uploads/campaign_costs.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.metric_definitions import DERIVED_METRICS, derived_metrics_sql
from ownlay_pipelines.schema.campaign_metrics import CAMPAIGN_DAY_COLUMNS, MONEY
from ownlay_pipelines.uploads.campaign_costs import (
    superseded_uploads_select,
    uploaded_costs_select,
)

UNIFIED_CAMPAIGN_METRICS = TableRef.of("unified", "campaign_metrics_daily")
"""Lake location of the unified table (asset key unified/campaign_metrics_daily)."""

UNIFIED_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("campaign_name", pa.string()),
        pa.field("campaign_status", pa.string()),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("account_timezone", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("spend", MONEY, nullable=False),
        pa.field("conversions", MONEY, nullable=False),
        pa.field("conversion_value", MONEY, nullable=False),
        *(pa.field(m.name, pa.float64()) for m in DERIVED_METRICS),
    ]
)


def _existing_files(
    lake_root: Path, ref: TableRef, workspace_id: str, days: Sequence[date] | None
) -> list[str]:
    dates: Sequence[date | None] = days if days is not None else [None]
    paths = [partition_dir(lake_root, ref, workspace_id, d) / DATA_FILE for d in dates]
    return [str(p) for p in paths if p.exists()]


def _platform_select(
    lake_root: Path, platform: str, metrics_ref: TableRef, workspace_id: str, days: Sequence[date]
) -> str | None:
    files = _existing_files(lake_root, metrics_ref, workspace_id, days)
    if not files:
        return None
    columns = ", ".join(f"m.{c}" for c in CAMPAIGN_DAY_COLUMNS)
    source = f"read_parquet({files!r})"
    campaign_files = _existing_files(
        lake_root, TableRef.of("raw", platform, "campaigns"), workspace_id, None
    )
    if not campaign_files:
        return (
            f"SELECT '{platform}' AS platform, {columns}, NULL AS campaign_status FROM {source} m"
        )
    return (
        f"SELECT '{platform}' AS platform, {columns}, c.status AS campaign_status "
        f"FROM {source} m LEFT JOIN read_parquet({campaign_files!r}) c "
        "ON c.account_id = m.account_id AND c.campaign_id = m.campaign_id"
    )


def _connector_selects(
    lake_root: Path,
    sources: Sequence[tuple[str, TableRef]],
    workspace_id: str,
    days: Sequence[date],
) -> list[str]:
    return [
        select
        for platform, ref in sources
        if (select := _platform_select(lake_root, platform, ref, workspace_id, days)) is not None
    ]


def _connector_days(
    lake_root: Path,
    sources: Sequence[tuple[str, TableRef]],
    workspace_id: str,
    days: Sequence[date],
) -> str | None:
    """SQL of the (platform, report_date) pairs the connectors have rows for among `days`: the
    day column of their metrics files only (no campaign join), or None without any file."""
    selects = [
        f"SELECT DISTINCT '{platform}' AS platform, report_date FROM read_parquet({files!r})"
        for platform, ref in sources
        if (files := _existing_files(lake_root, ref, workspace_id, days))
    ]
    return "\nUNION ALL\n".join(selects) if selects else None


def superseded_uploads(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    sources: Sequence[tuple[str, TableRef]],
    workspace_id: str,
    days: Sequence[date],
) -> list[dict[str, object]]:
    """Uploaded cost rows left out of `days` because a connector has rows for their platform and
    day (`uploads/campaign_costs.py`): one dict per platform, day and currency with `rows` and
    `spend`."""
    connector_days = _connector_days(lake_root, sources, workspace_id, days)
    if connector_days is None:
        return []
    query = superseded_uploads_select(lake_root, workspace_id, days, connector_days)
    if query is None:
        return []
    relation = connection.sql(query)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


MEASURES = ("impressions", "clicks", "spend", "conversions", "conversion_value")


def _measures_sql() -> str:
    """The base measures as stored: an uploaded campaign-day whose file gave no value for one (no
    such column, or empty cells) has NULL there, stored as 0 because every consumer of this table
    sums these columns (its schema, shared with the connectors, declares them NOT NULL). The
    derived ratios are computed from the NULL, in the same SELECT (DuckDB resolves `spend` there
    to the input column, not this alias), so an unknown spend gives no CPC, CPM or ROAS instead
    of a zero CPC; the ROAS mart divides by NULLIF(spend, 0), so it is NULL there too."""
    return ", ".join(f"coalesce({m}, 0) AS {m}" for m in MEASURES)


def compute_campaign_metrics(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    sources: Sequence[tuple[str, TableRef]],
    workspace_id: str,
    days: Sequence[date],
) -> pa.Table:
    """Unified rows for one workspace and `days`, from each (platform, raw metrics table) source.

    File paths are built from validated partition keys (never from user text), and only the
    partitions asked for are read.
    """
    selects = _connector_selects(lake_root, sources, workspace_id, days)
    connector_days = _connector_days(lake_root, sources, workspace_id, days)
    uploaded = uploaded_costs_select(lake_root, workspace_id, days, connector_days)
    if uploaded is not None:
        selects.append(uploaded)
    if not selects:
        return UNIFIED_SCHEMA.empty_table()
    union = "\nUNION ALL BY NAME\n".join(selects)
    query = f"""
        SELECT
            workspace_id, platform, account_id, campaign_id, campaign_name, campaign_status,
            report_date, account_timezone, currency,
            {_measures_sql()},
            {derived_metrics_sql()}
        FROM ({union})
        ORDER BY platform, account_id, campaign_id, report_date
    """
    return connection.sql(query).to_arrow_table().select(UNIFIED_SCHEMA.names).cast(UNIFIED_SCHEMA)


def write_campaign_metrics(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    sources: Sequence[tuple[str, TableRef]],
    workspace_id: str,
    days: Sequence[date],
) -> pa.Table:
    """Compute one workspace's unified rows for `days` and replace each day's partition.

    Every day gets a file, empty when no platform reported it, so a re-run never leaves stale rows.
    """
    table = compute_campaign_metrics(
        connection, lake_root, sources=sources, workspace_id=workspace_id, days=days
    )
    for day in days:
        day_rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(
            lake_root,
            UNIFIED_CAMPAIGN_METRICS,
            day_rows,
            workspace_id=workspace_id,
            report_date=day,
        )
    return table
