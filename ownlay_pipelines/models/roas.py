"""`marts/roas_daily`: spend against revenue, as the platforms claim it and as our models credit it.

One row per (workspace, local date, platform, campaign): spend, impressions and clicks, the
platform's own conversions and conversion value (its attribution setting, e.g. Meta 7-day click
+ 1-day view), and for each attribution model the orders and gross revenue `marts/attribution`
credits to the campaign. Rows come from the union of both sides, so every platform in the unified
table appears (no platform is listed here), and so do orders credited to no campaign: `platform`
is then the channel — `unattributed`, or a UTM source that is not an ad platform — with no
campaign, and the day's rows add up to every order of the day.

Ratios (reference/analytics.md §1.7), NULL when the denominator is zero:
- `platform_roas` = platform conversion value / spend;
- `roas_<model>` = revenue credited by the model / spend;
- `over_attribution_ratio` = platform conversions / orders credited by last click (above 1: the
  platform claims more orders than last click gives it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution import ATTRIBUTION, ATTRIBUTION_SCHEMA, MODELS
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS, UNIFIED_SCHEMA
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.schema.campaign_metrics import MONEY

ROAS_DAILY = TableRef.of("marts", "roas_daily")
ORDERS = pa.decimal128(20, 12)
"""Orders credited to a campaign: fractional under multi-touch models."""

ROAS_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("campaign_name", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("spend", MONEY, nullable=False),
        pa.field("platform_conversions", MONEY, nullable=False),
        pa.field("platform_conversion_value", MONEY, nullable=False),
        pa.field("platform_roas", pa.float64()),
        *(
            field
            for model in MODELS
            for field in (
                pa.field(f"orders_{model}", ORDERS, nullable=False),
                pa.field(f"revenue_{model}", MONEY, nullable=False),
                pa.field(f"roas_{model}", pa.float64()),
            )
        ),
        pa.field("over_attribution_ratio", pa.float64()),
    ]
)


def roas_sql(workspace_id: str) -> str:
    """The query over the `unified` and `attribution` views, one row per date and campaign."""
    credited = ", ".join(
        f"sum(credit) FILTER (WHERE model = '{m}') AS orders_{m}, "
        f"sum(revenue_credit) FILTER (WHERE model = '{m}') AS revenue_{m}"
        for m in MODELS
    )
    per_model = ", ".join(
        f"coalesce(a.orders_{m}, 0) AS orders_{m}, coalesce(a.revenue_{m}, 0) AS revenue_{m}, "
        f"CAST(coalesce(a.revenue_{m}, 0) AS DOUBLE) / NULLIF(CAST(s.spend AS DOUBLE), 0) "
        f"AS roas_{m}"
        for m in MODELS
    )
    return f"""
        WITH spent AS (
            SELECT report_date, platform, campaign_id, min(account_id) AS account_id,
                   any_value(campaign_name) AS campaign_name, any_value(currency) AS currency,
                   sum(impressions) AS impressions, sum(clicks) AS clicks, sum(spend) AS spend,
                   sum(conversions) AS conversions, sum(conversion_value) AS conversion_value
            FROM unified GROUP BY ALL
        ),
        attributed AS (
            SELECT report_date, coalesce(platform, channel) AS platform, campaign_id,
                   any_value(currency) AS currency, {credited}
            FROM attribution GROUP BY ALL
        )
        SELECT '{workspace_id}' AS workspace_id,
               coalesce(s.report_date, a.report_date) AS report_date,
               coalesce(s.platform, a.platform) AS platform, s.account_id,
               coalesce(s.campaign_id, a.campaign_id) AS campaign_id, s.campaign_name,
               coalesce(s.currency, a.currency) AS currency,
               coalesce(s.impressions, 0) AS impressions, coalesce(s.clicks, 0) AS clicks,
               coalesce(s.spend, 0) AS spend,
               coalesce(s.conversions, 0) AS platform_conversions,
               coalesce(s.conversion_value, 0) AS platform_conversion_value,
               CAST(s.conversion_value AS DOUBLE) / NULLIF(CAST(s.spend AS DOUBLE), 0)
                   AS platform_roas,
               {per_model},
               CAST(s.conversions AS DOUBLE) / NULLIF(CAST(a.orders_last_click AS DOUBLE), 0)
                   AS over_attribution_ratio
        FROM spent s FULL OUTER JOIN attributed a
          ON a.report_date = s.report_date AND a.platform = s.platform
         AND a.campaign_id = s.campaign_id
        ORDER BY report_date, platform, campaign_id NULLS LAST
    """


def write_roas_daily(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    days: Sequence[date],
) -> pa.Table:
    """Rebuild the workspace's ROAS rows for `days` from the unified table and the attribution."""
    unified = partition_files(lake_root, UNIFIED_CAMPAIGN_METRICS, workspace_id, days)
    create_view(connection, "unified", unified, UNIFIED_SCHEMA)
    attribution = partition_files(lake_root, ATTRIBUTION, workspace_id, days)
    create_view(connection, "attribution", attribution, ATTRIBUTION_SCHEMA)
    table = connection.sql(roas_sql(workspace_id)).to_arrow_table()
    table = table.select(ROAS_SCHEMA.names).cast(ROAS_SCHEMA)
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(lake_root, ROAS_DAILY, rows, workspace_id=workspace_id, report_date=day)
    return table
