"""Moving buffered events into the lake: each flush adds one part file per (workspace, day).

A flush is numbered before it writes anything (`lake_flushes`: its id and the `seq` range of
pending batches it covers), streams those Arrow batches in bounded chunks into one Parquet part per
(workspace, UTC day of `created_at`) it touches — `part-<flush id>.parquet`, a name no other flush
uses — and only after every part is in place marks the flush complete. Then the flushed batches'
small address rows are deleted and every segment file no longer needed is unlinked
(`ingest.segments`): no event data is deleted row by row and nothing needs vacuuming.

A crash before the mark leaves the flush incomplete: the next flush resumes it with the same id
and the same rows, so it rewrites the same files with the same rows (a reader sees them either
way) — no loss, no duplicate. A crash after the mark only leaves rows and segments to delete,
which the next flush deletes. Earlier flushes' files are never touched (ARCHITECTURE.md §8); the daily compaction
(`events.compaction`) merges a closed day's parts.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ownlay_pipelines.events.lake_rows import EPOCH, EVENT_LAKE_SCHEMA, ONE_MICROSECOND, to_micros
from ownlay_pipelines.events.layout import part_path
from ownlay_pipelines.ingest.buffer import COMPLETED_UP_TO, connect_buffer, read_pending_batches
from ownlay_pipelines.ingest.config import DEFAULT_DEDUPE_WINDOW_DAYS
from ownlay_pipelines.ingest.segments import locked_if_idle, remove_temporaries, segment_files
from ownlay_pipelines.lake.locks import exclusive_lock
from ownlay_pipelines.lake.writer import TEMP_SUFFIX, fsync_dir, fsync_file

FLUSH_CHUNK_ROWS = 100_000
"""Rows gathered (whole stored batches, so a chunk may exceed it by one) before they are split by
day and written: bounds a flush's memory whatever the backlog."""
DELETE_CHUNK_ROWS = 50_000
"""Ids (or stored batches' address rows) deleted per transaction, so the service's commits never
wait long."""
NEAR_UNIQUE_COLUMNS = frozenset(
    {"event_id", "anonymous_id", "session_id", "user_id", "device_id", "email_hash", "ip_hash"}
    | {"created_at", "client_timestamp", "received_at"}
)
"""Columns with (nearly) one value per event: a dictionary there is built, overflows and is
dropped again, about a fifth of the Parquet encoding time, so parts encode them plainly."""
DICTIONARY_COLUMNS = [name for name in EVENT_LAKE_SCHEMA.names if name not in NEAR_UNIQUE_COLUMNS]


@dataclass(frozen=True)
class FlushedDay:
    """One part file a flush wrote: its (workspace, UTC day) partition, path and row count."""

    workspace_id: str
    day: date
    path: Path
    rows: int


@dataclass(frozen=True)
class FlushResult:
    """What one flush did: its id (None when nothing was pending), the part files it wrote, the
    events it moved, the last buffer `seq` it covered, and event ids pruned from the dedupe window."""

    flush_id: int | None
    days: tuple[FlushedDay, ...]
    events_flushed: int
    high_water_seq: int
    pruned_events: int


@dataclass(frozen=True)
class BufferStatus:
    """How much is waiting in the buffer: what a sensor needs to decide whether to flush now."""

    pending_events: int
    oldest_pending_received_at: datetime | None
    high_water_seq: int


@dataclass(frozen=True)
class _Flush:
    flush_id: int
    first_seq: int
    last_seq: int


def buffer_status(buffer_path: Path) -> BufferStatus:
    """Pending (unflushed) event count, when the oldest of them arrived, and the newest `seq`."""
    connection = connect_buffer(buffer_path)
    try:
        pending, oldest = connection.execute(
            "SELECT coalesce(sum(events), 0), min(oldest_received_at_us) FROM pending_batches "
            f"WHERE seq > ({COMPLETED_UP_TO})"
        ).fetchone()
        high_water = connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'pending_batches'"
        ).fetchone()
    finally:
        connection.close()
    oldest_at = None if oldest is None else EPOCH + oldest * ONE_MICROSECOND
    return BufferStatus(pending, oldest_at, high_water[0] if high_water else 0)


