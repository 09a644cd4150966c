"""The durable buffer between the HTTP endpoints and the lake: a SQLite file in WAL mode.

An event is acknowledged only after its row is committed with `synchronous=FULL`, never one DuckDB
transaction per event (ARCHITECTURE.md §7; reference/perf_reliability.md §3.5: a DuckDB file did
~720 single-row commits/s, SQLite WAL FULL ~12k, and group commit far more). Commits run on a
writer thread (`group_commit`), never on the event loop.

`pending_events` holds each accepted event as typed columns of the lake schema (PII already
hashed; timestamps as microseconds), so a flush reads columns instead of parsing JSON per row, and
deletes them once they are in the lake. `event_ids` keeps every id for a dedupe window, so a
repeated event id is recognised across batches and days (`flush.flush_buffer` prunes it).
`lake_flushes` numbers the flushes; a flush id names the lake files it writes. The file uses
incremental auto-vacuum, so space freed by a flush is given back to the file system.
Verified webhook deliveries are kept here too, raw, for the store connectors to upsert.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA, event_day
from ownlay_pipelines.ingest.group_commit import GroupCommitter

BUSY_TIMEOUT_MS = 30_000
"""The service and a flush take turns on the write lock; either waits up to this long. A flush
holds it only to mark or prune rows (one statement per day), so the service's wait is short."""

PENDING_COLUMNS = tuple(EVENT_LAKE_SCHEMA.names)
"""The lake row's columns, stored one SQLite column each, in the lake schema's order."""
PENDING_COLUMNS_SQL = ",\n    ".join(
    f"{field.name} {'INTEGER' if pa.types.is_timestamp(field.type) else 'TEXT'}"
    f"{'' if field.nullable else ' NOT NULL'}"
    for field in EVENT_LAKE_SCHEMA
)
_INSERT_PENDING = (
    f"INSERT INTO pending_events (event_day, {', '.join(PENDING_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(PENDING_COLUMNS) + 1))})"
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS pending_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_day TEXT NOT NULL,
    {PENDING_COLUMNS_SQL}
);
CREATE TABLE IF NOT EXISTS event_ids (
    workspace_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_ids_received ON event_ids (received_at_us);
CREATE TABLE IF NOT EXISTS lake_flushes (
    flush_id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    headers TEXT NOT NULL,
    raw_body BLOB NOT NULL,
    UNIQUE (provider, workspace_id, delivery_id)
);
"""
# AUTOINCREMENT: `seq` must never be reused after old rows are pruned, because flush ranges and
# the connectors' delivery cursors are seq values; a flush id must never be reused either, because
# it names the lake files that flush wrote.


@dataclass(frozen=True)
class AppendResult:
    """How many of a request's events were new, and the ids that were already buffered."""

    inserted: int
    duplicate_event_ids: tuple[str, ...]


@dataclass(frozen=True)
class WebhookDelivery:
    """One verified webhook delivery, byte for byte as the provider sent it."""

    seq: int
    provider: str
    workspace_id: str
    delivery_id: str
    topic: str
    received_at_us: int
    headers: dict[str, str]
    raw_body: bytes


def connect_buffer(path: Path) -> sqlite3.Connection:
    """A connection to the buffer file (created, owner-only, with its tables), WAL and FULL sync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Takes effect only on a new file (before its first table): then a flush's deletes can be
    # handed back to the file system with `PRAGMA incremental_vacuum`.
    connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
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
            (event_day(row).isoformat(), *(row[name] for name in PENDING_COLUMNS)) for row in rows
        ]
        return self._writer.submit(lambda connection: _insert_events(connection, records))

    def append_delivery(
        self,
        *,
        provider: str,
        workspace_id: str,
        delivery_id: str,
        topic: str,
        received_at_us: int,
        headers: dict[str, str],
        raw_body: bytes,
    ) -> asyncio.Future[bool]:
        """Queue a verified webhook delivery; resolves to False when it was delivered before."""
        record = (
            provider,
            workspace_id,
            delivery_id,
            topic,
            received_at_us,
            json.dumps(headers, sort_keys=True),
            raw_body,
        )
        return self._writer.submit(lambda connection: _insert_delivery(connection, record))

    def close(self) -> None:
        """Finish queued writes and stop the writer."""
        self._writer.close()


def read_webhook_deliveries(
    path: Path, *, provider: str, workspace_id: str, after_seq: int = 0, limit: int = 1000
) -> list[WebhookDelivery]:
    """Deliveries of one provider and workspace with `seq > after_seq`, oldest first.

    A connector keeps the last `seq` it upserted as its cursor.
    """
    connection = connect_buffer(path)
    try:
        rows = connection.execute(
            "SELECT seq, provider, workspace_id, delivery_id, topic, received_at_us, headers, "
            "raw_body FROM webhook_deliveries WHERE provider = ? AND workspace_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (provider, workspace_id, after_seq, limit),
        ).fetchall()
    finally:
        connection.close()
    return [
        WebhookDelivery(seq, prov, ws, delivery, topic, received, json.loads(headers), bytes(body))
        for seq, prov, ws, delivery, topic, received, headers, body in rows
    ]


def _insert_events(connection: sqlite3.Connection, records: list[tuple[Any, ...]]) -> AppendResult:
    """Insert each record whose (workspace, event id) is new; records are (day, *lake columns)."""
    duplicates = []
    workspace_at, event_id_at, received_at = (
        1 + PENDING_COLUMNS.index(name) for name in ("workspace_id", "event_id", "received_at")
    )
    for record in records:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO event_ids (workspace_id, event_id, received_at_us) "
            "VALUES (?, ?, ?)",
            (record[workspace_at], record[event_id_at], record[received_at]),
        )
        if cursor.rowcount == 0:
            duplicates.append(record[event_id_at])
        else:
            connection.execute(_INSERT_PENDING, record)
    return AppendResult(len(records) - len(duplicates), tuple(duplicates))


def _insert_delivery(connection: sqlite3.Connection, record: tuple[Any, ...]) -> bool:
    cursor = connection.execute(
        "INSERT OR IGNORE INTO webhook_deliveries (provider, workspace_id, delivery_id, topic, "
        "received_at_us, headers, raw_body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        record,
    )
    return cursor.rowcount == 1
