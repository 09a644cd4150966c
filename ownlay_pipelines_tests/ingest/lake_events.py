"""Acknowledged events without HTTP: lake rows of `ownlay_event` payloads appended to a buffer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ownlay_pipelines.events.lake_rows import to_lake_row
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.ingest.buffer import EventBuffer
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY, ownlay_event


def lake_rows(numbers: range, **overrides: Any) -> list[dict[str, Any]]:
    """Lake rows of workspace `acme` for `ownlay_event(n, **overrides)`, received at NOW."""
    context = EventValidationContext(now=NOW, policy=TimestampPolicy())
    hasher = PiiHasher(PII_KEY.encode())
    return [
        to_lake_row(
            OwnlayEvent.model_validate(ownlay_event(n, **overrides), context=context),
            workspace_id="acme",
            received_at=NOW,
            hasher=hasher,
        )
        for n in numbers
    ]


def append_rows(buffer_path: Path, rows: list[dict[str, Any]], *, batch: int = 500) -> None:
    """Append `rows` to the buffer durably, `batch` rows per request."""

    async def append() -> None:
        buffer = EventBuffer(buffer_path)
        try:
            await asyncio.gather(
                *(
                    buffer.append_events("acme", rows[start : start + batch])
                    for start in range(0, len(rows), batch)
                )
            )
        finally:
            buffer.close()

    asyncio.run(append())
