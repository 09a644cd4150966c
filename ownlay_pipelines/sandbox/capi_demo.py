"""The demo's Conversions-API pass: each sandbox workspace's conversions to its four destinations.

Stands in for the ingest capture (the demo runs no ingestion service): it queues the sandbox
visitors' conversions, drains every destination against `CapiSandbox` and reports, per
destination, what was accepted and the match rate the simulated platform computed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ownlay_pipelines.capi.outbox import enqueue
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.run import forward_platform, sandbox_environ
from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.registry.workspaces import Registry, Workspace
from ownlay_pipelines.sandbox.capi import CapiSandbox
from ownlay_pipelines.sandbox.capi_conversions import (
    SandboxVisitor,
    sandbox_conversions,
    sandbox_visitors,
)

VISITORS_PER_WORKSPACE = 60
CONVERSIONS_PER_WORKSPACE = 300


def workspace_visitors(workspace: Workspace) -> list[SandboxVisitor]:
    """The converting visitors of a sandbox workspace, in its phone region."""
    return sandbox_visitors(VISITORS_PER_WORKSPACE, workspace.capi.default_region)


def capi_sandbox_for(registry: Registry) -> CapiSandbox:
    """A CAPI sandbox that knows every workspace's visitors."""
    people = [
        visitor.person
        for workspace in registry.workspaces
        if workspace.capi.destinations
        for visitor in workspace_visitors(workspace)
    ]
    return CapiSandbox(people)


def forward_demo_conversions(
    engine: sa.Engine,
    registry: Registry,
    *,
    now: datetime,
    per_workspace: int = CONVERSIONS_PER_WORKSPACE,
) -> str:
    """Queue and forward the sandbox conversions; a table of accepted counts and match rates."""
    create_capi_schema(engine)
    sandbox = capi_sandbox_for(registry)
    lines = ["Conversions API forwarding (sandbox):"]
    for workspace in registry.workspaces:
        settings = workspace.capi
        if not settings.destinations:
            continue
        conversions = sandbox_conversions(
            workspace.id,
            workspace_visitors(workspace),
            per_workspace,
            start=now - timedelta(hours=per_workspace // 60 + 1),
            currency=workspace.currency,
            seed=int(now.timestamp()) // 3600,  # new conversions each hour the demo runs
        )
        enqueue(engine, workspace.id, settings, conversions, now=now)
        environ = sandbox_environ(settings)
        for platform in CapiPlatform:
            for run in forward_platform(
                engine,
                workspace.id,
                settings,
                platform,
                transport=sandbox.transport(),
                environ=environ,
            ):
                tally = sandbox.tallies[(platform.value, run.destination.account_id)]
                lines.append(
                    f"  {workspace.id:<14} {run.destination.id:<14} accepted {run.report.accepted:>4}"
                    f"  rejected {run.report.rejected:>3}  match rate {tally.match_rate:6.1%}"
                    f"  health {run.health.status}"
                )
    return "\n".join(lines)
