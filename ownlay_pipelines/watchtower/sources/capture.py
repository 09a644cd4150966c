"""Capturing one generic-store source for one workspace: an Omnisend list or a file drop.

Each call is one sync: a new `api_snapshots` row (pending → processing → completed/failed) holding
every record the source has for the workspace now. A workspace without an Omnisend connection, or
a drop folder without files, has nothing to capture and gets no snapshot, so the previous one
stays current for the rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ownlay_pipelines.connectors.omnisend import Resource, pull
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.snapshots import SnapshotType
from ownlay_pipelines.watchtower.sources.drop_rows import DROP_ROWS
from ownlay_pipelines.watchtower.sources.field_mappings import (
    OMNISEND_AUTOMATIONS,
    OMNISEND_CAMPAIGNS,
    FieldMapping,
)
from ownlay_pipelines.watchtower.sources.file_drop import DropIssue, drop_folder, read_drop
from ownlay_pipelines.watchtower.sources.record_store import CapturedSnapshot, capture_records

OMNISEND_MAPPINGS = {
    Resource.CAMPAIGNS: OMNISEND_CAMPAIGNS,
    Resource.AUTOMATIONS: OMNISEND_AUTOMATIONS,
}


@dataclass
class SourceRun:
    """What one capture for a workspace did: its snapshot (None: nothing to capture) and refusals.

    `refused` counts `field: reason` of API items that could not be normalised; `issues` lists the
    drop rows refused that are this workspace's or nobody's; `files` names the files read.
    """

    snapshot: CapturedSnapshot | None = None
    refused: Counter[str] = field(default_factory=Counter)
    issues: list[DropIssue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    http: Counter[str] = field(default_factory=Counter)


def capture_omnisend(
    store: sa.Engine,
    resource: Resource,
    *,
    workspace: Workspace,
    open_client: Callable[[Connection], ApiClient],
    snapshot_type: SnapshotType,
    clock: Clock = utc_now,
) -> SourceRun:
    """Snapshot every `resource` item of the workspace's Omnisend brands."""
    if not workspace.connections_for(Platform.OMNISEND):
        return SourceRun()
    with capture_records(
        store,
        OMNISEND_MAPPINGS[resource],
        client_id=workspace.id,
        snapshot_type=snapshot_type,
        clock=clock,
    ) as writer:
        pulled = pull(resource, workspace=workspace, open_client=open_client)
        captured = writer.write(pulled.records)
    return SourceRun(snapshot=captured, refused=pulled.refused, http=pulled.http)


def capture_file_drop(
    store: sa.Engine,
    mapping: FieldMapping,
    *,
    data_dir: Path,
    client_id: str,
    snapshot_type: SnapshotType,
    clock: Clock = utc_now,
) -> SourceRun:
    """Snapshot the client's valid rows in the source's drop folder (`file_drop.py`)."""
    read = read_drop(
        drop_folder(data_dir, mapping.provider, mapping.endpoint), DROP_ROWS[mapping.source]
    )
    run = SourceRun(
        issues=[issue for issue in read.issues if issue.client_id in (None, client_id)],
        files=read.files,
    )
    if not read.files:
        return run
    with capture_records(
        store, mapping, client_id=client_id, snapshot_type=snapshot_type, clock=clock
    ) as writer:
        run.snapshot = writer.write([r.record() for r in read.rows if r.client_id == client_id])
    return run
