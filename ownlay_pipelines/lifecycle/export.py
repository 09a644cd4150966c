"""Copy one lake partition (table, workspace, day) to a customer warehouse, incrementally.

A partition is copied only when its file changed since the last copy to that destination (its
SHA-256 is kept in the ops store's `warehouse_exports`), and a copy replaces the day's rows in
the warehouse (`replace_day` of the BigQuery or Snowflake target), so a rerun never duplicates.
The warehouse table is named like the warehouse view: `marts_roas_daily`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir
from ownlay_pipelines.lifecycle.ops_tables import create_lifecycle_tables, warehouse_exports


class WarehouseTarget(Protocol):
    """A destination that can replace one (workspace, day) of a table."""

    def replace_day(self, name: str, workspace_id: str, day: date, rows: pa.Table) -> int: ...


@dataclass(frozen=True)
class ExportOutcome:
    """What happened to one partition: copied (rows), unchanged since last copy, or absent."""

    status: str
    rows: int


def export_partition(
    lake_root: Path,
    ref: TableRef,
    workspace_id: str,
    day: date,
    *,
    destination: str,
    target: WarehouseTarget,
    state: sa.Engine,
    now: datetime,
    force: bool = False,
) -> ExportOutcome:
    """Copy the partition to `target` unless the destination already holds this very file."""
    path = partition_dir(lake_root, ref, workspace_id, day) / DATA_FILE
    if not path.exists():
        return ExportOutcome("absent", 0)
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()
    key = {
        "destination": destination,
        "table_name": str(ref),
        "workspace_id": workspace_id,
        "report_date": day,
    }
    create_lifecycle_tables(state)
    with state.connect() as connection:
        previous = connection.scalar(
            sa.select(warehouse_exports.c.fingerprint).where(
                *(warehouse_exports.c[name] == value for name, value in key.items())
            )
        )
    if previous == fingerprint and not force:
        return ExportOutcome("unchanged", 0)
    rows = pq.read_table(path)
    copied = target.replace_day(ref.relation_name, workspace_id, day, rows)
    with state.begin() as connection:
        connection.execute(
            warehouse_exports.delete().where(
                *(warehouse_exports.c[name] == value for name, value in key.items())
            )
        )
        connection.execute(
            warehouse_exports.insert().values(
                **key, fingerprint=fingerprint, rows=copied, exported_at=now
            )
        )
    return ExportOutcome("copied", copied)
