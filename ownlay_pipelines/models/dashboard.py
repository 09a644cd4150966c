"""`marts/dashboard_metrics`: seed 003's dashboard cache as a table, one row per period.

One row per (workspace, as-of date, period) for the periods `today`, `7_days`, `30_days` and
`90_days` ending on the as-of date (local dates, inclusive): spend, impressions, clicks, the
platforms' claimed conversions and value, the shop's orders and gross and net revenue, and the
ratios below. Every amount is in the workspace's `reporting_currency`, summed from the
`*_reporting` columns of `marts/roas_daily` (each converted at its own day's rate there); beside
them, `spend_by_currency` and `revenue_by_currency` keep the original amounts per currency (e.g.
{USD: 1234.5}), never added across currencies. The latest as-of date is the dashboard; earlier ones keep its history. Every ratio divides
sums over the whole period (never an average of daily ratios) and is NULL on a zero denominator.

- `blended_roas` = revenue / spend — what Polar calls "Blended ROAS (MER)";
- `blended_roas_net` = net revenue / spend (refunds made so far taken off, cancelled orders 0);
- `mer_percent` = spend / revenue × 100 — Triple Whale's MER (share of sales spent on ads);
  vendors disagree on "MER", so both are shown under unambiguous names (analytics.md §1.7);
- `paid_roas_last_click` = revenue last click credits to ad platforms / spend;
- `platform_roas` = platform-reported conversion value / spend;
- `over_attribution_ratio` = platform-reported conversions / orders (> 1: double counting);
- `ctr_percent`, `cpc`, `aov` (revenue / orders), `cpa` (spend / orders).

`revenue` is gross (order totals incl. shipping and tax, before refunds), like the platforms'
conversion value, so the ratios compare like with like; `net_revenue` beside it is what the shop
keeps, by order date (a refund lowers the day the order was placed).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.channels import CLICK_ID_PLATFORMS, UTM_SOURCE_PLATFORMS
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.models.roas import ORDERS, ROAS_DAILY, ROAS_SCHEMA
from ownlay_pipelines.schema.campaign_metrics import MONEY

DASHBOARD_METRICS = TableRef.of("marts", "dashboard_metrics")
PERIODS = (("today", 1), ("7_days", 7), ("30_days", 30), ("90_days", 90))
"""Seed 003's periods and their length in days, ending on the as-of date."""
LONGEST_PERIOD_DAYS = max(days for _, days in PERIODS)
AD_PLATFORMS = sorted(
    {p.value for _, p in CLICK_ID_PLATFORMS} | {p.value for p in UTM_SOURCE_PLATFORMS.values()}
)

DASHBOARD_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("period", pa.string(), nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
        pa.field("reporting_currency", pa.string(), nullable=False),
        pa.field("spend", MONEY, nullable=False),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("platform_conversions", MONEY, nullable=False),
        pa.field("platform_conversion_value", MONEY, nullable=False),
        pa.field("orders", ORDERS, nullable=False),
        pa.field("revenue", MONEY, nullable=False),
        pa.field("net_revenue", MONEY, nullable=False),
        pa.field("paid_revenue_last_click", MONEY, nullable=False),
        pa.field("blended_roas", pa.float64()),
        pa.field("blended_roas_net", pa.float64()),
        pa.field("mer_percent", pa.float64()),
        pa.field("paid_roas_last_click", pa.float64()),
        pa.field("platform_roas", pa.float64()),
        pa.field("over_attribution_ratio", pa.float64()),
        pa.field("ctr_percent", pa.float64()),
        pa.field("cpc", pa.float64()),
        pa.field("aov", pa.float64()),
        pa.field("cpa", pa.float64()),
        pa.field("spend_by_currency", pa.map_(pa.string(), MONEY), nullable=False),
        pa.field("revenue_by_currency", pa.map_(pa.string(), MONEY), nullable=False),
    ]
)
"""`report_date` is the as-of date; a period covers [period_start, report_date]; every amount is
in `reporting_currency`, except `spend_by_currency` / `revenue_by_currency`: the same spend and
gross (last-click) revenue in their original currencies, before conversion."""


