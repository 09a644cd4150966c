"""Stripe webhooks into the Stripe tables: a sensor notices verified deliveries not yet applied, a
job applies them (the newer event wins, replays change nothing; `connectors/stripe_webhooks.py`)
and marks them applied, which starts their raw-body retention window (`webhook_store`).

The `stripe_events` job (hourly) reads the same objects' update events from `GET /v1/events`
(`connectors/stripe_events.py`) and applies them through the same merge, so a workspace without
webhooks still sees a refund of a charge older than the 30-day re-pull. Both jobs carry
`MERGE_TAG`, which deploy/dagster.yaml limits to one run at a time: each reads a partition,
merges and writes it back, and two at once could lose the other's rows.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.stripe import CONNECTOR, StripeClient
from ownlay_pipelines.connectors.stripe_events import CURSOR_FILE, EventCursors, sync_update_events
from ownlay_pipelines.connectors.stripe_webhooks import (
    PROVIDER,
    apply_stripe_events,
    last_applied_seq,
)
from ownlay_pipelines.defs.resources import LakeResource, PlatformClientsResource, RegistryResource
from ownlay_pipelines.defs.schedules import default_schedule_status
from ownlay_pipelines.ingest.webhook_store import (
    mark_applied,
    read_webhook_deliveries,
    webhook_store_path,
)
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import Settings

PAGE = 1000
MERGE_TAG = {"ownlay/stripe_lake_merge": "stripe"}
"""Run tag of every job that merges into the Stripe tables (limited to one run at a time)."""


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


@dg.job(description="Apply verified Stripe webhook events to raw/stripe tables.", tags=MERGE_TAG)
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


@dg.op(
    description="Read the update events of Stripe charges, refunds and invoices from "
    "/v1/events and apply them to the Stripe lake tables as webhooks are applied."
)
def apply_stripe_api_events(
    context: dg.OpExecutionContext,
    lake: LakeResource,
    registry: RegistryResource,
    platforms: PlatformClientsResource,
) -> dg.Output[None]:
    """Each Stripe account of each workspace from its cursor on; the cursor is saved after every
    account, so a failing account does not make the others re-read their events."""
    cursors = EventCursors(Path(lake.data_dir).resolve() / CURSOR_FILE)
    open_client = platforms.opener(CONNECTOR)
    events = rows = refused = 0
    for workspace in registry.load().workspaces:
        for connection in workspace.connections_for(Platform.STRIPE):
            client = open_client(connection)
            assert isinstance(client, StripeClient)
            result = sync_update_events(
                client,
                workspace=workspace,
                connection=connection,
                lake_root=lake.lake_root,
                cursor=cursors.get(workspace.id, connection.account_id),
                now=platforms.now(),
            )
            for reason in result.applied.refused:
                context.log.warning(f"{workspace.id}/{connection.account_id}: {reason}")
            cursors.set(workspace.id, connection.account_id, result.cursor)
            cursors.save()
            events += result.events
            rows += result.applied.rows
            refused += len(result.applied.refused)
    return dg.Output(
        None, metadata={"events_listed": events, "rows_offered": rows, "events_refused": refused}
    )


@dg.job(
    description="Apply Stripe update events (refunds, charge and invoice changes) from "
    "/v1/events to raw/stripe tables.",
    tags=MERGE_TAG,
)
def stripe_events() -> None:
    apply_stripe_api_events()


def build_stripe_events_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """The hourly catch-up, running by default against live APIs and stopped in the sandbox,
    like the sync schedules (`default_schedule_status`)."""
    return dg.ScheduleDefinition(
        name="stripe_events_hourly",
        job=stripe_events,
        cron_schedule="20 * * * *",
        execution_timezone="UTC",
        default_status=default_schedule_status(settings),
        description="Hourly catch-up of Stripe update events (Stripe keeps them 30 days).",
    )
