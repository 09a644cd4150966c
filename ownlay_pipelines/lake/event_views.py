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
_FOLDERS = "__event_files"
_UNMERGED = "__unmerged_folders"


def deduplicated_events_sql(files: str | Sequence[str], *, with_day: bool) -> str:
    """A SELECT of the lake columns (plus `event_date` when `with_day`) of `files`, one row per id.

    `files` is a glob or a list of committed event files; callers build them from validated
    partition keys, never from user text. With `with_day` (one row per workspace, day and id) a
    day folder that holds exactly one complete compacted generation and nothing else is read as
    is — compaction already deduplicated it — and only the other folders (parts not compacted
    yet, late parts, replaced files in their grace period, a generation a crash left incomplete)
    pay for the window. The file names are the manifest: the split is decided per query from
    the folder listing, so a part that arrives after a compaction is deduplicated at once.
    """
    literal = (
        _sql_literal(files)
        if isinstance(files, str)
        else f"[{', '.join(map(_sql_literal, files))}]"
    )
    columns = ", ".join(EVENT_LAKE_SCHEMA.names)
    # The whole-lake read binds the columns of the first file and matches the others by name: every
    # event file has EVENT_LAKE_SCHEMA's columns (layout.py), and `union_by_name` would read every
    # file's footer while planning each query (half the planning of a one-day query). A file list
    # (one day's files: compaction, attribution inputs) keeps it, so files written before a column
    # was added still read, and compaction rewrites them with the new column.
    options = (
        "hive_partitioning = true"
        if with_day
        else "hive_partitioning = false, union_by_name = true"
    )
    read = f"read_parquet({literal}, {options}, filename = true)"
    if not with_day:
        return f"SELECT {columns} FROM ({_ranked(read, 'workspace_id')}) WHERE {_RANK} = 1"
    listing = (
        f"SELECT file FROM glob({literal})"
        if isinstance(files, str)
        else f"SELECT unnest({literal}::VARCHAR[]) AS file"
    )
    selected = f"{columns}, {DAY_KEY}"
    unmerged = f"folder IN (SELECT folder FROM {_UNMERGED})"
    return (
        f"WITH {_FOLDERS} AS (SELECT file, parse_dirpath(file) AS folder, "
        "parse_filename(file) AS name FROM ("
        f"{listing})), {_UNMERGED} AS (SELECT folder FROM {_FOLDERS} GROUP BY folder HAVING "
        "bool_or(name NOT LIKE 'compacted-%') OR count(DISTINCT name[11:25]) > 1 "
        "OR count(*) <> max(TRY_CAST(name[32] AS INTEGER))) "
        f"SELECT {selected} FROM {read} WHERE filename IN "
        f"(SELECT file FROM {_FOLDERS} WHERE NOT {unmerged}) "
        f"UNION ALL SELECT {selected} FROM ({_ranked(read, f'workspace_id, {DAY_KEY}')} "
        f"WHERE filename IN (SELECT file FROM {_FOLDERS} WHERE {unmerged})) WHERE {_RANK} = 1"
    )


def _ranked(read: str, key: str) -> str:
    """Rows of `read` numbered within (`key`, event id): received first, then first file by name."""
    return (
        f"SELECT *, row_number() OVER (PARTITION BY {key}, event_id "
        f"ORDER BY received_at, filename) AS {_RANK} FROM {read}"
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
