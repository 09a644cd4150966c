"""Warehouse export in Dagster: `export/<bigquery|snowflake>/<table>` assets and their schedule.

One asset per warehouse kind and exportable table, partitioned date × workspace like the mart it
copies (its only dependency). A partition run copies that mart day to every destination of the
workspace configured in `OWNLAY_EXPORT_CONFIG` (none: nothing to do), skipping destinations that
already hold the same file. The `warehouse_export_daily` schedule requests, for each workspace
with a destination, the last `OWNLAY_EXPORT_LOOKBACK_DAYS` (default 3) days, so restated days are
copied again; older days go by backfill. These assets are not models: the models sensor does not
follow them (definitions.py keeps them out of its list).
"""

import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ownlay_pipelines.defs.partitions import daily_by_workspace, multi_key, split_key
from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lifecycle.export import WarehouseTarget, export_partition
from ownlay_pipelines.lifecycle.export_config import (
    EXPORTABLE_TABLES,
    Destination,
    WarehouseKind,
    load_export_config,
)

LOOKBACK_ENV = "OWNLAY_EXPORT_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS = 3


class WarehouseTargetsResource(dg.ConfigurableResource):
    """Opens a destination's warehouse with the official client; secrets through `EnvVar`."""

    def open_target(self, destination: Destination) -> WarehouseTarget:
        """A BigQuery dataset or Snowflake schema of the destination, ready to load."""
        if destination.kind is WarehouseKind.BIGQUERY:
            from ownlay_pipelines.lifecycle.export_bigquery import (
                BigQueryTarget,
                client_from_service_account,
            )

            key = _secret(destination, destination.credentials_env)
            client = client_from_service_account(destination.project or "", key)
            return BigQueryTarget(client, destination.dataset or "", destination.location)
        from ownlay_pipelines.lifecycle.export_snowflake import SnowflakeTarget, connect_snowflake

        connection = connect_snowflake(
            account=_secret(destination, destination.account_env),
            user=_secret(destination, destination.user_env),
            password=_secret(destination, destination.password_env),
            database=destination.database or "",
            schema=destination.schema_ or "",
            warehouse=destination.warehouse or "",
        )
        return SnowflakeTarget(connection, destination.database or "", destination.schema_ or "")


def _secret(destination: Destination, env_name: str | None) -> str:
    value = dg.EnvVar(env_name).get_value() if env_name else None
    if not value:
        raise dg.Failure(
            description=f"export destination {destination.name}: environment variable "
            f"{env_name or '(none named)'} must hold its credential",
            allow_retries=False,
        )
    return value


def _export_asset(kind: WarehouseKind, table: str) -> dg.AssetsDefinition:
    ref = TableRef.parse(table)

    @dg.asset(
        key=["export", kind.value, ref.relation_name],
        deps=[dg.AssetKey(list(ref.parts))],
        partitions_def=daily_by_workspace,
        group_name="export",
        kinds={kind.value},
        description=f"{table} copied by day into each workspace's {kind.value} destination "
        "(OWNLAY_EXPORT_CONFIG); a rerun replaces the day's rows.",
    )
    def export_asset(
        context: dg.AssetExecutionContext,
        lake: LakeResource,
        ops_store: OpsStoreResource,
        warehouse_targets: WarehouseTargetsResource,
    ) -> dg.MaterializeResult:
        day, workspace_id = split_key(str(context.partition_key))
        destinations = load_export_config().for_table(kind, table, workspace_id)
        metadata: dict[str, dg.RawMetadataValue] = {"destinations": len(destinations)}
        copied = 0
        for destination in destinations:
            outcome = export_partition(
                lake.lake_root,
                ref,
                workspace_id,
                date.fromisoformat(day),
                destination=destination.name,
                target=warehouse_targets.open_target(destination),
                state=ops_store.engine(),
                now=datetime.now(UTC),
            )
            metadata[f"{destination.name}_status"] = outcome.status
            copied += outcome.rows
        metadata["dagster/row_count"] = copied
        return dg.MaterializeResult(metadata=metadata)

    return export_asset


EXPORT_ASSETS = [
    _export_asset(kind, table) for kind in WarehouseKind for table in EXPORTABLE_TABLES
]

warehouse_export_job = dg.define_asset_job(
    "warehouse_export",
    selection=dg.AssetSelection.assets(*EXPORT_ASSETS),
    description="Copy mart days to the customers' BigQuery and Snowflake warehouses.",
)


@dg.schedule(
    name="warehouse_export_daily",
    job=warehouse_export_job,
    cron_schedule="0 7 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After the marts: the last OWNLAY_EXPORT_LOOKBACK_DAYS days of every workspace "
    "with an export destination.",
)
def warehouse_export_daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per (day, workspace) with a destination; none when nothing is configured."""
    today = context.scheduled_execution_time.astimezone(UTC).date()
    lookback = int(os.environ.get(LOOKBACK_ENV, DEFAULT_LOOKBACK_DAYS))
    workspaces = sorted({d.workspace_id for d in load_export_config().destinations})
    return [
        dg.RunRequest(
            run_key=f"export-{workspace}-{day}-{today}",
            partition_key=multi_key(day, workspace),
        )
        for workspace in workspaces
        for day in (today - timedelta(days=n) for n in range(1, lookback + 1))
    ]
