"""The two partitionings of the project (ARCHITECTURE.md §3) and how to read a run's keys.

The `date` dimension is the account-local report date. Daily partitions use `end_offset=1` so
today exists and intraday schedules can refresh it without 15-minute partitions.

Dated partitions start at the history start (`orchestration/history.py`): by default the Monday
on or before the first day of a new workspace's initial backfill, so a fresh instance shows only
days the pipeline will fill, and a partitions definition has about 100 days × workspaces keys
(1,000 workspaces: ~100k per asset) instead of every day since 2025. Set `OWNLAY_HISTORY_START`
to pin it (keep older days visible, or backfill further back).
"""

from collections import defaultdict
from datetime import date

import dagster as dg

from ownlay_pipelines.orchestration.history import history_start

WORKSPACE_DIMENSION = "workspace"
DATE_DIMENSION = "date"

HISTORY_START: date = history_start()
"""The first dated partition of this process (read once, when the code location loads)."""
PARTITIONS_START_DATE = HISTORY_START.isoformat()

workspace_partitions = dg.DynamicPartitionsDefinition(name=WORKSPACE_DIMENSION)
"""One key per workspace slug, kept in sync with the registry."""

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, end_offset=1)

daily_by_workspace = dg.MultiPartitionsDefinition(
    {DATE_DIMENSION: daily_partitions, WORKSPACE_DIMENSION: workspace_partitions}
)
"""Reporting data: keys read "2026-11-21|acme-outdoor" (dimensions sorted by name)."""


def split_key(key: str) -> tuple[str, str]:
    """(date, workspace) of a `date|workspace` key, without building a partition key object.

    The date sorts first because the dimension names sort that way ("date" < "workspace").
    """
    day, _, workspace = key.partition("|")
    return day, workspace


def days_by_workspace(partition_keys: list[str]) -> dict[str, list[date]]:
    """Group a run's `date|workspace` keys (one key or a whole range) by workspace."""
    grouped: dict[str, list[date]] = defaultdict(list)
    for key in partition_keys:
        day, workspace = split_key(str(key))
        grouped[workspace].append(date.fromisoformat(day))
    return {workspace: sorted(days) for workspace, days in sorted(grouped.items())}


def multi_key(day: date, workspace_id: str) -> str:
    """The partition key string of one workspace and day."""
    return dg.MultiPartitionKey(
        {DATE_DIMENSION: day.isoformat(), WORKSPACE_DIMENSION: workspace_id}
    )
