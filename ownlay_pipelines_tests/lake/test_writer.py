import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.lake import writer
from ownlay_pipelines.lake.tables import TableRef, partition_dir, table_glob
from ownlay_pipelines.lake.writer import read_partition, sweep_leftovers, write_partition

REF = TableRef.of("raw", "meta_ads", "insights")
DAY = date(2026, 11, 20)


def _table(values: list[int]) -> pa.Table:
    return pa.table({"campaign_id": [str(v) for v in values], "clicks": values})


def test_partition_path_is_hive_style_under_the_table(tmp_path: Path):
    written = write_partition(tmp_path, REF, _table([1]), workspace_id="acme", report_date=DAY)

    assert (
        written.path
        == tmp_path / "raw/meta_ads/insights/workspace_id=acme/report_date=2026-11-20/data.parquet"
    )
    assert written.rows == 1


def test_writing_a_partition_twice_gives_identical_rows_and_bytes(tmp_path: Path):
    first = write_partition(tmp_path, REF, _table([1, 2, 3]), workspace_id="acme", report_date=DAY)
    first_bytes = first.path.read_bytes()
    second = write_partition(tmp_path, REF, _table([1, 2, 3]), workspace_id="acme", report_date=DAY)

    assert second.path.read_bytes() == first_bytes
    assert read_partition(tmp_path, REF, workspace_id="acme", report_date=DAY).equals(
        _table([1, 2, 3])
    )
    assert len(list(second.path.parent.iterdir())) == 1


def test_rewrite_replaces_rows_instead_of_appending(tmp_path: Path):
    write_partition(tmp_path, REF, _table([1, 2, 3]), workspace_id="acme", report_date=DAY)
    write_partition(tmp_path, REF, _table([9]), workspace_id="acme", report_date=DAY)

    rows = (
        duckdb.connect()
        .sql(f"SELECT clicks FROM read_parquet('{table_glob(tmp_path, REF)}')")
        .fetchall()
    )
    assert rows == [(9,)]


def test_empty_table_replaces_stale_rows_and_keeps_the_schema(tmp_path: Path):
    write_partition(tmp_path, REF, _table([1]), workspace_id="acme", report_date=DAY)
    write_partition(tmp_path, REF, _table([]), workspace_id="acme", report_date=DAY)

    table = read_partition(tmp_path, REF, workspace_id="acme", report_date=DAY)
    assert table.num_rows == 0
    assert table.schema.names == ["campaign_id", "clicks"]


@pytest.mark.parametrize("workspace_id", ["../evil", "a/b", ""])
def test_partition_key_cannot_escape_the_lake(tmp_path: Path, workspace_id: str):
    with pytest.raises(ValueError, match="workspace_id"):
        write_partition(tmp_path, REF, _table([1]), workspace_id=workspace_id, report_date=DAY)
    assert not any(tmp_path.rglob("*.parquet"))


def test_failed_write_before_replace_keeps_the_previous_file(tmp_path: Path, monkeypatch):
    write_partition(tmp_path, REF, _table([1, 2]), workspace_id="acme", report_date=DAY)

    def crash(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(writer.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_partition(tmp_path, REF, _table([7, 8, 9]), workspace_id="acme", report_date=DAY)

    folder = partition_dir(tmp_path, REF, "acme", DAY)
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]
    assert read_partition(tmp_path, REF, workspace_id="acme", report_date=DAY).equals(
        _table([1, 2])
    )


def test_process_killed_before_replace_leaves_previous_file_readable_and_leftover_swept(
    tmp_path: Path,
):
    write_partition(tmp_path, REF, _table([1, 2]), workspace_id="acme", report_date=DAY)
    child = textwrap.dedent(
        f"""
        import os, signal
        from datetime import date
        from pathlib import Path
        import pyarrow as pa
        from ownlay_pipelines.lake import writer
        from ownlay_pipelines.lake.tables import TableRef

        def die(*_args):
            os.kill(os.getpid(), signal.SIGKILL)

        writer.os.replace = die
        writer.write_partition(
            Path({str(tmp_path)!r}), TableRef.of("raw", "meta_ads", "insights"),
            pa.table({{"campaign_id": ["7"], "clicks": [7]}}),
            workspace_id="acme", report_date=date(2026, 11, 20),
        )
        """
    )
    process = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=60)
    assert process.returncode == -signal.SIGKILL

    folder = partition_dir(tmp_path, REF, "acme", DAY)
    leftovers = [p for p in folder.iterdir() if p.name != "data.parquet"]
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".tmp")
    rows = (
        duckdb.connect()
        .sql(f"SELECT clicks FROM read_parquet('{table_glob(tmp_path, REF)}') ORDER BY 1")
        .fetchall()
    )
    assert rows == [(1,), (2,)]

    assert sweep_leftovers(tmp_path, REF, older_than_seconds=3600) == 0
    os.utime(leftovers[0], (0, 0))
    assert sweep_leftovers(tmp_path, REF, older_than_seconds=3600) == 1
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]


def test_written_file_uses_snappy_and_statistics(tmp_path: Path):
    written = write_partition(tmp_path, REF, _table([1, 2]), workspace_id="acme", report_date=DAY)
    column = pq.ParquetFile(written.path).metadata.row_group(0).column(1)

    assert column.compression == "SNAPPY"
    assert column.statistics.min == 1 and column.statistics.max == 2
