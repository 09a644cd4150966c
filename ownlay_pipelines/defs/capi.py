"""Conversions-API forwarding in Dagster: one asset per platform, drained by a sensor.

`capi/forwarded_<platform>` (partitioned by workspace, pool `capi_<platform>`) drains the
workspace's outbox rows for that platform's destinations; its metadata says sent, accepted,
rejected by reason and which match keys the events carried, and its `destination_health` check
grades each destination at seed 002's thresholds. `capi_outbox_sensor` requests a run for each
(workspace, platform) with due rows every 30 s, together with `ops/capi/health`, which snapshots
every destination's health of the last hour into the watchtower's `capi/health` source; its
`watchtower` check runs the shipped "CAPI destination unhealthy" rule (alerts). `capi_backfill`
re-opens, for a date range, the events that were never accepted (accepted ones are never sent
again); the sensor then sends them. `capi_order_capture_sensor` runs `capi_order_capture` when
verified Shopify/Stripe webhook deliveries arrived after a workspace's capture cursor: paid
orders with marketing consent become purchase conversions in the outbox (capi/order_capture.py).
"""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from ownlay_pipelines.capi.health import workspace_health
from ownlay_pipelines.capi.order_capture import PROVIDERS, capture_webhook_orders, source_cursor
from ownlay_pipelines.capi.outbox import OutboxStatus, reopen_range
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.run import forward_platform, sandbox_environ
from ownlay_pipelines.capi.tables import capi_outbox, create_capi_schema
from ownlay_pipelines.defs.assets.watchtower_sources import _metadata
from ownlay_pipelines.defs.checks.watchtower_checks import build_source_watchtower_check
from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION, workspace_partitions
from ownlay_pipelines.defs.resources import (
    LakeResource,
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.sync_log import snapshot_type_for
from ownlay_pipelines.ingest.webhook_store import read_webhook_deliveries, webhook_store_path
from ownlay_pipelines.privacy.keyed_hash import optional_hasher
from ownlay_pipelines.settings import Mode
from ownlay_pipelines.watchtower.sources.capi_health import CAPI_HEALTH, capture_capi_health

SENSOR_INTERVAL_SECONDS = 30


def capi_asset_key(platform: CapiPlatform) -> dg.AssetKey:
    return dg.AssetKey(["capi", f"forwarded_{platform.value}"])


def _forwarding_asset(platform: CapiPlatform) -> dg.AssetsDefinition:
    key = capi_asset_key(platform)

    @dg.asset(
        key=key,
        description=(
            f"Conversions forwarded to the workspace's {platform.value} Conversions-API "
            "destinations from the ops-store outbox; each event at most once accepted."
        ),
        group_name="capi",
        partitions_def=workspace_partitions,
        pool=f"capi_{platform.value}",
        check_specs=[dg.AssetCheckSpec("destination_health", asset=key)],
    )
    def forwarded(
        context: dg.AssetExecutionContext,
        ops_store: OpsStoreResource,
        platforms: PlatformClientsResource,
    ) -> dg.MaterializeResult:
        workspace = platforms.registry.workspace(context.partition_key)
        engine = _capi_engine(ops_store)
        sandbox = Mode(platforms.mode) is Mode.SANDBOX
        if sandbox:
            from ownlay_pipelines.sandbox.capi_demo import capi_sandbox_for

            transport = capi_sandbox_for(platforms.registry.load()).transport()
        runs = forward_platform(
            engine,
            workspace.id,
            workspace.capi,
            platform,
            transport=transport if sandbox else None,
            environ=sandbox_environ(workspace.capi) if sandbox else None,
        )
        metadata: dict[str, object] = {}
        for run in runs:
            metadata |= {
                f"{run.destination.id}.{k}": v for k, v in run.report.as_metadata().items()
            }
        worst = max(
            (run.health for run in runs),
            key=lambda h: ("healthy", "degraded", "unhealthy").index(h.status),
            default=None,
        )
        check = dg.AssetCheckResult(
            check_name="destination_health",
            passed=worst is None or worst.status != "unhealthy",
            severity=dg.AssetCheckSeverity.WARN
            if worst is not None and worst.status == "degraded"
            else dg.AssetCheckSeverity.ERROR,
            metadata={
                f"{run.destination.id}.{k}": v
                for run in runs
                for k, v in run.health.as_metadata().items()
            }
            or {"destinations": 0},
        )
        return dg.MaterializeResult(metadata=metadata, check_results=[check])

    return forwarded


CAPI_HEALTH_KEY = dg.AssetKey(["ops", CAPI_HEALTH.provider, CAPI_HEALTH.endpoint])


@dg.asset(
    key=CAPI_HEALTH_KEY,
    description="One record per Conversions-API destination of the workspace: seed 002's "
    "ConnectorHealthStatus over the last hour (status, success rate, latency, failed events, "
    "circuit state) in the watchtower's generic store.",
    group_name="capi",
    kinds={"sql"},
    partitions_def=workspace_partitions,
    deps=[capi_asset_key(platform) for platform in CapiPlatform],
    metadata={"ops_source": CAPI_HEALTH.source},
)
def capi_health_source(
    context: dg.AssetExecutionContext,
    ops_store: OpsStoreResource,
    platforms: PlatformClientsResource,
) -> dg.MaterializeResult:
    workspace = platforms.registry.workspace(context.partition_key)
    engine = _capi_engine(ops_store)
    statuses = workspace_health(engine, workspace.id, workspace.capi, now=datetime.now(UTC))
    run = capture_capi_health(
        engine, workspace.id, statuses, snapshot_type=snapshot_type_for(context.run.tags)
    )
    return dg.MaterializeResult(
        metadata=_metadata(run) | {f"{s.destination_id}.status": s.status for s in statuses}
    )


CAPI_ASSETS = [*(_forwarding_asset(platform) for platform in CapiPlatform), capi_health_source]
CAPI_CHECKS = [build_source_watchtower_check(capi_health_source)]
"""The `watchtower` check of `ops/capi/health` (the shipped unhealthy-destination rule)."""
capi_forwarding_job = dg.define_asset_job(
    "capi_forwarding", selection=dg.AssetSelection.assets(*CAPI_ASSETS)
)


def due_destinations(engine: sa.Engine, now: datetime) -> list[tuple[str, str]]:
    """(workspace, platform) pairs with outbox rows due now."""
    o = capi_outbox
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(o.c.workspace_id, o.c.platform)
            .where(
                o.c.status.in_([OutboxStatus.PENDING.value, OutboxStatus.SENT.value]),
                sa.or_(o.c.next_attempt_at.is_(None), o.c.next_attempt_at <= now),
            )
            .distinct()
        ).all()
    return sorted((row.workspace_id, row.platform) for row in rows)


