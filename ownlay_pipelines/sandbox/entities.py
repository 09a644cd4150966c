"""The sandbox world's vocabulary: accounts, ad entities and campaign-days, platform-neutral.

One model, many views: these records hold what is true in the world; each simulator renders them
in its platform's words (Meta `DELETED` / Google `REMOVED` for `EntityStatus.DELETED`, Meta
`daily_budget` in minor units / Google `amount_micros`, …). Strings that only exist on one
platform (objectives, match types, conversion categories) are kept in that platform's spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo


class EntityStatus(StrEnum):
    """Whether an entity delivers: active, paused by a person, or deleted (kept for its history)."""

    ACTIVE = "active"
    PAUSED = "paused"
    DELETED = "deleted"


@dataclass(frozen=True)
class SandboxAccount:
    """One connected platform account; it reports in its workspace's timezone and currency."""

    workspace_id: str
    platform: str
    account_id: str
    name: str
    timezone: str
    currency: str

    @property
    def zone(self) -> ZoneInfo:
        """The account's timezone, which decides its report dates."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Campaign:
    """A campaign; it delivers on local dates in [start_date, ended_on) within the world's history.

    `ended_on` is the local date it was paused or deleted (None while active). `objective` is Meta's
    objective or, on Google Ads (which has none), the advertising channel type.
    """

    platform: str
    account_id: str
    campaign_id: str
    name: str
    status: EntityStatus
    objective: str
    bidding_strategy: str
    daily_budget: Decimal
    start_date: date
    ended_on: date | None
    utm_campaign: str

    def delivers_on(self, day: date) -> bool:
        """True when the campaign was running on local date `day`."""
        return self.start_date <= day and (self.ended_on is None or day < self.ended_on)


@dataclass(frozen=True)
class AdGroup:
    """A Meta ad set or Google ad group: targeting (Meta) or a default CPC bid (Google)."""

    platform: str
    account_id: str
    campaign_id: str
    ad_group_id: str
    name: str
    status: EntityStatus
    cpc_bid: Decimal | None
    targeting: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Ad:
    """An ad: Meta ads point at a creative; Google ads carry type, headlines and final URLs."""

    platform: str
    account_id: str
    campaign_id: str
    ad_group_id: str
    ad_id: str
    name: str
    status: EntityStatus
    ad_type: str
    final_urls: tuple[str, ...]
    headlines: tuple[str, ...]
    creative_id: str | None


@dataclass(frozen=True)
class Creative:
    """A Meta ad creative (one per ad): copy plus either an image URL or a video id."""

    account_id: str
    creative_id: str
    ad_id: str
    name: str
    title: str
    body: str
    image_url: str | None
    video_id: str | None
    link_url: str
    call_to_action_type: str


@dataclass(frozen=True)
class Audience:
    """A Meta custom audience with Meta's approximate size bounds (it never reports exact sizes)."""

    account_id: str
    audience_id: str
    name: str
    subtype: str
    description: str
    approximate_count_lower_bound: int
    approximate_count_upper_bound: int
    retention_days: int | None
    created_at: datetime


@dataclass(frozen=True)
class Keyword:
    """A Google Ads keyword criterion; `quality_score` is None when Google has too little data."""

    account_id: str
    campaign_id: str
    ad_group_id: str
    criterion_id: str
    text: str
    match_type: str
    cpc_bid: Decimal
    quality_score: int | None
    status: EntityStatus


@dataclass(frozen=True)
class ConversionAction:
    """A Google Ads conversion action: what counts as a conversion and its default value."""

    account_id: str
    conversion_action_id: str
    name: str
    category: str
    default_value: Decimal
    attribution_model: str
    status: EntityStatus


class CampaignDayKey(NamedTuple):
    """Identity of one campaign-day row: account, campaign and local report date."""

    account_id: str
    campaign_id: str
    report_date: date


@dataclass(frozen=True)
class CampaignDay:
    """One campaign's delivery on one local date, as the platform reports it at the world's `now`.

    Conversions are credited to the day of the click (both platforms), so they keep growing while
    the day is young. `actions` / `action_values` are Meta's action arrays by action type (empty on
    Google); `conversions` is the `purchase` action there, never `omni_purchase`.
    """

    platform: str
    account_id: str
    campaign_id: str
    report_date: date
    currency: str
    impressions: int
    reach: int | None
    clicks: int
    spend: Decimal
    conversions: Decimal
    conversion_value: Decimal
    actions: Mapping[str, int] = field(default_factory=dict, hash=False)
    action_values: Mapping[str, Decimal] = field(default_factory=dict, hash=False)

    @property
    def key(self) -> CampaignDayKey:
        """The row's identity (account, campaign, local report date)."""
        return CampaignDayKey(self.account_id, self.campaign_id, self.report_date)
