"""The two partitionings of the project (ARCHITECTURE.md §3) and how to read a run's keys.

The `date` dimension is the account-local report date. Daily partitions use `end_offset=1` so
today exists and intraday schedules can refresh it without 15-minute partitions.
"""

from collections import defaultdict
from datetime import date

import dagster as dg

PARTITIONS_START_DATE = "2025-01-01"
WORKSPACE_DIMENSION = "workspace"
DATE_DIMENSION = "date"

workspace_partitions = dg.DynamicPartitionsDefinition(name=WORKSPACE_DIMENSION)
"""One key per workspace slug, kept in sync with the registry."""

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START_DATE, end_offset=1)

daily_by_workspace = dg.MultiPartitionsDefinition(
    {DATE_DIMENSION: daily_partitions, WORKSPACE_DIMENSION: workspace_partitions}
)
"""Reporting data: keys read "2026-11-21|acme-outdoor" (dimensions sorted by name)."""


def days_by_workspace(partition_keys: list[str]) -> dict[str, list[date]]:
    """Group a run's `date|workspace` keys (one key or a whole range) by workspace."""
    grouped: dict[str, list[date]] = defaultdict(list)
    for key in partition_keys:
        dimensions = daily_by_workspace.get_partition_key_from_str(key).keys_by_dimension
        grouped[dimensions[WORKSPACE_DIMENSION]].append(
            date.fromisoformat(dimensions[DATE_DIMENSION])
        )
    return {workspace: sorted(days) for workspace, days in sorted(grouped.items())}


def multi_key(day: date, workspace_id: str) -> str:
    """The partition key string of one workspace and day."""
    return dg.MultiPartitionKey(
        {DATE_DIMENSION: day.isoformat(), WORKSPACE_DIMENSION: workspace_id}
    )
