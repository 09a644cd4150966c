"""How campaigns deliver: each campaign-day's final numbers, and what is reported before then.

Final numbers are drawn once per (seed, account, campaign, local date) — lognormal impressions
around what the budget buys, a beta-distributed CTR, lognormal CPC, Poisson conversions — and
never depend on `now`. What a platform *reports* does: today is partial, delivery settles within
two days, and conversions are credited to the click day and keep arriving for the attribution
window (Meta 28 days, Google Ads 30: reference/connectors.md §1.1, §1.2 "Attribution /
restatement"). Every reported number is a floor of final × factor, so it only ever grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ownlay_pipelines.sandbox.currency import amount_from_minor, minor_from_amount, price_level
from ownlay_pipelines.sandbox.entities import Campaign, CampaignDay, SandboxAccount
from ownlay_pipelines.sandbox.seeding import poisson, rng_for

WEEKDAY_FACTOR = (1.0, 1.03, 1.02, 0.98, 0.94, 0.86, 0.9)
"""Monday … Sunday: weekday seasonality of delivery."""
MONTH_FACTOR = {1: 0.9, 11: 1.15, 12: 1.25}
"""Post-holiday slump and Q4 peak; other months are 1.0."""
CTR_CONCENTRATION = 4000.0
CTR_REFERENCE = 0.014
"""Beta concentration of a day's CTR around the campaign's mean is CTR_CONCENTRATION at a 1.4 %
CTR and grows as the mean falls, so a day's CTR swings about ±13 % at any CTR level, as steady
campaigns show (at 300 a day's CTR swung ±50 % and seed 003's drop rules fired on noise). A fixed
concentration made low-CTR platforms (LinkedIn 0.4 %, Snapchat 0.6 %) swing ±20–25 %, and spend,
which follows clicks, with them."""
IMPRESSIONS_SIGMA = 0.12
"""Log-sd of daily impressions: budget pacing keeps a campaign's delivery within about ±12 %."""
CTR_BOUNDS = (0.005, 0.04)
LATE_DELIVERY_SHARE = 0.03
"""Share of impressions, clicks and spend added after the day ends (final after two days)."""
DELIVERY_SETTLE_DAYS = 2.0
FIRST_DAY_CONVERSION_SHARE = 0.55
"""Share of a day's eventual conversions already reported when the day ends."""


@dataclass(frozen=True)
class DeliveryProfile:
    """How one platform's campaigns typically perform (in US dollars) and how long numbers move."""

    budget_utilisation: tuple[float, float]
    ctr_mean: tuple[float, float]
    cpc_usd: tuple[float, float]
    conversion_rate: tuple[float, float]
    order_value_usd: tuple[float, float]
    frequency: tuple[float, float] | None
    fractional_conversions: bool
    restatement_days: int
    reports_actions: bool
    reports_in_utc: bool = False
    """True when report days are UTC days whatever the account's timezone (LinkedIn, §1.4)."""


@dataclass(frozen=True)
class CampaignTraits:
    """A campaign's typical day in its account currency: the centre of its daily distributions."""

    median_impressions: float
    ctr_mean: float
    cpc: float
    conversion_rate: float
    order_value: float
    frequency: float | None


@dataclass(frozen=True)
class Conversion:
    """One attributed conversion: credit in hundredths (100 = whole), value in minor units."""

    credit_centi: int
    value_minor: int


@dataclass(frozen=True)
class FinalDay:
    """A campaign-day's numbers once the platform has stopped restating them."""

    impressions: int
    reach: int | None
    clicks: int
    spend_minor: int
    conversions: tuple[Conversion, ...]
    link_clicks: int
    landing_page_views: int
    add_to_carts: int


