import re
import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.cli import main
from ownlay_pipelines.events.layout import (
    delete_expired_event_days,
    event_day_dir,
    event_files_glob,
    part_path,
)
from ownlay_pipelines.ingest import flush
from ownlay_pipelines.ingest.buffer import (
    connect_buffer,
    read_pending_batch,
    serialize_pending_batch,
)
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import buffer_status, flush_buffer
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.ingest.segments import SegmentReader, SegmentRecord
from ownlay_pipelines.lake.event_views import read_event_day
from ownlay_pipelines_tests.ingest.lake_events import append_rows, lake_rows
from ownlay_pipelines_tests.ingest.payloads import NOW, auth_header, ownlay_event

DAY = date(2026, 11, 21)


def _send(client: TestClient, key: IssuedApiKey, events: list[dict]) -> None:
    response = client.post("/api/v1/events", json=events, headers=auth_header(key.plaintext))
    assert response.status_code == 202, response.text


def _ids(table) -> list[str]:
    return table.column("event_id").to_pylist()


def _raw_rows(lake_dir: Path) -> list[tuple]:
    with duckdb.connect() as connection:
        return connection.sql(
            "SELECT workspace_id, event_date, event_id FROM read_parquet(?, hive_partitioning = true) "
            "ORDER BY event_date, event_id",
            params=[event_files_glob(lake_dir)],
        ).fetchall()


def test_flush_writes_one_part_per_day_in_hive_folders_readable_by_duckdb(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2, timestamp="2026-11-20T09:00:00Z")])

    result = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    events = settings.lake_dir / "raw/events/workspace_id=acme"
    name = f"part-{result.flush_id:015d}.parquet"
    assert result.flush_id >= int(time.time() * 1000) - 60_000  # Unix milliseconds at least
    assert [(d.path, d.rows) for d in result.days] == [
        (events / "event_date=2026-11-20" / name, 1),
        (events / "event_date=2026-11-21" / name, 1),
    ]
    assert [row[:2] for row in _raw_rows(settings.lake_dir)] == [
        ("acme", date(2026, 11, 20)),
        ("acme", date(2026, 11, 21)),
    ]


def test_a_later_flush_adds_a_part_and_never_rewrites_an_earlier_one(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1, timestamp="2026-11-21T11:00:00Z")])
    first = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    first_part = first.days[0].path
    before = (first_part.read_bytes(), first_part.stat().st_mtime_ns, first_part.stat().st_ino)
    _send(client, acme_key, [ownlay_event(2, timestamp="2026-11-21T10:00:00Z")])

    second = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    (day,) = second.days
    assert (second.flush_id > first.flush_id, day.rows) == (True, 1)
    assert day.path == part_path(settings.lake_dir, "acme", DAY, second.flush_id)
    assert (first_part.read_bytes(), first_part.stat().st_mtime_ns, first_part.stat().st_ino) == (
        before
    )
    assert _ids(read_event_day(settings.lake_dir, "acme", DAY)) == [
        ownlay_event(2)["event_id"],
        ownlay_event(1)["event_id"],
    ]


def test_flushing_with_nothing_pending_writes_nothing(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(n) for n in range(1, 6)])
    first = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    second = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert (second.flush_id, second.days, second.events_flushed) == (None, (), 0)
    assert list(event_day_dir(settings.lake_dir, "acme", DAY).iterdir()) == [first.days[0].path]


def test_crash_after_the_parts_are_in_place_resumes_the_same_flush_without_duplicates(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings, monkeypatch
):
    _send(client, acme_key, [ownlay_event(n) for n in range(1, 4)])
    real_commit = flush._PartWriters.commit

    def commit_then_crash(self):
        real_commit(self)
        raise KeyboardInterrupt("killed after os.replace, before the flush was marked complete")

    monkeypatch.setattr(flush._PartWriters, "commit", commit_then_crash)
    with pytest.raises(KeyboardInterrupt):
        flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    (part,) = event_day_dir(settings.lake_dir, "acme", DAY).glob("part-*.parquet")
    crashed_bytes = part.read_bytes()
    monkeypatch.undo()
    assert buffer_status(settings.buffer_path).pending_events == 3
    _send(client, acme_key, [ownlay_event(4)])  # arrives before the retry: not in flush 1

    retried = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    after = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert part == part_path(settings.lake_dir, "acme", DAY, retried.flush_id)
    assert retried.events_flushed == 3
    assert part.read_bytes() == crashed_bytes
    assert (after.flush_id > retried.flush_id, after.events_flushed) == (True, 1)
    raw_ids = [row[2] for row in _raw_rows(settings.lake_dir)]
    assert sorted(raw_ids) == sorted(ownlay_event(n)["event_id"] for n in range(1, 5))
    assert buffer_status(settings.buffer_path).pending_events == 0


