"""The sync schedules: every 15 minutes (UTC), each workspace's due streams by tier and cadence.

Two schedules, one per sync job, tick on the same 15-minute grid; `orchestration/plan.py` decides
which streams are due for which workspace at each tick and over which days. A tick skips work an
unfinished run already covers, so a platform that is rate limited for an hour does not pile up
four queued runs an hour behind it.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.jobs import SYNC_JOBS, block_run_request, sync_run_request
from ownlay_pipelines.defs.partitions import PARTITIONS_START_DATE, WORKSPACE_DIMENSION
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.sensors.run_scope import UNFINISHED_STATUSES, run_workspaces
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.blocks import SyncBlock, block_requests, count_swept_in
from ownlay_pipelines.orchestration.cadence import TICK_CRON
from ownlay_pipelines.orchestration.plan import PLATFORM_TAG, SyncRequest, plan_tick
from ownlay_pipelines.settings import Mode, Settings

EXECUTION_TIMEZONE = "UTC"
"""Partitions are UTC report dates, so ticks are read in UTC too."""


def default_schedule_status(settings: Settings) -> dg.DefaultScheduleStatus:
    """RUNNING against live APIs, so a deployment never silently stops syncing; STOPPED in the
    sandbox, so `dagster dev` does not churn synthetic runs every 15 minutes until asked to."""
    if settings.mode is Mode.LIVE:
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED


UnfinishedRun = tuple[dict[str, str], set[TableRef], list[str]]
"""(tags, tables, workspaces) of a run not finished yet."""


def _unfinished_runs(
    instance: dg.DagsterInstance, job_name: str, workspace_order: Sequence[str]
) -> list[UnfinishedRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=UNFINISHED_STATUSES))
    return [
        (
            dict(run.tags),
            {TableRef(tuple(key.path)) for key in run.asset_selection or ()},
            run_workspaces(run, instance, workspace_order),
        )
        for run in runs
    ]


def _pending(
    requests: list[SyncRequest], unfinished: list[UnfinishedRun]
) -> tuple[list[SyncRequest], list[SyncRequest]]:
    """(requests to launch, requests an unfinished run already covers)."""
    # Indexed by (platform, workspace): a block run covers up to ~100 workspaces, and a tick at
    # 1,000 workspaces checks thousands of requests against every unfinished run otherwise.
    by_sync: dict[tuple[str | None, str], list[UnfinishedRun]] = defaultdict(list)
    for run in unfinished:
        for workspace in run[2]:
            by_sync[(run[0].get(PLATFORM_TAG), workspace)].append(run)
    launch, covered = [], []
    for request in requests:
        candidates = by_sync.get((request.platform.value, request.workspace_id), ())
        if any(request.is_covered_by(*run) for run in candidates):
            covered.append(request)
        else:
            launch.append(request)
    return launch, covered


def _run_request(run: SyncRequest | SyncBlock, trigger: str, tick: datetime) -> dg.RunRequest:
    if isinstance(run, SyncBlock):
        return block_run_request(run, run.run_key(trigger, tick))
    return sync_run_request(run, run.run_key(trigger, tick))


def build_sync_schedule(
    partitioning: Partitioning, default_status: dg.DefaultScheduleStatus
) -> dg.ScheduleDefinition:
    """The schedule that launches the sync runs of `partitioning`'s job."""
    job = SYNC_JOBS[partitioning]
    streams = [spec for _, spec in all_streams() if spec.partitioning is partitioning]
    name = f"sync_{job.name}"

    @dg.schedule(
        name=name,
        cron_schedule=TICK_CRON,
        execution_timezone=EXECUTION_TIMEZONE,
        job=job,
        default_status=default_status,
        description=(
            f"Every 15 minutes (UTC): runs of `{job.name}` for each workspace's streams that are "
            "due by seed 000's entity frequency and the workspace's tier, one run per workspace "
            "and platform, or blocks of consecutive workspaces per platform when more than 100 "
            "are due. Dated streams refresh today and yesterday; the 06:00 tick re-pulls each "
            "platform's restatement lookback instead."
        ),
    )
    def sync_schedule(
        context: dg.ScheduleEvaluationContext, registry: RegistryResource
    ) -> dg.SkipReason | list[dg.RunRequest]:
        if context.scheduled_execution_time is None:
            raise ValueError(f"{name} plans by tick time; evaluate it with a scheduled time")
        tick = context.scheduled_execution_time.astimezone(UTC)
        order = context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION)
        partitioned = set(order)
        workspaces = [w for w in registry.load().workspaces if w.id in partitioned]
        requests = plan_tick(
            workspaces, streams, tick, earliest_day=date.fromisoformat(PARTITIONS_START_DATE)
        )
        launch, covered = _pending(requests, _unfinished_runs(context.instance, job.name, order))
        if covered:
            context.log.info(
                f"{len(covered)} sync(s) already covered by unfinished runs, not launched again: "
                + ", ".join(f"{r.workspace_id} {r.platform}" for r in covered[:20])
                + (" …" if len(covered) > 20 else "")
            )
        if not launch:
            return dg.SkipReason(
                f"nothing due at {tick:%H:%M} UTC"
                + (
                    f" that unfinished runs do not cover ({len(covered)} covered)"
                    if covered
                    else ""
                )
            )
        runs = block_requests(launch, order)
        swept = count_swept_in(runs)
        if len(runs) < len(launch):
            context.log.info(
                f"{len(launch)} workspace × platform syncs due, launched as {len(runs)} runs "
                "(blocks of consecutive workspaces per platform)"
                + (
                    "; synced with their block although not due: "
                    + ", ".join(f"{n} for {p}" for p, n in sorted(swept.items()))
                    if swept
                    else ""
                )
            )
        return [_run_request(run, name, tick) for run in runs]

    return sync_schedule


def build_sync_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    """Both sync schedules, started by default only in live mode."""
    status = default_schedule_status(settings)
    return [build_sync_schedule(partitioning, status) for partitioning in SYNC_JOBS]
