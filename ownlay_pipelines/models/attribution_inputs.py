"""The two relations attribution reads: `touchpoints` (ad clicks) and `conversions` (orders).

`touchpoints`: one row per first-party `page_view` that arrived from a campaign — it carries a
platform click id, a `utm_campaign` or a campaign id — with the visitor (`anonymous_id`, else
`user_id`), its time in UTC microseconds, the platform (`channels.platform_sql`) and the campaign
its `utm_campaign` names (matched to the platforms' campaign snapshots by id or by name).

`conversions`: one row per order of the days asked for. A workspace with a Shopify connection
converts on Shopify orders (test orders excluded); the `purchase` event carrying the order id
tells which visitor placed it. A workspace without one converts on `purchase` events. Revenue is
the gross order total (Shopify `total_price`, or the event's `revenue`), before later refunds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb

from ownlay_pipelines.connectors.shopify_rows import ORDER_SCHEMA
from ownlay_pipelines.events.layout import event_day_files
from ownlay_pipelines.lake.event_views import create_event_files_view
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.models.channels import (
    UNATTRIBUTED,
    campaign_key_sql,
    has_click_id_sql,
    platform_sql,
)
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.schema.platforms import Platform

SHOPIFY_ORDERS = TableRef.of("raw", "shopify", "orders")
CampaignSources = Sequence[tuple[str, TableRef]]
"""(platform, campaign snapshot table) for every ad platform whose campaigns UTMs can name."""


def create_attribution_inputs(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    *,
    workspace: Workspace,
    days: Sequence[date],
    window_days: int,
    campaign_sources: CampaignSources,
) -> None:
    """Define the `touchpoints` and `conversions` views for the workspace's local `days`.

    Events are read from the UTC days that can hold a touch inside the window before any of the
    days' conversions, and the day after the last (a local day ends up to 14 hours past UTC).
    """
    first = min(days) - timedelta(days=window_days + 1)
    files = event_day_files(lake_root, workspace.id, first, max(days) + timedelta(days=1))
    create_event_files_view(connection, "ownlay_events", files)
    _create_campaigns(connection, lake_root, workspace.id, campaign_sources)
    connection.execute(f"CREATE OR REPLACE TEMP VIEW touchpoints AS {_touchpoints_sql()}")
    connection.execute(f"CREATE OR REPLACE TEMP VIEW purchases AS {_purchases_sql()}")
    if workspace.connections_for(Platform.SHOPIFY):
        orders = partition_files(lake_root, SHOPIFY_ORDERS, workspace.id, days)
        create_view(connection, "shopify_orders", orders, ORDER_SCHEMA)
        conversions = _shopify_conversions_sql()
    else:
        listed = ", ".join(f"DATE '{day.isoformat()}'" for day in days)
        conversions = _purchase_conversions_sql(workspace.timezone, listed)
    connection.execute(f"CREATE OR REPLACE TEMP VIEW conversions AS {conversions}")


def _create_campaigns(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    workspace_id: str,
    campaign_sources: CampaignSources,
) -> None:
    """`campaign_keys`: (platform, campaign_id, key) — a campaign matches by its id or its name."""
    selects = [
        f"SELECT '{platform}' AS platform, campaign_id, campaign_name FROM read_parquet({files!r})"
        for platform, ref in campaign_sources
        if (files := partition_files(lake_root, ref, workspace_id, None))
    ]
    campaigns = " UNION ALL ".join(selects) or (
        "SELECT NULL::VARCHAR AS platform, NULL::VARCHAR AS campaign_id, "
        "NULL::VARCHAR AS campaign_name WHERE false"
    )
    connection.execute(
        "CREATE OR REPLACE TEMP VIEW campaign_keys AS "
        f"SELECT DISTINCT platform, campaign_id, unnest([{campaign_key_sql('campaign_id')}, "
        f"{campaign_key_sql('campaign_name')}]) AS key FROM ({campaigns})"
    )


def _resolved_sql(source: str, key: str) -> str:
    """`source` plus `campaign_id` and `platform`: the campaign its `key` column names, preferring
    the source's own `platform`, then the lowest (platform, campaign id) on a tie."""
    return f"""
        SELECT s.* EXCLUDE (platform), coalesce(s.platform, m.platform) AS platform, m.campaign_id
        FROM {source} s
        LEFT JOIN (
            SELECT s2.row_id, k.platform, k.campaign_id
            FROM {source} s2 JOIN campaign_keys k
              ON k.key = s2.{key} AND (s2.platform IS NULL OR k.platform = s2.platform)
            QUALIFY row_number() OVER (
                PARTITION BY s2.row_id ORDER BY k.platform, k.campaign_id) = 1
        ) m USING (row_id)
    """


