"""The world's first-party events written straight into the event lake, for tests and models.

The path is the ingestion service's minus HTTP: each payload is validated as `OwnlayEvent`,
turned into its lake row (`events.lake_rows.to_lake_row`), appended to a scratch durable buffer
and flushed by `ingest.flush.flush_buffer`, so the part files are exactly what the service writes.
The days written are then compacted at once (`events.compaction`), so writing the same events
twice leaves one row per event id in the files themselves, as a test or a model expects.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ownlay_pipelines.events.compaction import compact_day, delete_replaced_files
from ownlay_pipelines.events.lake_rows import to_lake_row
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.ingest.buffer import EventBuffer
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.sandbox.first_party_events import event_payloads

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld

SANDBOX_PII_KEY = b"ownlay-sandbox-pii-key-not-a-secret!"
"""The sandbox's visitors send no IP or e-mail, but the row builder needs a keyed hasher."""


@dataclass(frozen=True)
class WrittenEvents:
    """What one write did: events sent, and the compacted files of the days they went into."""

    events: int
    day_files: tuple[Path, ...]


def write_world_events(
    world: SandboxWorld, lake_root: Path, workspace_id: str, start: date, end: date
) -> WrittenEvents:
    """Write the workspace's events of local dates [start, end] (up to `now`) into the lake.

    Received at the world's `now`, as if the pixel had sent them then; writing twice is a no-op.
    """
    context = EventValidationContext(now=world.now, policy=TimestampPolicy())
    hasher = PiiHasher(SANDBOX_PII_KEY)
    rows = [
        to_lake_row(
            OwnlayEvent.model_validate(payload, context=context),
            workspace_id=workspace_id,
            received_at=world.now,
            hasher=hasher,
        )
        for payload in event_payloads(world, workspace_id, start, end)
    ]
    with tempfile.TemporaryDirectory(prefix="ownlay-sandbox-events-") as scratch:
        buffer_path = Path(scratch) / "buffer.sqlite"
        asyncio.run(_append(buffer_path, workspace_id, rows))
        result = flush_buffer(buffer_path, lake_root, now=world.now)
    day_files = []
    for part in result.days:
        folder = part.path.parent
        compact_day(folder, part.workspace_id, part.day)
        delete_replaced_files(folder, grace=timedelta(0))
        day_files.extend(sorted(folder.glob("*.parquet")))
    return WrittenEvents(len(rows), tuple(day_files))


async def _append(buffer_path: Path, workspace_id: str, rows: list[dict[str, Any]]) -> None:
    buffer = EventBuffer(buffer_path)
    try:
        await buffer.append_events(workspace_id, rows)
    finally:
        buffer.close()
