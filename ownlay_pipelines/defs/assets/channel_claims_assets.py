"""`marts/channel_claims_daily` in Dagster: platform, GA4 and first-party claims per channel."""

import dagster as dg
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.connectors.ga4 import TRAFFIC
from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.partition_rows import report_partition_rows
from ownlay_pipelines.defs.partitions import daily_by_workspace, days_by_workspace
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.models.attribution import ATTRIBUTION
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.models.channel_claims import (
    CHANNEL_CLAIMS,
    CHANNEL_CLAIMS_SCHEMA,
    write_channel_claims,
)


@dg.asset(
    key=CHANNEL_CLAIMS.parts,
    description=(
        "One row per workspace, local date and channel: the conversions and value each ad "
        "platform claims, GA4's sessions, key events and revenue for the channel (its '(other)' "
        "row and sampling flagged), and the orders and revenue our last-click attribution "
        "credits — the over-attribution view."
    ),
    group_name="marts",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(list(UNIFIED_CAMPAIGN_METRICS.parts)),
        dg.AssetDep(list(ATTRIBUTION.parts)),
        dg.AssetDep(list(TRAFFIC.ref.parts)),
    ],
    metadata={
        "lake_table": str(CHANNEL_CLAIMS),
        "dagster/column_schema": table_schema(CHANNEL_CLAIMS_SCHEMA),
    },
)
def channel_claims_daily(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Rebuild the run's channel-claims rows from the unified table, GA4 and the attribution."""
    tables = []
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            tables.append(
                write_channel_claims(
                    connection, lake.lake_root, workspace_id=workspace_id, days=days
                )
            )
    combined = pa.concat_tables(tables) if tables else CHANNEL_CLAIMS_SCHEMA.empty_table()
    report_partition_rows(context, combined)
    return dg.MaterializeResult(metadata={"run_row_count": combined.num_rows})
