"""The `reconciles_with_raw` check on the unified table: its totals equal the raw tables'.

Partitioned like the unified table, so it runs in the same run as each rebuild and compares the
run's workspace × day × platform totals (quality/reconciliation.py). Blocking: the marts read the
unified table, and ROAS on totals that differ from what the platforms reported must not be built.
"""

import warnings

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.defs.assets.model_assets import METRIC_SOURCES
from ownlay_pipelines.defs.checks.results import quality_result
from ownlay_pipelines.defs.partitions import daily_by_workspace, days_by_workspace
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.quality.reconciliation import reconcile_unified
from ownlay_pipelines.uploads.campaign_costs import UPLOADED_COSTS


def _reconciles_with_raw(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    with duckdb.get_connection() as connection:
        outcome = reconcile_unified(
            connection,
            lake.lake_root,
            unified=UNIFIED_CAMPAIGN_METRICS,
            sources=METRIC_SOURCES,
            partitions=days_by_workspace(list(context.partition_keys)),
            load_tables=[UPLOADED_COSTS],
        )
    return quality_result(outcome)


with warnings.catch_warnings():
    # A partitioned check (preview API) sees exactly the partitions of its asset's run.
    warnings.simplefilter("ignore", dg.PreviewWarning)
    reconciles_with_raw = dg.asset_check(
        asset=dg.AssetKey(list(UNIFIED_CAMPAIGN_METRICS.parts)),
        name="reconciles_with_raw",
        description=(
            "Impressions, clicks, spend, conversions and conversion value per workspace × day × "
            "platform equal the sums of the raw platform metrics tables and uploaded cost loads, "
            "exactly."
        ),
        blocking=True,
        partitions_def=daily_by_workspace,
    )(_reconciles_with_raw)
