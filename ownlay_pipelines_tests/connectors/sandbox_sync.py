"""Running one stream of a connector against the sandbox, as the ground-truth tests do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ownlay_pipelines.connectors.streams import Connector, StreamSpec
from ownlay_pipelines.connectors.sync import StreamRunResult, sync_stream
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimiterRegistry
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import Connection, Registry
from ownlay_pipelines.sandbox import SandboxTransport, SandboxWorld, sandbox_transport
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import FaultPlan

COLUMNS = (
    "account_id",
    "campaign_id",
    "report_date",
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "conversion_value",
)


def opener(
    connector: Connector, transport: SandboxTransport, **options: Any
) -> Callable[[Connection], ApiClient]:
    """Opens sandbox clients of `connector` sharing one fake clock and rate-limit registry."""
    clock, limiters = FakeClock(), RateLimiterRegistry()

    def open_client(connection: Connection) -> ApiClient:
        return connector.build_client(
            credentials={
                n: sandbox_credential(n, connection.account_id) for n in connector.credential_names
            },
            account_id=connection.account_id,
            transport=transport,
            clock=clock,
            rate_limits=connector.rate_limits,
            limiter_registry=limiters,
            **options,
        )

    return open_client


def sync_days(
    world: SandboxWorld,
    registry: Registry,
    connector: Connector,
    spec: StreamSpec,
    workspace_id: str,
    lake: Path,
    days: Sequence[date],
    faults: FaultPlan | None = None,
    synced_at: datetime | None = None,
    **options: Any,
) -> tuple[StreamRunResult, list[tuple], SandboxTransport]:
    """Sync `days` of `spec` for the workspace; (result, rows as COLUMNS tuples, transport)."""
    transport = sandbox_transport(world, faults)
    result = sync_stream(
        spec,
        workspace=registry.get(workspace_id),
        open_client=opener(connector, transport, **options),
        lake_root=lake,
        days=days,
        synced_at=synced_at,
    )
    rows = [
        tuple(row[c] for c in COLUMNS)
        for day in days
        for row in read_partition(
            lake, spec.ref, workspace_id=workspace_id, report_date=day
        ).to_pylist()
    ]
    return result, sorted(rows), transport


def truth(world: SandboxWorld, workspace_id: str, platform: str, days: Sequence[date]) -> list:
    """The world's ground-truth rows for `days` as COLUMNS tuples."""
    rows = world.ground_truth_campaign_daily(workspace_id, platform, min(days), max(days))
    return sorted(tuple(row[c] for c in COLUMNS) for row in rows)