def flush_buffer(
    buffer_path: Path,
    lake_root: Path,
    *,
    now: datetime | None = None,
    dedupe_window: timedelta = timedelta(days=DEFAULT_DEDUPE_WINDOW_DAYS),
    chunk_rows: int = FLUSH_CHUNK_ROWS,
) -> FlushResult:
    """Write every event buffered so far into new part files, then drop it from the buffer.

    Event ids stay in the buffer for `dedupe_window` after they were received: within it a
    repeated id is refused whatever its timestamp; after it, a repeat lands in a later part and
    the readers' and compaction's deduplication by `event_id` keep one row. Concurrent flushes of
    one buffer wait for each other.
    """
    cutoff = to_micros((now or datetime.now(UTC)) - dedupe_window)
    # Two flushes would both resume or number the same pending rows: they take turns.
    with exclusive_lock(buffer_path.with_name(buffer_path.name + ".flush.lock")):
        connection = connect_buffer(buffer_path)
        try:
            flush = _open_flush(connection)
            days: tuple[FlushedDay, ...] = ()
            if flush is not None:
                days = _write_parts(connection, buffer_path, lake_root, flush, chunk_rows)
                connection.execute(
                    "UPDATE lake_flushes SET completed = 1 WHERE flush_id = ?", (flush.flush_id,)
                )
            _delete_flushed_rows(connection)
            _delete_flushed_segments(connection, buffer_path)
            pruned = _prune_event_ids(connection, cutoff)
            _give_back_space(connection)
            (high_water,) = connection.execute(COMPLETED_UP_TO).fetchone()
        finally:
            connection.close()
    return FlushResult(
        flush_id=None if flush is None else flush.flush_id,
        days=days,
        events_flushed=sum(day.rows for day in days),
        high_water_seq=high_water,
        pruned_events=pruned,
    )


