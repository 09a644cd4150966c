"""Known incidents the sandbox injects into what platforms report, so alert rules can be scored.

An incident has a kind, a scope (one campaign, or a whole ad account) and the local days it
lasts. It changes what the platform *reports* for those days — never the shop's orders, which
are the truth the incident hides:

- `ctr_drop`: the campaign's CTR falls to 40 % (clicks, and the conversions they bring, × 0.4;
  CPM billing keeps spend);
- `spend_spike`: the campaign spends 3× its normal amount for nothing more (a runaway bid);
- `tracking_stopped`: the account's pixel / conversion tag breaks: 0 conversions and value;
- `value_collapse`: the account's conversions report a quarter of their value (a broken value
  parameter in its pixel / tag);
- `connector_failing`: the account's API stops answering from the first day on, so no rows of
  those days reach the lake.

`plan_incidents` places one of each per workspace at fixed offsets inside a scoring window, on
campaigns and accounts that deliver throughout it, deterministically from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from ownlay_pipelines.sandbox.entities import Campaign, CampaignDay
from ownlay_pipelines.sandbox.seeding import rng_for

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld


class IncidentKind(StrEnum):
    """What goes wrong."""

    CTR_DROP = "ctr_drop"
    SPEND_SPIKE = "spend_spike"
    TRACKING_STOPPED = "tracking_stopped"
    VALUE_COLLAPSE = "value_collapse"
    CONNECTOR_FAILING = "connector_failing"


ACCOUNT_WIDE = frozenset(
    {IncidentKind.TRACKING_STOPPED, IncidentKind.VALUE_COLLAPSE, IncidentKind.CONNECTOR_FAILING}
)
"""Kinds that hit every campaign of the account: the pixel / tag and the API are per account."""
MIN_DAILY_CLICKS = 50
"""Campaign incidents go to campaigns with at least this many clicks a day before the window, so
the change is visible above day-to-day noise."""
CTR_FACTOR = Decimal("0.4")
SPEND_FACTOR = Decimal(3)
VALUE_FACTOR = Decimal("0.25")
SCHEDULE = (
    # kind, first day (offset into the window), days
    (IncidentKind.CTR_DROP, 20, 4),
    (IncidentKind.SPEND_SPIKE, 34, 2),
    (IncidentKind.VALUE_COLLAPSE, 47, 4),
    (IncidentKind.TRACKING_STOPPED, 60, 5),
    (IncidentKind.CONNECTOR_FAILING, 80, 10),
)
"""One incident of each kind per workspace; offsets leave 7+ clean days between incidents so
each one's trailing baseline is clean, and the connector failure comes last (it hides data)."""


@dataclass(frozen=True)
class Incident:
    """One injected incident: `campaign_id` None means the whole account."""

    kind: IncidentKind
    workspace_id: str
    platform: str
    account_id: str
    campaign_id: str | None
    first_day: date
    last_day: date

    def covers(self, platform: str, account_id: str, campaign_id: str | None, day: date) -> bool:
        """True when the incident affects this campaign (or account) on local `day`."""
        return (
            (platform, account_id) == (self.platform, self.account_id)
            and (self.campaign_id is None or campaign_id == self.campaign_id)
            and self.first_day <= day <= self.last_day
        )


@dataclass(frozen=True)
class IncidentPlan:
    """Every incident the world injects."""

    incidents: tuple[Incident, ...] = ()

    def affecting(self, day: CampaignDay) -> list[Incident]:
        """The incidents that change the reported campaign-day `day`."""
        return [
            i
            for i in self.incidents
            if i.covers(day.platform, day.account_id, day.campaign_id, day.report_date)
        ]

    def hides(self, platform: str, account_id: str, day: date) -> bool:
        """True when a failing connector keeps the account's rows of `day` out of the lake."""
        return any(
            i.kind is IncidentKind.CONNECTOR_FAILING and i.covers(platform, account_id, None, day)
            for i in self.incidents
        )

    def apply(self, day: CampaignDay) -> CampaignDay:
        """What the platform reports for `day` with its incidents in effect."""
        for incident in self.affecting(day):
            day = _effect(incident.kind, day)
        return day


def _effect(kind: IncidentKind, day: CampaignDay) -> CampaignDay:
    if kind is IncidentKind.CTR_DROP:
        return replace(
            day,
            clicks=int(day.clicks * CTR_FACTOR),
            conversions=_scaled_count(day.conversions, CTR_FACTOR),
            conversion_value=(day.conversion_value * CTR_FACTOR).quantize(Decimal("0.01")),
        )
    if kind is IncidentKind.SPEND_SPIKE:
        return replace(day, spend=day.spend * SPEND_FACTOR)
    if kind is IncidentKind.TRACKING_STOPPED:
        return replace(day, conversions=Decimal(0), conversion_value=Decimal(0))
    if kind is IncidentKind.VALUE_COLLAPSE:
        return replace(
            day, conversion_value=(day.conversion_value * VALUE_FACTOR).quantize(Decimal("0.01"))
        )
    return day  # a failing connector changes nothing the platform holds, only what we receive


def _daily_clicks(
    world: SandboxWorld, platform: str, account_id: str, campaign: Campaign, before: date
) -> float:
    """The campaign's average final clicks over the week before `before`."""
    week = [before - timedelta(days=n) for n in range(1, 8)]
    return sum(
        world.final_campaign_day(platform, account_id, campaign.campaign_id, day).clicks
        for day in week
    ) / len(week)


def _scaled_count(count: Decimal, factor: Decimal) -> Decimal:
    """A conversion count scaled down: whole counts stay whole (Meta), credits keep 2 decimals."""
    if count == count.to_integral_value():
        return (count * factor).to_integral_value(ROUND_FLOOR)
    return (count * factor).quantize(Decimal("0.01"), ROUND_FLOOR)


def plan_incidents(
    world: SandboxWorld, workspace_ids: list[str], first_day: date, days: int
) -> IncidentPlan:
    """One incident of each kind per workspace inside [first_day, first_day + days), each on a
    campaign (or account) that delivers over the whole window and its 8 days before."""
    incidents = []
    window_end = first_day + timedelta(days=days - 1)
    for workspace_id in workspace_ids:
        accounts = [a for a in world.accounts() if a.workspace_id == workspace_id]
        rng = rng_for(world.seed, "incidents", workspace_id)
        steady = [
            (account, campaign)
            for account in accounts
            for campaign in world.campaigns(account.platform, account.account_id)
            if campaign.delivers_on(first_day - timedelta(days=8))
            and campaign.delivers_on(window_end)
            and _daily_clicks(world, account.platform, account.account_id, campaign, first_day)
            >= MIN_DAILY_CLICKS
        ]
        if not steady:
            raise ValueError(f"{workspace_id} has no campaign delivering over the whole window")
        used: set[str] = set()
        for kind, offset, length in SCHEDULE:
            candidates = [(a, c) for a, c in steady if c.campaign_id not in used] or steady
            account, campaign = candidates[rng.randrange(len(candidates))]
            used.add(campaign.campaign_id)
            start = first_day + timedelta(days=offset)
            incidents.append(
                Incident(
                    kind=kind,
                    workspace_id=workspace_id,
                    platform=account.platform,
                    account_id=account.account_id,
                    campaign_id=None if kind in ACCOUNT_WIDE else campaign.campaign_id,
                    first_day=start,
                    last_day=min(start + timedelta(days=length - 1), window_end),
                )
            )
    return IncidentPlan(tuple(incidents))
