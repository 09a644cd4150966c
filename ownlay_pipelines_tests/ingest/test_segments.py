"""The buffer's segment files: what a flush reads from them, and when they leave the disk."""

import asyncio
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA
from ownlay_pipelines.ingest.buffer import (
    EventBuffer,
    connect_buffer,
    replace_pending_batches,
    serialize_pending_batch,
    unflushed_batches,
)
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.segments import SegmentWriter, segment_dir, segment_files
from ownlay_pipelines.lake.event_views import read_event_day
from ownlay_pipelines_tests.ingest.lake_events import append_rows, lake_rows
from ownlay_pipelines_tests.ingest.payloads import NOW


def _segments(buffer_path: Path) -> list[str]:
    return sorted(path.name for path in segment_files(buffer_path))


def _lake_ids(lake: Path) -> list[str]:
    table = read_event_day(lake, "acme", NOW.date())
    return [] if table is None else sorted(table.column("event_id").to_pylist())


def test_each_group_commit_appends_to_one_segment_and_a_flush_unlinks_it(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    rows = lake_rows(range(1, 301))

    async def one_request_at_a_time() -> None:
        buffer = EventBuffer(buffer_path)
        try:
            for start in range(0, 300, 100):
                await buffer.append_events("acme", rows[start : start + 100])
        finally:
            buffer.close()

    asyncio.run(one_request_at_a_time())
    with closing(connect_buffer(buffer_path)) as connection:
        stored = connection.execute(
            "SELECT length(batch), segment, segment_offset FROM pending_batches ORDER BY seq"
        ).fetchall()
    (segment,) = _segments(buffer_path)
    size = (segment_dir(buffer_path) / segment).stat().st_size

    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW)

    assert len(stored) == 3  # one stored batch per commit, all in the writer's one segment
    assert {(inline, name) for inline, name, _ in stored} == {(0, segment)}
    assert [offset for *_, offset in stored] == sorted(offset for *_, offset in stored)
    assert size > 0
    assert result.events_flushed == 300
    assert _segments(buffer_path) == []
    assert _lake_ids(tmp_path / "lake") == sorted(row["event_id"] for row in rows)


def test_an_open_writers_segment_stays_until_flushed_then_its_writer_deletes_it(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    lake = tmp_path / "lake"
    first, second = lake_rows(range(1, 11)), lake_rows(range(11, 21))

    async def service() -> tuple[list[str], list[str], list[str]]:
        buffer = EventBuffer(buffer_path)
        try:
            await buffer.append_events("acme", first)
            before = _segments(buffer_path)
            flush_buffer(buffer_path, lake, now=NOW)  # the writer still holds its segment
            kept = _segments(buffer_path)
            await buffer.append_events("acme", second)
            after = _segments(buffer_path)
        finally:
            buffer.close()
        return before, kept, after

    before, kept, after = asyncio.run(service())
    last = flush_buffer(buffer_path, lake, now=NOW)

    assert len(before) == 1 and kept == before  # locked by its writer: never deleted under it
    assert len(after) == 1 and after != before  # everything in it was flushed: the writer let go
    assert last.events_flushed == 10
    assert _segments(buffer_path) == []
    assert _lake_ids(lake) == sorted(row["event_id"] for row in first + second)


def test_a_group_that_repeats_a_buffered_event_id_stores_only_its_new_rows_inline(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    first, repeat_and_new = lake_rows(range(1, 4)), lake_rows(range(3, 6))

    async def two_requests() -> list:
        buffer = EventBuffer(buffer_path)
        try:
            return [
                await buffer.append_events("acme", first),
                await buffer.append_events("acme", repeat_and_new),
            ]
        finally:
            buffer.close()

    results = asyncio.run(two_requests())
    with closing(connect_buffer(buffer_path)) as connection:
        stored = connection.execute(
            "SELECT events, segment IS NULL, length(batch) > 0 FROM pending_batches ORDER BY seq"
        ).fetchall()
    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW)

    assert [(r.inserted, r.duplicate_event_ids) for r in results] == [
        (3, ()),
        (2, (repeat_and_new[0]["event_id"],)),
    ]
    # The second group's segment record holds the repeated row too, so it is not registered:
    # its two new rows are stored in the row itself.
    assert stored == [(3, 0, 0), (2, 1, 1)]
    assert result.events_flushed == 5
    assert _lake_ids(tmp_path / "lake") == sorted(
        row["event_id"] for row in first + repeat_and_new[1:]
    )


def test_bytes_appended_without_a_commit_are_never_flushed(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    acknowledged = lake_rows(range(1, 6))
    append_rows(buffer_path, acknowledged)
    # A writer killed between its fdatasync and its COMMIT: the batch is in a segment, no row.
    orphan = SegmentWriter(buffer_path)
    orphan.append(
        serialize_pending_batch(
            pa.RecordBatch.from_pylist(lake_rows(range(6, 9)), schema=EVENT_LAKE_SCHEMA)
        )
    )
    orphan.sync()
    orphan.close()

    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW)

    assert result.events_flushed == 5
    assert _lake_ids(tmp_path / "lake") == sorted(row["event_id"] for row in acknowledged)
    assert _segments(buffer_path) == []  # the orphan's segment went with the flush


def test_a_replaced_batch_is_read_inline_and_its_idle_segment_leaves_the_disk_at_once(
    tmp_path: Path,
):
    buffer_path = tmp_path / "buffer.sqlite"
    rows = lake_rows(range(1, 6))
    append_rows(buffer_path, rows[:2], batch=2)
    append_rows(buffer_path, rows[2:], batch=3)  # a second writer: its own segment
    with closing(connect_buffer(buffer_path)) as connection:
        (first, kept), (second, _) = list(unflushed_batches(connection, buffer_path))
        second_segment = connection.execute(
            "SELECT segment FROM pending_batches WHERE seq = ?", (second,)
        ).fetchone()[0]
        replace_pending_batches(connection, buffer_path, {first: kept.slice(1)})
        inline = connection.execute(
            "SELECT seq, segment IS NULL, length(batch) > 0 FROM pending_batches ORDER BY seq"
        ).fetchall()
    left = _segments(buffer_path)

    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW + timedelta(days=8))

    assert inline == [(first, 1, 1), (second, 0, 0)]  # the untouched writer's segment stays
    assert left == [second_segment]  # the erased batch's segment is gone from the disk
    assert result.events_flushed == 4
    assert _lake_ids(tmp_path / "lake") == sorted(row["event_id"] for row in rows[1:])
    assert _segments(buffer_path) == []


def test_a_buffer_file_from_before_segments_gets_the_address_columns_and_flushes(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    rows = lake_rows(range(1, 4))
    with closing(connect_buffer(tmp_path / "template.sqlite")):
        pass
    legacy = connect_buffer(buffer_path)
    legacy.execute("DROP TABLE pending_batches")
    legacy.execute(
        "CREATE TABLE pending_batches (seq INTEGER PRIMARY KEY AUTOINCREMENT, events INTEGER "
        "NOT NULL, oldest_received_at_us INTEGER NOT NULL, batch BLOB NOT NULL)"
    )
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_LAKE_SCHEMA)
    legacy.execute(
        "INSERT INTO pending_batches (events, oldest_received_at_us, batch) VALUES (?, ?, ?)",
        (3, rows[0]["received_at"], serialize_pending_batch(batch)),
    )
    legacy.close()

    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW)

    assert result.events_flushed == 3
    assert _lake_ids(tmp_path / "lake") == sorted(row["event_id"] for row in rows)
