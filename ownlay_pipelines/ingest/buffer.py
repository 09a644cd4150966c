"""The durable buffer between the HTTP endpoints and the lake: a SQLite file in WAL mode.

An event is acknowledged only after its row is committed with `synchronous=FULL`, never one DuckDB
transaction per event (ARCHITECTURE.md §7; reference/perf_reliability.md §3.5: a DuckDB file did
~720 single-row commits/s, SQLite WAL FULL ~12k, and group commit far more). Rows hold the lake row
already hashed, so no raw IP or e-mail touches the disk. Flushed rows keep their id for a dedupe
window, so a repeated event id is recognised across batches and days (`flush.flush_buffer`).
Verified webhook deliveries have their own file (`webhook_store`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from ownlay_pipelines.events.lake_rows import event_day
from ownlay_pipelines.ingest.group_commit import GroupCommitter

BUSY_TIMEOUT_MS = 30_000
"""The service and a flush take turns on the write lock; either waits up to this long. A flush
holds it only to mark or prune rows (one statement per day), so the service's wait is short."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS buffered_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_day TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    lake_row TEXT NOT NULL,
    flushed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, event_id)
);
CREATE INDEX IF NOT EXISTS buffered_events_pending
    ON buffered_events (workspace_id, event_day, seq) WHERE flushed = 0;
"""
# AUTOINCREMENT: `seq` must never be reused after old rows are pruned, because flush high-water
# marks are seq values.


@dataclass(frozen=True)
class AppendResult:
    """How many of a request's events were new, and the ids that were already buffered."""

    inserted: int
    duplicate_event_ids: tuple[str, ...]


def connect_buffer(path: Path) -> sqlite3.Connection:
    """A connection to the buffer file (created, owner-only, with its tables), WAL and FULL sync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL syncs the WAL on every commit: an acknowledged event survives power loss, not only a
    # crash of the process (NORMAL would lose the last commits on power loss).
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(SCHEMA)
    return connection


class EventBuffer:
    """The service's handle on the buffer file: durable appends, group-committed per loop turn.

    Appends must be called from the event loop that awaits them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = GroupCommitter(connect_buffer(path))

    def append_events(
        self, workspace_id: str, rows: Sequence[dict[str, Any]]
    ) -> asyncio.Future[AppendResult]:
        """Queue lake rows of one request; resolves once they are durable (repeats are ignored)."""
        records = [
            (
                workspace_id,
                row["event_id"],
                event_day(row).isoformat(),
                row["received_at"],
                to_json(row).decode(),
            )
            for row in rows
        ]
        return self._writer.submit(lambda connection: _insert_events(connection, records))

    def close(self) -> None:
        """Finish queued writes and stop the writer."""
        self._writer.close()


def _insert_events(connection: sqlite3.Connection, records: list[tuple[Any, ...]]) -> AppendResult:
    duplicates = []
    for record in records:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO buffered_events (workspace_id, event_id, event_day, "
            "received_at_us, lake_row) VALUES (?, ?, ?, ?, ?)",
            record,
        )
        if cursor.rowcount == 0:
            duplicates.append(record[1])
    return AppendResult(len(records) - len(duplicates), tuple(duplicates))
