"""Stripe webhooks into the Stripe tables: a sensor notices verified deliveries not yet applied, a
job applies them (the newer event wins, replays change nothing; `connectors/stripe_webhooks.py`)
and marks them applied, which starts their raw-body retention window (`webhook_store`).
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.stripe_webhooks import (
    PROVIDER,
    apply_stripe_events,
    last_applied_seq,
)
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.ingest.webhook_store import (
    mark_applied,
    read_webhook_deliveries,
    webhook_store_path,
)
from ownlay_pipelines.schema.platforms import Platform

PAGE = 1000


def _store(lake: LakeResource) -> Path:
    return webhook_store_path(Path(lake.data_dir).resolve())


@dg.op(description="Apply the Stripe webhook deliveries not applied yet to the Stripe lake tables.")
def apply_stripe_webhooks(
    context: dg.OpExecutionContext, lake: LakeResource, registry: RegistryResource
) -> dg.Output[None]:
    rows = refused = 0
    for workspace in registry.load().workspaces:
        if not workspace.connections_for(Platform.STRIPE):
            continue
        cursor = last_applied_seq(_store(lake), workspace.id)
        while batch := read_webhook_deliveries(
            _store(lake), provider=PROVIDER, workspace_id=workspace.id, after_seq=cursor, limit=PAGE
        ):
            result = apply_stripe_events(batch, workspace=workspace, lake_root=lake.lake_root)
            rows += result.rows
            refused += len(result.refused)
            for reason in result.refused:
                context.log.warning(f"{workspace.id}: {reason}")
            cursor = result.last_seq
            mark_applied(
                _store(lake),
                provider=PROVIDER,
                workspace_id=workspace.id,
                up_to_seq=cursor,
                now=datetime.now(UTC),
            )
    return dg.Output(None, metadata={"rows_offered": rows, "deliveries_refused": refused})


@dg.job(description="Apply verified Stripe webhook events to raw/stripe tables.")
def stripe_webhooks() -> None:
    apply_stripe_webhooks()


@dg.sensor(
    name="stripe_webhook_deliveries",
    job=stripe_webhooks,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a Stripe apply run when verified deliveries are waiting to be applied.",
)
def stripe_webhook_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, registry: RegistryResource
) -> dg.RunRequest | dg.SkipReason:
    """One tick: the newest unapplied delivery's seq names the run (so a tick never repeats)."""
    newest = 0
    for workspace in registry.load().workspaces:
        if not workspace.connections_for(Platform.STRIPE):
            continue
        after = last_applied_seq(_store(lake), workspace.id)
        while page := read_webhook_deliveries(
            _store(lake), provider=PROVIDER, workspace_id=workspace.id, after_seq=after, limit=PAGE
        ):
            after = page[-1].seq
            newest = max(newest, after)
    if not newest:
        return dg.SkipReason("no unapplied Stripe deliveries")
    return dg.RunRequest(run_key=f"stripe-webhooks-{newest}")
