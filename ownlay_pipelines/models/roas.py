"""`marts/roas_daily`: spend against revenue, as the platforms claim it and as our models credit it.

One row per (workspace, local date, platform, campaign): spend, impressions and clicks, the
platform's own conversions and conversion value (its attribution setting, e.g. Meta 7-day click
+ 1-day view), and for each attribution model the orders and the gross and net revenue
`marts/attribution` credits to the campaign. Rows come from the union of both sides, so every
platform in the unified table appears (no platform is listed here), and so do orders credited to
no campaign: `platform` is then the channel — `unattributed`, or a UTM source that is not an ad
platform — with no campaign, and the day's rows add up to every order of the day.

Money (docs/architecture.md "Money"): `spend` and the platform amounts are in `currency` (the ad
account's), `revenue_*` in `revenue_currency` (the shop's; NULL with the amounts when one row mixes
currencies); every `*_reporting` column is the same money converted into the workspace's
`reporting_currency` at each day's ECB rate (`models/fx.py`), and every ratio between spend and
revenue divides reporting-currency amounts. Gross revenue is the order total when placed; net
revenue takes off refunds made so far and counts a cancelled order as 0 (credit share × net
total, so it is the same split as gross).

A workspace whose registry entry says `revenue_source: stripe` (subscriptions, no shop) takes its
revenue from its succeeded Stripe charges instead: one row per day under platform `stripe` with
no campaign, the charges counted as orders, gross = charge amount and net = amount less what was
refunded of it so far, the same under every model (nothing attributes a charge to an ad).

Ratios (reference/analytics.md §1.7), NULL when the denominator is zero:
- `platform_roas` = platform conversion value / spend;
- `roas_<model>` / `net_roas_<model>` = gross / net revenue credited by the model / spend;
- `over_attribution_ratio` = platform conversions / orders credited by last click (above 1: the
  platform claims more orders than last click gives it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.connectors.shopify_rows import ORDER_SCHEMA
from ownlay_pipelines.connectors.stripe_rows import CHARGE_SCHEMA
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution import ATTRIBUTION, ATTRIBUTION_SCHEMA, MODELS
from ownlay_pipelines.models.attribution_inputs import SHOPIFY_ORDERS
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS, UNIFIED_SCHEMA
from ownlay_pipelines.models.fx import FACTOR_VIEW, converted, create_fx_views, require_rates
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.schema.campaign_metrics import MONEY

ROAS_DAILY = TableRef.of("marts", "roas_daily")
ORDERS = pa.decimal128(20, 12)
"""Orders credited to a campaign: fractional under multi-touch models."""
ORDERS_SQL = "DECIMAL(20, 12)"
STRIPE_CHARGES = TableRef.of("raw", "stripe", "charges")
REVENUE_FROM_SHOPIFY = "shopify"
REVENUE_FROM_STRIPE = "stripe"
"""The registry's `revenue_source` values (`registry.workspaces.RevenueSource`)."""

ROAS_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("campaign_name", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("revenue_currency", pa.string()),
        pa.field("reporting_currency", pa.string(), nullable=False),
        pa.field("impressions", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("spend", MONEY),
        pa.field("platform_conversions", MONEY, nullable=False),
        pa.field("platform_conversion_value", MONEY),
        pa.field("spend_reporting", MONEY, nullable=False),
        pa.field("platform_conversion_value_reporting", MONEY, nullable=False),
        pa.field("platform_roas", pa.float64()),
        *(
            field
            for model in MODELS
            for field in (
                pa.field(f"orders_{model}", ORDERS, nullable=False),
                pa.field(f"revenue_{model}", MONEY),
                pa.field(f"net_revenue_{model}", MONEY),
                pa.field(f"revenue_{model}_reporting", MONEY, nullable=False),
                pa.field(f"net_revenue_{model}_reporting", MONEY, nullable=False),
                pa.field(f"roas_{model}", pa.float64()),
                pa.field(f"net_roas_{model}", pa.float64()),
            )
        ),
        pa.field("over_attribution_ratio", pa.float64()),
    ]
)
"""Amounts without a suffix are in `currency` (spend side) or `revenue_currency`; `*_reporting`
amounts and every ROAS are in `reporting_currency`."""


