"""First-party events in Dagster: `raw/events` (date × workspace), its flush, compaction, retention.

The ingestion service acknowledges events into a durable buffer; the sensor requests a flush at
50,000 pending events or once the oldest has waited a minute, whichever comes first, since many
small flushes would fill the lake with small files (reference/perf_reliability.md §1.3). A flush
touches whichever days its events fall on, so `raw/events` is an asset whose computation is the
flush: one run, launched without a partition, reports one materialization per (day, workspace)
partition it added a part to, with that part's row count, and downstream models follow only the
days that changed. Materializing a partition from the UI runs the same whole-buffer flush. A daily
schedule compacts closed days; retention is the `retention` job of defs/lifecycle.py.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg

from ownlay_pipelines.defs.partitions import daily_by_workspace, multi_key
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.events.compaction import compact_closed_days
from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import buffer_status, flush_buffer

FLUSH_AT_PENDING_EVENTS = 50_000
FLUSH_AFTER_SECONDS = 60
RAW_EVENTS_KEY = dg.AssetKey(list(EVENTS_TABLE.parts))

RAW_EVENTS_SPEC = dg.AssetSpec(
    key=RAW_EVENTS_KEY,
    description=(
        "One row per accepted first-party event (seed 000's OwnlayEvent on seed 001's lake "
        "schema): IPs and e-mails HMAC-hashed, sensitive URL parameters stripped. Append-only "
        "part files per flush under workspace_id=/event_date=, compacted daily; read it through "
        "the warehouse view, which keeps one row per event_id."
    ),
    group_name="events",
    kinds={"parquet"},
    partitions_def=daily_by_workspace,
    # A flush that found nothing pending materializes no partition.
    skippable=True,
)


@dg.multi_asset(
    name="flush_event_buffer",
    specs=[RAW_EVENTS_SPEC],
    can_subset=False,
    description="Flush acknowledged events from the ingestion buffer into new part files.",
)
def raw_events(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> Iterator[dg.AssetMaterialization]:
    """Run one flush of the whole buffer and report each (day, workspace) partition it added
    rows to (a run for one partition flushes every pending event all the same)."""
    settings = IngestSettings.from_env()
    result = flush_buffer(
        lake.event_buffer_path,
        lake.lake_root,
        dedupe_window=timedelta(days=settings.dedupe_window_days),
    )
    context.log.info(
        f"{EVENTS_TABLE}: flush {result.flush_id} wrote {result.events_flushed} events into "
        f"{len(result.days)} part file(s); {result.pruned_events} ids left the dedupe window"
    )
    for part in result.days:
        yield dg.AssetMaterialization(
            asset_key=RAW_EVENTS_KEY,
            partition=multi_key(part.day, part.workspace_id),
            metadata={
                "dagster/row_count": part.rows,
                "part_file": part.path.name,
                "flush_id": result.flush_id,
            },
        )


flush_events_job = dg.define_asset_job(
    name="flush_events",
    selection=dg.AssetSelection.assets(RAW_EVENTS_KEY),
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


@dg.op(description="Compact each closed day's part files into at most four deduplicated files.")
def compact_event_days(context: dg.OpExecutionContext, lake: LakeResource) -> None:
    """Compact every UTC day before today with new parts; delete files replaced long enough ago."""
    run = compact_closed_days(lake.lake_root, today=datetime.now(UTC).date())
    for day in run.compacted:
        context.log.info(
            f"{day.workspace_id} {day.day}: {day.input_files} file(s) -> {len(day.files)} "
            f"compacted file(s), {day.rows} rows (generation {day.generation})"
        )
    context.log.info(
        f"compacted {len(run.compacted)} day(s); deleted {run.deleted_files} replaced file(s)"
    )


@dg.job(description="Compact closed days of the event lake (≤ 4 files per day, one row per id).")
def event_compaction() -> None:
    compact_event_days()


event_compaction_schedule = dg.ScheduleDefinition(
    name="event_compaction_daily",
    job=event_compaction,
    cron_schedule="15 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Compacts yesterday (and any closed day that received late events) after "
    "midnight UTC; files the previous run replaced are deleted once past their grace period.",
)
