"""Loading helpers for the messy-file tests: a workspace, a lake, and reading what landed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ownlay_pipelines.registry.workspaces import Workspace, parse_registry
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import UploadResult, load_upload

HASH_KEY = b"k" * 32


def workspace(currency: str = "USD", timezone: str = "America/New_York") -> Workspace:
    """A workspace with no connections; uploads need only its id, zone and currency."""
    document = {
        "workspaces": [
            {
                "id": "acme",
                "name": "Acme",
                "tier": "growth",
                "timezone": timezone,
                "currency": currency,
            }
        ]
    }
    return parse_registry(document).workspaces[0]


def upload(
    tmp_path: Path,
    content: bytes | str,
    *,
    name: str = "costs.csv",
    kind: UploadKind = UploadKind.COSTS,
    ws: Workspace | None = None,
    **options: Any,
) -> UploadResult:
    """Write `content` to `name` under tmp_path and load it into tmp_path/lake (one result)."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    results = load_upload(
        path, workspace=ws or workspace(), kind=kind, lake_root=tmp_path / "lake", **options
    )
    assert len(results) == 1
    return results[0]


def rows(
    tmp_path: Path, table: str = "raw/uploads/costs", order: str = "source_line"
) -> list[dict]:
    """Every row of a lake table under tmp_path/lake as dicts, ordered."""
    files = sorted((tmp_path / "lake" / table).glob("**/*.parquet"))
    if not files:
        return []
    # Its own connection: the process-wide default one may hold another test's unfinished result.
    with duckdb.connect() as connection:
        relation = connection.sql(
            f"SELECT * FROM read_parquet({[str(f) for f in files]!r}) ORDER BY {order}"
        )
        names = relation.columns
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
