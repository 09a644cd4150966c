from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.events.layout import (
    delete_expired_event_days,
    event_day_path,
    event_files_glob,
)
from ownlay_pipelines.ingest import flush
from ownlay_pipelines.ingest.buffer import connect_buffer
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.flush import buffer_status, flush_buffer, read_event_day
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines_tests.ingest.payloads import NOW, auth_header, ownlay_event

DAY = date(2026, 11, 21)


def _send(client: TestClient, key: IssuedApiKey, events: list[dict]) -> None:
    response = client.post("/api/v1/events", json=events, headers=auth_header(key.plaintext))
    assert response.status_code == 202, response.text


def _ids(table) -> list[str]:
    return table.column("event_id").to_pylist()


def test_flush_writes_seed_001_hive_layout_readable_by_duckdb(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2, timestamp="2026-11-20T09:00:00Z")])

    result = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert [d.path for d in result.days] == [
        settings.lake_dir
        / "raw/events/project_id=acme/year=2026/month=11/events_2026-11-20.parquet",
        settings.lake_dir
        / "raw/events/project_id=acme/year=2026/month=11/events_2026-11-21.parquet",
    ]
    rows = duckdb.sql(
        "SELECT project_id, year, month, event_id FROM read_parquet(?, hive_partitioning = true) "
        "ORDER BY created_at",
        params=[event_files_glob(settings.lake_dir)],
    ).fetchall()
    assert [row[:3] for row in rows] == [("acme", 2026, 11), ("acme", 2026, 11)]


def test_later_flush_merges_into_the_day_file_sorted_by_time(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1, timestamp="2026-11-21T11:00:00Z")])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    _send(client, acme_key, [ownlay_event(2, timestamp="2026-11-21T10:00:00Z")])

    second = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    (day,) = second.days
    assert (day.rows_in_file, day.rows_added) == (2, 1)
    assert _ids(read_event_day(settings.lake_dir, "acme", DAY)) == [
        ownlay_event(2)["event_id"],
        ownlay_event(1)["event_id"],
    ]


def test_flushing_twice_leaves_an_identical_file(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(n) for n in range(1, 6)])
    first = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    before = first.days[0].path.read_bytes()

    second = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert second.days == ()
    assert first.days[0].path.read_bytes() == before


def test_crash_between_write_and_mark_reflushes_to_the_same_file_without_duplicates(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings, monkeypatch
):
    _send(client, acme_key, [ownlay_event(n) for n in range(1, 4)])
    real_write = flush.write_parquet_atomically

    def write_then_crash(path: Path, table):
        real_write(path, table)
        raise KeyboardInterrupt("killed after os.replace, before the rows were marked")

    monkeypatch.setattr(flush, "write_parquet_atomically", write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    path = event_day_path(settings.lake_dir, "acme", DAY)
    crashed_bytes = path.read_bytes()
    monkeypatch.undo()

    assert buffer_status(settings.buffer_path).pending_events == 3
    retried = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    assert retried.days[0].rows_in_file == 3
    assert path.read_bytes() == crashed_bytes
    assert buffer_status(settings.buffer_path).pending_events == 0


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

    assert (status.pending_events, status.high_water_seq) == (2, 2)
    assert status.oldest_pending_received_at == NOW
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    assert buffer_status(settings.buffer_path).pending_events == 0


def test_flushed_rows_keep_only_their_id_and_are_pruned_after_the_dedupe_window(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    _send(client, acme_key, [ownlay_event(1), ownlay_event(2, timestamp="2026-10-01T00:00:00Z")])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)
    kept = (
        connect_buffer(settings.buffer_path)
        .execute("SELECT count(*), max(length(lake_row)) FROM buffered_events")
        .fetchone()
    )

    within = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=6))
    after = flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW + timedelta(days=8))

    assert kept == (2, 0)
    assert (within.pruned_events, after.pruned_events) == (0, 2)
    assert read_event_day(settings.lake_dir, "acme", date(2026, 10, 1)).num_rows == 1


def test_retention_deletes_whole_day_files_older_than_the_window(
    client: TestClient, acme_key: IssuedApiKey, settings: IngestSettings
):
    old, recent = "2026-09-01T10:00:00Z", "2026-11-01T10:00:00Z"
    _send(client, acme_key, [ownlay_event(1, timestamp=old), ownlay_event(2, timestamp=recent)])
    flush_buffer(settings.buffer_path, settings.lake_dir, now=NOW)

    deleted = delete_expired_event_days(settings.lake_dir, today=DAY, retention_days=30)
    again = delete_expired_event_days(settings.lake_dir, today=DAY, retention_days=30)

    assert deleted == [event_day_path(settings.lake_dir, "acme", date(2026, 9, 1))]
    assert not deleted[0].parent.exists()
    assert again == []
    assert read_event_day(settings.lake_dir, "acme", date(2026, 11, 1)).num_rows == 1
