"""Mart assets: order attribution, daily ROAS by campaign, and the dashboard periods.

Each is partitioned by date × workspace and rebuilt with DuckDB over only the partitions it needs
(`models/attribution.py`, `roas.py`, `dashboard.py`), written through the lake writer; a backfill
of a whole range runs as one run.
"""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.shopify import STREAMS as SHOPIFY_STREAMS
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.assets.channel_claims_assets import channel_claims_daily
from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.partition_rows import report_partition_rows
from ownlay_pipelines.defs.partitions import (
    DATE_DIMENSION,
    WORKSPACE_DIMENSION,
    daily_by_workspace,
    days_by_workspace,
)
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.models.attribution import (
    ATTRIBUTION,
    ATTRIBUTION_SCHEMA,
    MODELS,
    AttributionSettings,
    write_attribution,
)
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.models.dashboard import (
    DASHBOARD_METRICS,
    DASHBOARD_SCHEMA,
    LONGEST_PERIOD_DAYS,
    write_dashboard_metrics,
)
from ownlay_pipelines.models.fx import FX_RATES
from ownlay_pipelines.models.roas import (
    ROAS_DAILY,
    ROAS_SCHEMA,
    STRIPE_CHARGES,
    write_roas_daily,
)

CAMPAIGN_SOURCES = [
    (spec.platform.value, spec.ref)
    for _, spec in all_streams()
    if spec.table == "campaigns" and spec.partitioning is Partitioning.WORKSPACE
]
"""(platform, campaign snapshot) of every ad platform: UTM campaigns are matched against these."""
SHOPIFY_ORDERS = next(spec.ref for spec in SHOPIFY_STREAMS if spec.table == "orders")
BY_WORKSPACE = dg.MultiToSingleDimensionPartitionMapping(
    partition_dimension_name=WORKSPACE_DIMENSION
)
EVENT_DAY_SHIFT = 1
"""An event's UTC day (its lake partition) may be the shop-local day before or after an order's."""
SAME_WORKSPACE_CLICK_WINDOW = dg.MultiPartitionMapping(
    {
        DATE_DIMENSION: dg.DimensionPartitionMapping(
            DATE_DIMENSION,
            dg.TimeWindowPartitionMapping(
                start_offset=-(AttributionSettings().window_days + EVENT_DAY_SHIFT),
                end_offset=EVENT_DAY_SHIFT,
            ),
        ),
        WORKSPACE_DIMENSION: dg.DimensionPartitionMapping(
            WORKSPACE_DIMENSION, dg.IdentityPartitionMapping()
        ),
    }
)
"""Attribution of a day's orders reads the clicks of the attribution window before it: a late
event for day x changes the attribution of days x-1 … x+window+1."""
SAME_WORKSPACE_LAST_90_DAYS = dg.MultiPartitionMapping(
    {
        DATE_DIMENSION: dg.DimensionPartitionMapping(
            DATE_DIMENSION, dg.TimeWindowPartitionMapping(start_offset=-(LONGEST_PERIOD_DAYS - 1))
        ),
        WORKSPACE_DIMENSION: dg.DimensionPartitionMapping(
            WORKSPACE_DIMENSION, dg.IdentityPartitionMapping()
        ),
    }
)


class AttributionConfig(dg.Config):
    """How far back a click may be and still earn credit, and the time-decay half-life."""

    window_days: int = Field(default=7, description="Lookback window in days (1–90), inclusive.")
    half_life_days: float = Field(default=7.0, description="Time-decay half-life in days.")


def _preview(table: pa.Table) -> dict[str, object]:
    if not table.num_rows:
        return {}
    return {
        "preview": dg.MetadataValue.md(
            table.slice(0, 10).to_pandas().astype(str).to_markdown(index=False)
        )
    }


