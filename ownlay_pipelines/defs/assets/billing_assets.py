"""`marts/mrr_daily`: MRR and its movements per workspace, currency and day, from Stripe.

Partitioned by workspace: each run rebuilds the workspace's whole history (a subscription change
moves every later day). Triggered by its own automation sensor when the Stripe subscription
snapshot or events, or the customers (whose own coupons apply), of the workspace were synced.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.partitions import workspace_partitions
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.mrr import (
    MRR_DAILY,
    MRR_SCHEMA,
    STRIPE_CUSTOMERS,
    STRIPE_SUBSCRIPTION_EVENTS,
    STRIPE_SUBSCRIPTIONS,
    compute_mrr_daily,
)

MRR_HISTORY_DAYS = 730
"""Days of MRR history each run writes (two years back from the workspace's today)."""

FOLLOW_STRIPE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.in_progress()
).with_label("Stripe customers, subscriptions or their events synced since last computed")


@dg.asset(
    key=list(MRR_DAILY.parts),
    description=(
        "One row per workspace, currency and day: MRR (subscriptions normalised to a monthly "
        "amount across intervals, quantities and discounts) and its new, expansion, contraction, "
        "churned and reactivation movements since the day before."
    ),
    group_name="marts",
    kinds={"parquet"},
    partitions_def=workspace_partitions,
    deps=[
        dg.AssetDep(list(STRIPE_CUSTOMERS.parts)),
        dg.AssetDep(list(STRIPE_SUBSCRIPTIONS.parts)),
        dg.AssetDep(
            list(STRIPE_SUBSCRIPTION_EVENTS.parts),
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="workspace"
            ),
        ),
    ],
    automation_condition=FOLLOW_STRIPE,
    metadata={
        "lake_table": str(MRR_DAILY),
        "dagster/column_schema": table_schema(MRR_SCHEMA),
    },
)
def mrr_daily(
    context: dg.AssetExecutionContext, lake: LakeResource, registry: RegistryResource
) -> dg.MaterializeResult:
    """Replace the workspace's MRR file with its last two years, day by day."""
    workspace = registry.workspace(context.partition_key)
    today = datetime.now(UTC).astimezone(workspace.zone).date()
    days = [today - timedelta(days=offset) for offset in range(MRR_HISTORY_DAYS, -1, -1)]
    table = compute_mrr_daily(lake.lake_root, workspace.id, workspace.zone, days)
    write_partition(lake.lake_root, MRR_DAILY, table, workspace_id=workspace.id)
    latest = table.slice(max(table.num_rows - 3, 0)).to_pylist()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "latest": dg.MetadataValue.json(
                {f"{r['report_date']} {r['currency']}": str(r["mrr"]) for r in latest}
            ),
        }
    )


mrr_job = dg.define_asset_job(
    "mrr",
    selection=dg.AssetSelection.assets(mrr_daily),
    description="Rebuild a workspace's MRR mart (what `ownlay demo` runs after the Stripe sync).",
)

billing_follow_stripe = dg.AutomationConditionSensorDefinition(
    "billing_follow_stripe",
    target=dg.AssetSelection.assets(mrr_daily),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds a workspace's MRR mart after its Stripe subscriptions or events synced.",
)
