"""Names of lake tables and where each partition lives on disk.

A table is `[layer, source, table]` (the Dagster asset key); a partition is one workspace, or one
workspace and one report date. Every path segment is validated, so a partition key can never
point outside the lake (reference/perf_reliability.md §4.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ownlay_pipelines.registry.tenant import TENANT_COLUMN, validate_workspace_id

NAME_PART = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DATA_FILE = "data.parquet"
DATE_COLUMN = "report_date"


@dataclass(frozen=True)
class TableRef:
    """A lake table such as raw/meta_ads/insights or unified/campaign_metrics_daily.

    The parts are also the Dagster asset key path: `[layer, source, table]` for raw data,
    `[layer, table]` for models and marts.
    """

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 2 <= len(self.parts) <= 3:
            raise ValueError(f"table {self.parts!r} must have 2 or 3 parts (layer first)")
        for part in self.parts:
            if not NAME_PART.fullmatch(part):
                raise ValueError(
                    f"table name part {part!r} must be lowercase letters, digits and '_' "
                    "starting with a letter"
                )

    @classmethod
    def of(cls, *parts: str) -> TableRef:
        """`TableRef.of("raw", "meta_ads", "insights")`."""
        return cls(tuple(parts))

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """Build from 'layer/source/table' or 'layer/table'."""
        return cls(tuple(text.split("/")))

    @property
    def relation_name(self) -> str:
        """The warehouse view name: raw_meta_ads_insights, unified_campaign_metrics_daily."""
        return "_".join(self.parts)

    def __str__(self) -> str:
        return "/".join(self.parts)


def partition_dir(
    lake_root: Path, ref: TableRef, workspace_id: str, report_date: date | None
) -> Path:
    """Folder of one partition: `<table>/workspace_id=<ws>[/report_date=YYYY-MM-DD]`."""
    validate_workspace_id(workspace_id)
    folder = lake_root.joinpath(*ref.parts, f"{TENANT_COLUMN}={workspace_id}")
    if report_date is not None:
        if not isinstance(report_date, date):
            raise TypeError(f"report_date must be a date, not {type(report_date).__name__}")
        folder = folder / f"{DATE_COLUMN}={report_date.isoformat()}"
    return folder


def table_dir(lake_root: Path, ref: TableRef) -> Path:
    """Folder holding every partition of `ref`."""
    return lake_root.joinpath(*ref.parts)


def table_glob(lake_root: Path, ref: TableRef) -> str:
    """Glob matching every committed partition file (temporary files never match)."""
    return str(table_dir(lake_root, ref) / "**" / "*.parquet")
