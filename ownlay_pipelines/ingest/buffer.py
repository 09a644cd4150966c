"""The durable buffer between the HTTP endpoints and the lake: a SQLite file in WAL mode.

An event is acknowledged only after its row is committed with `synchronous=FULL`, never one DuckDB
transaction per event (ARCHITECTURE.md §7; reference/perf_reliability.md §3.5: a DuckDB file did
~720 single-row commits/s, SQLite WAL FULL ~12k, and group commit far more). Commits run on a
writer thread (`group_commit`), never on the event loop.

The events each group commit accepted are one Arrow IPC record batch of the lake schema (PII
already hashed), appended to the writer's segment file (`segments`) and fsynced before the commit;
`pending_batches` holds its address (segment, offset, length), so a flush reads columns instead of
parsing JSON or SQLite rows one by one and gives the space back by unlinking whole segments
(bench/README.md). A row may instead hold its batch inline (`batch`): a batch rewritten by a GDPR
erasure, or one stored before segments existed. `event_ids` keeps every id for a dedupe window,
so a repeated event id is recognised across batches and days (`flush.flush_buffer` prunes it).
`lake_flushes` numbers the flushes; a flush id names the lake files it writes. The file uses
incremental auto-vacuum, so space freed by a flush is given back to the file system.
Verified webhook deliveries have their own file (`webhook_store`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA, lake_batch
from ownlay_pipelines.ingest.group_commit import GroupCommitter
from ownlay_pipelines.ingest.segments import (
    SegmentReader,
    SegmentRecord,
    SegmentWriter,
    locked_if_idle,
    segment_dir,
)

_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
_READ_OPTIONS = pa.ipc.IpcReadOptions(use_threads=False)
_SCHEMA_MESSAGE = EVENT_LAKE_SCHEMA.serialize().to_pybytes()
COMPRESS_FROM_ROWS = 100
BATCHES_PER_FETCH = 256
BUSY_TIMEOUT_MS = 30_000
"""The service and a flush take turns on the write lock; either waits up to this long. A flush
holds it only for short statements (numbering, marking, deleting in chunks), so the wait is short."""

COMPLETED_UP_TO = (
    "SELECT coalesce((SELECT last_seq FROM lake_flushes WHERE completed = 1 "
    "ORDER BY flush_id DESC LIMIT 1), 0)"
)
"""The last `seq` of the newest completed flush: rows up to it are in the lake. Flush ids and their
`seq` ranges grow together, so the newest completed flush covers every earlier one."""
SEGMENT_COLUMNS = ("segment", "segment_offset", "segment_length")

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    events INTEGER NOT NULL,
    oldest_received_at_us INTEGER NOT NULL,
    batch BLOB NOT NULL,
    segment TEXT,
    segment_offset INTEGER,
    segment_length INTEGER
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
"""
# `batch` is empty when the batch lives in `segment` (at `segment_offset`, `segment_length` bytes).
# AUTOINCREMENT: `seq` must never be reused after old rows are pruned, because flush ranges are
# seq values; a flush id must never be reused either, because
# it names the lake files that flush wrote.


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
    # Takes effect only on a new file (before its first table): then a flush's deletes can be
    # handed back to the file system with `PRAGMA incremental_vacuum`.
    connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL syncs the WAL on every commit: an acknowledged event survives power loss, not only a
    # crash of the process (NORMAL would lose the last commits on power loss).
    connection.execute("PRAGMA synchronous=FULL")
    connection.executescript(SCHEMA)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(pending_batches)")}
    for column in SEGMENT_COLUMNS:  # a buffer file from before segments
        if column not in columns:
            kind = "TEXT" if column == "segment" else "INTEGER"
            connection.execute(f"ALTER TABLE pending_batches ADD COLUMN {column} {kind}")
    return connection