def dashboard_sql(workspace_id: str, reporting_currency: str, as_of: date) -> str:
    """The query over the `roas` view: one row per period ending on `as_of`."""
    periods = ", ".join(
        f"('{name}', DATE '{(as_of - timedelta(days=length - 1)).isoformat()}')"
        for name, length in PERIODS
    )
    paid = ", ".join(f"'{p}'" for p in AD_PLATFORMS)
    return f"""
        WITH periods AS (SELECT * FROM (VALUES {periods}) p(period, period_start)),
        {_by_currency("spend_by_currency", "currency", "spend", as_of)},
        {_by_currency("revenue_by_currency", "revenue_currency", "revenue_last_click", as_of)},
        totals AS (
            SELECT p.period, p.period_start, '{reporting_currency}' AS reporting_currency,
                   coalesce(sum(r.spend_reporting), 0) AS spend,
                   coalesce(sum(r.impressions), 0) AS impressions,
                   coalesce(sum(r.clicks), 0) AS clicks,
                   coalesce(sum(r.platform_conversions), 0) AS platform_conversions,
                   coalesce(sum(r.platform_conversion_value_reporting), 0)
                       AS platform_conversion_value,
                   coalesce(sum(r.orders_last_click), 0) AS orders,
                   coalesce(sum(r.revenue_last_click_reporting), 0) AS revenue,
                   coalesce(sum(r.net_revenue_last_click_reporting), 0) AS net_revenue,
                   coalesce(sum(r.revenue_last_click_reporting)
                       FILTER (WHERE r.platform IN ({paid})), 0) AS paid_revenue_last_click
            FROM periods p
            LEFT JOIN roas r ON r.report_date BETWEEN p.period_start AND DATE '{as_of}'
            GROUP BY ALL
        )
        SELECT '{workspace_id}' AS workspace_id, DATE '{as_of}' AS report_date, totals.*,
               coalesce(s.amounts, MAP {{}}) AS spend_by_currency,
               coalesce(v.amounts, MAP {{}}) AS revenue_by_currency,
               {_ratio("revenue", "spend")} AS blended_roas,
               {_ratio("net_revenue", "spend")} AS blended_roas_net,
               {_ratio("spend", "revenue")} * 100 AS mer_percent,
               {_ratio("paid_revenue_last_click", "spend")} AS paid_roas_last_click,
               {_ratio("platform_conversion_value", "spend")} AS platform_roas,
               {_ratio("platform_conversions", "orders")} AS over_attribution_ratio,
               {_ratio("clicks", "impressions")} * 100 AS ctr_percent,
               {_ratio("spend", "clicks")} AS cpc,
               {_ratio("revenue", "orders")} AS aov,
               {_ratio("spend", "orders")} AS cpa
        FROM totals
        LEFT JOIN spend_by_currency s USING (period)
        LEFT JOIN revenue_by_currency v USING (period)
        ORDER BY period_start DESC
    """


def _by_currency(name: str, currency: str, amount: str, as_of: date) -> str:
    """CTE `name`: per period, a map from each original currency to the summed `amount`."""
    return f"""{name} AS (
            SELECT period, map_from_entries(list((c, total) ORDER BY c)) AS amounts
            FROM (
                SELECT p.period, r.{currency} AS c, sum(r.{amount}) AS total
                FROM periods p
                JOIN roas r ON r.report_date BETWEEN p.period_start AND DATE '{as_of}'
                WHERE r.{currency} IS NOT NULL AND r.{amount} <> 0
                GROUP BY ALL
            ) GROUP BY period
        )"""


def _ratio(numerator: str, denominator: str) -> str:
    return f"CAST({numerator} AS DOUBLE) / NULLIF(CAST({denominator} AS DOUBLE), 0)"


def write_dashboard_metrics(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    reporting_currency: str,
    as_of: date,
) -> pa.Table:
    """Rebuild the workspace's dashboard rows as of local date `as_of` from `marts/roas_daily`."""
    days = [as_of - timedelta(days=n) for n in range(LONGEST_PERIOD_DAYS)]
    create_view(
        connection, "roas", partition_files(lake_root, ROAS_DAILY, workspace_id, days), ROAS_SCHEMA
    )
    table = connection.sql(dashboard_sql(workspace_id, reporting_currency, as_of)).to_arrow_table()
    table = table.select(DASHBOARD_SCHEMA.names).cast(DASHBOARD_SCHEMA)
    write_partition(
        lake_root, DASHBOARD_METRICS, table, workspace_id=workspace_id, report_date=as_of
    )
    return table
