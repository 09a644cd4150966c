"""Reading only the lake partitions a mart run needs, as DuckDB views on the run's connection.

File paths are built from validated partition keys (never from user text) and only files that
exist are read; a table with no file yet becomes an empty view with the table's own schema, so
every query runs the same way on a fresh lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir


def partition_files(
    lake_root: Path, ref: TableRef, workspace_id: str, days: Sequence[date] | None
) -> list[str]:
    """The committed files of `ref` for the workspace's `days` (None: its one snapshot file)."""
    dates: Sequence[date | None] = days if days is not None else [None]
    paths = [partition_dir(lake_root, ref, workspace_id, day) / DATA_FILE for day in dates]
    return [str(path) for path in paths if path.exists()]


def create_view(
    connection: duckdb.DuckDBPyConnection, name: str, files: Sequence[str], schema: pa.Schema
) -> None:
    """(Re)define the temporary view `name` over `files`, or as an empty `schema` table."""
    if files:
        connection.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS "
            f"SELECT * FROM read_parquet({list(files)!r}, union_by_name = true)"
        )
        return
    connection.register(f"{name}_empty", schema.empty_table())
    connection.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")
