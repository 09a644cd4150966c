"""Sensors beside the schedules: models follow syncs, failures alert, recoveries resolve.

- `models_follow_upstream` (declarative automation): the unified model and every model downstream
  of it recompute exactly the partitions whose raw inputs changed, once no input is still being
  written. Sync runs never include models, so whichever platform finishes last, the model reads
  both platforms' newest files; a backfill of 90 days becomes one single-run model backfill.
- `warehouse_catalog_refresh` (declarative automation): the analysts' view catalog, built once
  lake data first appears and refreshed daily after the restatement syncs (views read Parquet,
  so only a new table needs a rebuild).
- `sync_failure_alerts`: a failed run records seed 000's alert once its failure kind's threshold
  of failed attempts in a row is reached; the outbox job sends it.
- `sync_recovery`: a successful run resolves its workspace's open failure alerts and records or
  resolves the daily quarantine summary of each table it synced.
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa
from dagster_shared.error import SerializableErrorInfo

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.assets.model_assets import WAREHOUSE_KEY
from ownlay_pipelines.defs.failure_policy import FAILURE_KIND_METADATA
from ownlay_pipelines.defs.jobs import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    SYNC_JOBS,
)
from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION
from ownlay_pipelines.defs.resources import OpsStoreResource
from ownlay_pipelines.defs.schedules import UNFINISHED_STATUSES
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS
from ownlay_pipelines.orchestration.error_policy import FailureKind, kind_from_error_chain
from ownlay_pipelines.orchestration.plan import WORKSPACE_TAG
from ownlay_pipelines.orchestration.sync_alerts import (
    SyncFailure,
    record_quarantine,
    record_sync_failure,
    resolve_quarantine,
    resolve_sync_failure,
)
from ownlay_pipelines.watchtower.clock import utc_now

CONNECTOR_TABLES = {spec.ref.parts: spec for _, spec in all_streams()}
"""Connector asset key path → its stream; other assets are models, marts or jobs."""
SNAPSHOT_ASSETS = dg.AssetSelection.assets(
    *(
        dg.AssetKey(list(spec.ref.parts))
        for spec in CONNECTOR_TABLES.values()
        if spec.partitioning is Partitioning.WORKSPACE
    )
)
PARTITION_TAG = "dagster/partition"
WAREHOUSE_REFRESH_CRON = "30 6 * * *"
"""Daily, after the 06:00 UTC restatement syncs."""

DATED_SYNC_JOB = SYNC_JOBS[Partitioning.DATE_AND_WORKSPACE].name
DATED_RAW_ASSETS = frozenset(
    dg.AssetKey(list(spec.ref.parts))
    for spec in CONNECTOR_TABLES.values()
    if spec.partitioning is Partitioning.DATE_AND_WORKSPACE
)


def run_workspaces(run: dg.DagsterRun, instance: dg.DagsterInstance) -> list[str]:
    """The workspaces a run covers, from its ownlay tag or its partition tags."""
    if WORKSPACE_TAG in run.tags:
        return [run.tags[WORKSPACE_TAG]]
    keys = [run.tags.get(PARTITION_TAG)] if PARTITION_TAG in run.tags else []
    keys += [run.tags.get(t) for t in (PARTITION_RANGE_START_TAG, PARTITION_RANGE_END_TAG)]
    # A multi-partition key reads "date|workspace"; a workspace partition key is the slug.
    ends = [key.rsplit("|", 1)[-1] for key in keys if key]
    if not ends:
        return []
    known = instance.get_dynamic_partitions(WORKSPACE_DIMENSION)
    if len(set(ends)) == 1 or not set(ends) <= set(known):
        return sorted(set(ends))
    first, last = sorted(known.index(end) for end in ends)
    return known[first : last + 1]


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


class WorkspaceSyncsFinished(dg.AutomationCondition):
    """True for the partitions of workspaces none of whose reporting-data syncs is unfinished.

    Dagster's own `any_deps_in_progress` looks at single partitions, and a sync run over a range
    writes its partitions' materializations one by one: a tick in between would see half of them
    done and split the model's work into many small runs. A run is unfinished until all of them
    are written, so waiting for the runs keeps a workspace's days together.
    """

    @property
    def description(self) -> str:
        return "no unfinished sync of the partition's workspace"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        busy = syncing_workspaces(context.asset_graph_view.instance)
        candidates = context.candidate_subset
        if not busy:
            return dg.AutomationResult(context, true_subset=candidates)
        if not candidates.is_partitioned:
            return dg.AutomationResult(context, true_subset=context.get_empty_subset())
        idle = {
            key
            for key in candidates.expensively_compute_partition_keys()
            if key.rsplit("|", 1)[-1] not in busy
        }
        return dg.AutomationResult(
            context, true_subset=candidates.compute_intersection_with_partition_keys(idle)
        )


FOLLOW_UPSTREAM = (
    # Campaign snapshots refresh every 15 minutes and map onto every day of a workspace: following
    # them would recompute its whole history each time. Status changes ride on the next metrics
    # sync instead.
    dg.AutomationCondition.any_deps_updated().ignore(SNAPSHOT_ASSETS).since_last_handled()
    & WorkspaceSyncsFinished()
    & ~dg.AutomationCondition.in_progress()
).with_label("inputs synced since last computed, no sync of the workspace unfinished")
"""Recompute a model partition once an input partition changed and its workspace's syncs ended.

