"""Seed 002's ConnectorHealthStatus per destination, from the delivery log of the last hour.

Thresholds (seed 002 "Health Thresholds"): success rate ≥ 90 % healthy, 70–89 % degraded,
< 70 % unhealthy; average latency < 5 s healthy, 5–10 s degraded, > 10 s unhealthy; circuit
closed healthy, half-open degraded, open unhealthy. The worst of the three is the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.tables import capi_delivery_log

WINDOW = timedelta(hours=1)
_RANK = {"healthy": 0, "degraded": 1, "unhealthy": 2}


@dataclass(frozen=True)
class ConnectorHealthStatus:
    """One destination's health over the last hour."""

    destination_id: str
    platform: str
    status: str
    last_check: datetime
    success_rate_1h: float
    avg_latency_ms: float
    circuit_state: str
    error_count_1h: int
    events_processed_1h: int
    issues: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, object]:
        return {
            "status": self.status,
            "success_rate_1h": round(self.success_rate_1h, 4),
            "avg_latency_ms": round(self.avg_latency_ms, 1),
            "circuit_state": self.circuit_state,
            "error_count_1h": self.error_count_1h,
            "events_processed_1h": self.events_processed_1h,
            "issues": "; ".join(self.issues) or "none",
        }


def destination_health(
    engine: sa.Engine,
    workspace_id: str,
    destination_id: str,
    platform: str,
    *,
    now: datetime,
    circuit_state: str = "closed",
) -> ConnectorHealthStatus:
    """Health of one destination from its delivery-log rows of the hour before `now`."""
    log = capi_delivery_log
    with engine.connect() as connection:
        events, successes, latency = connection.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((log.c.success, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.avg(log.c.latency_ms), 0.0),
            ).where(
                log.c.workspace_id == workspace_id,
                log.c.destination_id == destination_id,
                log.c.timestamp > now - WINDOW,
                log.c.timestamp <= now,
            )
        ).one()
    rate = successes / events if events else 1.0
    grades = {
        "success rate": _grade(rate >= 0.9, rate >= 0.7),
        "latency": _grade(latency < 5_000, latency <= 10_000),
        "circuit": {"closed": "healthy", "half_open": "degraded"}.get(circuit_state, "unhealthy"),
    }
    issues = [
        f"{name} {grade}"
        + (f" ({rate:.0%})" if name == "success rate" else "")
        + (f" ({latency:.0f} ms)" if name == "latency" else "")
        for name, grade in grades.items()
        if grade != "healthy"
    ]
    return ConnectorHealthStatus(
        destination_id=destination_id,
        platform=platform,
        status=max(grades.values(), key=_RANK.__getitem__),
        last_check=now,
        success_rate_1h=rate,
        avg_latency_ms=float(latency),
        circuit_state=circuit_state,
        error_count_1h=int(events - successes),
        events_processed_1h=int(events),
        issues=issues,
    )


def _grade(healthy: bool, degraded: bool) -> str:
    if healthy:
        return "healthy"
    return "degraded" if degraded else "unhealthy"


def last_circuit_state(
    engine: sa.Engine, workspace_id: str, destination_id: str, *, now: datetime
) -> str:
    """`open` when the destination's latest logged attempt of the last hour was refused by its
    open breaker (reason `CircuitOpen`), else `closed`.

    The breaker lives inside one forwarding run (a run starts closed), so outside a run its state
    is what the delivery log's last attempt shows; half-open is never seen from outside a run.
    """
    log = capi_delivery_log
    with engine.connect() as connection:
        reason = connection.execute(
            sa.select(log.c.error_message)
            .where(
                log.c.workspace_id == workspace_id,
                log.c.destination_id == destination_id,
                log.c.timestamp > now - WINDOW,
                log.c.timestamp <= now,
            )
            .order_by(log.c.timestamp.desc(), log.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return "open" if reason and reason.startswith("CircuitOpen") else "closed"


def workspace_health(
    engine: sa.Engine, workspace_id: str, settings: CapiSettings, *, now: datetime
) -> list[ConnectorHealthStatus]:
    """The health of every destination of the workspace, from the delivery log of the last hour
    (the watchtower's `capi/health` source)."""
    return [
        destination_health(
            engine,
            workspace_id,
            destination.id,
            destination.platform.value,
            now=now,
            circuit_state=last_circuit_state(engine, workspace_id, destination.id, now=now),
        )
        for destination in settings.destinations
    ]
