"""One factory turns every connector stream spec into a partitioned Dagster asset.

The asset body resolves which workspaces and days the run covers, calls `sync_stream` (plain
Python) for each workspace inside an `api_snapshots` row of the sync log, and reports rows,
quarantined rows, HTTP use and the snapshot ids as metadata.
"""

from collections import Counter
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Connector, Partitioning, StreamSpec
from ownlay_pipelines.connectors.sync import StreamRunResult, sync_stream
from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.failure_policy import CONNECTOR_RETRY_POLICY, connector_failure_policy
from ownlay_pipelines.defs.partitions import (
    daily_by_workspace,
    days_by_workspace,
    multi_key,
    workspace_partitions,
)
from ownlay_pipelines.defs.resources import (
    LakeResource,
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.tables import partition_dir
from ownlay_pipelines.watchtower.snapshots import ApiSnapshotLog

MAX_PARTITIONS_PER_RUN = 31
"""A backfill run covers at most a month of one workspace: bounded API load, retryable chunks."""


def _targets(context: dg.AssetExecutionContext, spec: StreamSpec) -> dict[str, list[date]]:
    if spec.partitioning is Partitioning.DATE_AND_WORKSPACE:
        return days_by_workspace(list(context.partition_keys))
    return {key: [] for key in context.partition_keys}


def _report_partition_rows(
    context: dg.AssetExecutionContext,
    spec: StreamSpec,
    targets: dict[str, list[date]],
    results: dict[str, StreamRunResult],
    lake_root: Path,
) -> None:
    """Give each partition of the run its own row count (the UI shows it per day × workspace)."""
    for workspace_id, days in targets.items():
        rows_by_folder = {w.path.parent: w.rows for w in results[workspace_id].written}
        if spec.partitioning is not Partitioning.DATE_AND_WORKSPACE:
            context.add_asset_metadata(
                {"dagster/row_count": results[workspace_id].rows}, partition_key=workspace_id
            )
            continue
        for day in days:
            folder = partition_dir(lake_root, spec.ref, workspace_id, day)
            context.add_asset_metadata(
                {"dagster/row_count": rows_by_folder.get(folder, 0)},
                partition_key=multi_key(day, workspace_id),
            )


def _metadata(spec: StreamSpec, results: dict[str, StreamRunResult]) -> dict[str, object]:
    http: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for result in results.values():
        http.update(result.http)
        reasons.update(result.quarantine_reasons)
    rows = sum(r.rows for r in results.values())
    preview = [row for r in results.values() for row in r.preview][:10]
    metadata: dict[str, object] = {
        "run_row_count": rows,
        "partitions_written": sum(len(r.written) for r in results.values()),
        "quarantined_rows": sum(r.quarantined for r in results.values()),
        "duplicates_dropped": sum(r.duplicates_dropped for r in results.values()),
        "rows_by_workspace": dg.MetadataValue.json({ws: r.rows for ws, r in results.items()}),
        "quarantine_table": str(quarantine_ref(spec.ref)),
        **{key: value for key, value in sorted(http.items())},
    }
    if reasons:
        metadata["quarantine_reasons"] = dg.MetadataValue.json(dict(reasons.most_common(20)))
    if preview:
        metadata["preview"] = dg.MetadataValue.md(
            pd.DataFrame(preview).astype(str).to_markdown(index=False)
        )
    return metadata


def build_stream_asset(connector: Connector, spec: StreamSpec) -> dg.AssetsDefinition:
    """The asset `raw/<platform>/<table>` for one stream spec."""
    dated = spec.partitioning is Partitioning.DATE_AND_WORKSPACE
    platform = spec.platform.value

    @dg.asset(
        key=spec.ref.parts,
        description=spec.description,
        group_name=platform,
        kinds={"parquet", platform},
        partitions_def=daily_by_workspace if dated else workspace_partitions,
        backfill_policy=dg.BackfillPolicy.multi_run(MAX_PARTITIONS_PER_RUN) if dated else None,
        pool=f"{platform}_api",
        retry_policy=CONNECTOR_RETRY_POLICY,
        tags={"ownlay/platform": platform, "ownlay/cadence": spec.cadence.value},
        metadata={
            "lake_table": str(spec.ref),
            "primary_key": ", ".join(spec.primary_key),
            "restatement_lookback_days": spec.restatement_lookback_days,
            "dagster/column_schema": table_schema(spec.schema),
        },
    )
    def stream_asset(
        context: dg.AssetExecutionContext,
        registry: RegistryResource,
        lake: LakeResource,
        platforms: PlatformClientsResource,
        ops_store: OpsStoreResource,
    ) -> dg.MaterializeResult:
        open_client = platforms.opener(connector)
        sync_log = ApiSnapshotLog(ops_store.engine())
        snapshot_type = snapshot_type_for(context.run.tags)
        results: dict[str, StreamRunResult] = {}
        snapshot_ids: dict[str, str] = {}
        targets = _targets(context, spec)
        for workspace_id, days in targets.items():
            workspace = registry.workspace(workspace_id)
            # The snapshot sees the taxonomy error (its message names the account) before the
            # failure policy turns it into a Dagster outcome.
            with (
                connector_failure_policy(workspace_id, platform),
                sync_log.capture(
                    platform, spec.table, client_id=workspace_id, snapshot_type=snapshot_type
                ) as snapshot,
            ):
                result = sync_stream(
                    spec,
                    workspace=workspace,
                    open_client=open_client,
                    lake_root=lake.lake_root,
                    days=days,
                )
                snapshot.total_records = result.rows
            results[workspace_id] = result
            snapshot_ids[workspace_id] = str(snapshot.snapshot_id)
            context.log.info(
                f"{spec.ref} {workspace_id}: {len(result.written)} partition(s), "
                f"{result.rows} rows, {result.quarantined} quarantined, "
                f"{result.http.get('http_requests', 0)} requests"
            )
        _report_partition_rows(context, spec, targets, results, lake.lake_root)
        metadata = _metadata(spec, results)
        metadata["api_snapshot_ids"] = dg.MetadataValue.json(snapshot_ids)
        return dg.MaterializeResult(metadata=metadata)

    return stream_asset


CONNECTOR_ASSETS: list[dg.AssetsDefinition] = [
    build_stream_asset(connector, spec) for connector, spec in all_streams()
]
