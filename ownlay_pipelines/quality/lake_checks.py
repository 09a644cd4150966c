"""Seed 000's data-quality rules on the partitions of one raw table a run wrote.

- row count: every partition the run covered has its file (a sync writes one, empty when the
  platform had no rows), with the rows of each;
- schema: each file has the stream's columns with the stream's types ("schema validation");
- required fields: no NULL in a column the stream declares non-nullable ("required field
  enforcement");
- duplicate keys: no two rows share the stream's primary key ("duplicate detection").

The functions read only the files they are given, so a check costs what the run wrote, not the
whole lake. Column names come from stream specs (code), never from user text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir
from ownlay_pipelines.quality.outcome import MAX_LISTED, CheckOutcome


@dataclass(frozen=True)
class RunPartitions:
    """The files of the partitions a run covered: present ones, and the missing ones' names."""

    files: tuple[str, ...]
    missing: tuple[str, ...]


def run_partitions(
    lake_root: Path, ref: TableRef, partitions: Mapping[str, Sequence[date] | None]
) -> RunPartitions:
    """Partition files of `ref` for each workspace's days (None: a workspace-wide snapshot)."""
    files: list[str] = []
    missing: list[str] = []
    for workspace_id, days in sorted(partitions.items()):
        for day in days if days is not None else [None]:
            path = partition_dir(lake_root, ref, workspace_id, day) / DATA_FILE
            if path.exists():
                files.append(str(path))
            else:
                missing.append(workspace_id if day is None else f"{day}|{workspace_id}")
    return RunPartitions(tuple(files), tuple(missing))


def _source(files: Sequence[str]) -> str:
    return f"read_parquet({list(files)!r}, union_by_name = true)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_count(connection: duckdb.DuckDBPyConnection, partitions: RunPartitions) -> CheckOutcome:
    """Passes when every partition of the run has its file; reports the rows in them."""
    rows = 0
    if partitions.files:
        result = connection.execute(f"SELECT count(*) FROM {_source(partitions.files)}").fetchone()
        rows = int(result[0]) if result else 0
    metadata: dict[str, object] = {
        "partitions": len(partitions.files) + len(partitions.missing),
        "partitions_missing": len(partitions.missing),
        "rows": rows,
    }
    if partitions.missing:
        metadata["missing"] = list(partitions.missing[:MAX_LISTED])
        return CheckOutcome(
            False,
            f"{len(partitions.missing)} partition(s) of the run have no file "
            f"(first: {partitions.missing[0]}); the sync did not write them",
            metadata,
        )
    return CheckOutcome(True, f"{len(partitions.files)} partition(s), {rows} rows", metadata)


def schema_conforms(files: Sequence[str], expected: pa.Schema) -> CheckOutcome:
    """Passes when every file has each expected column with the expected Arrow type."""
    problems: dict[str, list[str]] = {}
    for file in files:
        actual = pq.read_schema(file)
        for wanted in expected:
            index = actual.get_field_index(wanted.name)
            if index < 0:
                problem = f"{wanted.name}: missing"
            elif not actual.field(index).type.equals(wanted.type):
                problem = f"{wanted.name}: {actual.field(index).type} instead of {wanted.type}"
            else:
                continue
            problems.setdefault(problem, []).append(file)
    if problems:
        return CheckOutcome(
            False,
            "schema differs from the stream spec: " + "; ".join(sorted(problems)[:MAX_LISTED]),
            {"problems": {p: len(f) for p, f in sorted(problems.items())}, "files": len(files)},
        )
    return CheckOutcome(
        True, f"{len(files)} file(s) match the spec's schema", {"files": len(files)}
    )


def required_fields(
    connection: duckdb.DuckDBPyConnection, files: Sequence[str], expected: pa.Schema
) -> CheckOutcome:
    """Passes when no column the spec declares non-nullable holds a NULL."""
    required = [f.name for f in expected if not f.nullable]
    if not files or not required:
        return CheckOutcome(True, "nothing to check", {"required_columns": required})
    counts = ", ".join(f"count(*) FILTER (WHERE {_quote(c)} IS NULL)" for c in required)
    row = connection.execute(f"SELECT {counts} FROM {_source(files)}").fetchone() or ()
    nulls = {column: int(n) for column, n in zip(required, row, strict=True) if n}
    metadata: dict[str, object] = {"required_columns": required, "null_counts": nulls}
    if nulls:
        listed = ", ".join(f"{c} ({n})" for c, n in nulls.items())
        return CheckOutcome(False, f"NULL in required column(s): {listed}", metadata)
    return CheckOutcome(True, f"no NULL in {len(required)} required column(s)", metadata)


def duplicate_keys(
    connection: duckdb.DuckDBPyConnection, files: Sequence[str], key: Sequence[str]
) -> CheckOutcome:
    """Passes when no two rows share `key` (the stream's primary key)."""
    metadata: dict[str, object] = {"primary_key": list(key)}
    if not files:
        return CheckOutcome(True, "no files", metadata)
    columns = ", ".join(_quote(c) for c in key)
    duplicates = connection.execute(
        f"SELECT {columns}, count(*) AS copies FROM {_source(files)} "
        f"GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC, {columns} LIMIT {MAX_LISTED}"
    ).fetchall()
    total = connection.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {_source(files)} GROUP BY {columns} "
        "HAVING count(*) > 1)"
    ).fetchone()
    groups = int(total[0]) if total else 0
    metadata["duplicate_keys"] = groups
    if groups:
        metadata["examples"] = [
            {**dict(zip(key, map(str, row[:-1]), strict=True)), "copies": row[-1]}
            for row in duplicates
        ]
        return CheckOutcome(False, f"{groups} primary key value(s) appear more than once", metadata)
    return CheckOutcome(True, "every primary key is unique", metadata)