def roas_sql(
    workspace_id: str, reporting_currency: str, revenue_source: str = REVENUE_FROM_SHOPIFY
) -> str:
    """The query over the `unified`, `fx_to_reporting` and revenue views (`attribution` and
    `shopify_orders`, or `stripe_charges`), one row per date and campaign."""

    def to_reporting(amount: str) -> str:
        return converted(amount, "x.currency", "fx.factor", reporting_currency)

    revenue = (
        _stripe_revenue_sql(to_reporting)
        if revenue_source == REVENUE_FROM_STRIPE
        else _attributed_revenue_sql(to_reporting)
    )
    per_model = ", ".join(
        f"coalesce(a.orders_{m}, 0) AS orders_{m}, "
        f"{_single_currency(f'a.revenue_{m}', 'a')} AS revenue_{m}, "
        f"{_single_currency(f'a.net_revenue_{m}', 'a')} AS net_revenue_{m}, "
        f"coalesce(a.revenue_{m}_reporting, 0) AS revenue_{m}_reporting, "
        f"coalesce(a.net_revenue_{m}_reporting, 0) AS net_revenue_{m}_reporting, "
        f"{_per_spend(f'a.revenue_{m}_reporting')} AS roas_{m}, "
        f"{_per_spend(f'a.net_revenue_{m}_reporting')} AS net_roas_{m}"
        for m in MODELS
    )
    return f"""
        WITH spent AS (
            SELECT x.report_date, x.platform, x.campaign_id, min(x.account_id) AS account_id,
                   any_value(x.campaign_name) AS campaign_name, min(x.currency) AS currency,
                   count(DISTINCT x.currency) AS currencies,
                   sum(x.impressions) AS impressions, sum(x.clicks) AS clicks,
                   sum(x.spend) AS spend, sum(x.conversions) AS conversions,
                   sum(x.conversion_value) AS conversion_value,
                   sum({to_reporting("x.spend")}) AS spend_reporting,
                   sum({to_reporting("x.conversion_value")}) AS conversion_value_reporting
            FROM unified AS x
            LEFT JOIN {FACTOR_VIEW} AS fx ON fx.day = x.report_date AND fx.currency = x.currency
            GROUP BY x.report_date, x.platform, x.campaign_id
        ),
        {revenue}
        SELECT '{workspace_id}' AS workspace_id,
               coalesce(s.report_date, a.report_date) AS report_date,
               coalesce(s.platform, a.platform) AS platform, s.account_id,
               coalesce(s.campaign_id, a.campaign_id) AS campaign_id, s.campaign_name,
               CASE WHEN s.currencies = 1 THEN s.currency END AS currency,
               CASE WHEN a.currencies = 1 THEN a.currency END AS revenue_currency,
               '{reporting_currency}' AS reporting_currency,
               coalesce(s.impressions, 0) AS impressions, coalesce(s.clicks, 0) AS clicks,
               {_single_currency("s.spend", "s")} AS spend,
               coalesce(s.conversions, 0) AS platform_conversions,
               {_single_currency("s.conversion_value", "s")} AS platform_conversion_value,
               coalesce(s.spend_reporting, 0) AS spend_reporting,
               coalesce(s.conversion_value_reporting, 0) AS platform_conversion_value_reporting,
               {_per_spend("s.conversion_value_reporting")} AS platform_roas,
               {per_model},
               CAST(s.conversions AS DOUBLE) / NULLIF(CAST(a.orders_last_click AS DOUBLE), 0)
                   AS over_attribution_ratio
        FROM spent s FULL OUTER JOIN attributed a
          ON a.report_date = s.report_date AND a.platform = s.platform
         AND a.campaign_id = s.campaign_id
        ORDER BY report_date, platform, campaign_id NULLS LAST
    """


def _attributed_revenue_sql(to_reporting: Callable[[str], str]) -> str:
    """CTEs ending in `attributed`: per day, platform (or channel) and campaign, the orders and
    gross and net revenue each attribution model credits, original and in reporting currency."""
    credited = ", ".join(
        f"sum(credit) FILTER (WHERE model = '{m}') AS orders_{m}, "
        f"sum(revenue_credit) FILTER (WHERE model = '{m}') AS revenue_{m}, "
        f"sum(net_revenue_credit) FILTER (WHERE model = '{m}') AS net_revenue_{m}, "
        f"sum({to_reporting('revenue_credit')}) FILTER (WHERE model = '{m}') "
        f"AS revenue_{m}_reporting, "
        f"sum({to_reporting('net_revenue_credit')}) FILTER (WHERE model = '{m}') "
        f"AS net_revenue_{m}_reporting"
        for m in MODELS
    )
    return f"""
        credits AS ({NET_CREDITS_SQL}),
        attributed AS (
            SELECT x.report_date, coalesce(x.platform, x.channel) AS platform, x.campaign_id,
                   min(x.currency) AS currency, count(DISTINCT x.currency) AS currencies,
                   {credited}
            FROM credits AS x
            LEFT JOIN {FACTOR_VIEW} AS fx ON fx.day = x.report_date AND fx.currency = x.currency
            GROUP BY x.report_date, coalesce(x.platform, x.channel), x.campaign_id
        )
"""


