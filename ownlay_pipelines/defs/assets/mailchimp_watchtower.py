"""`ops/mailchimp/reports`: Mailchimp campaign reports in the watchtower's generic store.

In the watchtower sources group, so the `watchtower_sources` job (and whatever schedules it)
snapshots it with Omnisend's campaigns.
"""

import dagster as dg

from ownlay_pipelines.connectors import mailchimp
from ownlay_pipelines.defs.assets.watchtower_sources import GROUP, _metadata
from ownlay_pipelines.defs.failure_policy import CONNECTOR_RETRY_POLICY, connector_failure_policy
from ownlay_pipelines.defs.partitions import workspace_partitions
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.watchtower.sources.mailchimp_reports import (
    MAILCHIMP_REPORTS,
    capture_mailchimp_reports,
)


@dg.asset(
    key=["ops", MAILCHIMP_REPORTS.provider, MAILCHIMP_REPORTS.endpoint],
    description="One record per Mailchimp campaign sent in the last 30 days: title, type as "
    "category, e-mails sent as quantity, send day as record_date; open_rate and click_rate "
    "metrics (percent of sent).",
    group_name=GROUP,
    kinds={"mailchimp", "sql"},
    partitions_def=workspace_partitions,
    pool="mailchimp_api",
    retry_policy=CONNECTOR_RETRY_POLICY,
    tags={"ownlay/platform": "mailchimp"},
    metadata={"ops_source": MAILCHIMP_REPORTS.source},
)
def mailchimp_reports_source(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    platforms: PlatformClientsResource,
    ops_store: OpsStoreResource,
) -> dg.MaterializeResult:
    workspace = registry.workspace(context.partition_key)
    with connector_failure_policy(workspace.id, MAILCHIMP_REPORTS.provider):
        run = capture_mailchimp_reports(
            ops_store.engine(),
            workspace=workspace,
            open_client=platforms.opener(mailchimp.CONNECTOR),
            snapshot_type=snapshot_type_for(context.run.tags),
        )
    return dg.MaterializeResult(metadata=_metadata(run))
