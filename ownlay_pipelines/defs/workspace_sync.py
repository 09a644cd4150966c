"""Keep the dynamic `workspace` partitions equal to the registry, and admit new workspaces' backfills.

A workspace that joins the registry gets its partition at once and joins the backfill backlog:
every entity snapshot its tier polls and its history from the initial backfill window's Monday
(`OWNLAY_INITIAL_BACKFILL_DAYS`, 90 by default), in chunks of the connector assets' backfill
policy. Each tick admits at most 100 runs, oldest workspace first, and per platform only while
few of its initial-backfill runs are unfinished (`orchestration/admission.py`); the rest waits in
the cursor and is counted in the tick's log and skip message. The cursor also lists the
workspaces already onboarded, so a tick that crashes after adding a partition but before
launching its runs still backfills it on the next tick (run keys keep a repeat from launching).
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.defs.jobs import SYNC_JOBS, sync_run_request
from ownlay_pipelines.defs.partitions import (
    HISTORY_START,
    WORKSPACE_DIMENSION,
    workspace_partitions,
)
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.sensors.run_scope import UNFINISHED_STATUSES
from ownlay_pipelines.orchestration.admission import (
    MAX_RUNS_PER_TICK,
    Admission,
    BacklogEntry,
    admit,
)
from ownlay_pipelines.orchestration.history import (
    INITIAL_BACKFILL_DAYS_PER_RUN,
    backfill_window_start,
    initial_backfill_days,
)
from ownlay_pipelines.orchestration.plan import (
    PLATFORM_TAG,
    WINDOW_TAG,
    SyncRequest,
    Window,
    plan_initial_backfill,
)
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.watchtower.clock import utc_now

__all__ = ["initial_backfill_days"]


def partition_changes(existing: list[str], registry: Registry) -> tuple[list[str], list[str]]:
    """(keys to add, keys to delete) so the partitions match the registry exactly."""
    wanted = set(registry.workspace_ids)
    current = set(existing)
    return sorted(wanted - current), sorted(current - wanted)


@dataclass(frozen=True)
class RegistryChanges:
    """What one tick must do: partitions to add and delete, workspaces that joined, new cursor."""

    added: list[str]
    removed: list[str]
    to_backfill: list[str]
    onboarded: list[str]


@dataclass(frozen=True)
class RegistryCursor:
    """The sensor's memory: workspaces onboarded, and the backlog of backfills not yet admitted."""

    onboarded: list[str]
    backlog: list[BacklogEntry]

    def to_json(self) -> str:
        return json.dumps(
            {"onboarded": self.onboarded, "backlog": [e.to_json() for e in self.backlog]},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> "RegistryCursor | None":
        """None without a cursor; a plain list (the format before admission) has no backlog."""
        if not text:
            return None
        document = json.loads(text)
        if isinstance(document, list):
            return cls(onboarded=document, backlog=[])
        return cls(
            onboarded=document["onboarded"],
            backlog=[BacklogEntry.from_json(item) for item in document["backlog"]],
        )


def registry_changes(
    existing: list[str], registry: Registry, cursor: str | None
) -> RegistryChanges:
    """Compare partitions and the cursor's onboarded workspaces with the registry.

    Without a cursor (the sensor's first tick) the workspaces that already have a partition count
    as onboarded: they were synced before the sensor ran (by `ownlay demo`, or an older release).
    """
    added, removed = partition_changes(existing, registry)
    previous = RegistryCursor.from_json(cursor)
    known = set(previous.onboarded) if previous else set(existing)
    wanted = registry.workspace_ids
    return RegistryChanges(
        added=added,
        removed=removed,
        to_backfill=[w for w in wanted if w not in known],
        onboarded=sorted(wanted),
    )


def sync_workspace_partitions(
    instance: dg.DagsterInstance, registry: Registry
) -> tuple[list[str], list[str]]:
    """Apply the registry to `instance` directly (the demo and tests); returns (added, removed)."""
    added, removed = partition_changes(
        instance.get_dynamic_partitions(WORKSPACE_DIMENSION), registry
    )
    if added:
        instance.add_dynamic_partitions(WORKSPACE_DIMENSION, added)
    for key in removed:
        instance.delete_dynamic_partition(WORKSPACE_DIMENSION, key)
    return added, removed


def plan_workspace_backfill(
    registry: Registry, workspace_id: str, *, today: date, days: int
) -> list[SyncRequest]:
    """The runs of one workspace's initial backfill as of `today`, in admission order.

    History starts at the window's Monday (never before the first partition), so the partitions
    a fresh instance shows are all filled.
    """
    first = max(HISTORY_START, backfill_window_start(today, days))
    return plan_initial_backfill(
        registry.get(workspace_id),
        [spec for _, spec in all_streams()],
        today=today,
        days=(today - first).days + 1,
        max_days_per_run=INITIAL_BACKFILL_DAYS_PER_RUN,
        earliest_day=first,
    )


def initial_backfill_requests(
    registry: Registry, workspace_ids: Sequence[str], *, today: date, days: int
) -> list[dg.RunRequest]:
    """Every run of the initial backfills of `workspace_ids` as of `today`, unadmitted.

    Run keys carry the day, so a workspace removed and added again on a later day is backfilled
    again, while a repeated tick on the same day launches nothing twice.
    """
    return [
        _run_request(request, today)
        for workspace_id in workspace_ids
        for request in plan_workspace_backfill(registry, workspace_id, today=today, days=days)
    ]


def _run_request(request: SyncRequest, joined: date) -> dg.RunRequest:
    return sync_run_request(request, request.run_key(Window.INITIAL_BACKFILL.value, joined))


def in_flight_backfills(instance: dg.DagsterInstance, platforms: Sequence[str]) -> dict[str, int]:
    """Unfinished (queued or running) initial-backfill runs per platform."""
    return {
        platform: instance.get_runs_count(
            dg.RunsFilter(
                statuses=UNFINISHED_STATUSES,
                tags={WINDOW_TAG: Window.INITIAL_BACKFILL.value, PLATFORM_TAG: platform},
            )
        )
        for platform in platforms
    }


def admit_backfills(
    instance: dg.DagsterInstance,
    registry: Registry,
    backlog: list[BacklogEntry],
    *,
    days: int,
) -> Admission:
    """This tick's admitted runs of the backlog, dropping workspaces no longer in the registry."""
    present = set(registry.workspace_ids)
    backlog = [entry for entry in backlog if entry.workspace_id in present]
    platforms = sorted(p.value for p in registry.platforms())
    return admit(
        backlog,
        lambda entry: plan_workspace_backfill(
            registry, entry.workspace_id, today=entry.joined, days=days
        ),
        in_flight_backfills(instance, platforms) if backlog else {},
    )


ATTEMPT_TAG = "ownlay/attempt"
MAX_BACKFILL_ATTEMPTS = 3
RETRY_LOOKBACK_SECONDS = 24 * 3600
"""Failed backfill runs older than this are left to a person (the sync alert has told them)."""


def rate_limit_wait(instance: dg.DagsterInstance, run_id: str) -> float | None:
    """The wait a run's rate-limited step failure asked for (`retry_after_seconds`), if any."""
    failures = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    for record in failures:
        event = record.event_log_entry.dagster_event
        user_data = event.step_failure_data.user_failure_data if event else None
        wait = user_data.metadata.get("retry_after_seconds") if user_data else None
        if wait is not None:
            return float(wait.value)
    return None


def rate_limited_retries(
    instance: dg.DagsterInstance, now: float, limit: int
) -> list[dg.RunRequest]:
    """Initial-backfill runs a long rate limit failed, requested again once its wait is over.

    The failure policy ends such a run instead of sleeping in it (so the workspace's models are
    not held back); days older than the restatement window would otherwise stay empty. Each
    failed run is retried once (its run key), up to `MAX_BACKFILL_ATTEMPTS` attempts in a row.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            tags={WINDOW_TAG: Window.INITIAL_BACKFILL.value},
            updated_after=datetime.fromtimestamp(now - RETRY_LOOKBACK_SECONDS, UTC),
        ),
        limit=200,
    )
    requests: list[dg.RunRequest] = []
    for record in records:
        run = record.dagster_run
        attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
        if len(requests) >= limit or attempt >= MAX_BACKFILL_ATTEMPTS or record.end_time is None:
            continue
        wait = rate_limit_wait(instance, run.run_id)
        if wait is None or record.end_time + wait > now:
            continue
        tags = {
            k: v
            for k, v in run.tags.items()
            if k.startswith(("ownlay/", "dagster/asset_partition_range"))
        }
        requests.append(
            dg.RunRequest(
                run_key=f"retry:{run.run_id}",
                job_name=run.job_name,
                asset_selection=sorted(run.asset_selection or (), key=str),
                tags={**tags, ATTEMPT_TAG: str(attempt + 1)},
            )
        )
    return requests


def _describe(admission: Admission) -> str:
    if not admission.waiting_runs:
        return "no initial backfill waiting"
    by_platform = ", ".join(f"{p} {n}" for p, n in admission.waiting_by_platform.items())
    return (
        f"{admission.waiting_runs} initial-backfill run(s) of {len(admission.backlog)} "
        f"workspace(s) waiting for admission ({by_platform})"
    )


@dg.sensor(
    name="workspace_registry",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    jobs=list(SYNC_JOBS.values()),
    description="Adds and removes `workspace` partitions so they match the registry file, and "
    "admits each new workspace's initial backfill (90 days by default) at most 100 runs a tick, "
    "oldest workspace first, while few of a platform's backfill runs are unfinished; the runs "
    "still waiting are counted in each tick. Runs by default: without it no partition exists "
    "and nothing else can run.",
)
def workspace_registry_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SensorResult:
    """One tick: request the partition difference and admit backlog runs."""
    loaded = registry.load()
    changes = registry_changes(
        context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION), loaded, context.cursor
    )
    previous = RegistryCursor.from_json(context.cursor)
    today = utc_now().astimezone(UTC).date()
    backlog = [*(previous.backlog if previous else [])]
    backlog += [BacklogEntry(workspace_id, today) for workspace_id in changes.to_backfill]
    admission = admit_backfills(context.instance, loaded, backlog, days=initial_backfill_days())
    cursor = RegistryCursor(onboarded=changes.onboarded, backlog=admission.backlog).to_json()
    partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]
    partition_requests = []
    if changes.added:
        partition_requests.append(workspace_partitions.build_add_request(changes.added))
    if changes.removed:
        partition_requests.append(workspace_partitions.build_delete_request(changes.removed))
    run_requests = [_run_request(request, entry.joined) for entry, request in admission.admitted]
    retries = rate_limited_retries(
        context.instance,
        utc_now().timestamp(),
        limit=MAX_RUNS_PER_TICK - len(run_requests),
    )
    if retries:
        context.log.info(f"retrying {len(retries)} rate-limited initial-backfill run(s)")
    run_requests += retries
    if changes.to_backfill:
        context.log.info(f"{len(changes.to_backfill)} new workspace(s) join the backfill backlog")
    context.log.info(f"admitted {len(run_requests)} run(s); {_describe(admission)}")
    if not partition_requests and not run_requests:
        return dg.SensorResult(
            skip_reason="workspace partitions already match the registry; " + _describe(admission),
            cursor=cursor,
        )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        cursor=cursor,
    )
