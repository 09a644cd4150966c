"""The one way anything is written to the lake: one Parquet file per partition, replaced atomically.

The file is written under a temporary name in the partition's own folder, flushed to disk and then
`os.replace`d over `data.parquet`, so a reader sees the old file or the new one and never half of
one. A crash leaves only a `.tmp` file, which no reader's `*.parquet` glob matches and which
`sweep_leftovers` removes later. Writing a partition twice with the same rows gives the same file
contents, so re-materialising is idempotent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir, table_dir

TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class WrittenPartition:
    """One partition file that is now in place: where, how many rows, how many bytes."""

    path: Path
    rows: int
    bytes: int


def write_partition(
    lake_root: Path,
    ref: TableRef,
    table: pa.Table,
    *,
    workspace_id: str,
    report_date: date | None = None,
) -> WrittenPartition:
    """Replace the partition (workspace, optional date) of `ref` with `table`, atomically.

    An empty table is written too: it replaces stale rows and keeps the schema readable.
    """
    folder = partition_dir(lake_root, ref, workspace_id, report_date)
    return write_parquet_atomically(folder / DATA_FILE, table)


def write_parquet_atomically(final_path: Path, table: pa.Table) -> WrittenPartition:
    """Replace the Parquet file at `final_path` with `table`: temp file, fsync, `os.replace`.

    Layouts other than `partition_dir` (the event lake's seed-001 day files) use this directly;
    the caller validates the path.
    """
    written = replace_file_atomically(
        final_path,
        lambda temp_path: pq.write_table(
            table, temp_path, compression="snappy", use_dictionary=True, write_statistics=True
        ),
    )
    return WrittenPartition(path=final_path, rows=table.num_rows, bytes=written.bytes)


def replace_file_atomically(final_path: Path, write: Callable[[Path], None]) -> WrittenPartition:
    """Have `write` fill a temporary file beside `final_path`, then fsync and `os.replace` it.

    For writers that stream (DuckDB's COPY) instead of handing over an Arrow table; `rows` is
    not known here and reported as -1.
    """
    folder = final_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temp_path = folder / f".{final_path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        write(temp_path)
        fsync_file(temp_path)
        os.replace(temp_path, final_path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    return WrittenPartition(path=final_path, rows=-1, bytes=final_path.stat().st_size)


def read_partition(
    lake_root: Path, ref: TableRef, *, workspace_id: str, report_date: date | None = None
) -> pa.Table | None:
    """The committed rows of one partition, or None when it was never written."""
    path = partition_dir(lake_root, ref, workspace_id, report_date) / DATA_FILE
    if not path.exists():
        return None
    return pq.read_table(path)


def sweep_leftovers(lake_root: Path, ref: TableRef, *, older_than_seconds: float = 3600.0) -> int:
    """Delete temporary files a crashed write left behind; returns how many were removed.

    Only files older than `older_than_seconds` go, so a write in progress is never disturbed.
    """
    root = table_dir(lake_root, ref)
    if not root.exists():
        return 0
    cutoff = time.time() - older_than_seconds
    removed = 0
    for leftover in root.rglob(f".*{TEMP_SUFFIX}"):
        if leftover.stat().st_mtime < cutoff:
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def fsync_file(path: Path) -> None:
    """Flush a written file's contents to disk (before it is renamed into place)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk: a rename or delete in it is durable only after this."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