def _touchpoints_sql() -> str:
    clicks = f"""
        SELECT event_id AS row_id, event_id, coalesce(anonymous_id, user_id) AS identity,
               epoch_us(created_at) AS touch_us, utm_source,
               {platform_sql("url", "utm_source")} AS platform,
               {campaign_key_sql("coalesce(campaign_id, utm_campaign)")} AS campaign_key
        FROM ownlay_events
        WHERE event_type = 'page_view' AND coalesce(anonymous_id, user_id) IS NOT NULL
          AND (utm_campaign IS NOT NULL OR campaign_id IS NOT NULL
               OR {has_click_id_sql("coalesce(url, '')")})
    """
    return f"""
        WITH clicks AS ({clicks})
        SELECT event_id, identity, touch_us, platform, campaign_id,
               coalesce(platform, nullif(lower(trim(utm_source)), ''), 'other') AS channel
        FROM ({_resolved_sql("clicks", "campaign_key")})
    """


def _purchases_sql() -> str:
    """One row per purchase event (the first per order id), with its visitor and revenue."""
    return """
        SELECT event_id, json_extract_string(properties, '$.order_id') AS order_id,
               coalesce(anonymous_id, user_id) AS identity, created_at,
               coalesce(TRY_CAST(json_extract_string(properties, '$.revenue') AS DECIMAL(20, 6)),
                        0) AS revenue,
               upper(json_extract_string(properties, '$.currency')) AS currency
        FROM ownlay_events
        WHERE event_type = 'purchase'
        QUALIFY row_number() OVER (
            PARTITION BY coalesce(json_extract_string(properties, '$.order_id'), event_id)
            ORDER BY created_at, event_id) = 1
    """


def _shopify_conversions_sql() -> str:
    orders = f"""
        SELECT o.order_id AS row_id, o.order_id AS conversion_id,
               'shopify_order' AS conversion_source, p.identity,
               epoch_us(o.created_at) AS conversion_us, o.created_at AS converted_at,
               o.report_date, o.currency, o.total_price AS revenue, o.landing_utm_source,
               {platform_sql("coalesce(o.landing_site, '')", "o.landing_utm_source")} AS platform,
               {campaign_key_sql("o.landing_utm_campaign")} AS landing_key,
               o.landing_utm_campaign IS NOT NULL
                   OR {has_click_id_sql("coalesce(o.landing_site, '')")} AS from_campaign
        FROM shopify_orders o LEFT JOIN purchases p ON p.order_id = o.order_id
        WHERE NOT o.test
    """
    return f"""
        WITH orders AS ({orders})
        SELECT conversion_id, conversion_source, identity, conversion_us, converted_at,
               report_date, currency, revenue,
               CASE WHEN from_campaign THEN coalesce(platform,
                   nullif(lower(trim(landing_utm_source)), ''), 'other')
                   ELSE '{UNATTRIBUTED}' END AS landing_channel,
               platform AS landing_platform, campaign_id AS landing_campaign_id
        FROM ({_resolved_sql("orders", "landing_key")})
    """


def _purchase_conversions_sql(timezone: str, days: str) -> str:
    # `timezone` is an IANA name the registry validated, so it is safe as a literal.
    return f"""
        SELECT coalesce(order_id, event_id) AS conversion_id,
               'purchase_event' AS conversion_source, identity,
               epoch_us(created_at) AS conversion_us, created_at AS converted_at,
               CAST(timezone('{timezone}', created_at) AS DATE) AS report_date,
               currency, revenue, '{UNATTRIBUTED}' AS landing_channel,
               NULL::VARCHAR AS landing_platform, NULL::VARCHAR AS landing_campaign_id
        FROM purchases
        WHERE CAST(timezone('{timezone}', created_at) AS DATE) IN ({days})
    """
