"""Each partition of a multi-day model run reports its own row count, not the run's total.

The UI shows `dagster/row_count` per partition; a run over 90 days × a workspace would otherwise
show its whole total on every day.
"""

from collections import Counter

import dagster as dg
import pyarrow as pa

from ownlay_pipelines.defs.partitions import days_by_workspace, multi_key


def report_partition_rows(context: dg.AssetExecutionContext, table: pa.Table) -> None:
    """Attach to each `date|workspace` partition of the run the rows `table` holds for it.

    `table` is what the run wrote, with `workspace_id` and `report_date` columns; a partition
    without rows reports 0.
    """
    rows = Counter(
        zip(
            table.column("workspace_id").to_pylist(),
            table.column("report_date").to_pylist(),
            strict=True,
        )
    )
    for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
        for day in days:
            context.add_asset_metadata(
                {"dagster/row_count": rows[(workspace_id, day)]},
                partition_key=multi_key(day, workspace_id),
            )
