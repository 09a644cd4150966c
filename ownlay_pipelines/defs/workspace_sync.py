"""Keep the dynamic `workspace` partitions equal to the registry, and backfill new workspaces.

A workspace that joins the registry gets its partition and, in the same tick, the runs of its
initial backfill: every entity snapshot its tier polls and the last 90 days of reporting data
(`OWNLAY_INITIAL_BACKFILL_DAYS`), in chunks of the connector assets' backfill policy. The sensor's
cursor lists the workspaces already onboarded, so a tick that crashes after adding a partition
but before launching its runs still backfills it on the next tick.
"""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.defs.assets.connector_assets import MAX_PARTITIONS_PER_RUN
from ownlay_pipelines.defs.jobs import SYNC_JOBS, sync_run_request
from ownlay_pipelines.defs.partitions import (
    PARTITIONS_START_DATE,
    WORKSPACE_DIMENSION,
    workspace_partitions,
)
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.orchestration.plan import Window, plan_initial_backfill
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.watchtower.clock import utc_now

INITIAL_BACKFILL_DAYS_ENV = "OWNLAY_INITIAL_BACKFILL_DAYS"
DEFAULT_INITIAL_BACKFILL_DAYS = 90
MAX_INITIAL_BACKFILL_DAYS = 3 * 365


def initial_backfill_days(environ: Mapping[str, str] | None = None) -> int:
    """Days of history a new workspace gets: `OWNLAY_INITIAL_BACKFILL_DAYS`, 90 by default."""
    env = os.environ if environ is None else environ
    text = env.get(INITIAL_BACKFILL_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_INITIAL_BACKFILL_DAYS
    if not text.isdigit() or not 1 <= int(text) <= MAX_INITIAL_BACKFILL_DAYS:
        raise ValueError(
            f"{INITIAL_BACKFILL_DAYS_ENV}={text!r} must be a whole number of days from 1 to "
            f"{MAX_INITIAL_BACKFILL_DAYS}"
        )
    return int(text)


def partition_changes(existing: list[str], registry: Registry) -> tuple[list[str], list[str]]:
    """(keys to add, keys to delete) so the partitions match the registry exactly."""
    wanted = set(registry.workspace_ids)
    current = set(existing)
    return sorted(wanted - current), sorted(current - wanted)


@dataclass(frozen=True)
class RegistryChanges:
    """What one tick must do: partitions to add and delete, workspaces to backfill, new cursor."""

    added: list[str]
    removed: list[str]
    to_backfill: list[str]
    onboarded: list[str]


def registry_changes(
    existing: list[str], registry: Registry, cursor: str | None
) -> RegistryChanges:
    """Compare partitions and the cursor's onboarded workspaces with the registry.

    Without a cursor (the sensor's first tick) the workspaces that already have a partition count
    as onboarded: they were synced before the sensor ran (by `ownlay demo`, or an older release).
    """
    added, removed = partition_changes(existing, registry)
    known = set(json.loads(cursor)) if cursor else set(existing)
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


def initial_backfill_requests(
    registry: Registry, workspace_ids: Sequence[str], *, today: date, days: int
) -> list[dg.RunRequest]:
    """The runs of the initial backfills of `workspace_ids` as of `today`.

    Run keys carry the day, so a workspace removed and added again on a later day is backfilled
    again, while a repeated tick on the same day launches nothing twice.
    """
    streams = [spec for _, spec in all_streams()]
    return [
        sync_run_request(request, request.run_key(Window.INITIAL_BACKFILL.value, today))
        for workspace_id in workspace_ids
        for request in plan_initial_backfill(
            registry.get(workspace_id),
            streams,
            today=today,
            days=days,
            max_days_per_run=MAX_PARTITIONS_PER_RUN,
            earliest_day=date.fromisoformat(PARTITIONS_START_DATE),
        )
    ]


@dg.sensor(
    name="workspace_registry",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    jobs=list(SYNC_JOBS.values()),
    description="Adds and removes `workspace` partitions so they match the registry file, and "
    "launches each new workspace's initial backfill (90 days by default). Runs by default: "
    "without it no partition exists and nothing else can run.",
)
def workspace_registry_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SensorResult:
    """One tick: request the partition difference and the new workspaces' backfill runs."""
    loaded = registry.load()
    changes = registry_changes(
        context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION), loaded, context.cursor
    )
    partition_requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]
    partition_requests = []
    if changes.added:
        partition_requests.append(workspace_partitions.build_add_request(changes.added))
    if changes.removed:
        partition_requests.append(workspace_partitions.build_delete_request(changes.removed))
    run_requests = initial_backfill_requests(
        loaded,
        changes.to_backfill,
        today=utc_now().astimezone(UTC).date(),
        days=initial_backfill_days(),
    )
    if not partition_requests and not run_requests:
        return dg.SensorResult(
            skip_reason="workspace partitions already match the registry",
            cursor=json.dumps(changes.onboarded),
        )
    if changes.to_backfill:
        context.log.info(
            f"initial backfill of {', '.join(changes.to_backfill)}: {len(run_requests)} run(s)"
        )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        cursor=json.dumps(changes.onboarded),
    )
