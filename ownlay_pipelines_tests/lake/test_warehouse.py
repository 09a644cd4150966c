import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from ownlay_pipelines.defs.assets.model_assets import warehouse_catalog
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.warehouse import WarehouseBusyError, build_warehouse, discover_tables
from ownlay_pipelines.lake.writer import write_partition

INSIGHTS = TableRef.of("raw", "meta_ads", "insights")
UNIFIED = TableRef.of("unified", "campaign_metrics_daily")


def _write(lake: Path, ref: TableRef, day: int, clicks: int) -> None:
    table = pa.table({"report_date": [date(2026, 11, day)], "clicks": [clicks]})
    write_partition(lake, ref, table, workspace_id="acme", report_date=date(2026, 11, day))


def test_discovers_two_and_three_part_tables_and_ignores_temp_files(tmp_path: Path):
    _write(tmp_path, INSIGHTS, 1, 5)
    _write(tmp_path, UNIFIED, 1, 5)
    (tmp_path / "raw/meta_ads/insights/workspace_id=acme/.data.parquet.x.tmp").write_bytes(b"junk")

    assert discover_tables(tmp_path) == [INSIGHTS, UNIFIED]


def test_views_read_every_partition_and_catalog_describes_them(tmp_path: Path):
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    _write(lake, INSIGHTS, 1, 5)
    _write(lake, INSIGHTS, 2, 7)

    build = build_warehouse(
        lake, warehouse, descriptions={"raw/meta_ads/insights": "one row per day"}
    )

    assert build.rebuilt and build.views == ("raw_meta_ads_insights",)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("SELECT sum(clicks) FROM raw_meta_ads_insights").fetchone() == (
            12,
        )
        assert connection.execute("SELECT description FROM ownlay_catalog").fetchone() == (
            "one row per day",
        )


def test_unchanged_table_set_does_not_replace_the_file(built: tuple[Path, Path]):
    lake, warehouse = built
    inode = warehouse.stat().st_ino

    _write(lake, INSIGHTS, 2, 7)
    again = build_warehouse(lake, warehouse)

    assert not again.rebuilt
    assert warehouse.stat().st_ino == inode


HOLDER = textwrap.dedent(
    """
    import os, sys, duckdb
    connection = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    if sys.argv[2] == "rw":
        # An analyst's scratch table: the write goes to warehouse.duckdb.wal.
        connection.execute("CREATE TABLE scratch AS SELECT 1 AS x")
    query = "SELECT sum(clicks) FROM raw_meta_ads_insights"
    print("before", connection.execute(query).fetchone()[0], flush=True)
    if sys.stdin.readline().strip() == "crash":
        os._exit(0)  # no close, no checkpoint: the WAL stays behind
    print("after", connection.execute(query).fetchone()[0], flush=True)
    """
)


def _hold(warehouse: Path, mode: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().split() == ["before", "5"]
    return holder


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """(lake, warehouse): one day of Meta insights (5 clicks) and its built warehouse."""
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    _write(lake, INSIGHTS, 1, 5)
    build_warehouse(lake, warehouse)
    return lake, warehouse


def _count_unified(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as fresh:
        return fresh.execute("SELECT count(*) FROM unified_campaign_metrics_daily").fetchone()[0]


def test_reader_process_holding_the_warehouse_read_only_neither_blocks_nor_is_broken(
    built: tuple[Path, Path],
):
    lake, warehouse = built
    reader = _hold(warehouse, "ro")
    try:
        # A pipeline run while the reader holds the file: new rows, a new table, a new catalog.
        _write(lake, INSIGHTS, 2, 7)
        _write(lake, UNIFIED, 2, 7)
        assert build_warehouse(lake, warehouse).rebuilt
        assert _count_unified(warehouse) == 1
        out, _ = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    # The reader keeps its old catalog, whose view still reads the lake and sees the new day.
    assert out.split() == ["after", "12"]
    assert reader.returncode == 0


def test_refresh_under_a_read_write_holder_fails_naming_it_and_leaves_the_file_readable(
    built: tuple[Path, Path],
):
    lake, warehouse = built
    holder = _hold(warehouse, "rw")
    try:
        _write(lake, INSIGHTS, 2, 7)
        _write(lake, UNIFIED, 2, 7)
        inode = warehouse.stat().st_ino
        with pytest.raises(WarehouseBusyError, match=rf"PID {holder.pid} \(.*python"):
            build_warehouse(lake, warehouse)
        assert warehouse.stat().st_ino == inode
        assert not list(warehouse.parent.glob(".warehouse.duckdb.*"))  # no scratch file left
        out, _ = holder.communicate("go\n", timeout=60)
    finally:
        holder.kill()
    assert out.split() == ["after", "12"]
    # Once the holder is gone the same refresh goes through and new readers see the new view.
    assert build_warehouse(lake, warehouse).rebuilt
    assert _count_unified(warehouse) == 1


def test_refresh_after_a_crashed_writer_drops_its_wal_so_new_readers_work(built: tuple[Path, Path]):
    lake, warehouse = built
    writer = _hold(warehouse, "rw")
    writer.communicate("crash\n", timeout=60)
    assert Path(f"{warehouse}.wal").exists()

    _write(lake, UNIFIED, 2, 7)
    assert build_warehouse(lake, warehouse).rebuilt

    assert not Path(f"{warehouse}.wal").exists()
    assert _count_unified(warehouse) == 1


def test_refresh_refuses_while_this_process_holds_the_file_read_write(built: tuple[Path, Path]):
    lake, warehouse = built
    _write(lake, UNIFIED, 2, 7)
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute("CREATE TABLE scratch AS SELECT 1 AS x")
        with pytest.raises(WarehouseBusyError, match=rf"PID {os.getpid()} \(this process\)"):
            build_warehouse(lake, warehouse)
    assert build_warehouse(lake, warehouse).rebuilt


def test_warehouse_refresh_sweeps_old_crash_leftovers_but_not_fresh_ones(tmp_path: Path):
    lake = LakeResource(data_dir=str(tmp_path))
    _write(lake.lake_root, INSIGHTS, 1, 5)
    folder = lake.lake_root / "raw/meta_ads/insights/workspace_id=acme/report_date=2026-11-01"
    old, fresh = folder / ".data.parquet.old.tmp", folder / ".data.parquet.new.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(old, (0, 0))

    result = dg.materialize([warehouse_catalog], resources={"lake": lake})

    metadata = result.asset_materializations_for_node("warehouse__duckdb__catalog")[0].metadata
    assert metadata["crash_leftovers_swept"].value == 1
    assert not old.exists() and fresh.exists()