Unlike `eager()` it is not limited to the latest day: restatement syncs change 28–30 days and a
backfill 90, and each changed day must be recomputed. An input updated by a run that also ran the
model does not count (Dagster's `any_deps_updated`), so nothing is computed twice.
"""

WAREHOUSE_REFRESH = (
    (
        dg.AutomationCondition.cron_tick_passed(WAREHOUSE_REFRESH_CRON, "UTC")
        | (dg.AutomationCondition.missing() & dg.AutomationCondition.any_deps_updated())
    ).since_last_handled()
    & ~dg.AutomationCondition.in_progress()
).with_label("first lake data, then daily at 06:30 UTC")

models_follow_upstream = dg.AutomationConditionSensorDefinition(
    "models_follow_upstream",
    target=(
        dg.AssetSelection.assets(dg.AssetKey(list(UNIFIED_CAMPAIGN_METRICS.parts))).downstream()
        - dg.AssetSelection.assets(WAREHOUSE_KEY)
    ).without_checks(),
    default_condition=FOLLOW_UPSTREAM,
    use_user_code_server=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Recomputes the unified model (and the models downstream of it) for exactly the "
    "partitions whose raw inputs were synced, once none is still syncing. Runs by default: "
    "sync runs never include models.",
)

warehouse_catalog_refresh = dg.AutomationConditionSensorDefinition(
    "warehouse_catalog_refresh",
    target=dg.AssetSelection.assets(WAREHOUSE_KEY).without_checks(),
    default_condition=WAREHOUSE_REFRESH,
    use_user_code_server=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Builds warehouse.duckdb when lake data first appears and refreshes its views "
    "daily at 06:30 UTC, after the restatement syncs, so a new table gets its view.",
)


@dataclass(frozen=True)
class FailedStep:
    """One failed step of a run: the asset it materializes (if any) and its failure kind."""

    asset_key: dg.AssetKey | None
    kind: FailureKind
    error: str


def _error_chain(error: SerializableErrorInfo | None) -> Iterator[tuple[str, str]]:
    while error is not None:
        yield error.cls_name or "", error.message
        error = error.cause or error.context


def assets_by_step(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.AssetKey]:
    """The asset each step of a run was planned to materialize."""
    planned = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    return {
        event.step_key: event.asset_key
        for event in (record.event_log_entry.dagster_event for record in planned)
        if event is not None and event.step_key and event.asset_key
    }


def failed_steps(context: dg.RunFailureSensorContext) -> list[FailedStep]:
    """The run's failed steps with the asset each one materializes and its failure kind."""
    asset_of_step = assets_by_step(context.instance, context.dagster_run.run_id)
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        chain = list(_error_chain(data.error))
        kind = kind_from_error_chain(chain)
        user_data = data.user_failure_data
        if (
            kind is FailureKind.UNEXPECTED
            and user_data
            and FAILURE_KIND_METADATA in user_data.metadata
        ):
            kind = FailureKind(user_data.metadata[FAILURE_KIND_METADATA].value)
        described = user_data.description if user_data else None
        steps.append(
            FailedStep(
                asset_key=asset_of_step.get(event.step_key or ""),
                kind=kind,
                error=described or (chain[-1][1].strip() if chain else "unknown error"),
            )
        )
    return steps


def _source(asset_key: dg.AssetKey | None, job_name: str) -> tuple[str, str | None]:
    """(source, connector table) of an asset: its platform for a connector table, else itself."""
    spec = CONNECTOR_TABLES.get(tuple(asset_key.path)) if asset_key else None
    if spec is not None:
        return spec.platform.value, spec.table
    return (asset_key.to_user_string() if asset_key else job_name), None


def sync_failures(
    run: dg.DagsterRun, steps: Sequence[FailedStep], workspaces: Sequence[str]
) -> list[SyncFailure]:
    """One failure per workspace and source (platform, model or job) of a failed run.

    A connector source gets one per workspace of the run (the sync log tells which of them
    failed); any other source one for the run's workspace, or for the deployment if unclear.
    """
    by_source: dict[str, list[tuple[FailedStep, str | None]]] = {}
    for step in steps:
        source, table = _source(step.asset_key, run.job_name)
        by_source.setdefault(source, []).append((step, table))
    failures = []
    for source, failed in by_source.items():
        tables = tuple(sorted({table for _, table in failed if table}))
        connector = bool(tables)
        targets: Sequence[str | None] = (
            workspaces if connector or len(workspaces) == 1 else [None]
        ) or [None]
        first = failed[0][0]
        failures.extend(
            SyncFailure(
                workspace_id=workspace,
                source=source,
                kind=first.kind,
                tables=tables,
                error=first.error,
                run_id=run.run_id,
                connector=connector,
                sole_workspace=len(targets) == 1,
            )
            for workspace in targets
        )
    return failures


@dg.run_failure_sensor(
    name="sync_failure_alerts",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records seed 000's alert for a failed run's workspace and platform once its "
    "failure kind's threshold of failed attempts in a row is reached (auth at once, rate limit "
    "and API errors after 3, network after 5); the notifications job sends it. Runs by default: "
    "a failure nobody hears about is a silent data gap.",
)
def sync_failure_alerts(context: dg.RunFailureSensorContext, ops_store: OpsStoreResource) -> None:
    """Record the alert decision of each workspace and source the failed run touched."""
    run = context.dagster_run
    steps = failed_steps(context)
    store = ops_store.engine()
    for failure in sync_failures(run, steps, run_workspaces(run, context.instance)):
        decision = record_sync_failure(
            store, failure, snapshot_type=snapshot_type_for(run.tags), now=utc_now()
        )
        context.log.info(
            f"{failure.source} for {failure.workspace_id or 'the deployment'}: "
            f"{decision.consecutive_failures}/{decision.threshold} failed attempt(s) "
            f"({failure.kind}); "
            + ("alert open" if decision.alerted else "below the alert threshold")
        )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="sync_recovery",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After a successful run, resolves the open failure alerts of the workspace and "
    "platforms it synced, and records (or resolves) the daily summary of rows it quarantined.",
)
def sync_recovery(context: dg.RunStatusSensorContext, ops_store: OpsStoreResource) -> None:
    """Resolve recovered sources and update the quarantine summary of the run's tables."""
    run = context.dagster_run
    workspaces = run_workspaces(run, context.instance)
    store = ops_store.engine()
    now = utc_now().astimezone(UTC)
    assets = assets_by_step(context.instance, run.run_id).values()
    sources = {_source(key, run.job_name)[0] for key in assets} or {run.job_name}
    # A run without a known workspace resolves what its failures recorded: the deployment's alert.
    targets: list[str | None] = [*workspaces] or [None]
    for workspace in targets:
        for source in sorted(sources):
            if resolve_sync_failure(store, workspace, source, now=now):
                context.log.info(
                    f"{source} for {workspace or 'the deployment'} recovered: alert resolved"
                )
    if len(workspaces) == 1:
        _summarise_quarantine(context, store, workspaces[0], now)


