"""Conversions-API destination health as a watchtower source, and the shipped rule watching it.

Source `capi/health`: one record per destination of a workspace per capture, from seed 002's
ConnectorHealthStatus (capi/health.py): the destination id as external id, its status
(healthy / degraded / unhealthy) as status, its platform as category, events of the last hour as
quantity; success rate (percent), average latency (ms) and failed events of the last hour as
metrics; circuit state and issues in `extra`.

The rule "builtin: CAPI destination unhealthy" (critical) fires for every destination whose latest
capture says `unhealthy`; it is an ordinary seed-004 condition (`status equals unhealthy`) scoped
to the source, so it can be disabled or routed like any rule. Source, metric definitions and rule
are registered by the first capture (existing rows and their settings are kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa

from ownlay_pipelines.capi.health import ConnectorHealthStatus
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.conditions import Condition, Severity
from ownlay_pipelines.watchtower.rules import BUILTIN_PREFIX
from ownlay_pipelines.watchtower.seed_data import insert_missing
from ownlay_pipelines.watchtower.snapshots import SnapshotType, ensure_source
from ownlay_pipelines.watchtower.sources.capture import SourceRun
from ownlay_pipelines.watchtower.sources.field_mappings import FieldMapping
from ownlay_pipelines.watchtower.sources.record_store import capture_records
from ownlay_pipelines.watchtower.tables import metric_definitions, watchtower_rules

CAPI_HEALTH = FieldMapping(
    provider="capi",
    endpoint="health",
    columns=(
        ("destination_id", "external_id"),
        ("label", "name"),
        ("status", "status"),
        ("platform", "category"),
        ("events_processed_1h", "quantity"),
    ),
    metrics=(
        ("success_rate_percent", "capi_success_rate_1h"),
        ("avg_latency_ms", "capi_avg_latency_ms"),
        ("error_count_1h", "capi_error_count_1h"),
    ),
)
_METRICS = (
    ("capi_success_rate_1h", "CAPI Success Rate (1 h)", "percent", (Decimal(0), Decimal(100))),
    ("capi_avg_latency_ms", "CAPI Average Latency (1 h)", "milliseconds", (Decimal(0), None)),
    ("capi_error_count_1h", "CAPI Failed Events (1 h)", "count", (Decimal(0), None)),
)
UNHEALTHY_RULE = f"{BUILTIN_PREFIX}CAPI destination unhealthy"


def health_record(health: ConnectorHealthStatus) -> dict[str, object]:
    """One destination's health as a `capi/health` record."""
    return {
        "destination_id": health.destination_id,
        "label": f"{health.platform} {health.destination_id}",
        "status": health.status,
        "platform": health.platform,
        "events_processed_1h": health.events_processed_1h,
        "success_rate_percent": round(health.success_rate_1h * 100, 2),
        "avg_latency_ms": round(health.avg_latency_ms, 1),
        "error_count_1h": health.error_count_1h,
        "circuit_state": health.circuit_state,
        "issues": "; ".join(health.issues) or None,
    }


def capture_capi_health(
    store: sa.Engine,
    workspace_id: str,
    statuses: Sequence[ConnectorHealthStatus],
    *,
    snapshot_type: SnapshotType,
    clock: Clock = utc_now,
) -> SourceRun:
    """Snapshot the workspace's destinations' health; nothing when it has no destination."""
    if not statuses:
        return SourceRun()
    with store.begin() as connection:
        ensure_capi_health_rule(connection)
    with capture_records(
        store, CAPI_HEALTH, client_id=workspace_id, snapshot_type=snapshot_type, clock=clock
    ) as writer:
        captured = writer.write([health_record(h) for h in statuses])
    return SourceRun(snapshot=captured)


def ensure_capi_health_rule(connection: sa.Connection) -> None:
    """Register the `capi/health` source, its metrics and the shipped rule if they are missing."""
    source_id = ensure_source(
        connection,
        CAPI_HEALTH.provider,
        CAPI_HEALTH.endpoint,
        display_name="CAPI Destination Health",
        refresh_interval_minutes=1,
    )
    insert_missing(
        connection,
        metric_definitions,
        [
            {
                "metric_name": name,
                "display_name": display,
                "description": f"{display}, seed 002 ConnectorHealthStatus",
                "metric_unit": unit,
                "provider": CAPI_HEALTH.provider,
                "min_value": low,
                "max_value": high,
            }
            for name, display, unit, (low, high) in _METRICS
        ],
    )
    stored = connection.execute(
        sa.select(watchtower_rules.c.id).where(watchtower_rules.c.name == UNHEALTHY_RULE)
    ).first()
    if stored is None:
        connection.execute(
            watchtower_rules.insert().values(
                name=UNHEALTHY_RULE,
                description=(
                    "A Conversions-API destination graded unhealthy by seed 002's thresholds "
                    "over the last hour: success rate under 70 %, average latency over 10 s, or "
                    "its circuit breaker open. Conversions wait in the outbox meanwhile."
                ),
                source_id=source_id,
                target_table="api_records",
                field_name="status",
                condition=Condition.EQUALS.value,
                threshold_value="unhealthy",
                severity=Severity.CRITICAL.value,
            )
        )
