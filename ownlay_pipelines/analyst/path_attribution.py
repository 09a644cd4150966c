"""`marts/path_attribution`: channel credit over the journeys of a period, per model.

One row per (workspace, period end date, model, channel): the conversions and conversion value
the model credits the channel with, over the `marts/conversion_paths` journeys of the
`PERIOD_DAYS` local days ending on the date (paths with at least one click; orders without any
are reported by `conversion_paths` and left out here, as ChannelAttribution drops empty paths).
Models: exact Markov (with its removal effect), simplified Shapley, first, last and linear
(analyst/markov.py, shapley.py, heuristic_models.py). Markov results are global: they are not
meant to be split back onto single orders. `value` is in `currency`, the workspace's reporting
currency: each order's revenue is converted at its local day's ECB rate (models/fx.py) before
the models add it up, so orders in several currencies make one sum.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlay_pipelines.analyst.conversion_paths import (
    CONVERSION_PATHS,
    CONVERSION_PATHS_SCHEMA,
)
from ownlay_pipelines.analyst.path_data import PathCounts
from ownlay_pipelines.analyst.path_models import PATH_MODELS
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.fx import FACTOR_VIEW, converted, create_fx_views, require_rates
from ownlay_pipelines.models.mart_inputs import create_view, partition_files

PATH_ATTRIBUTION = TableRef.of("marts", "path_attribution")
PERIOD_DAYS = 30
PATH_ATTRIBUTION_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("conversions", pa.float64(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("removal_effect", pa.float64()),
    ]
)


def period_paths(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    workspace_id: str,
    end: date,
    reporting_currency: str,
) -> PathCounts | None:
    """The period's journeys aggregated by path, value in `reporting_currency` (None when it
    has no path with a click). Raises FxRateMissing when an order needs a rate the lake lacks."""
    days = [end - timedelta(days=n) for n in range(PERIOD_DAYS)]
    files = partition_files(lake_root, CONVERSION_PATHS, workspace_id, days)
    create_view(connection, "period_journeys", files, CONVERSION_PATHS_SCHEMA)
    create_fx_views(connection, lake_root, reporting_currency, min(days), end)
    require_rates(
        connection,
        "period_journeys",
        day="report_date",
        currency="currency",
        reporting_currency=reporting_currency,
    )
    revenue = converted("j.revenue", "j.currency", "fx.factor", reporting_currency)
    rows = connection.sql(
        f"""
        SELECT channels, count(*) FILTER (WHERE converted) AS conversions,
               coalesce(sum(CAST({revenue} AS DOUBLE)) FILTER (WHERE converted), 0) AS value,
               count(*) FILTER (WHERE NOT converted) AS nulls
        FROM period_journeys AS j
        LEFT JOIN {FACTOR_VIEW} AS fx ON fx.day = j.report_date AND fx.currency = j.currency
        WHERE path_length > 0 GROUP BY channels
        """
    ).fetchall()
    return PathCounts.from_rows(rows) if rows else None


def compute_path_attribution(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    end: date,
    reporting_currency: str,
) -> pa.Table:
    """Every model's channel credits over the period ending `end`."""
    paths = period_paths(connection, lake_root, workspace_id, end, reporting_currency)
    start = end - timedelta(days=PERIOD_DAYS - 1)
    if paths is None:
        return PATH_ATTRIBUTION_SCHEMA.empty_table()
    rows = []
    for model, credit in PATH_MODELS.items():
        for channel in credit(paths):
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "report_date": end,
                    "period_start": start,
                    "model": model,
                    "channel": channel.channel,
                    "conversions": channel.conversions,
                    "value": channel.value,
                    "currency": reporting_currency,
                    "removal_effect": channel.removal_effect,
                }
            )
    return pa.Table.from_pylist(rows, schema=PATH_ATTRIBUTION_SCHEMA)


def write_path_attribution(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    end: date,
    reporting_currency: str,
) -> pa.Table:
    """Compute the period ending `end` and replace its partition."""
    table = compute_path_attribution(
        connection,
        lake_root,
        workspace_id=workspace_id,
        end=end,
        reporting_currency=reporting_currency,
    )
    write_partition(lake_root, PATH_ATTRIBUTION, table, workspace_id=workspace_id, report_date=end)
    return table
