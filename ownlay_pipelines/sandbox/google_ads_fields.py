"""The Google Ads resources and fields the simulator knows, and how each renders in REST JSON.

REST responses nest camelCase objects (`adGroupCriterion.keyword.matchType`), send int64 values
(ids, impressions, `costMicros`) as strings, doubles and int32 as JSON numbers, enums as names,
and add the `resourceName` of every resource a row touches (reference/connectors.md §1.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ownlay_pipelines.sandbox.currency import to_micros
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Campaign,
    CampaignDayKey,
    ConversionAction,
    EntityStatus,
    Keyword,
    SandboxAccount,
)

STATUS_WORDS = {
    EntityStatus.ACTIVE: "ENABLED",
    EntityStatus.PAUSED: "PAUSED",
    EntityStatus.DELETED: "REMOVED",
}
STATUSES = frozenset({"ENABLED", "PAUSED", "REMOVED", "UNKNOWN", "UNSPECIFIED"})
CHANNEL_TYPES = frozenset(
    {"SEARCH", "DISPLAY", "SHOPPING", "VIDEO", "PERFORMANCE_MAX", "DEMAND_GEN", "LOCAL", "SMART"}
    | {"HOTEL", "MULTI_CHANNEL", "LOCAL_SERVICES", "TRAVEL", "UNKNOWN", "UNSPECIFIED"}
)
MATCH_TYPES = frozenset({"EXACT", "PHRASE", "BROAD", "UNKNOWN", "UNSPECIFIED"})
NO_END_DATE = "2037-12-30"
"""Google's end date for campaigns that run indefinitely (campaign.proto, v21)."""


class Kind(StrEnum):
    """How a field's value is typed on the wire."""

    INT64 = "int64"
    INT32 = "int32"
    DOUBLE = "double"
    STRING = "string"
    ENUM = "enum"
    BOOL = "bool"
    DATE = "date"
    STRINGS = "strings"
    TEXT_ASSETS = "text_assets"


@dataclass(frozen=True)
class Totals:
    """Metrics of a campaign over a day or a span: counts, and money in the account currency."""

    impressions: int = 0
    clicks: int = 0
    spend: Decimal = Decimal(0)
    conversions: Decimal = Decimal(0)
    conversion_value: Decimal = Decimal(0)


@dataclass(frozen=True)
class Row:
    """The world objects behind one result row; `key` identifies a campaign-day metrics row."""

    account: SandboxAccount
    campaign: Campaign | None = None
    ad_group: AdGroup | None = None
    ad: Ad | None = None
    keyword: Keyword | None = None
    conversion_action: ConversionAction | None = None
    totals: Totals | None = None
    day: date | None = None
    key: CampaignDayKey | None = None

    @property
    def customer(self) -> str:
        """The customer's resource name, the prefix of every other resource name."""
        return f"customers/{self.account.account_id}"


@dataclass(frozen=True)
class FieldSpec:
    """A selectable field: its wire type, how to read it from a row, its enum vocabulary."""

    kind: Kind
    read: Callable[[Row], Any]
    enum_values: frozenset[str] | None = None


def _micros(amount: Decimal | None) -> int | None:
    return None if amount is None else to_micros(amount)


def _budget_id(campaign: Campaign) -> str:
    return "1" + campaign.campaign_id[1:]


def _ratio(numerator: Decimal | int, denominator: int) -> float:
    return float(Decimal(numerator) / denominator) if denominator else 0.0


