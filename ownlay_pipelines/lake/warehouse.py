"""`warehouse.duckdb`: the catalog of views over the lake that analysts open.

The file holds only views (and a small catalog table), never data. It is rebuilt as a new file
and swapped in with `os.replace` when the set of lake tables changes, so an analyst holding it open
(even read-write, which locks it) never blocks a pipeline run: their handle keeps the old catalog,
and the views read Parquet, so they still see new partitions (ARCHITECTURE.md §2, principle 4).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.lake.event_views import create_event_lake_view
from ownlay_pipelines.lake.tables import NAME_PART, TableRef, table_dir, table_glob

CATALOG_TABLE = "ownlay_catalog"


@dataclass(frozen=True)
class WarehouseBuild:
    """The outcome of a catalog refresh: which views exist and whether the file was replaced."""

    path: Path
    views: tuple[str, ...]
    rebuilt: bool


def discover_tables(lake_root: Path) -> list[TableRef]:
    """Every lake table with at least one committed Parquet file, found by walking the layers.

    A table folder is the deepest run of name-like folders before the `workspace_id=` partitions.
    """
    found: set[TableRef] = set()
    if not lake_root.exists():
        return []
    for data_file in lake_root.rglob("*.parquet"):
        relative = data_file.relative_to(lake_root).parts
        names = []
        for part in relative:
            if not NAME_PART.fullmatch(part):
                break
            names.append(part)
        if 2 <= len(names) <= 3:
            found.add(TableRef(tuple(names)))
    return sorted(found, key=str)


def current_views(warehouse_path: Path) -> tuple[str, ...] | None:
    """Views listed in an existing warehouse file's catalog, or None when there is no usable file."""
    if not warehouse_path.exists():
        return None
    try:
        with duckdb.connect(str(warehouse_path), read_only=True) as connection:
            rows = connection.sql(f"SELECT relation FROM {CATALOG_TABLE} ORDER BY 1").fetchall()
    except duckdb.Error:
        return None
    return tuple(row[0] for row in rows)


def build_warehouse(
    lake_root: Path, warehouse_path: Path, *, descriptions: dict[str, str] | None = None
) -> WarehouseBuild:
    """Make `warehouse_path` hold one view per lake table, replacing the file only on change.

    `descriptions` maps a table ('raw/meta_ads/insights') to one sentence saying what a row is;
    it lands in the catalog table so analysts can read it with SQL.
    """
    tables = discover_tables(lake_root)
    views = tuple(sorted(t.relation_name for t in tables))
    if current_views(warehouse_path) == views:
        return WarehouseBuild(warehouse_path, views, rebuilt=False)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = warehouse_path.with_name(f".{warehouse_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        _write_catalog(scratch, lake_root, tables, descriptions or {})
        os.replace(scratch, warehouse_path)
    finally:
        scratch.unlink(missing_ok=True)
        Path(f"{scratch}.wal").unlink(missing_ok=True)
    return WarehouseBuild(warehouse_path, views, rebuilt=True)


def _write_catalog(
    path: Path, lake_root: Path, tables: list[TableRef], descriptions: dict[str, str]
) -> None:
    built_at = datetime.now(UTC)
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            f"CREATE TABLE {CATALOG_TABLE} (relation VARCHAR PRIMARY KEY, lake_table VARCHAR, "
            "files_glob VARCHAR, description VARCHAR, built_at TIMESTAMPTZ)"
        )
        for ref in tables:
            glob = create_lake_view(connection, lake_root, ref)
            connection.execute(
                f"INSERT INTO {CATALOG_TABLE} VALUES (?, ?, ?, ?, ?)",
                [ref.relation_name, str(ref), glob, descriptions.get(str(ref), ""), built_at],
            )
        connection.execute("CHECKPOINT")


def create_lake_view(connection: duckdb.DuckDBPyConnection, lake_root: Path, ref: TableRef) -> str:
    """Create view `ref.relation_name` over every committed file of `ref`; returns the glob.

    The view name comes from validated TableRef parts and the glob is quoted as a literal, so no
    caller text reaches the SQL. The table must have at least one file.
    """
    if ref == EVENTS_TABLE:
        return create_event_lake_view(connection, lake_root, ref.relation_name)
    glob = table_glob(lake_root.resolve(), ref)
    connection.execute(
        f"CREATE OR REPLACE VIEW {ref.relation_name} AS "
        f"SELECT * FROM read_parquet({_sql_literal(glob)}, union_by_name = true)"
    )
    return glob


def has_files(lake_root: Path, ref: TableRef) -> bool:
    """True when `ref` has at least one committed partition file."""
    return any(table_dir(lake_root, ref).rglob("*.parquet"))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