class EventBuffer:
    """The service's handle on the buffer file: durable appends, group-committed on a thread.

    Appends must be called from an event loop, which awaits them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = connect_buffer(path)
        self._group_rows: list[dict[str, Any]] = []
        self._segments = SegmentWriter(path)
        self._writer = GroupCommitter(
            self._connection,
            prepare=self._write_segment_record,
            before_commit=self._store_group,
            after_rollback=self._forget_group,
            lock_path=commit_lock_path(path),
        )

    def append_events(
        self, workspace_id: str, rows: Sequence[dict[str, Any]]
    ) -> asyncio.Future[AppendResult]:
        """Queue lake rows of one request; resolves once they are durable (repeats are ignored)."""
        return self._writer.submit(
            lambda connection: self._insert_events(connection, rows), payload=rows
        )

    def _insert_events(
        self, connection: sqlite3.Connection, rows: Sequence[dict[str, Any]]
    ) -> AppendResult:
        """Claim each row's (workspace, event id); new rows join the group's batch (writer thread)."""
        duplicates = []
        for row in rows:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO event_ids (workspace_id, event_id, received_at_us) "
                "VALUES (?, ?, ?)",
                (row["workspace_id"], row["event_id"], row["received_at"]),
            )
            if cursor.rowcount == 0:
                duplicates.append(row["event_id"])
            else:
                self._group_rows.append(row)
        return AppendResult(len(rows) - len(duplicates), tuple(duplicates))

    def _write_segment_record(self, payloads: list[Sequence[dict[str, Any]]]) -> _GroupRecord:
        """Every row of the group as one batch appended to the open segment and synced, before
        the commit lock is taken (writer thread); its record becomes part of the buffer only if
        the group's transaction commits it, so the bytes of a failed group are never read."""
        rows = [row for rows in payloads for row in rows]
        if not rows:
            return _GroupRecord(None, 0)
        # Reading the completed flush outside a transaction may see an older one: the open
        # segment is then dropped a group later, never early.
        (completed,) = self._connection.execute(COMPLETED_UP_TO).fetchone()
        self._segments.drop_if_flushed(completed)
        batch = lake_batch(rows)
        record = self._segments.append(serialize_pending_batch(batch))
        self._segments.sync()  # durable before the commit that makes it part of the buffer
        return _GroupRecord(record, len(rows))

    def _store_group(self, connection: sqlite3.Connection, prepared: _GroupRecord) -> None:
        """Register the group's new rows, inside the group's transaction: the segment record
        when every row was new (nearly always), else the new rows as an inline batch."""
        rows, self._group_rows = self._group_rows, []
        if not rows:
            return
        oldest = min(row["received_at"] for row in rows)
        if prepared.record is not None and len(rows) == prepared.events:
            seq = insert_pending_record(connection, prepared.record, len(rows), oldest)
            self._segments.note_seq(seq)
            return
        # Some rows repeated an event id already buffered: the record holds them too, so the new
        # ones are stored on their own, in the row (committed and synced with it).
        batch = lake_batch(rows)
        connection.execute(
            "INSERT INTO pending_batches (events, oldest_received_at_us, batch) VALUES (?, ?, ?)",
            (len(rows), oldest, serialize_pending_batch(batch)),
        )

    def _forget_group(self) -> None:
        self._group_rows = []

    def close(self) -> None:
        """Finish queued writes, stop the writer and release the open segment."""
        self._writer.close()
        self._segments.close()


@dataclass(frozen=True)
class _GroupRecord:
    """A group's batch as written to its segment before the transaction, and its row count."""

    record: SegmentRecord | None
    events: int


def commit_lock_path(buffer_path: Path) -> Path:
    """The file whose `flock` the service's writers take turns on to commit (`group_commit`)."""
    return buffer_path.with_name(buffer_path.name + ".commit.lock")


