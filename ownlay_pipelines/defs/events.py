"""First-party events in Dagster: the `raw/events` flush asset, its sensor, and retention.

The ingestion service acknowledges events into a durable buffer; this sensor turns the buffer into
lake files in large batches (seed 001's layout, one file per workspace and day) — at 50,000 pending
events or once the oldest has waited a minute, whichever comes first, since many small flushes
would fill the lake with small files (reference/perf_reliability.md §1.3).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.defs.webhook_retention import prune_webhook_bodies
from ownlay_pipelines.events.layout import EVENTS_TABLE, delete_expired_event_days
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import buffer_status, flush_buffer

FLUSH_AT_PENDING_EVENTS = 50_000
FLUSH_AFTER_SECONDS = 60


@dg.asset(
    key=list(EVENTS_TABLE.parts),
    description=(
        "One row per accepted first-party event (seed 000's OwnlayEvent on seed 001's lake "
        "schema): IPs and e-mails HMAC-hashed, sensitive URL parameters stripped; one file per "
        "workspace and day under project_id=/year=/month=, deduplicated by event_id."
    ),
    group_name="events",
    kinds={"parquet"},
)
def raw_events(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Flush every acknowledged event from the ingestion buffer into its day file."""
    settings = IngestSettings.from_env()
    result = flush_buffer(
        lake.event_buffer_path,
        lake.lake_root,
        dedupe_window=timedelta(days=settings.dedupe_window_days),
    )
    context.log.info(
        f"{EVENTS_TABLE}: {result.events_flushed} events into {len(result.days)} day file(s)"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.events_flushed,
            "day_files": dg.MetadataValue.json(
                [
                    {
                        "workspace_id": d.workspace_id,
                        "day": str(d.day),
                        "rows_in_file": d.rows_in_file,
                        "rows_added": d.rows_added,
                    }
                    for d in result.days
                ]
            ),
            "buffer_high_water_seq": result.high_water_seq,
            "pruned_from_buffer": result.pruned_events,
        }
    )


flush_events_job = dg.define_asset_job(
    "flush_events",
    selection=dg.AssetSelection.assets(raw_events),
    description="Move acknowledged events from the ingestion buffer into the event lake.",
)


@dg.sensor(
    name="event_buffer",
    job=flush_events_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Requests a flush when {FLUSH_AT_PENDING_EVENTS:,} events are pending or the oldest has "
        f"waited {FLUSH_AFTER_SECONDS} s. Runs by default: acknowledged events belong in the lake."
    ),
)
def event_buffer_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource
) -> dg.RunRequest | dg.SkipReason:
    """One tick: compare the buffer's backlog with the flush thresholds."""
    if not lake.event_buffer_path.exists():
        return dg.SkipReason("no ingestion buffer yet (the service has not received events)")
    status = buffer_status(lake.event_buffer_path)
    if status.pending_events == 0 or status.oldest_pending_received_at is None:
        return dg.SkipReason("no pending events")
    waited = (datetime.now(UTC) - status.oldest_pending_received_at).total_seconds()
    if status.pending_events < FLUSH_AT_PENDING_EVENTS and waited < FLUSH_AFTER_SECONDS:
        return dg.SkipReason(
            f"{status.pending_events} pending, oldest {waited:.0f} s old: waiting for a larger batch"
        )
    context.update_cursor(str(status.high_water_seq))
    return dg.RunRequest(run_key=f"events-flush-{status.high_water_seq}")


@dg.op(description="Delete event-day files older than the raw-event retention window.")
def delete_expired_events(context: dg.OpExecutionContext, lake: LakeResource) -> None:
    """Raw events are kept OWNLAY_RAW_EVENT_RETENTION_DAYS (default 90) days, then deleted."""
    retention_days = IngestSettings.from_env().raw_event_retention_days
    deleted = delete_expired_event_days(
        lake.lake_root, today=datetime.now(UTC).date(), retention_days=retention_days
    )
    context.log.info(f"deleted {len(deleted)} event-day file(s) older than {retention_days} days")


@dg.job(description="Apply the raw-event retention window to the event lake.")
def event_retention() -> None:
    delete_expired_events()
    prune_webhook_bodies()


event_retention_schedule = dg.ScheduleDefinition(
    name="event_retention_daily",
    job=event_retention,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Deletes raw event days past the retention window (90 days by default; seed 000 "
    "says 30 and seed 001 says 90, so it is configurable).",
)
