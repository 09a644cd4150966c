"""Shopify webhooks into the Shopify tables: a sensor notices new verified deliveries, a job
applies them with out-of-order-safe upserts (the newer `updated_at` wins, replays change nothing)
and records them as applied, which starts their raw-body retention window (`webhook_store`).
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.shopify_webhooks import upsert_webhook_deliveries
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.ingest.webhook_store import (
    mark_applied,
    read_webhook_deliveries,
    webhook_store_path,
)
from ownlay_pipelines.schema.platforms import Platform

PROVIDER = "shopify"
PAGE = 1000


def _deliveries_path(lake: LakeResource) -> Path:
    return webhook_store_path(Path(lake.data_dir).resolve())


def _newest_seq(lake: LakeResource, workspace_ids: list[str], after_seq: int) -> int:
    """The highest delivery `seq` after `after_seq` across the workspaces (after_seq if none)."""
    newest = after_seq
    for workspace_id in workspace_ids:
        cursor = after_seq
        while page := read_webhook_deliveries(
            _deliveries_path(lake),
            provider=PROVIDER,
            workspace_id=workspace_id,
            after_seq=cursor,
            limit=PAGE,
        ):
            cursor = page[-1].seq
        newest = max(newest, cursor)
    return newest


@dg.op(description="Apply every stored Shopify webhook delivery to the Shopify lake tables.")
def apply_shopify_webhooks(
    context: dg.OpExecutionContext, lake: LakeResource, registry: RegistryResource
) -> dg.Output[None]:
    """Idempotent: re-applying a delivery never changes a row, so every run applies them all,
    which also repairs a scheduled sync that overwrote a newer webhook copy."""
    rows = refused = 0
    for workspace in registry.load().workspaces:
        if not workspace.connections_for(Platform.SHOPIFY) or not _deliveries_path(lake).exists():
            continue
        cursor = 0
        while batch := read_webhook_deliveries(
            _deliveries_path(lake),
            provider=PROVIDER,
            workspace_id=workspace.id,
            after_seq=cursor,
            limit=PAGE,
        ):
            result = upsert_webhook_deliveries(batch, workspace=workspace, lake_root=lake.lake_root)
            rows += result.rows
            refused += len(result.refused)
            for reason in result.refused:
                context.log.warning(f"{workspace.id}: {reason}")
            cursor = result.last_seq
        if cursor:
            mark_applied(
                _deliveries_path(lake),
                provider=PROVIDER,
                workspace_id=workspace.id,
                up_to_seq=cursor,
                now=datetime.now(UTC),
            )
    return dg.Output(None, metadata={"rows_upserted": rows, "deliveries_refused": refused})


@dg.job(description="Apply verified Shopify webhook deliveries to raw/shopify tables.")
def shopify_webhooks() -> None:
    apply_shopify_webhooks()


@dg.sensor(
    name="shopify_webhook_deliveries",
    job=shopify_webhooks,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a webhook apply run when new verified Shopify deliveries arrived.",
)
def shopify_webhook_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, registry: RegistryResource
) -> dg.RunRequest | dg.SkipReason:
    """One tick: is there a delivery newer than the cursor?"""
    if not _deliveries_path(lake).exists():
        return dg.SkipReason("no webhook deliveries yet")
    seen = int(context.cursor or 0)
    newest = _newest_seq(lake, registry.load().workspace_ids, seen)
    if newest == seen:
        return dg.SkipReason("no new Shopify deliveries")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"shopify-webhooks-{newest}")