def insert_pending_record(
    connection: sqlite3.Connection, record: SegmentRecord, events: int, oldest_received_at_us: int
) -> int:
    """Register a stored batch (in the caller's transaction); its `seq`."""
    cursor = connection.execute(
        "INSERT INTO pending_batches (events, oldest_received_at_us, batch, segment, "
        "segment_offset, segment_length) VALUES (?, ?, x'', ?, ?, ?)",
        (events, oldest_received_at_us, record.segment, record.offset, record.length),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def read_pending_batches(
    connection: sqlite3.Connection, buffer_path: Path, first_seq: int, last_seq: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The stored batches with `seq` in [first_seq, last_seq], in `seq` order, with their `seq`."""
    cursor = connection.execute(
        "SELECT seq, batch, segment, segment_offset, segment_length FROM pending_batches "
        "WHERE seq BETWEEN ? AND ? ORDER BY seq",
        (first_seq, last_seq),
    )
    reader = SegmentReader(buffer_path)
    try:
        while fetched := cursor.fetchmany(BATCHES_PER_FETCH):
            blobs = [
                inline if segment is None else reader.read(SegmentRecord(segment, offset, length))
                for _, inline, segment, offset, length in fetched
            ]
            yield from zip((row[0] for row in fetched), read_pending_batches_of(blobs), strict=True)
    finally:
        reader.close()


def unflushed_batches(
    connection: sqlite3.Connection, buffer_path: Path
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Every stored batch no completed flush covers yet, in `seq` order."""
    (completed,) = connection.execute(COMPLETED_UP_TO).fetchone()
    return read_pending_batches(connection, buffer_path, completed + 1, 2**63 - 1)


def replace_pending_batches(
    connection: sqlite3.Connection, buffer_path: Path, kept: dict[int, pa.RecordBatch]
) -> None:
    """Store each `kept[seq]` inline in place of batch `seq` (drop the row when it is empty),
    then take the old bytes off the disk.

    A segment that held a replaced batch has its other batches moved inline and is unlinked, at
    once if no service process is writing to it, else by its writer's first commit after the
    next flush (`SegmentWriter.drop_if_flushed`). The caller holds the flush lock.
    """
    marks = ", ".join("?" * len(kept))
    touched = [
        name
        for (name,) in connection.execute(
            f"SELECT DISTINCT segment FROM pending_batches WHERE seq IN ({marks}) "
            "AND segment IS NOT NULL",
            tuple(kept),
        )
    ]
    connection.execute("BEGIN IMMEDIATE")
    try:
        for seq, batch in kept.items():
            if batch.num_rows == 0:
                connection.execute("DELETE FROM pending_batches WHERE seq = ?", (seq,))
            else:
                _store_inline(connection, seq, memoryview(batch.serialize()), batch.num_rows)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    for name in touched:
        _inline_idle_segment(connection, buffer_path, name)


def _store_inline(
    connection: sqlite3.Connection, seq: int, blob: bytes | memoryview, events: int
) -> None:
    connection.execute(
        "UPDATE pending_batches SET events = ?, batch = ?, segment = NULL, segment_offset = NULL, "
        "segment_length = NULL WHERE seq = ?",
        (events, blob, seq),
    )


def _inline_idle_segment(connection: sqlite3.Connection, buffer_path: Path, name: str) -> None:
    """Move the batches still stored in segment `name` into their rows and unlink it, unless a
    writer holds it open."""
    path = segment_dir(buffer_path) / name
    fd = locked_if_idle(path)
    if fd is None:
        return
    reader = SegmentReader(buffer_path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            rows = connection.execute(
                "SELECT seq, events, segment_offset, segment_length FROM pending_batches "
                "WHERE segment = ?",
                (name,),
            ).fetchall()
            for seq, events, offset, length in rows:
                blob = reader.read(SegmentRecord(name, offset, length))
                _store_inline(connection, seq, blob, events)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        path.unlink(missing_ok=True)
    finally:
        reader.close()
        os.close(fd)


def serialize_pending_batch(batch: pa.RecordBatch) -> memoryview:
    """One group of events as an encapsulated Arrow IPC record-batch message, LZ4-compressed.

    LZ4 halves a stored batch of 100 events (about 690 → 320 bytes per event, bench/README.md),
    so a group commit writes and a flush reads half the bytes. A group under `COMPRESS_FROM_ROWS`
    events is stored plain: compressing costs ~0.3 ms a group whatever its size (an LZ4 frame per
    column buffer), which single-event traffic, committed in groups of ~16, paid as ~20 µs of
    every request. Both read back the same way (`read_pending_batch`).
    """
    if batch.num_rows < COMPRESS_FROM_ROWS:
        return memoryview(batch.serialize())
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, EVENT_LAKE_SCHEMA, options=_IPC_OPTIONS) as stream:
        stream.write_batch(batch)
    messages = pa.ipc.MessageReader.open_stream(sink.getvalue())
    messages.read_next_message()  # the schema: every reader already has it
    return memoryview(messages.read_next_message().serialize())


def read_pending_batches_of(blobs: Sequence[bytes]) -> list[pa.RecordBatch]:
    """Stored groups back as record batches, decoded as one stream: each blob is a whole IPC
    message, so the schema message followed by all of them is a valid stream, and a flush opens
    one reader per fetch instead of one per 100-event batch."""
    stream = pa.ipc.open_stream(
        pa.py_buffer(b"".join([_SCHEMA_MESSAGE, *blobs])), options=_READ_OPTIONS
    )
    return list(stream)


def read_pending_batch(blob: bytes) -> pa.RecordBatch:
    """One stored group of events back as an Arrow record batch of the lake schema.

    Read as a one-batch stream behind the schema message, on the calling thread: Arrow's default
    hands each compressed buffer to its thread pool, five times the wall time of a 100-event
    batch on a busy machine.
    """
    stream = pa.ipc.open_stream(pa.py_buffer(_SCHEMA_MESSAGE + blob), options=_READ_OPTIONS)
    return stream.read_next_batch()
