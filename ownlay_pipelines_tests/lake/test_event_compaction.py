"""Daily compaction of the event lake: fewer files, one row per event id, never a gap for readers."""

import os
import threading
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.cli import main
from ownlay_pipelines.events import compaction
from ownlay_pipelines.events.compaction import compact_closed_days
from ownlay_pipelines.events.layout import event_day_dir, event_files_glob
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.lake.event_views import deduplicated_events_sql, read_event_day
from ownlay_pipelines.lake.warehouse import build_warehouse
from ownlay_pipelines_tests.ingest.lake_events import append_rows, lake_rows
from ownlay_pipelines_tests.ingest.payloads import NOW

DAY = NOW.date()
NEXT_DAY = DAY + timedelta(days=1)


def _flush_through_new_buffer(lake: Path, scratch: Path, numbers: range) -> None:
    """One flush of `numbers` from its own buffer, as after a repeat past the dedupe window."""
    buffer_path = scratch / f"buffer-{numbers.start}-{numbers.stop}.sqlite"
    append_rows(buffer_path, lake_rows(numbers))
    flush_buffer(buffer_path, lake, now=NOW)


def _names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.parquet"))


def _view_counts(lake: Path) -> tuple[int, int]:
    sql = deduplicated_events_sql(event_files_glob(lake), with_day=True)
    with duckdb.connect() as connection:
        return connection.execute(
            f"SELECT count(*), count(DISTINCT event_id) FROM ({sql})"
        ).fetchone()


@pytest.fixture
def overlapping_day(tmp_path: Path) -> Path:
    """A lake whose day holds two parts sharing ids 51-100: 200 rows, 150 distinct events."""
    lake = tmp_path / "lake"
    _flush_through_new_buffer(lake, tmp_path, range(1, 101))
    _flush_through_new_buffer(lake, tmp_path, range(51, 151))
    return lake


def test_readers_deduplicate_by_event_id_before_compaction(overlapping_day: Path):
    with duckdb.connect() as connection:
        raw = connection.execute(
            f"SELECT count(*) FROM read_parquet('{event_files_glob(overlapping_day)}')"
        ).fetchone()

    assert raw == (200,)
    assert _view_counts(overlapping_day) == (150, 150)
    assert read_event_day(overlapping_day, "acme", DAY).num_rows == 150


def test_compaction_replaces_a_closed_days_parts_by_one_deduplicated_file(overlapping_day: Path):
    before = read_event_day(overlapping_day, "acme", DAY)
    folder = event_day_dir(overlapping_day, "acme", DAY)
    parts = _names(folder)

    run = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    again = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))

    (day,) = run.compacted
    generation = max(int(name[5:20]) for name in parts)
    assert (day.generation, day.rows, day.input_files, run.deleted_files) == (generation, 150, 2, 2)
    assert _names(folder) == [f"compacted-{generation:015d}-0-of-1.parquet"]
    assert pq.read_table(day.files[0]).num_rows == 150
    assert read_event_day(overlapping_day, "acme", DAY).equals(before)
    assert (again.compacted, again.deleted_files) == ((), 0)


def test_a_large_day_is_split_into_at_most_four_files(overlapping_day: Path, monkeypatch):
    monkeypatch.setattr(compaction, "ROWS_PER_COMPACTED_FILE", 20)

    (day,) = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0)).compacted

    assert len(day.files) == 4
    ids = [i for path in day.files for i in pq.read_table(path)["event_id"].to_pylist()]
    assert len(ids) == len(set(ids)) == 150


def test_a_compacted_file_holds_row_groups_of_the_set_size(tmp_path: Path, monkeypatch):
    lake = tmp_path / "lake"
    _flush_through_new_buffer(lake, tmp_path, range(1, 5001))
    monkeypatch.setattr(compaction, "ROWS_PER_ROW_GROUP", 2048)  # DuckDB's vector size

    (day,) = compact_closed_days(lake, today=NEXT_DAY, grace=timedelta(0)).compacted

    metadata = pq.ParquetFile(day.files[0]).metadata
    sizes = [metadata.row_group(n).num_rows for n in range(metadata.num_row_groups)]
    assert sizes == [2048, 2048, 904]


def test_today_is_not_compacted_and_replaced_files_wait_out_their_grace(overlapping_day: Path):
    folder = event_day_dir(overlapping_day, "acme", DAY)
    parts = _names(folder)

    today = compact_closed_days(overlapping_day, today=DAY)
    after_today = _names(folder)
    closed = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(hours=1))

    assert (today.compacted, after_today) == ((), parts)
    assert len(closed.compacted) == 1 and closed.deleted_files == 0
    assert len(_names(folder)) == 3
    assert _view_counts(overlapping_day) == (150, 150)


def test_late_events_for_a_compacted_day_get_a_new_generation(
    overlapping_day: Path, tmp_path: Path
):
    compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    _flush_through_new_buffer(overlapping_day, tmp_path, range(140, 161))

    (day,) = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0)).compacted

    assert day.rows == 160
    assert len(_names(event_day_dir(overlapping_day, "acme", DAY))) == 1