@dataclass(frozen=True)
class DayAge:
    """How far along a local day is at `now`: share of it elapsed, and days since it ended."""

    elapsed: float
    days_since_end: float

    @classmethod
    def of(cls, day: date, zone: ZoneInfo, now: datetime) -> DayAge:
        """The age at `now` of local date `day` in `zone`."""
        # Convert to UTC before subtracting: aware datetimes sharing a tzinfo subtract as wall
        # time, which is off by an hour across a DST change.
        start = datetime.combine(day, time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        elapsed = (now - start) / (end - start)
        return cls(min(1.0, max(0.0, elapsed)), (now - end).total_seconds() / 86400)


def campaign_traits(
    seed: int, account: SandboxAccount, campaign: Campaign, profile: DeliveryProfile
) -> CampaignTraits:
    """The campaign's typical day; impressions follow from what its budget buys at its CPC."""
    rng = rng_for(
        seed,
        "traits",
        account.workspace_id,
        account.platform,
        account.account_id,
        campaign.campaign_id,
    )
    level = price_level(account.currency)
    ctr = rng.uniform(*profile.ctr_mean)
    cpc = rng.uniform(*profile.cpc_usd) * level
    spend = float(campaign.daily_budget) * rng.uniform(*profile.budget_utilisation)
    return CampaignTraits(
        median_impressions=spend / cpc / ctr,
        ctr_mean=ctr,
        cpc=cpc,
        conversion_rate=rng.uniform(*profile.conversion_rate),
        order_value=rng.uniform(*profile.order_value_usd) * level,
        frequency=rng.uniform(*profile.frequency) if profile.frequency else None,
    )


def final_day(
    seed: int,
    account: SandboxAccount,
    campaign: Campaign,
    traits: CampaignTraits,
    profile: DeliveryProfile,
    day: date,
) -> FinalDay:
    """The campaign's final numbers for local date `day`, drawn from its own generator."""
    rng = rng_for(
        seed,
        "day",
        account.workspace_id,
        account.platform,
        account.account_id,
        campaign.campaign_id,
        day,
    )
    seasonal = WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR.get(day.month, 1.0)
    impressions = max(
        1,
        round(
            rng.lognormvariate(math.log(traits.median_impressions * seasonal), IMPRESSIONS_SIGMA)
        ),
    )
    concentration = CTR_CONCENTRATION * CTR_REFERENCE / traits.ctr_mean
    ctr = min(
        CTR_BOUNDS[1],
        max(
            CTR_BOUNDS[0],
            rng.betavariate(traits.ctr_mean * concentration, (1 - traits.ctr_mean) * concentration),
        ),
    )
    clicks = round(impressions * ctr)
    # Cost accrues per expected click, so a day with no whole click still costs something.
    spend_minor = minor_from_amount(
        impressions * ctr * traits.cpc * rng.lognormvariate(0, 0.15), account.currency
    )
    conversions = []
    for _ in range(poisson(rng, clicks * traits.conversion_rate)):
        whole = not profile.fractional_conversions or rng.random() < 0.6
        credit = 100 if whole else rng.randint(20, 99)
        value = rng.lognormvariate(math.log(traits.order_value), 0.45) * credit / 100
        conversions.append(Conversion(credit, minor_from_amount(value, account.currency)))
    link_clicks = round(clicks * rng.uniform(0.55, 0.85))
    landing_page_views = round(link_clicks * rng.uniform(0.65, 0.9))
    reach = None
    if traits.frequency is not None:
        reach = min(
            impressions, max(1, round(impressions / (traits.frequency * rng.uniform(0.95, 1.05))))
        )
    return FinalDay(
        impressions=impressions,
        reach=reach,
        clicks=clicks,
        spend_minor=spend_minor,
        conversions=tuple(conversions),
        link_clicks=link_clicks,
        landing_page_views=landing_page_views,
        add_to_carts=len(conversions) + round(landing_page_views * rng.uniform(0.04, 0.12)),
    )


def delivery_factor(age: DayAge) -> float:
    """Share of final impressions/clicks/spend reported: the elapsed share of the day, less the
    late-arriving 3 % until two days after the day ended."""
    settled = min(1.0, max(0.0, age.days_since_end / DELIVERY_SETTLE_DAYS))
    return age.elapsed * (1 - LATE_DELIVERY_SHARE * (1 - settled))


def conversion_factor(age: DayAge, restatement_days: int) -> float:
    """Share of final conversions reported: 55 % when the day ends, rising to 100 % at the end
    of the platform's attribution window (1.0 exactly from then on)."""
    remaining = 1 - min(1.0, max(0.0, age.days_since_end / restatement_days))
    return age.elapsed * (1 - (1 - FIRST_DAY_CONVERSION_SHARE) * remaining**2)


def reported_day(
    final: FinalDay,
    profile: DeliveryProfile,
    account: SandboxAccount,
    campaign: Campaign,
    day: date,
    age: DayAge,
) -> CampaignDay | None:
    """What the platform reports for the campaign-day at `age`; None when nothing happened yet."""
    delivered = delivery_factor(age)
    matured = conversion_factor(age, profile.restatement_days)
    counted = final.conversions[: math.floor(len(final.conversions) * matured)]
    credit_centi = sum(c.credit_centi for c in counted)
    value = amount_from_minor(sum(c.value_minor for c in counted), account.currency)
    impressions = math.floor(final.impressions * delivered)
    clicks = math.floor(final.clicks * delivered)
    spend_minor = math.floor(final.spend_minor * delivered)
    if impressions == clicks == spend_minor == credit_centi == 0:
        return None
    conversions = (
        Decimal(credit_centi).scaleb(-2)
        if profile.fractional_conversions
        else Decimal(len(counted))
    )
    actions: dict[str, int] = {}
    action_values: dict[str, Decimal] = {}
    if profile.reports_actions:
        actions = {
            "link_click": math.floor(final.link_clicks * delivered),
            "landing_page_view": math.floor(final.landing_page_views * delivered),
            "add_to_cart": math.floor(final.add_to_carts * matured),
        }
        # Meta repeats each pixel purchase under three action types; only `purchase` is the
        # conversion, adding the others double-counts (reference/connectors.md §1.1).
        for action_type in ("purchase", "omni_purchase", "offsite_conversion.fb_pixel_purchase"):
            actions[action_type] = len(counted)
            action_values[action_type] = value
        actions = {k: v for k, v in actions.items() if v > 0}
        action_values = {k: v for k, v in action_values.items() if actions.get(k)}
    return CampaignDay(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        report_date=day,
        currency=account.currency,
        impressions=impressions,
        reach=None if final.reach is None else math.floor(final.reach * delivered),
        clicks=clicks,
        spend=amount_from_minor(spend_minor, account.currency),
        conversions=conversions,
        conversion_value=value,
        actions=actions,
        action_values=action_values,
    )
