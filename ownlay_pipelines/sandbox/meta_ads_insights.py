"""Meta's Ads Insights rows as the simulator serves them: daily (or summed) campaign rows.

Wire facts (reference/connectors.md §1.1): every metric is a string; conversions live in the
`actions` / `action_values` arrays of `{action_type, value, <window>…}`; `value` follows the
account's default attribution (7-day click + 1-day view) and each requested window adds its own
key (7d_view and 28d_view stopped being returned on 2026-01-12); dates are account-local. At
account level, deleted campaigns are left out unless `filtering` on effective_status asks for
DELETED (Meta "Manage Your Ad Object's Status").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from ownlay_pipelines.sandbox.currency import minor_unit_exponent
from ownlay_pipelines.sandbox.entities import CampaignDay, CampaignDayKey
from ownlay_pipelines.sandbox.meta_ads_insights_query import InsightsQuery
from ownlay_pipelines.sandbox.meta_ads_objects import MetaView
from ownlay_pipelines.sandbox.seeding import rng_for

ACTION_ORDER = (
    "link_click",
    "landing_page_view",
    "add_to_cart",
    "purchase",
    "omni_purchase",
    "offsite_conversion.fb_pixel_purchase",
)
ATTRIBUTED_ACTIONS = frozenset(ACTION_ORDER[2:])
SIX_PLACES = Decimal("0.000001")


def insights_rows(
    view: MetaView, query: InsightsQuery
) -> list[tuple[CampaignDayKey | None, dict[str, Any]]]:
    """The report's rows in Meta's order (by date, then campaign), each with its row identity
    (None for rows summed over the span, which have no single report date)."""
    campaigns = [
        c
        for c in view.catalog.campaigns
        if view.effective_status(c) in query.statuses
        and (query.campaign_ids is None or c.campaign_id in query.campaign_ids)
    ]
    wanted = {c.campaign_id for c in campaigns}
    until = min(query.until, view.world.local_today(view.account.platform, view.account.account_id))
    days = [
        d
        for d in view.world.campaign_days(
            view.account.platform, view.account.account_id, query.since, until
        )
        if d.campaign_id in wanted
    ]
    if query.daily:
        return [(d.key, _row(view, query, d, d.report_date, d.report_date)) for d in days]
    rows = []
    for campaign in campaigns:
        own = [d for d in days if d.campaign_id == campaign.campaign_id]
        if own:
            rows.append((None, _row(view, query, _summed(own), query.since, query.until)))
    return rows


def _summed(days: list[CampaignDay]) -> CampaignDay:
    actions: dict[str, int] = {}
    values: dict[str, Decimal] = {}
    for day in days:
        for name, count in day.actions.items():
            actions[name] = actions.get(name, 0) + count
        for name, value in day.action_values.items():
            values[name] = values.get(name, Decimal(0)) + value
    return replace(
        days[0],
        impressions=sum(d.impressions for d in days),
        # Reach is people, not additive over days; the busiest day is its lower bound.
        reach=max(d.reach or 0 for d in days),
        clicks=sum(d.clicks for d in days),
        spend=sum((d.spend for d in days), Decimal(0)),
        conversions=sum((d.conversions for d in days), Decimal(0)),
        conversion_value=sum((d.conversion_value for d in days), Decimal(0)),
        actions=actions,
        action_values=values,
    )


def _row(
    view: MetaView, query: InsightsQuery, day: CampaignDay, start: date, stop: date
) -> dict[str, Any]:
    campaign = view.catalog.campaign_by_id[day.campaign_id]
    values: dict[str, Any] = {
        "account_id": view.account.account_id,
        "account_name": view.account.name,
        "account_currency": view.account.currency,
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.name,
        "objective": campaign.objective,
        "impressions": str(day.impressions),
        "reach": str(day.reach or 0),
        "frequency": _ratio(Decimal(day.impressions), Decimal(day.reach or 0)),
        "clicks": str(day.clicks),
        "spend": str(day.spend),
        "ctr": _ratio(Decimal(day.clicks) * 100, Decimal(day.impressions)),
        "cpc": _ratio(day.spend, Decimal(day.clicks)),
        "cpm": _ratio(day.spend * 1000, Decimal(day.impressions)),
        "actions": _actions(view, query, day, start, stop),
        "action_values": _action_values(view, query, day, start, stop),
        "cost_per_action_type": [
            {"action_type": name, "value": _ratio(day.spend, Decimal(day.actions[name]))}
            for name in ACTION_ORDER
            if day.actions.get(name)
        ],
    }
    row = {name: values[name] for name in query.fields if name not in ("date_start", "date_stop")}
    # Meta omits ratio metrics it cannot compute (no clicks → no cpc) and empty action arrays.
    row = {k: v for k, v in row.items() if v not in (None, [])}
    return row | {"date_start": start.isoformat(), "date_stop": stop.isoformat()}


def _ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    if denominator == 0:
        return None
    return str((numerator / denominator).quantize(SIX_PLACES))


def _actions(
    view: MetaView, query: InsightsQuery, day: CampaignDay, start: date, stop: date
) -> list[dict[str, str]]:
    out = []
    for name in ACTION_ORDER:
        count = day.actions.get(name, 0)
        if count:
            windows = _windows(view, day, name, count, start, stop, query.windows)
            out.append(
                {"action_type": name, "value": str(count)} | {w: str(n) for w, n in windows.items()}
            )
    return out


def _action_values(
    view: MetaView, query: InsightsQuery, day: CampaignDay, start: date, stop: date
) -> list[dict[str, str]]:
    exponent = minor_unit_exponent(day.currency)
    out = []
    for name in ACTION_ORDER:
        value = day.action_values.get(name)
        if value:
            minor = int(value.scaleb(exponent))
            windows = _windows(view, day, name, minor, start, stop, query.windows)
            out.append(
                {"action_type": name, "value": str(value)}
                | {w: str(Decimal(n).scaleb(-exponent)) for w, n in windows.items()}
            )
    return out


def _windows(
    view: MetaView,
    day: CampaignDay,
    action: str,
    total: int,
    start: date,
    stop: date,
    windows: tuple[str, ...],
) -> dict[str, int]:
    """Split an attributed total into Meta's windows: value = 7d_click + 1d_view, 1d_click ≤
    7d_click ≤ 28d_click. The split is drawn per (campaign, span, action) so every purchase
    alias (purchase, omni_purchase, pixel purchase) splits identically."""
    if not windows or action not in ATTRIBUTED_ACTIONS:
        return {}
    family = "purchase" if "purchase" in action else action
    rng = rng_for(
        view.world.seed,
        "meta-windows",
        view.account.account_id,
        day.campaign_id,
        start,
        stop,
        family,
    )
    view_through = int(total * rng.uniform(0.1, 0.25))
    click_7d = total - view_through
    split = {
        "1d_click": int(click_7d * rng.uniform(0.6, 0.85)),
        "7d_click": click_7d,
        "28d_click": click_7d + int(click_7d * rng.uniform(0.05, 0.15)),
        "1d_view": view_through,
        "1d_ev": 0,
    }
    return {w: split[w] for w in windows}


def malform(row: dict[str, Any], variant: int) -> dict[str, Any]:
    """A broken copy of `row` as Meta occasionally sends: `spend` = "N/A", or no `date_start`."""
    broken = dict(row)
    if variant == 0 and "spend" in broken:
        broken["spend"] = "N/A"
    else:
        broken.pop("date_start", None)
    return broken
