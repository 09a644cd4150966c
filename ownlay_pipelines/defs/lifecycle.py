"""Data lifecycle in Dagster: the daily `retention` job and the `gdpr_request` job.

Thin wiring around `ownlay_pipelines.lifecycle`: the retention job replaces the former
`event_retention` job (raw-event days and webhook bodies) and applies every other window too.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource
from ownlay_pipelines.ingest.config import BUFFER_FILE
from ownlay_pipelines.ingest.webhook_store import webhook_store_path
from ownlay_pipelines.lifecycle.gdpr import delete_subject, export_subject, write_export
from ownlay_pipelines.lifecycle.retention import run_retention
from ownlay_pipelines.lifecycle.retention_policy import DataType, RetentionPolicy
from ownlay_pipelines.lifecycle.stores import Stores
from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind
from ownlay_pipelines.privacy.keyed_hash import PiiHasher, PiiKeyMissing


def lifecycle_stores(lake: LakeResource, ops_store: OpsStoreResource) -> Stores:
    """The stores the resources point at."""
    data_dir = Path(lake.data_dir).resolve()
    return Stores(
        lake_root=lake.lake_root,
        webhook_store=webhook_store_path(data_dir),
        ops_store=ops_store.engine(),
        event_buffer=data_dir / BUFFER_FILE,
    )


class RetentionConfig(dg.Config):
    """Run options of the retention job; windows default to the environment's."""

    dry_run: bool = Field(default=False, description="List what would go; delete nothing.")
    windows_days: dict[str, int] = Field(
        default_factory=dict,
        description="Override windows for this run, e.g. {'raw_events': 30} (0 = keep forever).",
    )


@dg.op(description="Delete every data type's rows and partitions past its retention window.")
def apply_retention(
    context: dg.OpExecutionContext,
    config: RetentionConfig,
    lake: LakeResource,
    ops_store: OpsStoreResource,
) -> dg.Output[None]:
    """One retention run; the output's metadata counts what went (or would go) per data type."""
    try:
        policy = RetentionPolicy.from_env().with_overrides(config.windows_days)
    except ValueError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    run = run_retention(
        lifecycle_stores(lake, ops_store),
        policy,
        now=datetime.now(UTC),
        dry_run=config.dry_run,
    )
    for item in run.items:
        context.log.info(
            f"{'would delete' if run.dry_run else 'deleted'} {item.data_type.value}: "
            f"{item.target} ({item.rows} rows, {item.files} files, before {item.cutoff})"
        )
    metadata: dict[str, dg.RawMetadataValue] = {"dry_run": run.dry_run}
    counts = run.counts()
    for data_type in DataType:
        count = counts[data_type.value]
        metadata[f"{data_type.value}_rows"] = count["rows"]
        metadata[f"{data_type.value}_files"] = count["files"]
        metadata[f"{data_type.value}_window_days"] = policy.days(data_type)
    return dg.Output(None, metadata=metadata)


@dg.job(description="Apply every retention window (docs/operations.md#retention).")
def retention() -> None:
    apply_retention()


retention_schedule = dg.ScheduleDefinition(
    name="retention_daily",
    job=retention,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Deletes what is past its window, per data type (raw events 90 days by default: "
    "seed 000 says 30, seed 001 90; every window is configurable).",
)


class GdprRequestConfig(dg.Config):
    """One GDPR request. The identifier is kept in the run's config: for e-mails prefer the
    `ownlay gdpr` CLI, which leaves no copy outside the audit log's keyed hash."""

    action: str = Field(description="'export' or 'delete'.")
    workspace_id: str
    identifier_kind: str = Field(description="'email', 'user_id' or 'anonymous_id'.")
    identifier: str
    requested_by: str = Field(default="", description="Who asked (default: this run's id).")


@dg.op(description="Export or erase one person's data across every store (audited).")
def gdpr_request_op(
    context: dg.OpExecutionContext,
    config: GdprRequestConfig,
    lake: LakeResource,
    ops_store: OpsStoreResource,
) -> dg.Output[None]:
    """Run the request; the output's metadata counts rows per store (never the identifier)."""
    if config.action not in ("export", "delete"):
        raise dg.Failure(
            description=f"action must be 'export' or 'delete', got {config.action!r}",
            allow_retries=False,
        )
    try:
        kind = IdentifierKind(config.identifier_kind)
        subject = DataSubject.of(config.workspace_id, kind, config.identifier, PiiHasher.from_env())
    except (ValueError, PiiKeyMissing) as error:
        raise dg.Failure(description=f"gdpr_request: {error}", allow_retries=False) from error
    stores = lifecycle_stores(lake, ops_store)
    requested_by = config.requested_by or f"dagster run {context.run_id}"
    now = datetime.now(UTC)
    metadata: dict[str, dg.RawMetadataValue] = {"action": config.action}
    if config.action == "export":
        result = export_subject(stores, subject, requested_by=requested_by, now=now)
        out = (
            Path(lake.data_dir).resolve()
            / "gdpr_exports"
            / f"{subject.workspace_id}-{context.run_id}.json"
        )
        write_export(result.document, out)
        metadata["export_file"] = str(out)
    else:
        result = delete_subject(stores, subject, requested_by=requested_by, now=now)
    metadata.update(result.counts)
    context.log.info(f"gdpr {config.action} in {subject.workspace_id}: {result.counts}")
    return dg.Output(None, metadata=metadata)


@dg.job(description="A GDPR access (export) or erasure (delete) request for one person.")
def gdpr_request() -> None:
    gdpr_request_op()
