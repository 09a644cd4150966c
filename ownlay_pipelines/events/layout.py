"""Where events live in the lake: one Hive folder per workspace and UTC day, several files in it.

`<lake>/raw/events/workspace_id=<ws>/event_date=YYYY-MM-DD/` holds

- `part-<flush id>.parquet`: what one flush added to that day. A flush only ever adds a file; the
  flush id grows with every flush and is at least the flush's start time in Unix milliseconds,
  so even a new buffer file (or a second one) never reuses an earlier flush's name.
- `compacted-<generation>-<n>-of-<k>.parquet`: up to four files that replace a closed day's parts,
  deduplicated by `event_id` (`events.compaction`). The generation is the highest flush id they
  cover, so a later compaction of the same day (late events) writes a higher generation.

Every file has exactly the columns of `EVENT_LAKE_SCHEMA` (flush writes it, compaction selects
it): the warehouse view reads the whole lake without `union_by_name` (`lake.event_views`). A
column added to the schema therefore comes with compacting every day again (compaction reads a
folder by name, so older files gain the column as NULL) before the view relies on it.

The folders end in the day, so a one-day query prunes by folder name, retention deletes a folder,
and compaction works on one folder. The tenant key is `workspace_id=`, like every other lake table
(seed 001's `project_id=/year=/month=` splits the day across three levels and names the tenant
differently from the file's own column). `raw/events` makes it one more lake table for the
warehouse catalog and `lake.writer.sweep_leftovers`.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ownlay_pipelines.lake.tables import TableRef, table_dir
from ownlay_pipelines.registry.tenant import TENANT_COLUMN, validate_workspace_id

EVENTS_TABLE = TableRef.of("raw", "events")
"""The lake table (and Dagster asset key) of first-party events."""
DAY_KEY = "event_date"
"""The Hive key of the day folder (the UTC day of `created_at`)."""
DEFAULT_RAW_EVENT_RETENTION_DAYS = 90
"""Seed 001 keeps raw events 90 days, seed 000's policy table 30 (seeds/README.md, known traps):
90 is the default, and every caller can pass its own."""
FLUSH_ID_DIGITS = 15
PART_NAME = re.compile(r"^part-(\d{15})\.parquet$")
COMPACTED_NAME = re.compile(r"^compacted-(\d{15})-(\d)-of-(\d)\.parquet$")
"""Groups: generation, file number n, file count k of the generation."""


@dataclass(frozen=True)
class DayFolder:
    """One workspace's folder of one UTC day."""

    workspace_id: str
    day: date
    path: Path


def event_day_dir(lake_root: Path, workspace_id: str, day: date) -> Path:
    """The folder holding every file of a workspace's events of one UTC day."""
    validate_workspace_id(workspace_id)
    return (
        table_dir(lake_root, EVENTS_TABLE)
        / f"{TENANT_COLUMN}={workspace_id}"
        / f"{DAY_KEY}={day.isoformat()}"
    )


def part_path(lake_root: Path, workspace_id: str, day: date, flush_id: int) -> Path:
    """The file flush `flush_id` writes for one workspace and day."""
    return (
        event_day_dir(lake_root, workspace_id, day) / f"part-{flush_id:0{FLUSH_ID_DIGITS}d}.parquet"
    )


def compacted_name(generation: int, n: int, count: int) -> str:
    """The name of file `n` of the `count` files of compaction `generation` of a day."""
    return f"compacted-{generation:0{FLUSH_ID_DIGITS}d}-{n}-of-{count}.parquet"


def event_files_glob(lake_root: Path) -> str:
    """Glob matching every committed event file, parts and compacted (temporary files never match)."""
    return str(table_dir(lake_root, EVENTS_TABLE) / "*" / "*" / "*.parquet")


def day_files(folder: Path) -> list[Path]:
    """The committed Parquet files of one day folder, by name (compacted before parts)."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if PART_NAME.match(path.name) or COMPACTED_NAME.match(path.name)
    )


def event_day_files(lake_root: Path, workspace_id: str, first: date, last: date) -> list[Path]:
    """Every committed event file of the workspace for UTC days [first, last]."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [path for day in days for path in day_files(event_day_dir(lake_root, workspace_id, day))]


def day_folders(lake_root: Path) -> list[DayFolder]:
    """Every (workspace, day) folder of the event lake, ordered by workspace then day."""
    root = table_dir(lake_root, EVENTS_TABLE)
    folders = []
    for path in sorted(root.glob(f"{TENANT_COLUMN}=*/{DAY_KEY}=*")):
        workspace_id = path.parent.name.partition("=")[2]
        folders.append(
            DayFolder(workspace_id, date.fromisoformat(path.name.partition("=")[2]), path)
        )
    return folders


def delete_expired_event_days(
    lake_root: Path, *, today: date, retention_days: int = DEFAULT_RAW_EVENT_RETENTION_DAYS
) -> list[Path]:
    """Delete the day folders more than `retention_days` before `today`; returns the folders.

    One folder per day makes retention a folder delete (seed 001 "Efficient Cleanup"); an emptied
    workspace folder goes too. Running it twice deletes nothing more.
    """
    cutoff = today - timedelta(days=retention_days)
    deleted = []
    for folder in day_folders(lake_root):
        if folder.day < cutoff:
            shutil.rmtree(folder.path)
            deleted.append(folder.path)
            if not any(folder.path.parent.iterdir()):
                folder.path.parent.rmdir()
    return deleted
