"""`warehouse_catalog_refresh`: the analysts' view catalog follows the set of lake tables.

Built once lake data first appears and refreshed daily after the restatement syncs; views read
Parquet, so only a new table needs a rebuild. The target is one unpartitioned asset, so the
automation sensor's tick stays small at any number of workspaces (bench/orchestration).
"""

import dagster as dg

from ownlay_pipelines.defs.assets.model_assets import WAREHOUSE_KEY

WAREHOUSE_REFRESH_CRON = "30 6 * * *"
"""Daily, after the 06:00 UTC restatement syncs."""

WAREHOUSE_REFRESH = (
    (
        dg.AutomationCondition.cron_tick_passed(WAREHOUSE_REFRESH_CRON, "UTC")
        | (dg.AutomationCondition.missing() & dg.AutomationCondition.any_deps_updated())
    ).since_last_handled()
    & ~dg.AutomationCondition.in_progress()
).with_label("first lake data, then daily at 06:30 UTC")

warehouse_catalog_refresh = dg.AutomationConditionSensorDefinition(
    "warehouse_catalog_refresh",
    target=dg.AssetSelection.assets(WAREHOUSE_KEY).without_checks(),
    default_condition=WAREHOUSE_REFRESH,
    use_user_code_server=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Builds warehouse.duckdb when lake data first appears and refreshes its views "
    "daily at 06:30 UTC, after the restatement syncs, so a new table gets its view.",
)