def test_crash_while_writing_leaves_no_part_and_the_retry_writes_every_row(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings, monkeypatch
):
    _send(client, acme_key, [ownlay_event(n) for n in range(1, 5)])

    def crash(self, workspace_id, day, table):
        raise OSError("disk full")

    monkeypatch.setattr(flush._PartWriters, "write", crash)
    with pytest.raises(OSError, match="disk full"):
        flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    monkeypatch.undo()

    assert not any(settings.lake_dir.rglob("*.parquet"))
    assert not any(settings.lake_dir.rglob("*.tmp"))
    retried = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    assert retried.events_flushed == 4
    assert len(_raw_rows(settings.lake_dir)) == 4


def test_flush_streams_the_backlog_in_chunks_into_one_part_per_day(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    other_day = "2026-11-20T08:00:00Z"
    for first in range(1, 9, 2):  # four requests, four stored batches of two events
        _send(client, acme_key, [ownlay_event(first), ownlay_event(first + 1, timestamp=other_day)])

    result = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW, chunk_rows=3)

    by_day = {d.day: d for d in result.days}
    assert {day: d.rows for day, d in by_day.items()} == {date(2026, 11, 20): 4, DAY: 4}
    # Chunks of two batches (4 rows >= 3): each day's part gets one row group per chunk.
    for part in by_day.values():
        assert pq.ParquetFile(part.path).metadata.num_row_groups == 2
    assert _ids(read_event_day(settings.lake_dir, "acme", DAY)) == [
        ownlay_event(n)["event_id"] for n in (1, 3, 5, 7)
    ]


def test_same_event_id_on_another_day_is_dropped_across_partitions(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1, timestamp="2026-11-20T09:00:00Z")])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    response = client.post(
        "/api/v1/events", json=ownlay_event(1), headers=auth_header(acme_key.plaintext)
    )
    result = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert response.json()["duplicates"] == [0]
    assert result.days == ()
    assert read_event_day(settings.lake_dir, "acme", DAY) is None


def test_buffer_status_reports_what_a_sensor_needs(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2)])

    status = buffer_status(settings.buffer_path)

    assert (status.pending_events, status.high_water_seq) == (2, 1)  # one stored batch
    assert status.oldest_pending_received_at == NOW
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    assert buffer_status(settings.buffer_path) == flush.BufferStatus(0, None, 1)


def test_flushed_rows_leave_the_buffer_and_ids_are_pruned_after_the_dedupe_window(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2, timestamp="2026-10-01T00:00:00Z")])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    connection = connect_buffer(settings.buffer_path)
    counts = connection.execute(
        "SELECT (SELECT count(*) FROM pending_batches), (SELECT count(*) FROM event_ids)"
    ).fetchone()

    within = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=6))
    after = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=8))

    assert counts == (0, 2)
    assert (within.pruned_events, after.pruned_events) == (0, 2)
    assert connection.execute("SELECT count(*) FROM event_ids").fetchone() == (0,)
    assert read_event_day(settings.lake_dir, "acme", date(2026, 10, 1)).num_rows == 1


def test_a_repeat_after_the_dedupe_window_lands_in_a_new_part_and_readers_keep_one_row(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1)])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=8))
    _send(client, acme_key, [ownlay_event(1)])

    repeat = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert repeat.events_flushed == 1
    assert len(_raw_rows(settings.lake_dir)) == 2
    assert _ids(read_event_day(settings.lake_dir, "acme", DAY)) == [ownlay_event(1)["event_id"]]


