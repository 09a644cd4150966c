"""Uploaded costs as a source of `unified/campaign_metrics_daily`.

Each load file of `raw/uploads/costs` already has the shared campaign-day columns plus
`platform`; this module gives the SELECT the unified model unions in, summed to one row per
(platform, account, campaign, currency, day) because a file may split a campaign-day over
several rows (per ad group, per placement). Loads of different files add up: two files are two
sources of spend. Only the workspace's own load files are read, filtered to the days asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ownlay_pipelines.uploads.kinds import UploadKind, upload_table
from ownlay_pipelines.uploads.load import workspace_load_files

UPLOADED_COSTS = upload_table(UploadKind.COSTS)
"""`raw/uploads/costs`, also the Dagster asset key the uploads report materializations for."""


def uploaded_costs_select(lake_root: Path, workspace_id: str, days: Sequence[date]) -> str | None:
    """SQL giving unified-table columns (campaign_status NULL) for `days`, or None without loads."""
    files = [str(path) for path in workspace_load_files(lake_root, UPLOADED_COSTS, workspace_id)]
    if not files or not days:
        return None
    wanted = ", ".join(f"DATE '{day.isoformat()}'" for day in days)
    return f"""
        SELECT platform, workspace_id, account_id, campaign_id,
            any_value(campaign_name ORDER BY source_line) AS campaign_name, report_date,
            any_value(account_timezone) AS account_timezone, currency,
            CAST(sum(impressions) AS BIGINT) AS impressions,
            CAST(sum(clicks) AS BIGINT) AS clicks,
            CAST(sum(spend) AS DECIMAL(20, 6)) AS spend,
            CAST(sum(conversions) AS DECIMAL(20, 6)) AS conversions,
            CAST(sum(conversion_value) AS DECIMAL(20, 6)) AS conversion_value,
            CAST(NULL AS VARCHAR) AS campaign_status
        FROM read_parquet({files!r})
        WHERE report_date IN ({wanted})
        GROUP BY platform, workspace_id, account_id, campaign_id, report_date, currency
    """
