"""`dagster/column_schema` metadata: each table's columns with their types, and a description
for those whose meaning is not obvious from their name.

One place for every table: a column name means the same thing wherever it appears (the shared
campaign-day columns, money, the derived ratios). Names not listed are self-explanatory
(impressions, clicks, campaign_name, …).
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from ownlay_pipelines.models.metric_definitions import DERIVED_METRICS

COLUMN_DESCRIPTIONS: dict[str, str] = {
    "workspace_id": "Tenant: the workspace (client) slug from the registry.",
    "account_id": "The platform account the row came from (Meta act_…, Google customer id, shop).",
    "report_date": "Calendar day in the account's (or shop's) own timezone, not UTC.",
    "account_timezone": "IANA timezone of the account; report_date is a day in it.",
    "currency": "ISO 4217 currency of every money column of the row (the account's or shop's).",
    "spend": "Amount spent in `currency`, exact to six decimals.",
    "cost_micros": "Google Ads cost in millionths of the account currency, as the API sends it.",
    "conversions": "Conversions as the platform counts them (fractional under data-driven "
    "attribution; Meta: purchases), attributed to the click or view date.",
    "conversion_value": "Value of those conversions in `currency`, as the platform attributes "
    "it — not shop revenue.",
    "platform_conversions": "Conversions the ad platform claims (its own attribution).",
    "platform_conversion_value": "Value the ad platform claims, in `currency`.",
    "platform_roas": "platform_conversion_value / spend: ROAS as the platform reports it.",
    "over_attribution_ratio": "Platform-claimed conversions divided by the orders actually "
    "credited; above 1 the platforms claim more than the shop sold.",
    "campaign_status": "Status in the latest entity snapshot (ACTIVE, PAUSED, …), not on that day.",
    "total_refunded": "Amount refunded on the order so far, in the shop currency.",
    "total_price": "Order total charged, in the shop currency (gross of refunds).",
    "revenue": "Gross order revenue in `currency` (refunds not deducted).",
    "revenue_credit": "The part of the order's revenue this touch is credited with.",
    "credit": "Share of the order this touch is credited with; an order's shares sum to 1.",
    "model": "Attribution model: last_click, first_touch, linear, position_based, time_decay, "
    "landing_utm.",
    "mer_percent": "Marketing efficiency ratio: spend as a percent of revenue.",
    "blended_roas": "All revenue / all spend of the period (a ratio, 2.0 = twice the spend).",
    "paid_roas_last_click": "Revenue credited to paid campaigns by last click / spend.",
    "period": "today, 7_days, 30_days or 90_days ending on report_date.",
    **{
        m.name: f"{m.description} Unit: {m.unit}; NULL when the denominator is 0."
        for m in DERIVED_METRICS
    },
}
"""Column name → one sentence; ratios come from `metric_definitions` so they cannot drift."""


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Dagster column schema of an Arrow schema, with `COLUMN_DESCRIPTIONS` where known."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(f.name, str(f.type), description=COLUMN_DESCRIPTIONS.get(f.name))
            for f in schema
        ]
    )