def _open_flush(connection: sqlite3.Connection) -> _Flush | None:
    """The flush a crash left incomplete, else a new one covering every pending row, else None.

    A new flush id is the previous one plus one, or the time in Unix milliseconds if later: part
    names stay unique across buffer files (a deleted and recreated buffer, the sandbox's scratch
    buffers) as long as the clock does not go back by more than the time since the last flush.
    """
    unfinished = connection.execute(
        "SELECT flush_id, first_seq, last_seq FROM lake_flushes WHERE completed = 0 "
        "ORDER BY flush_id LIMIT 1"
    ).fetchone()
    if unfinished is not None:
        return _Flush(*unfinished)
    first, last = connection.execute(
        f"SELECT min(seq), max(seq) FROM pending_batches WHERE seq > ({COMPLETED_UP_TO})"
    ).fetchone()
    if last is None:
        return None
    (previous,) = connection.execute(
        "SELECT coalesce(max(flush_id), 0) FROM lake_flushes"
    ).fetchone()
    flush_id = max(previous + 1, time.time_ns() // 1_000_000)
    connection.execute(
        "INSERT INTO lake_flushes (flush_id, first_seq, last_seq) VALUES (?, ?, ?)",
        (flush_id, first, last),
    )
    return _Flush(flush_id, first, last)


def _write_parts(
    connection: sqlite3.Connection,
    buffer_path: Path,
    lake_root: Path,
    flush: _Flush,
    chunk_rows: int,
) -> tuple[FlushedDay, ...]:
    """Stream the flush's batches, about `chunk_rows` rows at a time, into one part file per
    (workspace, day)."""
    parts = _PartWriters(lake_root, flush.flush_id)
    try:
        for chunk in _read_ahead(_chunks(connection, buffer_path, flush, chunk_rows)):
            for (workspace_id, day), table in _split_by_partition(chunk):
                parts.write(workspace_id, day, table)
            del chunk
        return parts.commit()
    finally:
        parts.abort()


def _read_ahead(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """`chunks`, the next one read and decoded on a second thread while the caller encodes the
    current one to Parquet: both steps run in Arrow/SQLite code that releases the GIL, so on two
    cores they overlap (decoding was ~30 % of a flush, encoding ~50 %). At most one chunk waits.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ownlay-flush-read") as reader:
        pending = reader.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = reader.submit(next, chunks, None)
            yield chunk


def _chunks(
    connection: sqlite3.Connection, buffer_path: Path, flush: _Flush, chunk_rows: int
) -> Iterator[pa.Table]:
    """The flush's stored batches in `seq` order, gathered into tables of about `chunk_rows`."""
    gathered: list[pa.RecordBatch] = []
    rows = 0
    for _, batch in read_pending_batches(connection, buffer_path, flush.first_seq, flush.last_seq):
        gathered.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield pa.Table.from_batches(gathered, EVENT_LAKE_SCHEMA)
            gathered, rows = [], 0
    if gathered:
        yield pa.Table.from_batches(gathered, EVENT_LAKE_SCHEMA)


def _split_by_partition(table: pa.Table) -> Iterator[tuple[tuple[str, str], pa.Table]]:
    """The chunk's rows of each (workspace, UTC day of `created_at`), in buffer order.

    Plain compute kernels (a stable sort on a partition code, then slices): Arrow's group_by
    would import Acero, seconds of a short flush process's time.
    """
    workspaces = pc.dictionary_encode(table["workspace_id"]).combine_chunks()
    days = pc.dictionary_encode(pc.cast(table["created_at"], pa.date32())).combine_chunks()
    if len(workspaces.dictionary) == 1 and len(days.dictionary) == 1:
        yield (workspaces.dictionary[0].as_py(), days.dictionary[0].as_py().isoformat()), table
        return
    codes = pc.add(
        pc.multiply(workspaces.indices.cast(pa.int64()), len(days.dictionary)),
        days.indices.cast(pa.int64()),
    )
    order = pc.sort_indices(codes)  # stable: rows of one partition keep their buffer order
    table, codes = table.take(order), codes.take(order)
    runs = pc.run_end_encode(codes)
    start = 0
    for code, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        workspace_id = workspaces.dictionary[code // len(days.dictionary)].as_py()
        day = days.dictionary[code % len(days.dictionary)].as_py()
        yield (workspace_id, day.isoformat()), table.slice(start, end - start)
        start = end


class _PartWriters:
    """One open Parquet writer per (workspace, day) of a flush, under temporary names."""

    def __init__(self, lake_root: Path, flush_id: int) -> None:
        self._lake_root = lake_root
        self._flush_id = flush_id
        self._open: dict[tuple[str, str], tuple[pq.ParquetWriter, Path, Path]] = {}
        self._rows: dict[tuple[str, str], int] = {}

    def write(self, workspace_id: str, day: str, table: pa.Table) -> None:
        key = (workspace_id, day)
        if key not in self._open:
            final = part_path(
                self._lake_root, workspace_id, date.fromisoformat(day), self._flush_id
            )
            final.parent.mkdir(parents=True, exist_ok=True)
            temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
            writer = pq.ParquetWriter(
                temp,
                EVENT_LAKE_SCHEMA,
                compression="snappy",
                use_dictionary=DICTIONARY_COLUMNS,
                write_statistics=True,
            )
            self._open[key] = (writer, temp, final)
            self._rows[key] = 0
        self._open[key][0].write_table(table)
        self._rows[key] += table.num_rows

    def commit(self) -> tuple[FlushedDay, ...]:
        """Close every file, fsync it and move it to its final name; the parts written."""
        written = []
        for key, (writer, temp, final) in sorted(self._open.items()):
            writer.close()
            fsync_file(temp)
            os.replace(temp, final)
            fsync_dir(final.parent)
            written.append(FlushedDay(key[0], date.fromisoformat(key[1]), final, self._rows[key]))
        self._open.clear()
        return tuple(written)

    def abort(self) -> None:
        """Drop the temporary files of a flush that failed before `commit`."""
        for writer, temp, _ in self._open.values():
            writer.close()
            temp.unlink(missing_ok=True)
        self._open.clear()


def _delete_flushed_rows(connection: sqlite3.Connection) -> None:
    """Delete batches of completed flushes, a chunk per transaction (resumes after a crash)."""
    while True:
        deleted = connection.execute(
            "DELETE FROM pending_batches WHERE seq IN (SELECT seq FROM pending_batches "
            f"WHERE seq <= ({COMPLETED_UP_TO}) ORDER BY seq LIMIT ?)",
            (DELETE_CHUNK_ROWS,),
        ).rowcount
        if deleted < DELETE_CHUNK_ROWS:
            return


def _delete_flushed_segments(connection: sqlite3.Connection, buffer_path: Path) -> None:
    """Unlink every segment no writer has open and no unflushed batch lives in.

    The segment's lock is taken before the pending rows are looked at: a writer appends only to a
    segment it holds locked, so once the flush holds the lock nothing more can land in it.
    """
    for path in segment_files(buffer_path):
        fd = locked_if_idle(path)
        if fd is None:
            continue
        try:
            needed = connection.execute(
                "SELECT 1 FROM pending_batches WHERE segment = ? LIMIT 1", (path.name,)
            ).fetchone()
            if needed is None:
                path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    remove_temporaries(buffer_path)


def _prune_event_ids(connection: sqlite3.Connection, cutoff_us: int) -> int:
    """Forget ids received before `cutoff_us` whose events are already in the lake."""
    (oldest_pending,) = connection.execute(
        "SELECT min(oldest_received_at_us) FROM pending_batches"
    ).fetchone()
    before = cutoff_us if oldest_pending is None else min(cutoff_us, oldest_pending)
    pruned = 0
    while True:
        deleted = connection.execute(
            "DELETE FROM event_ids WHERE (workspace_id, event_id) IN (SELECT workspace_id, "
            "event_id FROM event_ids WHERE received_at_us < ? LIMIT ?)",
            (before, DELETE_CHUNK_ROWS),
        ).rowcount
        pruned += deleted
        if deleted < DELETE_CHUNK_ROWS:
            return pruned


def _give_back_space(connection: sqlite3.Connection) -> None:
    """Return freed pages to the file system and truncate the write-ahead log."""
    # executescript steps the pragma to the end; execute() would free only its first page.
    connection.executescript("PRAGMA incremental_vacuum;")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
