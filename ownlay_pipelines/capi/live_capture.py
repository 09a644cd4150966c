"""Live capture at the ingestion service: a request's stored conversions into the outbox.

The ingest handler calls `LiveCapture.after_commit` once the request's accepted events are durable
in the buffer. It pairs each stored event with its raw JSON object (the only place its raw contact
data still exists: the lake row is already hashed) and hands the consented ones to
`capture_events` in a worker thread, so the outbox write never holds the event loop.

Which events go: those of a workspace with destinations in the registry, with
`consent.marketing: true`, that were stored (an event of a person erased under GDPR is dropped
before the buffer and is not forwarded either). A request without any is answered without leaving
the event loop.

Failure policy: the events are already acknowledged-to-be and durable when capture runs, so a
failed outbox write (ops store down, registry unreadable) never fails the request nor removes an
event: the 202 stands, the error is logged with the workspace, the number of events and the
exception's type only (never a value, so no PII), and counted in `LiveCapture.failures`. Those
conversions are then not forwarded server-side (the lake keeps only keyed hashes, so they cannot be
re-captured later); the browser pixel's copy, if any, still reaches the platform. docs/capi.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa

from ownlay_pipelines.capi.capture import capture_events
from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.capi.tables import create_capi_schema
from ownlay_pipelines.events.model import OwnlayEvent
from ownlay_pipelines.registry.cache import load_registry_cached
from ownlay_pipelines.settings import Settings

logger = logging.getLogger(__name__)


class LiveCapture:
    """Queues the consented conversions of each ingest request; counts what it queued and lost."""

    def __init__(self, engine: sa.Engine, registry_file: Path) -> None:
        self._engine = engine
        self._registry_file = registry_file
        self._schema_ready = False
        self._lock = threading.Lock()
        self.queued = 0
        """Outbox rows written (one per conversion and destination)."""
        self.failures = 0
        """Conversions that could not be written to the outbox (logged, not forwarded)."""

    @classmethod
    def from_env(cls, engine: sa.Engine, environ: Mapping[str, str]) -> LiveCapture:
        """Capture into the ops store `engine`, with the registry `OWNLAY_REGISTRY_FILE` names."""
        return cls(engine, Settings.from_env(dict(environ)).registry_file)

    async def after_commit(
        self,
        workspace_id: str,
        accepted: Iterable[tuple[OwnlayEvent, object]],
        stored_rows: Sequence[Mapping[str, Any]],
        *,
        now: datetime,
    ) -> None:
        """Queue the consented conversions among `accepted` (event, raw JSON object) pairs whose
        event is among `stored_rows` (the lake rows written to the buffer). Never raises."""
        consented = [
            (event, raw)
            for event, raw in accepted
            if event.consent.marketing is True and isinstance(raw, Mapping)
        ]
        if not consented:
            return
        stored = {str(row.get("event_id")) for row in stored_rows}
        consented = [(e, raw) for e, raw in consented if str(e.event_id) in stored]
        if consented:
            await anyio.to_thread.run_sync(self._capture, workspace_id, consented, now)

    def _capture(
        self,
        workspace_id: str,
        pairs: list[tuple[OwnlayEvent, Mapping[str, Any]]],
        now: datetime,
    ) -> None:
        try:
            settings = self._settings(workspace_id)
            if settings is None:
                return
            self._ensure_schema()
            report = capture_events(self._engine, workspace_id, settings, pairs, now=now)
        except Exception as error:  # the events are stored; losing their forwarding is logged
            with self._lock:
                self.failures += len(pairs)
            logger.error(
                "capi capture failed for workspace %s: %d conversions not queued (%s)",
                workspace_id,
                len(pairs),
                type(error).__name__,
            )
            return
        with self._lock:
            self.queued += report.queued

    def _settings(self, workspace_id: str) -> CapiSettings | None:
        registry = load_registry_cached(self._registry_file)
        workspace = next((w for w in registry.workspaces if w.id == workspace_id), None)
        if workspace is None or not workspace.capi.destinations:
            return None
        return workspace.capi

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._lock:
            if not self._schema_ready:
                create_capi_schema(self._engine)
                self._schema_ready = True
