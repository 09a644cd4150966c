"""Webhook deliveries' raw bodies past their retention window, pruned to receipts (a Dagster op).

Runs inside the daily `event_retention` job (defs/events.py), so one schedule applies every
retention rule of the ingest path.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.webhook_store import prune_raw_bodies, webhook_store_path


@dg.op(description="Drop webhook bodies applied more than OWNLAY_WEBHOOK_RAW_RETENTION_DAYS ago.")
def prune_webhook_bodies(context: dg.OpExecutionContext, lake: LakeResource) -> None:
    """Keeps ids, topic, timestamps and the body's SHA-256; customer data in the body goes."""
    retention_days = IngestSettings.from_env().webhook_raw_retention_days
    pruned = prune_raw_bodies(
        webhook_store_path(Path(lake.data_dir).resolve()),
        now=datetime.now(UTC),
        retention_days=retention_days,
    )
    context.log.info(f"pruned the raw body of {pruned} webhook deliveries ({retention_days} days)")