F = FieldSpec
CUSTOMER = {
    "customer.resource_name": F(Kind.STRING, lambda r: r.customer),
    "customer.id": F(Kind.INT64, lambda r: int(r.account.account_id)),
    "customer.descriptive_name": F(Kind.STRING, lambda r: r.account.name),
    "customer.currency_code": F(Kind.STRING, lambda r: r.account.currency),
    "customer.time_zone": F(Kind.STRING, lambda r: r.account.timezone),
    "customer.manager": F(Kind.BOOL, lambda r: False),
    "customer.test_account": F(Kind.BOOL, lambda r: False),
}
CAMPAIGN = {
    "campaign.resource_name": F(
        Kind.STRING, lambda r: f"{r.customer}/campaigns/{r.campaign.campaign_id}"
    ),
    "campaign.id": F(Kind.INT64, lambda r: int(r.campaign.campaign_id)),
    "campaign.name": F(Kind.STRING, lambda r: r.campaign.name),
    "campaign.status": F(Kind.ENUM, lambda r: STATUS_WORDS[r.campaign.status], STATUSES),
    "campaign.advertising_channel_type": F(
        Kind.ENUM, lambda r: r.campaign.objective, CHANNEL_TYPES
    ),
    "campaign.bidding_strategy_type": F(Kind.ENUM, lambda r: r.campaign.bidding_strategy),
    "campaign.start_date": F(Kind.DATE, lambda r: r.campaign.start_date.isoformat()),
    "campaign.end_date": F(Kind.DATE, lambda r: NO_END_DATE),
    "campaign.campaign_budget": F(
        Kind.STRING, lambda r: f"{r.customer}/campaignBudgets/{_budget_id(r.campaign)}"
    ),
    "campaign_budget.resource_name": F(
        Kind.STRING, lambda r: f"{r.customer}/campaignBudgets/{_budget_id(r.campaign)}"
    ),
    "campaign_budget.id": F(Kind.INT64, lambda r: int(_budget_id(r.campaign))),
    "campaign_budget.amount_micros": F(Kind.INT64, lambda r: to_micros(r.campaign.daily_budget)),
}
AD_GROUP = {
    "ad_group.resource_name": F(
        Kind.STRING, lambda r: f"{r.customer}/adGroups/{r.ad_group.ad_group_id}"
    ),
    "ad_group.id": F(Kind.INT64, lambda r: int(r.ad_group.ad_group_id)),
    "ad_group.name": F(Kind.STRING, lambda r: r.ad_group.name),
    "ad_group.status": F(Kind.ENUM, lambda r: STATUS_WORDS[r.ad_group.status], STATUSES),
    "ad_group.campaign": F(
        Kind.STRING, lambda r: f"{r.customer}/campaigns/{r.campaign.campaign_id}"
    ),
    "ad_group.cpc_bid_micros": F(Kind.INT64, lambda r: _micros(r.ad_group.cpc_bid)),
    "ad_group.type": F(Kind.ENUM, lambda r: f"{r.campaign.objective}_STANDARD"),
}
AD_GROUP_AD = {
    "ad_group_ad.resource_name": F(
        Kind.STRING, lambda r: f"{r.customer}/adGroupAds/{r.ad.ad_group_id}~{r.ad.ad_id}"
    ),
    "ad_group_ad.status": F(Kind.ENUM, lambda r: STATUS_WORDS[r.ad.status], STATUSES),
    "ad_group_ad.ad_group": F(Kind.STRING, lambda r: f"{r.customer}/adGroups/{r.ad.ad_group_id}"),
    "ad_group_ad.ad.resource_name": F(Kind.STRING, lambda r: f"{r.customer}/ads/{r.ad.ad_id}"),
    "ad_group_ad.ad.id": F(Kind.INT64, lambda r: int(r.ad.ad_id)),
    "ad_group_ad.ad.name": F(Kind.STRING, lambda r: r.ad.name),
    "ad_group_ad.ad.type": F(Kind.ENUM, lambda r: r.ad.ad_type),
    "ad_group_ad.ad.final_urls": F(Kind.STRINGS, lambda r: list(r.ad.final_urls)),
    "ad_group_ad.ad.responsive_search_ad.headlines": F(
        Kind.TEXT_ASSETS,
        lambda r: list(r.ad.headlines) if r.ad.ad_type == "RESPONSIVE_SEARCH_AD" else None,
    ),
    "ad_group_ad.ad.responsive_display_ad.headlines": F(
        Kind.TEXT_ASSETS,
        lambda r: list(r.ad.headlines) if r.ad.ad_type == "RESPONSIVE_DISPLAY_AD" else None,
    ),
}
CRITERION = {
    "ad_group_criterion.resource_name": F(
        Kind.STRING,
        lambda r: f"{r.customer}/adGroupCriteria/{r.keyword.ad_group_id}~{r.keyword.criterion_id}",
    ),
    "ad_group_criterion.criterion_id": F(Kind.INT64, lambda r: int(r.keyword.criterion_id)),
    "ad_group_criterion.ad_group": F(
        Kind.STRING, lambda r: f"{r.customer}/adGroups/{r.keyword.ad_group_id}"
    ),
    "ad_group_criterion.status": F(Kind.ENUM, lambda r: STATUS_WORDS[r.keyword.status], STATUSES),
    "ad_group_criterion.type": F(Kind.ENUM, lambda r: "KEYWORD"),
    "ad_group_criterion.negative": F(Kind.BOOL, lambda r: False),
    "ad_group_criterion.keyword.text": F(Kind.STRING, lambda r: r.keyword.text),
    "ad_group_criterion.keyword.match_type": F(
        Kind.ENUM, lambda r: r.keyword.match_type, MATCH_TYPES
    ),
    "ad_group_criterion.cpc_bid_micros": F(Kind.INT64, lambda r: to_micros(r.keyword.cpc_bid)),
    "ad_group_criterion.quality_info.quality_score": F(
        Kind.INT32, lambda r: r.keyword.quality_score
    ),
}
KEYWORD_VIEW = {
    "keyword_view.resource_name": F(
        Kind.STRING,
        lambda r: f"{r.customer}/keywordViews/{r.keyword.ad_group_id}~{r.keyword.criterion_id}",
    ),
}
CONVERSION_ACTION = {
    "conversion_action.resource_name": F(
        Kind.STRING,
        lambda r: f"{r.customer}/conversionActions/{r.conversion_action.conversion_action_id}",
    ),
    "conversion_action.id": F(Kind.INT64, lambda r: int(r.conversion_action.conversion_action_id)),
    "conversion_action.name": F(Kind.STRING, lambda r: r.conversion_action.name),
    "conversion_action.category": F(Kind.ENUM, lambda r: r.conversion_action.category),
    "conversion_action.status": F(
        Kind.ENUM, lambda r: STATUS_WORDS[r.conversion_action.status], STATUSES
    ),
    "conversion_action.type": F(Kind.ENUM, lambda r: "WEBPAGE"),
    "conversion_action.value_settings.default_value": F(
        Kind.DOUBLE, lambda r: r.conversion_action.default_value
    ),
    "conversion_action.value_settings.default_currency_code": F(
        Kind.STRING, lambda r: r.account.currency
    ),
    "conversion_action.attribution_model_settings.attribution_model": F(
        Kind.ENUM, lambda r: r.conversion_action.attribution_model
    ),
}
SEGMENTS = {"segments.date": F(Kind.DATE, lambda r: r.day.isoformat() if r.day else None)}
METRICS = {
    "metrics.impressions": F(Kind.INT64, lambda r: r.totals.impressions),
    "metrics.clicks": F(Kind.INT64, lambda r: r.totals.clicks),
    "metrics.cost_micros": F(Kind.INT64, lambda r: to_micros(r.totals.spend)),
    "metrics.conversions": F(Kind.DOUBLE, lambda r: r.totals.conversions),
    "metrics.conversions_value": F(Kind.DOUBLE, lambda r: r.totals.conversion_value),
    "metrics.ctr": F(Kind.DOUBLE, lambda r: _ratio(r.totals.clicks, r.totals.impressions)),
    # average_cpc is a double in micros of the account currency.
    "metrics.average_cpc": F(
        Kind.DOUBLE, lambda r: _ratio(to_micros(r.totals.spend), r.totals.clicks)
    ),
}

