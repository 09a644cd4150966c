"""One forwarding pass for one workspace and platform: expire, drain each destination, grade it.

Plain Python shared by the Dagster assets (defs/capi.py), the demo and the bench.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import httpx
import sqlalchemy as sa

from ownlay_pipelines.capi.destinations import CapiDestination, CapiSettings
from ownlay_pipelines.capi.forward import DrainReport, drain_destination
from ownlay_pipelines.capi.health import ConnectorHealthStatus, destination_health
from ownlay_pipelines.capi.outbox import backlog, expire
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.pool import PlatformClients
from ownlay_pipelines.capi.senders import sender_for
from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.rate_limit import RateLimit


@dataclass(frozen=True)
class DestinationRun:
    """What a pass did for one destination, and its health afterwards."""

    destination: CapiDestination
    report: DrainReport
    health: ConnectorHealthStatus


def forward_platform(
    engine: sa.Engine,
    workspace_id: str,
    settings: CapiSettings,
    platform: CapiPlatform,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    event_limit: RateLimit | None = None,
    now: Callable[[], datetime] | None = None,
) -> list[DestinationRun]:
    """Drain every `platform` destination of the workspace; returns one entry per destination.

    The destinations share one pooled client (capi/pool.py) whose connection limit follows
    their backlog, and are drained that many at a time.
    """
    clock = clock if clock is not None else SystemClock()
    now = now if now is not None else clock.now
    expire(engine, now=now())
    destinations = [d for d in settings.destinations if d.platform is platform]
    if not destinations:
        return []
    waiting = backlog(engine, workspace_id, now=now())
    with PlatformClients(transport=transport) as pool:
        http = pool.client(platform, [waiting.get(d.id, 0) for d in destinations])

        def drain(destination: CapiDestination) -> DestinationRun:
            with sender_for(
                destination, clock=clock, environ=environ, event_limit=event_limit, http_client=http
            ) as sender:
                report = drain_destination(
                    engine, workspace_id, settings, destination, sender, now=now
                )
                health = destination_health(
                    engine,
                    workspace_id,
                    destination.id,
                    platform.value,
                    now=now(),
                    circuit_state=sender.breaker.state.value,
                )
            return DestinationRun(destination, report, health)

        workers = min(len(destinations), pool.connection_limits[platform])
        if workers == 1:
            return [drain(destination) for destination in destinations]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="capi") as executor:
            return list(executor.map(drain, destinations))


def sandbox_environ(settings: CapiSettings) -> dict[str, str]:
    """Sandbox credentials: every credential env var of every destination set to a dummy."""
    return {
        env_var: f"sandbox-{name}"
        for destination in settings.destinations
        for name, env_var in destination.credentials.items()
    }
