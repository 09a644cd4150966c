"""Reading the event lake without double counting: one row per event id, whatever the files.

Until the daily compaction merges a day, the same event can sit in two part files (a repeat sent
after the dedupe window, or a crash between a compaction's write and its clean-up), so every
reader goes through `deduplicated_events_sql`: per (workspace, day, event id) it keeps the row
received first, then the one in the file whose name sorts first (`compacted-` before `part-`,
earlier flushes before later ones) — the same row the compaction keeps, so results do not change
when a day is compacted. The day is part of the key so a filter on `event_date` prunes folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA
from ownlay_pipelines.events.layout import DAY_KEY, day_files, event_day_dir, event_files_glob

_RANK = "__event_rank"


def deduplicated_events_sql(files: str | Sequence[str], *, with_day: bool) -> str:
    """A SELECT of the lake columns (plus `event_date` when `with_day`) of `files`, one row per id.

    `files` is a glob or a list of committed event files; callers build them from validated
    partition keys, never from user text.
    """
    source = (
        _sql_literal(files)
        if isinstance(files, str)
        else f"[{', '.join(map(_sql_literal, files))}]"
    )
    day_key = f"{DAY_KEY}, " if with_day else ""
    extra = f", {DAY_KEY}" if with_day else ""
    columns = ", ".join(EVENT_LAKE_SCHEMA.names)
    return (
        f"SELECT {columns}{extra} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY workspace_id, {day_key}event_id "
        f"ORDER BY received_at, filename) AS {_RANK} "
        f"FROM read_parquet({source}, hive_partitioning = {str(with_day).lower()}, "
        "filename = true, union_by_name = true)"
        f") WHERE {_RANK} = 1"
    )


def create_event_lake_view(
    connection: duckdb.DuckDBPyConnection, lake_root: Path, name: str
) -> str:
    """Create view `name` over the whole event lake, deduplicated, with `event_date`; the glob."""
    glob = event_files_glob(lake_root.resolve())
    connection.execute(
        f"CREATE OR REPLACE VIEW {name} AS {deduplicated_events_sql(glob, with_day=True)}"
    )
    return glob


def create_event_files_view(
    connection: duckdb.DuckDBPyConnection, name: str, files: Sequence[Path]
) -> None:
    """(Re)define temp view `name` over `files` deduplicated, or as an empty lake-schema table."""
    if files:
        sql = deduplicated_events_sql([str(path) for path in files], with_day=False)
        connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        return
    connection.register(f"{name}_empty", EVENT_LAKE_SCHEMA.empty_table())
    connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")


def read_event_day(lake_root: Path, workspace_id: str, day: date) -> pa.Table | None:
    """One workspace's events of one UTC day, one row per id, by (`created_at`, `event_id`);
    None when no flush wrote that day."""
    files = day_files(event_day_dir(lake_root, workspace_id, day))
    if not files:
        return None
    sql = deduplicated_events_sql([str(path) for path in files], with_day=False)
    with duckdb.connect() as connection:
        table = connection.sql(f"{sql} ORDER BY created_at, event_id").to_arrow_table()
    return table.cast(EVENT_LAKE_SCHEMA)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
