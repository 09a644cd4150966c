"""`marts/funnels`: each funnel's steps per workspace and local day of the first step.

One row per (workspace, local day of the first-step event, funnel, breakdown, breakdown value,
step): visitors reaching the step, drop-off from the previous step, conversion overall and from
the previous step, and the median seconds from the previous step. Breakdown `total` / `(all)`
counts every visitor that entered; `utm_source`, `campaign`, `device` and `country` split them
by the first-step event's value. A visitor counts once per funnel and day (the semantics are in
analyst/funnel_query.py). `ownlay funnel` runs the same query for any range and steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from math import ceil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition
from ownlay_pipelines.analyst.funnel_query import (
    BREAKDOWNS,
    funnel_events_sql,
    funnel_sql,
    literal,
)
from ownlay_pipelines.events.layout import event_day_files
from ownlay_pipelines.lake.event_views import create_event_files_view
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.registry.workspaces import Workspace

FUNNELS = TableRef.of("marts", "funnels")
STEP_COLUMNS = [
    pa.field("breakdown", pa.string(), nullable=False),
    pa.field("breakdown_value", pa.string(), nullable=False),
    pa.field("step_number", pa.int32(), nullable=False),
    pa.field("step_name", pa.string(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("visitors", pa.int64(), nullable=False),
    pa.field("dropoff", pa.int64(), nullable=False),
    pa.field("conversion_overall", pa.float64(), nullable=False),
    pa.field("conversion_from_previous", pa.float64()),
    pa.field("median_seconds_from_previous", pa.float64()),
]
FUNNEL_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("funnel_name", pa.string(), nullable=False),
        pa.field("window_seconds", pa.int64(), nullable=False),
        *STEP_COLUMNS,
    ]
)


def create_funnel_events(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    workspace: Workspace,
    first_day: date,
    last_day: date,
    window_seconds: int,
) -> None:
    """Define `funnel_events` over the UTC event days that can hold a chain starting on local
    days [first_day, last_day]: a local day spans UTC days either side, plus the window."""
    last_utc = last_day + timedelta(days=1 + ceil(window_seconds / 86_400))
    files = event_day_files(lake_root, workspace.id, first_day - timedelta(days=1), last_utc)
    create_event_files_view(connection, "ownlay_events", files)
    connection.execute(
        "CREATE OR REPLACE TEMP VIEW funnel_events AS "
        + funnel_events_sql("ownlay_events", workspace.timezone)
    )


def funnel_steps(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    funnel: FunnelDefinition,
    first_day: date,
    last_day: date,
    by_day: bool,
    breakdowns: tuple[str, ...] = BREAKDOWNS,
) -> pa.Table:
    """The funnel's step rows for first steps on local days [first_day, last_day] (with a `day`
    column when `by_day`; otherwise each visitor counts once over the range)."""
    create_funnel_events(
        connection, lake_root, workspace, first_day, last_day, funnel.window_seconds
    )
    query = funnel_sql(
        funnel,
        "funnel_events",
        first_day,
        last_day,
        workspace.timezone,
        by_day=by_day,
        breakdowns=breakdowns,
    )
    return connection.sql(query).to_arrow_table()


def compute_funnels(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    funnels: Sequence[FunnelDefinition],
    days: Sequence[date],
) -> pa.Table:
    """Mart rows of every funnel for the workspace's local `days`."""
    tables = []
    for funnel in funnels:
        steps = funnel_steps(
            connection,
            lake_root,
            workspace=workspace,
            funnel=funnel,
            first_day=min(days),
            last_day=max(days),
            by_day=True,
        )
        connection.register("funnel_step_rows", steps)
        listed = ", ".join(f"DATE {literal(day.isoformat())}" for day in days)
        tables.append(
            connection.sql(
                f"SELECT {literal(workspace.id)} AS workspace_id, day AS report_date, "
                f"{literal(funnel.name)} AS funnel_name, "
                f"{funnel.window_seconds} AS window_seconds, * EXCLUDE (day) "
                f"FROM funnel_step_rows WHERE day IN ({listed})"
            ).to_arrow_table()
        )
        connection.unregister("funnel_step_rows")
    combined = pa.concat_tables(
        [table.select(FUNNEL_SCHEMA.names).cast(FUNNEL_SCHEMA) for table in tables]
    )
    return combined


def write_funnels(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    funnels: Sequence[FunnelDefinition],
    days: Sequence[date],
) -> pa.Table:
    """Compute the workspace's funnels for `days` and replace each day's partition."""
    table = compute_funnels(connection, lake_root, workspace=workspace, funnels=funnels, days=days)
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(lake_root, FUNNELS, rows, workspace_id=workspace.id, report_date=day)
    return table
