"""Asset jobs: entity snapshots per workspace, daily metrics per date × workspace, the warehouse.

Dagster cannot put assets with different partitionings in one job, so the pipeline is three jobs;
`ownlay demo` runs them in order.
"""

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.assets.model_assets import WAREHOUSE_KEY
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS


def _stream_keys(partitioning: Partitioning) -> list[dg.AssetKey]:
    return [
        dg.AssetKey(list(spec.ref.parts))
        for _, spec in all_streams()
        if spec.partitioning is partitioning
    ]


entity_snapshots_job = dg.define_asset_job(
    "entity_snapshots",
    selection=dg.AssetSelection.assets(*_stream_keys(Partitioning.WORKSPACE)),
    description="Refresh every platform's entity snapshots (campaigns, ad groups, …) of a workspace.",
)

daily_metrics_job = dg.define_asset_job(
    "daily_metrics",
    selection=dg.AssetSelection.assets(
        *_stream_keys(Partitioning.DATE_AND_WORKSPACE),
        dg.AssetKey(list(UNIFIED_CAMPAIGN_METRICS.parts)),
    ),
    description="Pull every platform's daily metrics for the run's days and rebuild the unified table.",
)

warehouse_job = dg.define_asset_job(
    "refresh_warehouse",
    selection=dg.AssetSelection.assets(WAREHOUSE_KEY),
    description="Rebuild warehouse.duckdb's views when the set of lake tables changed.",
)

JOBS = [entity_snapshots_job, daily_metrics_job, warehouse_job]
