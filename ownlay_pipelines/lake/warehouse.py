"""`warehouse.duckdb`: the catalog of views over the lake that analysts open.

The file holds only views (and a small catalog table), never data. It is rebuilt as a new file
and swapped in with `os.replace` when the set of lake tables changes. Readers holding it read-only
keep their handle on the old catalog, whose views read Parquet, so they still see new partitions
(ARCHITECTURE.md §2, principle 4).

A process holding the file read-write is different: DuckDB names its write-ahead log after the
path (`warehouse.duckdb.wal`), so a swap under it would leave that log beside the new file and
every new reader would fail with "WAL does not match database file". The refresh therefore holds
a read-only (shared) lock on the old file across the swap — which DuckDB refuses while a writer
holds it — and, when refused, fails with `WarehouseBusyError` naming the writer's process.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.lake.event_views import create_event_lake_view
from ownlay_pipelines.lake.tables import NAME_PART, TableRef, table_dir, table_glob

CATALOG_TABLE = "ownlay_catalog"
_SAME_PROCESS = "same database file with a different configuration"
"""DuckDB's refusal when this very process already holds the file read-write."""
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseBusyError(RuntimeError):
    """Another process holds the warehouse file read-write, so it cannot be replaced safely."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"warehouse {path} is held read-write by {holder}; not replacing it, because its "
            f"write-ahead log would break every new reader ('WAL does not match database file'). "
            "Close that connection (or open the warehouse read-only) and refresh again."
        )
        self.path = path
        self.holder = holder


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


def current_catalog(warehouse_path: Path) -> dict[str, str] | None:
    """Each view's description in an existing warehouse file, or None when there is no usable
    file (missing, unreadable, or locked by a writer)."""
    if not warehouse_path.exists():
        return None
    try:
        with duckdb.connect(str(warehouse_path), read_only=True) as connection:
            rows = connection.sql(f"SELECT relation, description FROM {CATALOG_TABLE}").fetchall()
    except duckdb.Error:
        return None
    return dict(rows)


def build_warehouse(
    lake_root: Path, warehouse_path: Path, *, descriptions: dict[str, str] | None = None
) -> WarehouseBuild:
    """Make `warehouse_path` hold one view per lake table, replacing the file only when the views
    or their descriptions change.

    `descriptions` maps a table ('raw/meta_ads/insights') to one sentence saying what a row is;
    it lands in the catalog table so analysts can read it with SQL.
    """
    tables = discover_tables(lake_root)
    descriptions = descriptions or {}
    views = tuple(sorted(t.relation_name for t in tables))
    wanted = {t.relation_name: descriptions.get(str(t), "") for t in tables}
    if current_catalog(warehouse_path) == wanted:
        return WarehouseBuild(warehouse_path, views, rebuilt=False)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = warehouse_path.with_name(f".{warehouse_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        _write_catalog(scratch, lake_root, tables, descriptions)
        with _no_writer(warehouse_path):
            os.replace(scratch, warehouse_path)
    finally:
        scratch.unlink(missing_ok=True)
        Path(f"{scratch}.wal").unlink(missing_ok=True)
    return WarehouseBuild(warehouse_path, views, rebuilt=True)


@contextmanager
def _no_writer(path: Path) -> Iterator[None]:
    """Hold a shared lock on the current file while the caller replaces it.

    Raises `WarehouseBusyError` when another process holds it read-write. While the shared lock
    is held no writer can open the old file, so none can appear between the check and the swap.
    A leftover `.wal` with no writer belongs to a crashed writer of the file being replaced and
    would not match the new one, so it goes too.
    """
    if not path.exists():
        yield
        return
    try:
        guard = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        holder = lock_holder(str(error))
        if holder is not None:
            raise WarehouseBusyError(path, holder) from error
        # Not a lock: the file is unreadable anyway (a crash or not DuckDB); replacing repairs it.
        Path(f"{path}.wal").unlink(missing_ok=True)
        yield
        return
    try:
        Path(f"{path}.wal").unlink(missing_ok=True)
        yield
    finally:
        guard.close()


def lock_holder(message: str) -> str | None:
    """'PID 123 (python3 -m ...)' from DuckDB's lock-conflict message, or None if it is not one."""
    if _SAME_PROCESS in message:
        return f"PID {os.getpid()} (this process)"
    match = _LOCK_HOLDER.search(message)
    if match is None:
        return None
    pid = int(match["pid"])
    return f"PID {pid} ({_command_line(pid) or match['program']})"


def _command_line(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200] or None


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