@dg.asset(
    key=ATTRIBUTION.parts,
    description=(
        "One row per attribution model, order, channel/platform and campaign: the share of the "
        f"order credited ({', '.join(MODELS)}) and the gross revenue it stands for; each "
        "model's shares of an order sum to 1 (an 'unattributed' row when nothing can be "
        "credited), so totals reconcile to the orders of the shop-local day."
    ),
    group_name="marts",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(list(SHOPIFY_ORDERS.parts)),
        dg.AssetDep(list(EVENTS_TABLE.parts), partition_mapping=SAME_WORKSPACE_CLICK_WINDOW),
        *(
            dg.AssetDep(list(ref.parts), partition_mapping=BY_WORKSPACE)
            for _, ref in CAMPAIGN_SOURCES
        ),
    ],
    metadata={
        "lake_table": str(ATTRIBUTION),
        "dagster/column_schema": table_schema(ATTRIBUTION_SCHEMA),
    },
)
def attribution(
    context: dg.AssetExecutionContext,
    config: AttributionConfig,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Credit the run's orders to the clicks before them under every model."""
    settings = AttributionSettings(config.window_days, config.half_life_days)
    tables = []
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            table = write_attribution(
                connection,
                lake.lake_root,
                workspace=registry.workspace(workspace_id),
                days=days,
                campaign_sources=CAMPAIGN_SOURCES,
                settings=settings,
            )
            context.log.info(
                f"{ATTRIBUTION} {workspace_id}: {len(days)} day(s), {table.num_rows} rows"
            )
            tables.append(table)
    combined = pa.concat_tables(tables) if tables else ATTRIBUTION_SCHEMA.empty_table()
    last_click = combined.filter(pc.equal(combined["model"], "last_click"))
    unattributed = last_click.filter(pc.equal(last_click["channel"], "unattributed"))
    report_partition_rows(context, combined)
    return dg.MaterializeResult(
        metadata={
            "run_row_count": combined.num_rows,
            "orders": last_click.num_rows,
            "unattributed_orders_last_click": unattributed.num_rows,
            "window_days": settings.window_days,
            **_preview(last_click),
        }
    )


@dg.asset(
    key=ROAS_DAILY.parts,
    description=(
        "One row per workspace, local date, platform and campaign: spend, the platform's "
        "conversions and value, orders and gross/net revenue credited by each attribution model, "
        "in original currencies and converted to the reporting currency at the day's ECB rate, "
        "ROAS both ways and the over-attribution ratio; orders credited to no campaign appear under their "
        "channel ('unattributed'), so a day's rows add up to all its orders. A workspace with "
        "`revenue_source: stripe` takes its revenue from its succeeded Stripe charges instead "
        "(platform 'stripe', no campaign; net = amount less refunds)."
    ),
    group_name="marts",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(list(UNIFIED_CAMPAIGN_METRICS.parts)),
        dg.AssetDep(list(ATTRIBUTION.parts)),
        dg.AssetDep(list(SHOPIFY_ORDERS.parts)),
        dg.AssetDep(list(STRIPE_CHARGES.parts)),
        dg.AssetDep(list(FX_RATES.parts)),
    ],
    metadata={"lake_table": str(ROAS_DAILY), "dagster/column_schema": table_schema(ROAS_SCHEMA)},
)
def roas_daily(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Rebuild the run's ROAS rows from the unified metrics, the attribution, the orders'
    refunds and the FX rates."""
    tables = []
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            workspace = registry.workspace(workspace_id)
            tables.append(
                write_roas_daily(
                    connection,
                    lake.lake_root,
                    workspace_id=workspace_id,
                    reporting_currency=workspace.reporting_currency,
                    days=days,
                    revenue_source=workspace.revenue_source.value,
                )
            )
    combined = pa.concat_tables(tables) if tables else ROAS_SCHEMA.empty_table()
    report_partition_rows(context, combined)
    return dg.MaterializeResult(metadata={"run_row_count": combined.num_rows, **_preview(combined)})


@dg.asset(
    key=DASHBOARD_METRICS.parts,
    description=(
        "One row per workspace, as-of local date and period (today, 7_days, 30_days, 90_days "
        "ending that day), every amount in the workspace's reporting currency: spend, orders, "
        "gross and net revenue, blended ROAS gross and net (revenue / spend), MER % "
        "(spend / revenue), paid and platform ROAS, over-attribution ratio, CTR, CPC, AOV, CPA."
    ),
    group_name="marts",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(list(ROAS_DAILY.parts), partition_mapping=SAME_WORKSPACE_LAST_90_DAYS)],
    metadata={
        "lake_table": str(DASHBOARD_METRICS),
        "dagster/column_schema": table_schema(DASHBOARD_SCHEMA),
    },
)
def dashboard_metrics(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Rebuild the dashboard rows of every as-of date in the run from `marts/roas_daily`."""
    tables = []
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            reporting_currency = registry.workspace(workspace_id).reporting_currency
            for day in days:
                tables.append(
                    write_dashboard_metrics(
                        connection,
                        lake.lake_root,
                        workspace_id=workspace_id,
                        reporting_currency=reporting_currency,
                        as_of=day,
                    )
                )
    combined = pa.concat_tables(tables) if tables else DASHBOARD_SCHEMA.empty_table()
    report_partition_rows(context, combined)
    return dg.MaterializeResult(metadata={"run_row_count": combined.num_rows, **_preview(combined)})


MART_ASSETS: list[dg.AssetsDefinition] = [
    attribution,
    roas_daily,
    dashboard_metrics,
    channel_claims_daily,
]
