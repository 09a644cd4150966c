"""One person's rows in the Parquet lake: found in every table of the workspace, or removed.

Every committed Parquet file under a `workspace_id=<ws>` folder is checked: event part and
compacted files, raw platform and store tables (Shopify, Stripe, uploads with hashed e-mails),
quarantine tables and marts. One DuckDB scan per set of files with the same identifier columns
reads only those columns (in parallel) and names the files with a match; only those are read
whole and replaced atomically (`lake.writer`) without the person's rows, under the same name, so
readers see the old file or the new one. Rewriting a file without rows keeps its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ownlay_pipelines.lake.writer import write_parquet_atomically
from ownlay_pipelines.lifecycle.subject import RAW_RECORD_COLUMN, DataSubject
from ownlay_pipelines.registry.tenant import TENANT_COLUMN


@dataclass(frozen=True)
class LakeMatch:
    """A lake file holding rows about the person: its table, path and those rows."""

    table: str
    path: Path
    rows: pa.Table
    kept: pa.Table


def workspace_files(lake_root: Path, workspace_id: str) -> list[Path]:
    """Every committed Parquet file of `workspace_id`, in any table of the lake."""
    folders = sorted(lake_root.glob(f"**/{TENANT_COLUMN}={workspace_id}"))
    return sorted(path for folder in folders for path in folder.rglob("*.parquet"))


def find_in_lake(lake_root: Path, subject: DataSubject) -> Iterator[LakeMatch]:
    """Each lake file of the subject's workspace with rows about the subject."""
    for path in _files_with_matches(workspace_files(lake_root, subject.workspace_id), subject):
        match = _match_file(lake_root, path, subject)
        if match is not None:
            yield match


def _files_with_matches(files: list[Path], subject: DataSubject) -> list[Path]:
    """The files some row of which names the subject, found by one DuckDB scan per column set."""
    groups: dict[tuple[tuple[str, ...], bool], list[Path]] = {}
    for path in files:
        names = pq.read_schema(path).names
        equal = tuple(subject.equality_columns(names))
        raw = RAW_RECORD_COLUMN in names
        if equal or raw:
            groups.setdefault((equal, raw), []).append(path)
    found: set[str] = set()
    connection = duckdb.connect()
    try:
        for (equal, raw), paths in groups.items():
            conditions = [f'"{name}" = $value' for name in equal]
            parameters: dict[str, object] = {"files": [str(p) for p in paths]}
            if equal:
                parameters["value"] = subject.equality_value
            for i, needle in enumerate(subject.raw_needles if raw else ()):
                conditions.append(f"contains(lower({RAW_RECORD_COLUMN}), lower($needle{i}))")
                parameters[f"needle{i}"] = needle
            rows = connection.execute(
                "SELECT DISTINCT filename FROM read_parquet($files, filename = true, "
                f"union_by_name = true) WHERE {' OR '.join(conditions)}",
                parameters,
            ).fetchall()
            found.update(name for (name,) in rows)
    finally:
        connection.close()
    return [path for path in files if str(path) in found]


def delete_from_lake(lake_root: Path, subject: DataSubject) -> list[LakeMatch]:
    """Replace every file with rows about the subject by the file without them; returns what
    each held. The caller holds the lake's maintenance locks."""
    matches = list(find_in_lake(lake_root, subject))
    for match in matches:
        write_parquet_atomically(match.path, match.kept)
    return matches


def _match_file(lake_root: Path, path: Path, subject: DataSubject) -> LakeMatch | None:
    names = pq.read_schema(path).names
    equal = subject.equality_columns(names)
    raw = [RAW_RECORD_COLUMN] if RAW_RECORD_COLUMN in names else []
    if not equal and not raw:
        return None
    mask = _mask(pq.read_table(path, columns=equal + raw), subject, equal, raw)
    if not pc.any(mask).as_py():
        return None
    table = pq.read_table(path)
    return LakeMatch(
        table=_table_name(lake_root, path),
        path=path,
        rows=table.filter(mask),
        kept=table.filter(pc.invert(mask)),
    )


def _mask(table: pa.Table, subject: DataSubject, equal: list[str], raw: list[str]) -> pa.Array:
    masks = [pc.equal(table[name], subject.equality_value) for name in equal]
    masks += [
        pc.match_substring(table[name], needle, ignore_case=True)
        for name in raw
        for needle in subject.raw_needles
    ]
    combined = masks[0]
    for mask in masks[1:]:
        combined = pc.or_kleene(combined, mask)
    return pc.fill_null(combined, False)


def _table_name(lake_root: Path, path: Path) -> str:
    parts = path.relative_to(lake_root).parts
    return "/".join(
        part
        for part in parts[
            : next(i for i, part in enumerate(parts) if part.startswith(f"{TENANT_COLUMN}="))
        ]
    )