def _stripe_revenue_sql(to_reporting: Callable[[str], str]) -> str:
    """CTE `attributed` for a workspace whose revenue is its Stripe charges: per day, the
    succeeded charges under platform `stripe` (no campaign; nothing attributes a charge to an
    ad), the same for every model. Gross is the charge amount, net takes off what was refunded
    of it so far (`amount_refunded`, kept current by the sync, the webhooks and the events
    catch-up)."""
    net = "(x.amount - x.amount_refunded)"
    credited = ", ".join(
        f"CAST(count(*) AS {ORDERS_SQL}) AS orders_{m}, sum(x.amount) AS revenue_{m}, "
        f"sum({net}) AS net_revenue_{m}, "
        f"sum({to_reporting('x.amount')}) AS revenue_{m}_reporting, "
        f"sum({to_reporting(net)}) AS net_revenue_{m}_reporting"
        for m in MODELS
    )
    return f"""
        attributed AS (
            SELECT x.report_date, '{REVENUE_FROM_STRIPE}' AS platform,
                   CAST(NULL AS VARCHAR) AS campaign_id,
                   min(x.currency) AS currency, count(DISTINCT x.currency) AS currencies,
                   {credited}
            FROM stripe_charges AS x
            LEFT JOIN {FACTOR_VIEW} AS fx ON fx.day = x.report_date AND fx.currency = x.currency
            WHERE x.status = 'succeeded'
            GROUP BY x.report_date
        )
    """


NET_CREDITS_SQL = """
    SELECT a.*,
           CASE WHEN o.order_id IS NULL THEN a.revenue_credit
                WHEN o.cancelled_at IS NOT NULL THEN CAST(0 AS DECIMAL(20, 6))
                ELSE CAST(round(a.credit * greatest(o.total_price - o.total_refunded, 0), 6)
                          AS DECIMAL(20, 6))
           END AS net_revenue_credit
    FROM attribution AS a
    LEFT JOIN shopify_orders AS o
      ON a.conversion_source = 'shopify_order' AND o.order_id = a.conversion_id
"""
"""Attribution rows with the net revenue each credit stands for: the order's total less its
refunds so far, 0 once cancelled; a purchase event with no Shopify order stays gross."""


def _single_currency(amount: str, side: str) -> str:
    """An original-currency sum, NULL when the rows behind it mixed currencies; 0 when absent."""
    return f"CASE WHEN coalesce({side}.currencies, 1) = 1 THEN coalesce({amount}, 0) END"


def _per_spend(amount: str) -> str:
    return f"CAST(coalesce({amount}, 0) AS DOUBLE) / NULLIF(CAST(s.spend_reporting AS DOUBLE), 0)"


def write_roas_daily(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    reporting_currency: str,
    days: Sequence[date],
    revenue_source: str = REVENUE_FROM_SHOPIFY,
) -> pa.Table:
    """Rebuild the workspace's ROAS rows for `days` from the unified table, the revenue (the
    attribution and the Shopify orders' refunds and cancellations, or the Stripe charges) and
    the FX rates."""
    unified = partition_files(lake_root, UNIFIED_CAMPAIGN_METRICS, workspace_id, days)
    create_view(connection, "unified", unified, UNIFIED_SCHEMA)
    if revenue_source == REVENUE_FROM_STRIPE:
        charges = partition_files(lake_root, STRIPE_CHARGES, workspace_id, days)
        create_view(connection, "stripe_charges", charges, CHARGE_SCHEMA)
        revenue_relation = "stripe_charges"
    else:
        attribution = partition_files(lake_root, ATTRIBUTION, workspace_id, days)
        create_view(connection, "attribution", attribution, ATTRIBUTION_SCHEMA)
        orders = partition_files(lake_root, SHOPIFY_ORDERS, workspace_id, days)
        create_view(connection, "shopify_orders", orders, ORDER_SCHEMA)
        revenue_relation = "attribution"
    create_fx_views(connection, lake_root, reporting_currency, min(days), max(days))
    for relation in ("unified", revenue_relation):
        require_rates(
            connection,
            relation,
            day="report_date",
            currency="currency",
            reporting_currency=reporting_currency,
        )
    table = connection.sql(
        roas_sql(workspace_id, reporting_currency, revenue_source)
    ).to_arrow_table()
    table = table.select(ROAS_SCHEMA.names).cast(ROAS_SCHEMA)
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(lake_root, ROAS_DAILY, rows, workspace_id=workspace_id, report_date=day)
    return table