def test_a_flush_gives_the_space_of_a_large_backlog_back_to_the_file_system(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    append_rows(settings.buffer_path, lake_rows(range(1, 3001)))
    with closing(connect_buffer(settings.buffer_path)) as connection:
        (pages_full,) = connection.execute("PRAGMA page_count").fetchall()[0]

    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=8))

    connection = connect_buffer(settings.buffer_path)
    (pages_after,) = connection.execute("PRAGMA page_count").fetchone()
    assert connection.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert pages_after < pages_full / 4
    assert (
        settings.buffer_path.with_name(settings.buffer_path.name + "-wal").stat().st_size < 10_000
    )


def test_retention_deletes_whole_day_folders_older_than_the_window(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    old, recent = "2026-09-01T10:00:00Z", "2026-11-01T10:00:00Z"
    _send(client, acme_key, [ownlay_event(1, timestamp=old), ownlay_event(2, timestamp=recent)])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    deleted = delete_expired_event_days(settings.lake_dir, today=DAY, retention_days=30)
    again = delete_expired_event_days(settings.lake_dir, today=DAY, retention_days=30)

    assert deleted == [event_day_dir(settings.lake_dir, "acme", date(2026, 9, 1))]
    assert not deleted[0].exists()
    assert again == []
    assert read_event_day(settings.lake_dir, "acme", date(2026, 11, 1)).num_rows == 1


def test_ownlay_flush_command_flushes_the_buffer_and_prints_each_part(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings, monkeypatch, capsys
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2, timestamp="2026-11-20T09:00:00Z")])
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(settings.lake_dir.parent))

    assert main(["flush"]) == 0
    printed = capsys.readouterr().out
    assert main(["flush"]) == 0
    again = capsys.readouterr().out

    assert re.fullmatch(r"flush \d{13}: 2 events", printed.splitlines()[0])
    assert "acme  2026-11-20          1 rows" in printed
    assert "acme  2026-11-21          1 rows" in printed
    assert again.splitlines()[0] == "nothing pending"
    assert len(_raw_rows(settings.lake_dir)) == 2


def test_rows_of_interleaved_workspaces_and_days_keep_their_buffer_order_in_each_part(
    tmp_path: Path,
):
    stamps = ["2026-11-20T08:00:00Z", "2026-11-21T08:00:00Z"]
    rows = lake_rows(range(1, 13))
    for n, row in enumerate(rows):  # acme/globex alternate, the day changes every third row
        day = lake_rows(range(n + 1, n + 2), timestamp=stamps[(n // 3) % 2])[0]
        row.update(created_at=day["created_at"], workspace_id=["acme", "globex"][n % 2])
    buffer_path = tmp_path / "buffer.sqlite"
    append_rows(buffer_path, rows, batch=5)

    result = flush_buffer(buffer_path, tmp_path / "lake", now=NOW)

    parts = {(d.workspace_id, d.day.isoformat()): _ids(pq.read_table(d.path)) for d in result.days}
    expected: dict[tuple[str, str], list[str]] = {}
    for n, row in enumerate(rows):
        expected.setdefault((row["workspace_id"], stamps[(n // 3) % 2][:10]), []).append(
            row["event_id"]
        )
    assert parts == expected
    assert len(parts) == 4


def test_stored_batches_are_lz4_compressed_and_read_back_whole(tmp_path: Path):
    buffer_path = tmp_path / "buffer.sqlite"
    rows = lake_rows(range(1, 201))
    append_rows(buffer_path, rows, batch=200)
    with closing(connect_buffer(buffer_path)) as connection:
        address = connection.execute(
            "SELECT segment, segment_offset, segment_length FROM pending_batches"
        ).fetchone()
    reader = SegmentReader(buffer_path)
    blob = reader.read(SegmentRecord(*address))
    reader.close()

    batch = read_pending_batch(blob)
    uncompressed = len(batch.serialize())

    assert _ids(batch) == [row["event_id"] for row in rows]
    assert len(blob) < 0.7 * uncompressed
    assert read_pending_batch(batch.serialize().to_pybytes()).equals(batch)  # small groups
    assert len(serialize_pending_batch(batch.slice(0, 1))) == len(batch.slice(0, 1).serialize())
