"""`marts/conversion_paths`: the channel path of every converting and non-converting journey.

One row per journey, on the workspace-local day it ends:
- converting: one per order (`conversion_id`), its visitor's ad clicks in the attribution window
  before it — the same touches, window and tie order as `marts/attribution`'s path models — with
  the time from the first of them to the order (`seconds_to_convert`); an order without a click
  has an empty path;
- non-converting: one per visitor and local day, the visitor's clicks of that day that are in no
  order's window (no order of theirs followed within the window, as far as the lake knows yet).

`channels` lists the path in time order and `path` joins it with " > ", the common aggregated
format, so `GROUP BY path` gives the input of the Markov and Shapley models. A channel comes from
free text (`utm_source`), so `path` writes each one as `path_data.path_file_channel` does: a name
the path file would read otherwise (its separators `>` and `;`, `%`, quotes, control characters,
blanks at either end, `(null)` and the other chain states) is percent-encoded (`news>letter` is
`news%3Eletter`, one channel, and stays apart from `news_letter`). So every `path` is a valid
path-file path, it reads back as the same channels, and `url_decode` gives their names back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.analyst.funnel_query import literal
from ownlay_pipelines.analyst.path_data import path_file_channel
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution import MICROS_PER_DAY
from ownlay_pipelines.models.attribution_inputs import CampaignSources, create_attribution_inputs
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.schema.campaign_metrics import MONEY

CONVERSION_PATHS = TableRef.of("marts", "conversion_paths")
PATH_SEPARATOR = " > "
CONVERSION_PATHS_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("journey_id", pa.string(), nullable=False),
        pa.field("visitor", pa.string()),
        pa.field("converted", pa.bool_(), nullable=False),
        pa.field("conversion_id", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("revenue", MONEY),
        pa.field("channels", pa.list_(pa.string()), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("path_length", pa.int32(), nullable=False),
        pa.field("first_touch_at", pa.timestamp("us", tz="UTC")),
        pa.field("last_touch_at", pa.timestamp("us", tz="UTC")),
        pa.field("converted_at", pa.timestamp("us", tz="UTC")),
        pa.field("seconds_to_convert", pa.float64()),
    ]
)
"""`journey_id` is the order id of a converting journey, `visitor|day` of a non-converting one."""


def conversion_paths_sql(window_days: int, timezone: str, days: Sequence[date]) -> str:
    """Journeys over the `touchpoints` and `conversions` views (attribution_inputs.py), all
    columns but `path` (`with_paths`)."""
    window_us = window_days * MICROS_PER_DAY
    listed = ", ".join(f"DATE {literal(day.isoformat())}" for day in days)
    touch_order = "t.touch_us, t.campaign_id IS NOT NULL, t.event_id DESC"
    local_day = f"CAST(timezone({literal(timezone)}, make_timestamptz(t.touch_us)) AS DATE)"
    return f"""
        WITH converting AS (
            SELECT c.report_date, c.conversion_id AS journey_id, c.identity AS visitor,
                   true AS converted, c.conversion_id, c.currency, c.revenue,
                   coalesce(list(t.channel ORDER BY {touch_order})
                            FILTER (WHERE t.event_id IS NOT NULL), []) AS channels,
                   min(t.touch_us) AS first_us, max(t.touch_us) AS last_us,
                   any_value(c.conversion_us) AS conversion_us
            FROM conversions c LEFT JOIN touchpoints t
              ON t.identity = c.identity
             AND t.touch_us BETWEEN c.conversion_us - {window_us} AND c.conversion_us
            WHERE c.report_date IN ({listed})
            GROUP BY c.report_date, c.conversion_id, c.identity, c.currency, c.revenue
        ),
        loose AS (
            SELECT t.*, {local_day} AS report_date FROM touchpoints t
            WHERE {local_day} IN ({listed})
              AND NOT EXISTS (
                  SELECT 1 FROM conversions c
                  WHERE c.identity = t.identity
                    AND c.conversion_us BETWEEN t.touch_us AND t.touch_us + {window_us})
        ),
        not_converting AS (
            SELECT report_date, t.identity || '|' || report_date AS journey_id,
                   t.identity AS visitor, false AS converted, NULL::VARCHAR AS conversion_id,
                   NULL::VARCHAR AS currency, NULL::DECIMAL(20, 6) AS revenue,
                   list(t.channel ORDER BY {touch_order}) AS channels,
                   min(t.touch_us) AS first_us, max(t.touch_us) AS last_us,
                   NULL::BIGINT AS conversion_us
            FROM loose t GROUP BY report_date, t.identity
        )
        SELECT report_date, journey_id, visitor, converted, conversion_id, currency, revenue,
               channels,
               len(channels) AS path_length,
               make_timestamptz(first_us) AS first_touch_at,
               make_timestamptz(last_us) AS last_touch_at,
               make_timestamptz(conversion_us) AS converted_at,
               (conversion_us - first_us) / 1e6 AS seconds_to_convert
        FROM (SELECT * FROM converting UNION ALL SELECT * FROM not_converting)
        ORDER BY report_date, journey_id
    """


def compute_conversion_paths(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    days: Sequence[date],
    campaign_sources: CampaignSources,
    window_days: int = 7,
) -> pa.Table:
    """Journeys of the workspace ending on local `days`."""
    # Orders up to a window after the last day decide whether its clicks converted.
    first, last = min(days) - timedelta(days=1), max(days) + timedelta(days=window_days + 1)
    order_days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    create_attribution_inputs(
        connection,
        lake_root,
        workspace=workspace,
        days=order_days,
        window_days=window_days,
        campaign_sources=campaign_sources,
    )
    query = conversion_paths_sql(window_days, workspace.timezone, days)
    table = connection.sql(
        f"SELECT {literal(workspace.id)} AS workspace_id, * FROM ({query})"
    ).to_arrow_table()
    table = with_paths(table)
    return table.select(CONVERSION_PATHS_SCHEMA.names).cast(CONVERSION_PATHS_SCHEMA)


def with_paths(table: pa.Table) -> pa.Table:
    """`table` with `path`: its `channels`, each as `path_file_channel` writes it, joined by
    `PATH_SEPARATOR` (the module docstring)."""
    channels = table["channels"].combine_chunks()
    names = pc.unique(channels.values)
    written = pa.array([path_file_channel(name) for name in names.to_pylist()], pa.string())
    touches = pc.take(written, pc.index_in(channels.values, value_set=names))
    path = pc.binary_join(pa.ListArray.from_arrays(channels.offsets, touches), PATH_SEPARATOR)
    return table.append_column("path", path)


def write_conversion_paths(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    days: Sequence[date],
    campaign_sources: CampaignSources,
    window_days: int = 7,
) -> pa.Table:
    """Compute the journeys of `days` and replace each day's partition."""
    table = compute_conversion_paths(
        connection,
        lake_root,
        workspace=workspace,
        days=days,
        campaign_sources=campaign_sources,
        window_days=window_days,
    )
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(
            lake_root, CONVERSION_PATHS, rows, workspace_id=workspace.id, report_date=day
        )
    return table
