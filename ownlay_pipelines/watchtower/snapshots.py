"""The sync log: one `api_snapshots` row per capture of a source for a client.

A connector partition run creates its row (`pending`), marks it `processing` when it starts
fetching, and ends it `completed` with the record count or `failed` with the (redacted) error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.watchtower.clock import Clock, utc_now
from ownlay_pipelines.watchtower.errors import NotFoundError, TransitionError
from ownlay_pipelines.watchtower.redact import redact_secrets
from ownlay_pipelines.watchtower.seed_data import insert_missing
from ownlay_pipelines.watchtower.tables import api_snapshots, api_sources

ERROR_MESSAGE_MAX_CHARS = 4000
"""Long tracebacks are cut so one failure cannot bloat the sync log."""


class SnapshotType(StrEnum):
    """Why a snapshot was taken (seed 004 "Snapshot Types")."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    TRIGGERED = "triggered"


class SnapshotStatus(StrEnum):
    """Where a snapshot is in its life (seed 004 "Snapshot Statuses")."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


def ensure_source(
    connection: sa.Connection,
    provider: str,
    endpoint: str,
    *,
    display_name: str | None = None,
    refresh_interval_minutes: int = 60,
) -> uuid.UUID:
    """The id of the `api_sources` row for (provider, endpoint), registering it if it is new."""
    insert_missing(
        connection,
        api_sources,
        [
            {
                "provider": provider,
                "endpoint": endpoint,
                "display_name": display_name or f"{provider} {endpoint}",
                "refresh_interval_minutes": refresh_interval_minutes,
            }
        ],
    )
    return connection.execute(
        sa.select(api_sources.c.id).where(
            api_sources.c.provider == provider, api_sources.c.endpoint == endpoint
        )
    ).scalar_one()


@dataclass
class SnapshotRun:
    """A snapshot being captured inside `ApiSnapshotLog.capture`; set `total_records` before exit."""

    snapshot_id: uuid.UUID
    total_records: int = 0


class ApiSnapshotLog:
    """Writes the `api_snapshots` lifecycle pending → processing → completed/failed."""

    def __init__(self, engine: sa.Engine, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._clock = clock

    def create(
        self,
        provider: str,
        endpoint: str,
        *,
        client_id: str | None = None,
        snapshot_type: SnapshotType = SnapshotType.SCHEDULED,
    ) -> uuid.UUID:
        """Record a `pending` snapshot of (provider, endpoint) for `client_id`; returns its id."""
        if client_id is not None:
            validate_workspace_id(client_id, "client_id")
        now = self._clock()
        with self._engine.begin() as connection:
            source_id = ensure_source(connection, provider, endpoint)
            snapshot_id = uuid.uuid4()
            connection.execute(
                api_snapshots.insert().values(
                    id=snapshot_id,
                    source_id=source_id,
                    client_id=client_id,
                    snapshot_type=SnapshotType(snapshot_type).value,
                    status=SnapshotStatus.PENDING.value,
                    total_records=0,
                    started_at=now,
                    created_at=now,
                )
            )
        return snapshot_id

    def start(self, snapshot_id: uuid.UUID) -> None:
        """Mark a pending snapshot `processing` from now."""
        self._transition(
            snapshot_id,
            allowed_from=(SnapshotStatus.PENDING,),
            status=SnapshotStatus.PROCESSING,
            started_at=self._clock(),
        )

    def complete(self, snapshot_id: uuid.UUID, total_records: int) -> None:
        """Mark a processing snapshot `completed` with the number of records it captured."""
        if total_records < 0:
            raise ValueError(f"total_records must be zero or more, not {total_records}")
        self._transition(
            snapshot_id,
            allowed_from=(SnapshotStatus.PROCESSING,),
            status=SnapshotStatus.COMPLETED,
            total_records=total_records,
            completed_at=self._clock(),
        )

    def fail(self, snapshot_id: uuid.UUID, error: BaseException | str) -> None:
        """Mark a pending or processing snapshot `failed` with the error, secrets redacted."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._transition(
            snapshot_id,
            allowed_from=(SnapshotStatus.PENDING, SnapshotStatus.PROCESSING),
            status=SnapshotStatus.FAILED,
            error_message=redact_secrets(text)[:ERROR_MESSAGE_MAX_CHARS],
            completed_at=self._clock(),
        )

    @contextmanager
    def capture(
        self,
        provider: str,
        endpoint: str,
        *,
        client_id: str | None = None,
        snapshot_type: SnapshotType = SnapshotType.SCHEDULED,
    ) -> Iterator[SnapshotRun]:
        """Create and start a snapshot; complete it on exit or fail it and re-raise on error."""
        run = SnapshotRun(
            self.create(provider, endpoint, client_id=client_id, snapshot_type=snapshot_type)
        )
        self.start(run.snapshot_id)
        try:
            yield run
        except BaseException as exc:
            self.fail(run.snapshot_id, exc)
            raise
        self.complete(run.snapshot_id, run.total_records)

    def _transition(
        self,
        snapshot_id: uuid.UUID,
        *,
        allowed_from: tuple[SnapshotStatus, ...],
        status: SnapshotStatus,
        **values: object,
    ) -> None:
        with self._engine.begin() as connection:
            updated = connection.execute(
                api_snapshots.update()
                .where(
                    api_snapshots.c.id == snapshot_id,
                    api_snapshots.c.status.in_([s.value for s in allowed_from]),
                )
                .values(status=status.value, **values)
            ).rowcount
            if updated:
                return
            current = connection.execute(
                sa.select(api_snapshots.c.status).where(api_snapshots.c.id == snapshot_id)
            ).scalar_one_or_none()
        if current is None:
            raise NotFoundError(f"snapshot {snapshot_id} does not exist in api_snapshots")
        raise TransitionError(
            f"snapshot {snapshot_id} is {current}; it can become {status.value} only from "
            f"{' or '.join(s.value for s in allowed_from)}"
        )
