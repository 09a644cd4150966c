"""Daily compaction: a closed day's part files become at most four files, one row per event id.

For each (workspace, day) folder with parts newer than its last compaction, DuckDB reads every file
of the folder through the readers' deduplication (`lake.event_views`), sorts by (`created_at`,
`event_id`) and writes generation G = the highest flush id (or earlier generation) it read:
`compacted-G-<n>-of-<k>.parquet`, each under a temporary name, fsynced, then renamed. Readers go
through the same deduplication, so while both the new files and the old ones exist they see each
event once, and since the old files are still there they miss none.

The files a complete generation G replaces (parts with flush id ≤ G, generations below G) are
deleted only once G is `grace` old, so a query that listed the old files just before keeps finding
them. A crash leaves an incomplete generation (fewer than k files), which the next run writes
again with the same rows; nothing is deleted on its account. Running twice changes nothing.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ownlay_pipelines.events.layout import (
    COMPACTED_NAME,
    EVENTS_TABLE,
    PART_NAME,
    compacted_name,
    day_files,
    day_folders,
)
from ownlay_pipelines.lake.event_views import deduplicated_events_sql
from ownlay_pipelines.lake.locks import exclusive_lock
from ownlay_pipelines.lake.tables import table_dir
from ownlay_pipelines.lake.writer import TEMP_SUFFIX, fsync_dir, fsync_file

MAX_COMPACTED_FILES = 4
ROWS_PER_COMPACTED_FILE = 25_000_000
"""A day is split into more files (up to four) only past this many rows."""
DEFAULT_GRACE = timedelta(minutes=30)
"""How long replaced files stay for queries that listed them before a compaction finished."""
COMPACTION_MEMORY_LIMIT = "1GB"
ROWS_PER_ROW_GROUP = 262_144
"""Row groups of a compacted file: four for a million-event day, not DuckDB's default nine
(122,880 rows). Every query reads each file's footer first, whose size grows with the row groups:
`count(*)` over 90 days × 1M events took 47 ms with nine and 33.5 ms with four (~30 MB groups,
still several per file for a parallel scan)."""


@dataclass(frozen=True)
class CompactedDay:
    """One day folder a run compacted: the generation written, its files, rows and inputs."""

    workspace_id: str
    day: date
    generation: int
    files: tuple[Path, ...]
    rows: int
    input_files: int


@dataclass(frozen=True)
class CompactionRun:
    """What one run did: days compacted and replaced files deleted (after their grace period)."""

    compacted: tuple[CompactedDay, ...]
    deleted_files: int


def compact_closed_days(
    lake_root: Path, *, today: date, grace: timedelta = DEFAULT_GRACE
) -> CompactionRun:
    """Compact every day before `today` (UTC) that has new parts; delete files replaced `grace` ago.

    Today is never compacted: its parts are still growing.
    """
    compacted = []
    deleted = 0
    # Two compactions of one folder would each delete what the other still counts on.
    with exclusive_lock(table_dir(lake_root, EVENTS_TABLE) / ".compaction.lock"):
        for folder in day_folders(lake_root):
            if folder.day < today:
                result = compact_day(folder.path, folder.workspace_id, folder.day)
                if result is not None:
                    compacted.append(result)
            deleted += delete_replaced_files(folder.path, grace=grace)
    return CompactionRun(tuple(compacted), deleted)


def compact_day(folder: Path, workspace_id: str, day: date) -> CompactedDay | None:
    """Write a new generation for one day folder, or None when nothing arrived since the last one."""
    files = day_files(folder)
    generation = max((_flush_or_generation(path) for path in files), default=0)
    if not files or _complete_generation(folder) == generation:
        return None
    source_rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    count = min(MAX_COMPACTED_FILES, max(1, math.ceil(source_rows / ROWS_PER_COMPACTED_FILE)))
    deduplicated = deduplicated_events_sql([str(path) for path in files], with_day=False)
    written = []
    rows = 0
    with tempfile.TemporaryDirectory(prefix="ownlay-compaction-") as spill, duckdb.connect() as db:
        db.execute(f"SET memory_limit = '{COMPACTION_MEMORY_LIMIT}'")
        db.execute("SET temp_directory = ?", [spill])
        db.execute("SET preserve_insertion_order = true")
        for n in range(count):
            final = folder / compacted_name(generation, n, count)
            temp = folder / f".{final.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
            bucket = f"WHERE hash(event_id) % {count} = {n}" if count > 1 else ""
            try:
                db.execute(
                    f"COPY (SELECT * FROM ({deduplicated}) {bucket} ORDER BY created_at, event_id) "
                    f"TO '{temp}' (FORMAT parquet, COMPRESSION snappy, "
                    f"ROW_GROUP_SIZE {ROWS_PER_ROW_GROUP})"
                )
                fsync_file(temp)
                os.replace(temp, final)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            rows += pq.ParquetFile(final).metadata.num_rows
            written.append(final)
        fsync_dir(folder)
    return CompactedDay(workspace_id, day, generation, tuple(written), rows, len(files))


def delete_replaced_files(folder: Path, *, grace: timedelta) -> int:
    """Delete the files the folder's newest complete generation replaces, once it is `grace` old."""
    generation = _complete_generation(folder)
    if generation is None:
        return 0
    newest = [path for path in day_files(folder) if _generation_of(path) == generation]
    if time.time() - max(path.stat().st_mtime for path in newest) < grace.total_seconds():
        return 0
    replaced = [
        path
        for path in day_files(folder)
        if _flush_or_generation(path) <= generation and path not in newest
    ]
    for path in replaced:
        path.unlink(missing_ok=True)
    if replaced:
        fsync_dir(folder)
    return len(replaced)


def _complete_generation(folder: Path) -> int | None:
    """The highest generation in the folder with all of its k files, or None."""
    found: dict[tuple[int, int], set[int]] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        if match := COMPACTED_NAME.match(path.name):
            generation, n, count = (int(group) for group in match.groups())
            found.setdefault((generation, count), set()).add(n)
    complete = [generation for (generation, count), ns in found.items() if len(ns) == count]
    return max(complete, default=None)


def _generation_of(path: Path) -> int | None:
    match = COMPACTED_NAME.match(path.name)
    return int(match.group(1)) if match else None


def _flush_or_generation(path: Path) -> int:
    """A part's flush id or a compacted file's generation: what it covers up to."""
    if match := PART_NAME.match(path.name):
        return int(match.group(1))
    generation = _generation_of(path)
    if generation is None:
        raise ValueError(f"{path.name} is not an event lake file")
    return generation
