"""Where event days live in the lake: seed 001's layout with Hive-style keys, under `raw/events`.

Seed 001 writes `data/events/project_{id}/{year}/{month}/events_{date}.parquet`; here the folders
are `key=value` so DuckDB reads `project_id`, `year` and `month` as partition columns:
`<lake>/raw/events/project_id=<workspace>/year=YYYY/month=MM/events_YYYY-MM-DD.parquet`. The
`raw/events` prefix makes the event lake one more lake table, so the warehouse catalog finds it
(`raw_events`) and `lake.writer.sweep_leftovers` cleans its crash leftovers.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from ownlay_pipelines.lake.tables import TableRef, table_dir
from ownlay_pipelines.registry.tenant import EVENT_LAKE_TENANT_KEY, validate_workspace_id

EVENTS_TABLE = TableRef.of("raw", "events")
"""The lake table (and Dagster asset key) of first-party events."""
DEFAULT_RAW_EVENT_RETENTION_DAYS = 90
"""Seed 001 keeps raw events 90 days, seed 000's policy table 30 (seeds/README.md, known traps):
90 is the default, and every caller can pass its own."""


def event_day_path(lake_root: Path, workspace_id: str, day: date) -> Path:
    """The one Parquet file holding a workspace's events of one UTC day."""
    validate_workspace_id(workspace_id)
    return (
        table_dir(lake_root, EVENTS_TABLE)
        / f"{EVENT_LAKE_TENANT_KEY}={workspace_id}"
        / f"year={day:%Y}"
        / f"month={day:%m}"
        / f"events_{day.isoformat()}.parquet"
    )


def event_files_glob(lake_root: Path) -> str:
    """Glob matching every committed event-day file (temporary files never match)."""
    return str(table_dir(lake_root, EVENTS_TABLE) / "*" / "*" / "*" / "events_*.parquet")


def delete_expired_event_days(
    lake_root: Path, *, today: date, retention_days: int = DEFAULT_RAW_EVENT_RETENTION_DAYS
) -> list[Path]:
    """Delete event-day files more than `retention_days` before `today`; returns the files deleted.

    One file per day makes retention a file delete (seed 001 "Efficient Cleanup"); emptied month
    and year folders go too. Running it twice deletes nothing more.
    """
    cutoff = today - timedelta(days=retention_days)
    deleted = []
    for path in sorted(table_dir(lake_root, EVENTS_TABLE).glob("*/*/*/events_*.parquet")):
        if date.fromisoformat(path.stem.removeprefix("events_")) < cutoff:
            path.unlink()
            deleted.append(path)
            for folder in (path.parent, path.parent.parent):
                if not any(folder.iterdir()):
                    folder.rmdir()
    return deleted