def _summarise_quarantine(
    context: dg.RunStatusSensorContext, store: sa.Engine, workspace: str, now: datetime
) -> None:
    """Open or resolve each synced table's quarantine alert from its materialization metadata."""
    records = context.instance.get_records_for_run(
        context.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    latest: dict[tuple[str, ...], dict[str, dg.MetadataValue]] = {}
    for record in records:
        materialization = record.asset_materialization
        if (
            materialization is not None
            and tuple(materialization.asset_key.path) in CONNECTOR_TABLES
        ):
            latest[tuple(materialization.asset_key.path)] = dict(materialization.metadata)
    for path, metadata in latest.items():
        table = "/".join(path)
        quarantined = metadata.get("quarantined_rows")
        snapshot_ids = metadata.get("api_snapshot_ids")
        count = int(quarantined.value) if quarantined is not None else 0
        if count == 0:
            resolve_quarantine(store, workspace, table, now=now)
            continue
        snapshot = (snapshot_ids.value or {}).get(workspace) if snapshot_ids is not None else None
        if snapshot is None:
            continue
        reasons = metadata.get("quarantine_reasons")
        top = (
            json.dumps(reasons.value) if reasons is not None else "reasons in the quarantine table"
        )
        record_quarantine(
            store,
            workspace_id=workspace,
            table=table,
            quarantined_rows=count,
            top_reasons=top,
            snapshot_id=uuid.UUID(snapshot),
            now=now,
        )


SENSORS = [
    models_follow_upstream,
    warehouse_catalog_refresh,
    sync_failure_alerts,
    sync_recovery,
]
"""The sensors this module adds to the code location."""
