"""Assets `ops/<provider>/<endpoint>`: one ops-store snapshot per workspace of each generic source.

Omnisend campaigns and automations come from the API (pool `omnisend_api`); the scraper's CVR and
the internal communication reports and clients come from the drop folder under the data directory
(`watchtower/sources/file_drop.py`). Each body calls `watchtower/sources/capture.py` and reports
the snapshot id, the records and metric rows stored, and whatever was refused.
"""

from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors import omnisend
from ownlay_pipelines.connectors.omnisend import Resource
from ownlay_pipelines.defs.failure_policy import CONNECTOR_RETRY_POLICY, connector_failure_policy
from ownlay_pipelines.defs.partitions import workspace_partitions
from ownlay_pipelines.defs.resources import (
    LakeResource,
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.watchtower.sources.capture import (
    OMNISEND_MAPPINGS,
    SourceRun,
    capture_file_drop,
    capture_omnisend,
)
from ownlay_pipelines.watchtower.sources.field_mappings import (
    INTERNAL_CLIENTS,
    INTERNAL_COMMUNICATION_REPORTS,
    SCRAPER_CVR,
    FieldMapping,
)
from ownlay_pipelines.watchtower.sources.file_drop import drop_folder

GROUP = "watchtower_sources"
MAX_LISTED_ISSUES = 20


def _metadata(run: SourceRun) -> dict[str, object]:
    snapshot = run.snapshot
    metadata: dict[str, object] = {
        "dagster/row_count": snapshot.records if snapshot else 0,
        "api_snapshot_id": str(snapshot.snapshot_id) if snapshot else "none (nothing to capture)",
        "metric_rows": snapshot.metrics if snapshot else 0,
        "duplicates_dropped": snapshot.duplicates_dropped if snapshot else 0,
        "refused_rows": sum(run.refused.values()) + len(run.issues),
        **dict(sorted(run.http.items())),
    }
    if run.refused:
        metadata["refused_reasons"] = dg.MetadataValue.json(dict(run.refused.most_common(20)))
    if run.issues:
        listed = [str(issue) for issue in run.issues[:MAX_LISTED_ISSUES]]
        metadata["refused_drop_rows"] = dg.MetadataValue.json(listed)
    if run.files:
        metadata["files_read"] = dg.MetadataValue.json(run.files)
    return metadata


def build_omnisend_asset(resource: Resource, description: str) -> dg.AssetsDefinition:
    """The asset snapshotting one Omnisend list for each workspace."""
    mapping = OMNISEND_MAPPINGS[resource]

    @dg.asset(
        key=["ops", mapping.provider, mapping.endpoint],
        description=description,
        group_name=GROUP,
        kinds={"omnisend", "sql"},
        partitions_def=workspace_partitions,
        pool="omnisend_api",
        retry_policy=CONNECTOR_RETRY_POLICY,
        tags={"ownlay/platform": "omnisend"},
        metadata={"ops_source": mapping.source},
    )
    def omnisend_source(
        context: dg.AssetExecutionContext,
        registry: RegistryResource,
        platforms: PlatformClientsResource,
        ops_store: OpsStoreResource,
    ) -> dg.MaterializeResult:
        workspace = registry.workspace(context.partition_key)
        with connector_failure_policy(workspace.id, mapping.provider):
            run = capture_omnisend(
                ops_store.engine(),
                resource,
                workspace=workspace,
                open_client=platforms.opener(omnisend.CONNECTOR),
                snapshot_type=snapshot_type_for(context.run.tags),
            )
        return dg.MaterializeResult(metadata=_metadata(run))

    return omnisend_source


def build_file_drop_asset(mapping: FieldMapping, description: str) -> dg.AssetsDefinition:
    """The asset snapshotting one file-drop source for each workspace."""

    @dg.asset(
        key=["ops", mapping.provider, mapping.endpoint],
        description=description,
        group_name=GROUP,
        kinds={"csv", "sql"},
        partitions_def=workspace_partitions,
        metadata={
            "ops_source": mapping.source,
            "drop_folder": str(drop_folder(Path("<data_dir>"), mapping.provider, mapping.endpoint)),
        },
    )
    def file_drop_source(
        context: dg.AssetExecutionContext, lake: LakeResource, ops_store: OpsStoreResource
    ) -> dg.MaterializeResult:
        run = capture_file_drop(
            ops_store.engine(),
            mapping,
            data_dir=Path(lake.data_dir).resolve(),
            client_id=context.partition_key,
            snapshot_type=snapshot_type_for(context.run.tags),
        )
        return dg.MaterializeResult(metadata=_metadata(run))

    return file_drop_source


WATCHTOWER_SOURCE_ASSETS: list[dg.AssetsDefinition] = [
    build_omnisend_asset(
        Resource.CAMPAIGNS,
        "One record per Omnisend campaign of the workspace's brands in the latest snapshot: "
        "name, status, sent as quantity; open_rate and click_rate metrics (percent of sent).",
    ),
    build_omnisend_asset(
        Resource.AUTOMATIONS,
        "One record per Omnisend automation of the workspace's brands in the latest snapshot: "
        "name, status (enabled/disabled); sent_count and opened_count metrics.",
    ),
    build_file_drop_asset(
        SCRAPER_CVR,
        "One record per client and period from the scraper's CVR drop: the period start as "
        "record_date and the conversion rate as the cvr metric (percent).",
    ),
    build_file_drop_asset(
        INTERNAL_COMMUNICATION_REPORTS,
        "One record per client Discord channel from the communications-audit drop: last team "
        "message as record_date and the days_since_team_message metric.",
    ),
    build_file_drop_asset(
        INTERNAL_CLIENTS,
        "One record per client from the client master-data drop: name, contact e-mail, status, "
        "tier as category, tags and monthly retainer as amount.",
    ),
]
"""Every generic-store source asset, in the order the watchtower targets list them."""

watchtower_sources_job = dg.define_asset_job(
    "watchtower_sources",
    selection=dg.AssetSelection.groups(GROUP),
    description="Snapshot every generic-store source (Omnisend, scraper CVR, internal files) "
    "for one workspace.",
)
