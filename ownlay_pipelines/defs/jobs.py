"""Asset jobs: entity snapshots per workspace, daily metrics per date × workspace, the warehouse.

Dagster cannot put assets with different partitionings in one job, so the pipeline is three jobs;
`ownlay demo` runs them in order, and schedules and sensors launch sync runs of the first two
with `sync_run_request`.
"""

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.assets.mart_assets import MART_ASSETS
from ownlay_pipelines.defs.assets.model_assets import WAREHOUSE_KEY
from ownlay_pipelines.defs.checks.freshness import FRESHNESS_CHECKS
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.orchestration.blocks import SyncBlock
from ownlay_pipelines.orchestration.plan import SyncRequest


def _stream_keys(partitioning: Partitioning) -> list[dg.AssetKey]:
    return [
        dg.AssetKey(list(spec.ref.parts))
        for _, spec in all_streams()
        if spec.partitioning is partitioning
    ]


entity_snapshots_job = dg.define_asset_job(
    "entity_snapshots",
    # Freshness checks run from their own sensor; right after a sync they could only pass.
    selection=dg.AssetSelection.assets(*_stream_keys(Partitioning.WORKSPACE))
    - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Refresh every platform's entity snapshots (campaigns, ad groups, …) of a workspace.",
)

daily_metrics_job = dg.define_asset_job(
    "daily_metrics",
    selection=dg.AssetSelection.assets(
        *_stream_keys(Partitioning.DATE_AND_WORKSPACE),
        dg.AssetKey(list(UNIFIED_CAMPAIGN_METRICS.parts)),
    )
    - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Pull every platform's daily metrics for the run's days and rebuild the unified table.",
)

marts_job = dg.define_asset_job(
    "marts",
    selection=dg.AssetSelection.assets(*MART_ASSETS),
    description="Rebuild order attribution, daily ROAS and the dashboard periods for the run's days.",
)

warehouse_job = dg.define_asset_job(
    "refresh_warehouse",
    selection=dg.AssetSelection.assets(WAREHOUSE_KEY),
    description="Rebuild warehouse.duckdb's views when the set of lake tables changed.",
)

JOBS = [entity_snapshots_job, daily_metrics_job, marts_job, warehouse_job]

SYNC_JOBS = {
    Partitioning.WORKSPACE: entity_snapshots_job,
    Partitioning.DATE_AND_WORKSPACE: daily_metrics_job,
}
"""The job whose runs sync streams of each partitioning."""

PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def sync_run_request(request: SyncRequest, run_key: str) -> dg.RunRequest:
    """The run that does `request`: its streams only, one run for the whole range of days.

    The partitions go in Dagster's range tags, even a single workspace's snapshot partition: a
    run over many days is then one process (reference/perf_reliability.md §2), and a tick does
    not pay Dagster's per-key check of a `partition_key` against the instance's dynamic
    partitions (one database query per workspace: 2.3 s for 200 workspaces, bench/orchestration).
    The unified model is left to follow by the models sensor.
    """
    tags = dict(request.tags)
    if request.days is None:
        first = last = request.workspace_id
    else:
        first = multi_key(request.days.start, request.workspace_id)
        last = multi_key(request.days.end, request.workspace_id)
    tags[PARTITION_RANGE_START_TAG] = first
    tags[PARTITION_RANGE_END_TAG] = last
    return dg.RunRequest(
        run_key=run_key,
        job_name=SYNC_JOBS[request.partitioning].name,
        asset_selection=[dg.AssetKey(list(ref.parts)) for ref in request.tables],
        tags=tags,
    )


def block_run_request(block: SyncBlock, run_key: str) -> dg.RunRequest:
    """The run that does `block`: its streams for every workspace of its span, one range.

    A range over `date × workspace` is the product of the two dimensions' ranges, so the range
    from (first day, first workspace) to (last day, last workspace) is exactly the block's days
    for each workspace of its span.
    """
    first_workspace, last_workspace = block.workspace_ids[0], block.workspace_ids[-1]
    if block.days is None:
        first, last = first_workspace, last_workspace
    else:
        first = multi_key(block.days.start, first_workspace)
        last = multi_key(block.days.end, last_workspace)
    return dg.RunRequest(
        run_key=run_key,
        job_name=SYNC_JOBS[block.partitioning].name,
        asset_selection=[dg.AssetKey(list(ref.parts)) for ref in block.tables],
        tags={**block.tags, PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last},
    )
