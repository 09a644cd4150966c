"""`marts/channel_claims_daily`: who claims a day's conversions — each ad platform, GA4, and our own
first-party attribution — side by side per channel (the over-attribution view).

One row per (workspace, local date, channel). `channel` is an ad platform (`meta_ads`, …) when
any side names it, GA4's `(other)` row when GA4 folded rows past its cardinality limit, else
`non_paid` (organic, direct, e-mail … in GA4) or the channel the attribution mart gives orders no
campaign was credited with (`unattributed`, a non-ad UTM source). GA4 sessions map onto ad
platforms by their session source with `models/channels.py`'s UTM source table.

- platform side: the conversions and conversion value each platform reports for the day
  (`unified/campaign_metrics_daily`, its own attribution window);
- GA4 side: sessions, key events and revenue GA4 credits to the channel's sessions
  (`raw/ga4/traffic_daily`), with `ga4_other_row` / `ga4_sampled` flags carried through;
- first-party side: orders and revenue last-click attribution credits (`marts/attribution`).

Ratios, NULL when the denominator is zero: `platform_vs_ga4` = platform conversions / GA4 key
events; `platform_vs_first_party` = platform conversions / last-click orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ownlay_pipelines.connectors.ga4 import TRAFFIC
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution import ATTRIBUTION, ATTRIBUTION_SCHEMA
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS, UNIFIED_SCHEMA
from ownlay_pipelines.models.channels import UTM_SOURCE_PLATFORMS
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.schema.campaign_metrics import MONEY

CHANNEL_CLAIMS = TableRef.of("marts", "channel_claims_daily")
ORDERS = pa.decimal128(20, 12)

CHANNEL_CLAIMS_SCHEMA = pa.schema(
    [
        pa.field("workspace_id", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("platform_conversions", MONEY, nullable=False),
        pa.field("platform_conversion_value", MONEY, nullable=False),
        pa.field("ga4_sessions", pa.int64(), nullable=False),
        pa.field("ga4_key_events", MONEY, nullable=False),
        pa.field("ga4_revenue", MONEY, nullable=False),
        pa.field("ga4_other_row", pa.bool_(), nullable=False),
        pa.field("ga4_sampled", pa.bool_(), nullable=False),
        pa.field("first_party_orders_last_click", ORDERS, nullable=False),
        pa.field("first_party_revenue_last_click", MONEY, nullable=False),
        pa.field("platform_vs_ga4", pa.float64()),
        pa.field("platform_vs_first_party", pa.float64()),
    ]
)


def channel_claims_sql(workspace_id: str) -> str:
    """The query over the `unified`, `ga4` and `attribution` views."""
    sources = " ".join(
        f"WHEN '{source}' THEN '{platform.value}'"
        for source, platform in UTM_SOURCE_PLATFORMS.items()
    )
    return f"""
        WITH claimed AS (
            SELECT report_date, platform AS channel, any_value(currency) AS currency,
                   sum(conversions) AS conversions, sum(conversion_value) AS conversion_value
            FROM unified GROUP BY ALL
        ),
        analytics AS (
            SELECT report_date,
                   CASE WHEN is_other_row THEN '(other)'
                        ELSE coalesce(CASE lower(trim(session_source)) {sources} END, 'non_paid')
                   END AS channel,
                   any_value(currency) AS currency, sum(sessions) AS sessions,
                   sum(key_events) AS key_events, sum(total_revenue) AS revenue,
                   bool_or(is_other_row) AS other_row, bool_or(sampled) AS sampled
            FROM ga4 GROUP BY ALL
        ),
        first_party AS (
            SELECT report_date, coalesce(platform, channel) AS channel,
                   any_value(currency) AS currency,
                   sum(credit) AS orders, sum(revenue_credit) AS revenue
            FROM attribution WHERE model = 'last_click' GROUP BY ALL
        ),
        keys AS (
            SELECT report_date, channel FROM claimed UNION
            SELECT report_date, channel FROM analytics UNION
            SELECT report_date, channel FROM first_party
        )
        SELECT '{workspace_id}' AS workspace_id, k.report_date, k.channel,
               coalesce(c.currency, g.currency, f.currency) AS currency,
               coalesce(c.conversions, 0) AS platform_conversions,
               coalesce(c.conversion_value, 0) AS platform_conversion_value,
               coalesce(g.sessions, 0) AS ga4_sessions,
               coalesce(g.key_events, 0) AS ga4_key_events,
               coalesce(g.revenue, 0) AS ga4_revenue,
               coalesce(g.other_row, false) AS ga4_other_row,
               coalesce(g.sampled, false) AS ga4_sampled,
               coalesce(f.orders, 0) AS first_party_orders_last_click,
               coalesce(f.revenue, 0) AS first_party_revenue_last_click,
               CAST(c.conversions AS DOUBLE) / NULLIF(CAST(g.key_events AS DOUBLE), 0)
                   AS platform_vs_ga4,
               CAST(c.conversions AS DOUBLE) / NULLIF(CAST(f.orders AS DOUBLE), 0)
                   AS platform_vs_first_party
        FROM keys k
        LEFT JOIN claimed c USING (report_date, channel)
        LEFT JOIN analytics g USING (report_date, channel)
        LEFT JOIN first_party f USING (report_date, channel)
        ORDER BY k.report_date, k.channel
    """


def write_channel_claims(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace_id: str,
    days: Sequence[date],
) -> pa.Table:
    """Rebuild the workspace's channel-claims rows for `days`; each day gets a file."""
    create_view(
        connection,
        "unified",
        partition_files(lake_root, UNIFIED_CAMPAIGN_METRICS, workspace_id, days),
        UNIFIED_SCHEMA,
    )
    create_view(
        connection,
        "ga4",
        partition_files(lake_root, TRAFFIC.ref, workspace_id, days),
        TRAFFIC.schema,
    )
    create_view(
        connection,
        "attribution",
        partition_files(lake_root, ATTRIBUTION, workspace_id, days),
        ATTRIBUTION_SCHEMA,
    )
    table = connection.sql(channel_claims_sql(workspace_id)).to_arrow_table()
    table = table.select(CHANNEL_CLAIMS_SCHEMA.names).cast(CHANNEL_CLAIMS_SCHEMA)
    for day in days:
        rows = table.filter(pc.equal(table["report_date"], pa.scalar(day, pa.date32())))
        write_partition(lake_root, CHANNEL_CLAIMS, rows, workspace_id=workspace_id, report_date=day)
    return table
