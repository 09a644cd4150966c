"""Uploaded costs as a source of `unified/campaign_metrics_daily`.

Each load file of `raw/uploads/costs` already has the shared campaign-day columns plus
`platform`; this module gives the SELECT the unified model unions in, summed to one row per
(platform, account, campaign, currency, day) because a file may split a campaign-day over
several rows (per ad group, per placement). Loads of different files add up: two files are two
sources of spend. Only the workspace's own load files are read, filtered to the days asked for.

**A connector's rows win.** An uploaded platform may be one a connector syncs (a file whose
network column says `Google Ads` is stored under `google_ads`, see `platform_names`). When that
connector has at least one row for the workspace, platform and day, the uploaded rows of that
(platform, day) are left out of the unified table, whatever their account or campaign, so the
same spend is never counted twice; `superseded_uploads_select` says what was left out. On days
the connector has no row (before it was connected, a gap in its sync), the uploaded rows count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ownlay_pipelines.uploads.kinds import UploadKind, upload_table
from ownlay_pipelines.uploads.load import workspace_load_files

UPLOADED_COSTS = upload_table(UploadKind.COSTS)
"""`raw/uploads/costs`, also the Dagster asset key the uploads report materializations for."""


def _uploaded_rows(lake_root: Path, workspace_id: str, days: Sequence[date]) -> str | None:
    """SQL of the workspace's uploaded cost rows of `days`, or None without loads."""
    files = [str(path) for path in workspace_load_files(lake_root, UPLOADED_COSTS, workspace_id)]
    if not files or not days:
        return None
    wanted = ", ".join(f"DATE '{day.isoformat()}'" for day in days)
    return f"SELECT * FROM read_parquet({files!r}) WHERE report_date IN ({wanted})"


def _superseded(connector_days: str | None) -> str:
    """SQL condition: the uploaded row `u` is of a (platform, day) in `connector_days`."""
    if connector_days is None:
        return "false"
    return (
        f"EXISTS (SELECT 1 FROM ({connector_days}) c "
        "WHERE c.platform = u.platform AND c.report_date = u.report_date)"
    )


def uploaded_costs_select(
    lake_root: Path,
    workspace_id: str,
    days: Sequence[date],
    connector_days: str | None = None,
) -> str | None:
    """SQL giving unified-table columns (campaign_status NULL) for `days`, or None without loads.

    `connector_days` is SQL of the (platform, report_date) pairs connectors have rows for; the
    uploaded rows of those pairs are left out (module docstring).
    """
    uploaded = _uploaded_rows(lake_root, workspace_id, days)
    if uploaded is None:
        return None
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
        FROM ({uploaded}) u
        WHERE NOT {_superseded(connector_days)}
        GROUP BY platform, workspace_id, account_id, campaign_id, report_date, currency
    """


def superseded_uploads_select(
    lake_root: Path, workspace_id: str, days: Sequence[date], connector_days: str
) -> str | None:
    """SQL of what the connectors' rows replaced: one row per (platform, report_date, currency)
    with the uploaded `rows` and `spend` left out of the unified table; None without loads."""
    uploaded = _uploaded_rows(lake_root, workspace_id, days)
    if uploaded is None:
        return None
    return f"""
        SELECT platform, report_date, currency, count(*) AS rows,
            CAST(sum(spend) AS DECIMAL(20, 6)) AS spend
        FROM ({uploaded}) u
        WHERE {_superseded(connector_days)}
        GROUP BY ALL ORDER BY platform, report_date, currency
    """