@dg.sensor(
    job=capi_forwarding_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a forwarding run per (workspace, platform) with due outbox rows.",
)
def capi_outbox_sensor(
    context: dg.SensorEvaluationContext, ops_store: OpsStoreResource
) -> dg.SensorResult:
    engine = _capi_engine(ops_store)
    now = datetime.now(UTC)
    known = set(context.instance.get_dynamic_partitions(WORKSPACE_DIMENSION))
    requests = [
        dg.RunRequest(
            run_key=f"{workspace}-{platform}-{int(now.timestamp()) // SENSOR_INTERVAL_SECONDS}",
            partition_key=workspace,
            asset_selection=[capi_asset_key(CapiPlatform(platform)), CAPI_HEALTH_KEY],
            tags={"capi/platform": platform},
        )
        for workspace, platform in due_destinations(engine, now)
        if workspace in known
    ]
    return dg.SensorResult(run_requests=requests)


class CapiBackfillConfig(dg.Config):
    """The workspace and the date range [start, end) of event times to re-forward."""

    workspace_id: str
    start: str
    end: str


@dg.op(description="Re-open never-accepted outbox rows of a date range for forwarding.")
def reopen_capi_range(
    context: dg.OpExecutionContext, config: CapiBackfillConfig, ops_store: OpsStoreResource
) -> dg.Output[None]:
    try:
        start = datetime.fromisoformat(config.start).replace(tzinfo=UTC)
        end = datetime.fromisoformat(config.end).replace(tzinfo=UTC)
    except ValueError as error:
        raise dg.Failure(f"start/end must be ISO dates such as 2026-03-01: {error}") from None
    engine = _capi_engine(ops_store)
    reopened = reopen_range(
        engine, config.workspace_id, start=start, end=end, now=datetime.now(UTC)
    )
    context.log.info(f"{reopened} never-accepted events re-opened; the outbox sensor sends them")
    return dg.Output(None, metadata={"reopened": reopened})