ATTRIBUTES: dict[str, dict[str, FieldSpec]] = {
    "customer": CUSTOMER,
    "campaign": CUSTOMER | CAMPAIGN | SEGMENTS | METRICS,
    "ad_group": CUSTOMER | CAMPAIGN | AD_GROUP,
    "ad_group_ad": CUSTOMER | CAMPAIGN | AD_GROUP | AD_GROUP_AD,
    "keyword_view": CUSTOMER | CAMPAIGN | AD_GROUP | CRITERION | KEYWORD_VIEW,
    "ad_group_criterion": CUSTOMER | CAMPAIGN | AD_GROUP | CRITERION,
    "conversion_action": CUSTOMER | CONVERSION_ACTION,
}
"""Resource (FROM) → the fields a query on it may select; metrics are simulated per campaign."""
ALL_FIELDS: dict[str, FieldSpec] = {
    name: spec for fields in ATTRIBUTES.values() for name, spec in fields.items()
}
RESOURCE_OBJECTS = (
    "customer",
    "campaign",
    "campaign_budget",
    "ad_group",
    "ad_group_ad",
    "ad_group_ad.ad",
    "ad_group_criterion",
    "keyword_view",
    "conversion_action",
)
"""Objects that carry a `resourceName` in results whenever any of their fields is selected."""


def camel(path: str) -> str:
    """`ad_group_criterion.keyword.match_type` → `adGroupCriterion.keyword.matchType`."""
    return ".".join(
        part.split("_")[0] + "".join(word.title() for word in part.split("_")[1:])
        for part in path.split(".")
    )


def wire_value(kind: Kind, value: Any) -> Any:
    """`value` as REST JSON types it: int64 as a string, doubles and int32 as numbers."""
    if kind is Kind.INT64:
        return str(value)
    if kind is Kind.DOUBLE:
        return float(value)
    if kind is Kind.TEXT_ASSETS:
        return [{"text": text} for text in value]
    return value


def render(row: Row, fields: tuple[str, ...], resource: str) -> dict[str, Any]:
    """The REST JSON of one result row: the selected fields, nested, plus resource names."""
    out: dict[str, Any] = {}
    touched = {resource} | {
        obj for name in fields for obj in RESOURCE_OBJECTS if name.startswith(f"{obj}.")
    }
    for obj in RESOURCE_OBJECTS:
        if obj in touched:
            _put(out, f"{obj}.resource_name", ALL_FIELDS[f"{obj}.resource_name"].read(row))
    for name in fields:
        value = ALL_FIELDS[name].read(row)
        if value is not None:
            _put(out, name, wire_value(ALL_FIELDS[name].kind, value))
    return out


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = camel(path).split(".")
    node: dict[str, Any] = out
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def field_mask(fields: tuple[str, ...]) -> str:
    """The response's `fieldMask`: the selected fields, camelCase, comma-separated."""
    return ",".join(camel(name) for name in fields)
