"""LinkedIn lead notifications into raw/linkedin_ads/leads: a sensor notices new verified
deliveries, a job applies them (`connectors/linkedin_lead_webhooks.py`, idempotent) and records
them as applied, which starts their raw-body retention window (`ingest/webhook_store.py`).
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.linkedin_ads import CONNECTOR
from ownlay_pipelines.connectors.linkedin_lead_webhooks import apply_lead_notifications
from ownlay_pipelines.defs.resources import LakeResource, PlatformClientsResource, RegistryResource
from ownlay_pipelines.ingest.signatures import WebhookProvider
from ownlay_pipelines.ingest.webhook_store import (
    WebhookDelivery,
    mark_applied,
    read_webhook_deliveries,
    webhook_store_path,
)
from ownlay_pipelines.schema.platforms import Platform

PROVIDER = WebhookProvider.LINKEDIN.value
PAGE = 1000


def _deliveries(lake: LakeResource, workspace_id: str, after_seq: int) -> list[WebhookDelivery]:
    """Every stored LinkedIn delivery of the workspace after `after_seq`, oldest first."""
    path = webhook_store_path(Path(lake.data_dir).resolve())
    found: list[WebhookDelivery] = []
    while page := read_webhook_deliveries(
        path, provider=PROVIDER, workspace_id=workspace_id, after_seq=after_seq, limit=PAGE
    ):
        found += page
        after_seq = page[-1].seq
    return found


@dg.op(description="Apply every stored LinkedIn lead notification to raw/linkedin_ads/leads.")
def apply_linkedin_lead_notifications(
    context: dg.OpExecutionContext,
    lake: LakeResource,
    registry: RegistryResource,
    platforms: PlatformClientsResource,
) -> dg.Output[None]:
    """Idempotent: each run applies every stored notification's latest action per lead."""
    upserted = deleted = refused = 0
    for workspace in registry.load().workspaces:
        if not workspace.connections_for(Platform.LINKEDIN_ADS):
            continue
        deliveries = _deliveries(lake, workspace.id, 0)
        if not deliveries:
            continue
        result = apply_lead_notifications(
            deliveries,
            workspace=workspace,
            open_client=platforms.opener(CONNECTOR),
            lake_root=lake.lake_root,
        )
        upserted, deleted = upserted + result.upserted, deleted + result.deleted
        refused += len(result.refused)
        for reason in result.refused:
            context.log.warning(f"{workspace.id}: {reason}")
        mark_applied(
            webhook_store_path(Path(lake.data_dir).resolve()),
            provider=PROVIDER,
            workspace_id=workspace.id,
            up_to_seq=result.last_seq,
            now=datetime.now(UTC),
        )
    return dg.Output(
        None,
        metadata={"leads_upserted": upserted, "leads_deleted": deleted, "refused": refused},
    )


@dg.job(description="Apply verified LinkedIn lead notifications to raw/linkedin_ads/leads.")
def linkedin_lead_webhooks() -> None:
    apply_linkedin_lead_notifications()


@dg.sensor(
    name="linkedin_lead_notifications",
    job=linkedin_lead_webhooks,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a lead apply run when new verified LinkedIn notifications arrived.",
)
def linkedin_lead_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, registry: RegistryResource
) -> dg.RunRequest | dg.SkipReason:
    """One tick: is there a LinkedIn delivery newer than the cursor?"""
    seen = int(context.cursor or 0)
    newest = seen
    for workspace_id in registry.load().workspace_ids:
        deliveries = _deliveries(lake, workspace_id, seen)
        if deliveries:
            newest = max(newest, deliveries[-1].seq)
    if newest == seen:
        return dg.SkipReason("no new LinkedIn lead notifications")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"linkedin-leads-{newest}")