@dg.job(description="Backfill: re-forward a date range's never-accepted conversions.")
def capi_backfill() -> None:
    reopen_capi_range()


@dg.op(description="Queue the consented paid Shopify/Stripe orders of new webhook deliveries.")
def capture_store_orders(
    context: dg.OpExecutionContext,
    lake: LakeResource,
    registry: RegistryResource,
    ops_store: OpsStoreResource,
) -> dg.Output[None]:
    engine = _capi_engine(ops_store)
    deliveries = webhook_store_path(Path(lake.data_dir).resolve())
    hasher = optional_hasher()
    totals: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for workspace in registry.load().workspaces:
        report = capture_webhook_orders(
            engine, workspace, deliveries, now=datetime.now(UTC), hasher=hasher
        )
        totals.update(
            deliveries=report.deliveries,
            orders=report.orders,
            queued=report.queued,
            no_consent=report.no_consent,
            same_order=report.same_order,
            suppressed=report.suppressed,
            stripe_charges_waiting=report.held,
            stripe_late_links=report.late_links,
        )
        refused.update(report.refused)
    for reason, count in refused.items():
        context.log.warning(f"{count} deliveries not read as orders: {reason}")
    metadata: dict[str, object] = dict(totals)
    metadata["refused"] = dg.MetadataValue.json(dict(refused))
    return dg.Output(None, metadata=metadata)


@dg.job(description="Store orders (Shopify, Stripe webhooks) into the CAPI outbox.")
def capi_order_capture() -> None:
    capture_store_orders()


@dg.sensor(
    job=capi_order_capture,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests an order capture when a workspace with CAPI destinations has webhook "
    "deliveries after its capture cursor.",
)
def capi_order_capture_sensor(
    context: dg.SensorEvaluationContext,
    lake: LakeResource,
    registry: RegistryResource,
    ops_store: OpsStoreResource,
) -> dg.RunRequest | dg.SkipReason:
    deliveries = webhook_store_path(Path(lake.data_dir).resolve())
    if not deliveries.exists():
        return dg.SkipReason("no webhook deliveries yet")
    engine = _capi_engine(ops_store)
    newest = [
        (workspace.id, provider, fresh[0].seq)
        for workspace in registry.load().workspaces
        if workspace.capi.destinations
        for provider in PROVIDERS
        if (
            fresh := read_webhook_deliveries(
                deliveries,
                provider=provider,
                workspace_id=workspace.id,
                after_seq=source_cursor(engine, workspace.id, provider),
                limit=1,
            )
        )
    ]
    if not newest:
        return dg.SkipReason("no new order deliveries")
    # Keyed by the minute, not by seq: a failed run is requested again on a later tick, and two
    # overlapping runs queue nothing twice (outbox and order keys are idempotent).
    minute = int(datetime.now(UTC).timestamp()) // 60
    return dg.RunRequest(
        run_key=f"capi-orders-{minute}",
        tags={"capi/first_new_seq": str(min(seq for _, _, seq in newest))},
    )


def _capi_engine(ops_store: OpsStoreResource) -> sa.Engine:
    """The ops store's engine, its Conversions-API tables created if missing."""
    engine = ops_store.engine()
    create_capi_schema(engine)
    return engine
