"""What a run covers: its workspaces, and which workspaces have reporting-data syncs unfinished."""

from collections.abc import Sequence

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.jobs import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    SYNC_JOBS,
)
from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION
from ownlay_pipelines.orchestration.plan import WORKSPACE_TAG

CONNECTOR_TABLES = {spec.ref.parts: spec for _, spec in all_streams()}
"""Connector asset key path → its stream; other assets are models, marts or jobs."""
PARTITION_TAG = "dagster/partition"
UNFINISHED_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

DATED_SYNC_JOB = SYNC_JOBS[Partitioning.DATE_AND_WORKSPACE].name
DATED_RAW_ASSETS = frozenset(
    dg.AssetKey(list(spec.ref.parts))
    for spec in CONNECTOR_TABLES.values()
    if spec.partitioning is Partitioning.DATE_AND_WORKSPACE
)


def run_workspaces(
    run: dg.DagsterRun, instance: dg.DagsterInstance, known: Sequence[str] | None = None
) -> list[str]:
    """The workspaces a run covers, from its ownlay tag or its partition tags.

    `known` is the workspace partitions in order, when the caller has already read them.
    """
    if WORKSPACE_TAG in run.tags:
        return [run.tags[WORKSPACE_TAG]]
    keys = [run.tags.get(PARTITION_TAG)] if PARTITION_TAG in run.tags else []
    keys += [run.tags.get(t) for t in (PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG)]
    # A multi-partition key reads "date|workspace"; a workspace partition key is the slug.
    ends = [key.rsplit("|", 1)[-1] for key in keys if key]
    if not ends:
        return []
    if known is None:
        known = instance.get_dynamic_partitions(WORKSPACE_DIMENSION)
    if len(set(ends)) == 1 or not set(ends) <= set(known):
        return sorted(set(ends))
    first, last = sorted(known.index(end) for end in ends)
    return list(known[first : last + 1])


def busy_workspaces(instance: dg.DagsterInstance, model_job: str) -> set[str]:
    """Workspaces with an unfinished reporting-data sync or `model_job` run (queued included)."""
    return syncing_workspaces(instance) | {
        run.tags[WORKSPACE_TAG]
        for run in instance.get_runs(
            filters=dg.RunsFilter(job_name=model_job, statuses=UNFINISHED_STATUSES)
        )
        if WORKSPACE_TAG in run.tags
    }


def syncing_workspaces(instance: dg.DagsterInstance) -> set[str]:
    """Workspaces with an unfinished run that writes reporting data (queued runs included)."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED_STATUSES))
    return {
        workspace
        for run in runs
        if (run.asset_selection is None and run.job_name == DATED_SYNC_JOB)
        or (run.asset_selection and run.asset_selection & DATED_RAW_ASSETS)
        for workspace in run_workspaces(run, instance)
    }