def test_a_crash_between_compacted_files_deletes_nothing_and_the_rerun_completes(
    overlapping_day: Path, monkeypatch
):
    monkeypatch.setattr(compaction, "ROWS_PER_COMPACTED_FILE", 60)
    real_replace = os.replace
    renamed = []

    def crash_on_second(source, target):
        if renamed:
            raise KeyboardInterrupt("killed between two compacted files")
        renamed.append(target)
        real_replace(source, target)

    monkeypatch.setattr(compaction.os, "replace", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    monkeypatch.setattr(compaction.os, "replace", real_replace)
    folder = event_day_dir(overlapping_day, "acme", DAY)

    assert len(_names(folder)) == 3  # two parts and the first of four compacted files
    assert _view_counts(overlapping_day) == (150, 150)
    assert compaction.delete_replaced_files(folder, grace=timedelta(0)) == 0

    (day,) = compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0)).compacted
    assert (len(day.files), day.rows) == (4, 150)
    assert all(name.startswith("compacted-") for name in _names(folder))
    assert not list(folder.glob(".*"))


def test_a_concurrent_reader_never_sees_a_duplicate_or_misses_an_event(tmp_path: Path, monkeypatch):
    lake = tmp_path / "lake"
    days = [DAY - timedelta(days=n) for n in range(3)]
    rows = []
    for offset, day in enumerate(days):
        stamp = f"{day.isoformat()}T08:00:00Z"
        rows += lake_rows(range(offset * 4000 + 1, offset * 4000 + 4001), timestamp=stamp)
    for start in (0, 3000, 6000):  # three flushes, each overlapping the one before
        buffer_path = tmp_path / f"buffer-{start}.sqlite"
        append_rows(buffer_path, rows[start : start + 6000])
        flush_buffer(buffer_path, lake, now=NOW)
    expected = _view_counts(lake)
    assert expected == (12000, 12000)
    monkeypatch.setattr(compaction, "ROWS_PER_COMPACTED_FILE", 1500)  # 4 files per day
    seen = []
    stop = threading.Event()

    def read() -> None:
        with duckdb.connect() as reader:
            sql = deduplicated_events_sql(event_files_glob(lake), with_day=True)
            while not stop.is_set():
                seen.append(
                    reader.execute(
                        f"SELECT count(*), count(DISTINCT event_id) FROM ({sql})"
                    ).fetchone()
                )

    reader = threading.Thread(target=read)
    reader.start()
    try:
        run = compact_closed_days(lake, today=NEXT_DAY, grace=timedelta(hours=1))
    finally:
        stop.set()
        reader.join()

    assert len(run.compacted) == 3
    assert len(seen) >= 3
    assert set(seen) == {expected}


def test_the_warehouse_view_of_raw_events_keeps_one_row_per_event_id(
    overlapping_day: Path, tmp_path: Path
):
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(overlapping_day, warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = connection.execute(
            "SELECT count(*), count(DISTINCT event_id), min(event_date) FROM raw_events"
        ).fetchone()

    assert counts == (150, 150, DAY)


def test_ownlay_compact_command_compacts_closed_days(overlapping_day: Path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(overlapping_day.parent))

    assert main(["compact", "--grace-minutes", "0"]) == 0
    printed = capsys.readouterr().out

    assert "acme  2026-11-21  2 file(s) -> 1 file(s), 150 rows" in printed
    assert printed.splitlines()[-1] == "compacted 1 day(s); deleted 2 replaced file(s)"


def test_readers_take_a_compacted_day_as_is_and_deduplicate_it_again_once_late_parts_arrive(
    overlapping_day: Path, tmp_path: Path
):
    compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    folder = event_day_dir(overlapping_day, "acme", DAY)
    (compacted,) = folder.glob("compacted-*.parquet")
    # Proof the window is skipped: a compacted file is trusted to hold each id once, so a row
    # repeated inside it (which compaction never writes) is read twice.
    table = pq.read_table(compacted)
    doubled = pa.concat_tables([table, table.slice(0, 1)])
    pq.write_table(doubled, compacted)
    assert _view_counts(overlapping_day) == (151, 150)

    pq.write_table(table, compacted)
    _flush_through_new_buffer(overlapping_day, tmp_path, range(140, 161))  # 140-150 repeat

    assert _view_counts(overlapping_day) == (160, 160)
    assert read_event_day(overlapping_day, "acme", DAY).num_rows == 160
    compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    assert _view_counts(overlapping_day) == (160, 160)
    assert [name[:10] for name in _names(folder)] == ["compacted-"]


def test_a_day_of_parts_beside_a_compacted_day_is_deduplicated_in_the_same_query(
    overlapping_day: Path, tmp_path: Path
):
    compact_closed_days(overlapping_day, today=NEXT_DAY, grace=timedelta(0))
    day_before = DAY - timedelta(days=1)
    rows = lake_rows(range(1, 51), timestamp=f"{day_before.isoformat()}T08:00:00Z")
    for n in (1, 2):  # the same 50 events flushed twice: two parts of the day before
        buffer_path = tmp_path / f"before-{n}.sqlite"
        append_rows(buffer_path, rows)
        flush_buffer(buffer_path, overlapping_day, now=NOW)

    sql = deduplicated_events_sql(event_files_glob(overlapping_day), with_day=True)
    per_day = duckdb.execute(
        f"SELECT event_date, count(*), count(DISTINCT event_id) FROM ({sql}) GROUP BY 1 ORDER BY 1"
    ).fetchall()

    assert per_day == [(day_before, 50, 50), (DAY, 150, 150)]
