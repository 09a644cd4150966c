"""Run-status sensors of syncs: failures alert, recoveries resolve.

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
from typing import Any

import dagster as dg
import sqlalchemy as sa

from ownlay_pipelines.defs.failure_policy import FAILURE_KIND_METADATA
from ownlay_pipelines.defs.resources import OpsStoreResource
from ownlay_pipelines.defs.sensors.run_scope import CONNECTOR_TABLES, run_workspaces
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.orchestration.error_policy import FailureKind, kind_from_error_chain
from ownlay_pipelines.orchestration.sync_alerts import (
    SyncFailure,
    record_quarantine,
    record_sync_failure,
    resolve_quarantine,
    resolve_sync_failure,
)
from ownlay_pipelines.watchtower.clock import utc_now


@dataclass(frozen=True)
class FailedStep:
    """One failed step of a run: the asset it materializes (if any) and its failure kind."""

    asset_key: dg.AssetKey | None
    kind: FailureKind
    error: str


def _error_chain(error: Any) -> Iterator[tuple[str, str]]:
    """(class name, message) of a step error and each error that caused it."""
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
