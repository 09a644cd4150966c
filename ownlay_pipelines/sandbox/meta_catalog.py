"""A Meta ad account's entities: campaigns, ad sets, ads, a creative per ad, custom audiences.

Ids look like Meta's: 18-digit strings starting "120…" for current objects, "238…" for campaigns
created more than a year before the timeline anchor and for custom audiences.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from ownlay_pipelines.sandbox.catalog import (
    THEMES,
    AccountCatalog,
    Brand,
    CampaignPlan,
    budget,
    child_status,
    letters,
    numeric_id,
    plan_campaigns,
    slugify,
)
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Audience,
    Campaign,
    Creative,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.performance import DeliveryProfile
from ownlay_pipelines.sandbox.seeding import digits, rng_for

DELIVERY = DeliveryProfile(
    budget_utilisation=(0.6, 0.95),
    ctr_mean=(0.008, 0.02),
    cpc_usd=(0.5, 1.6),
    conversion_rate=(0.015, 0.045),
    order_value_usd=(35, 110),
    frequency=(1.05, 1.6),
    fractional_conversions=False,
    restatement_days=28,
    reports_actions=True,
)
"""How Meta campaigns deliver; purchases restate for the 28-day click window (§1.1)."""

FUNNELS = (
    ("Prospecting", "OUTCOME_SALES"),
    ("Retargeting", "OUTCOME_SALES"),
    ("Lookalike 1%", "OUTCOME_SALES"),
    ("Advantage+ Shopping", "OUTCOME_SALES"),
    ("Broad Reach", "OUTCOME_AWARENESS"),
    ("Traffic", "OUTCOME_TRAFFIC"),
    ("Lead Gen", "OUTCOME_LEADS"),
)
BID_STRATEGIES = ("LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITHOUT_CAP", "COST_CAP")
AUDIENCE_KINDS = ("Broad", "Interests", "Lookalike 1%", "Website Visitors 30d", "Engagers 90d")
AGE_BANDS = ((18, 65), (25, 54), (25, 44), (35, 65))
BODIES = (
    "Free shipping on every order this week.",
    "Loved by thousands of customers. Find your favourite today.",
    "Limited stock - once it's gone, it's gone.",
    "Treat yourself or someone you love.",
)
AUDIENCE_TEMPLATES = (
    ("Website visitors - 30 days", "WEBSITE", "Everyone who visited the site", 30, 20_000, 200_000),
    ("Purchasers - 180 days", "WEBSITE", "Everyone who purchased", 180, 2_000, 40_000),
    (
        "Customer list - newsletter",
        "CUSTOM",
        "Uploaded newsletter subscribers",
        None,
        5_000,
        80_000,
    ),
    (
        "Lookalike ({country}, 1%) - Purchasers",
        "LOOKALIKE",
        "Similar to purchasers",
        None,
        600_000,
        2_400_000,
    ),
    (
        "Instagram engagers - 90 days",
        "ENGAGEMENT",
        "People who engaged on Instagram",
        90,
        10_000,
        150_000,
    ),
)


def build_meta_catalog(
    seed: int, account: SandboxAccount, brand: Brand, anchor: date
) -> AccountCatalog:
    """Every entity of one Meta ad account, generated from the seed and the timeline anchor."""
    rng = rng_for(seed, "catalog", account.workspace_id, account.platform, account.account_id)
    plans = plan_campaigns(rng, anchor)
    funnels = rng.sample(FUNNELS, len(plans))
    themes = rng.sample(THEMES, len(plans))
    campaigns, ad_groups, ads, creatives = [], [], [], []
    for plan, (funnel, objective), theme in zip(plans, funnels, themes, strict=True):
        campaign = _campaign(seed, account, plan, f"{funnel} | {theme}", objective, anchor, rng)
        campaigns.append(campaign)
        for group_index, kind in enumerate(rng.sample(AUDIENCE_KINDS, rng.randint(2, 3))):
            group = _ad_set(seed, account, brand, campaign, group_index, kind, rng)
            ad_groups.append(group)
            for letter in letters(rng.randint(2, 3)):
                ad, creative = _ad(seed, account, brand, campaign, group, theme, letter, rng)
                ads.append(ad)
                creatives.append(creative)
    return AccountCatalog(
        campaigns=tuple(campaigns),
        ad_groups=tuple(ad_groups),
        ads=tuple(ads),
        creatives=tuple(creatives),
        audiences=tuple(_audiences(seed, account, brand, anchor, rng)),
    )


def _campaign(
    seed: int,
    account: SandboxAccount,
    plan: CampaignPlan,
    name: str,
    objective: str,
    anchor: date,
    rng: random.Random,
) -> Campaign:
    legacy = plan.start_date < anchor - timedelta(days=365)
    return Campaign(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=numeric_id(
            seed, account, "campaign", plan.index, prefix="238" if legacy else "120", length=18
        ),
        name=name,
        status=plan.status,
        objective=objective,
        bidding_strategy=rng.choice(BID_STRATEGIES),
        daily_budget=budget(rng, 50, 600, account.currency),
        start_date=plan.start_date,
        ended_on=plan.ended_on,
        utm_campaign=slugify(name),
    )


def _ad_set(
    seed: int,
    account: SandboxAccount,
    brand: Brand,
    campaign: Campaign,
    index: int,
    kind: str,
    rng: random.Random,
) -> AdGroup:
    age_min, age_max = rng.choice(AGE_BANDS)
    return AdGroup(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        ad_group_id=numeric_id(
            seed, account, "adset", campaign.campaign_id, index, prefix="120", length=18
        ),
        name=f"{brand.country} | {age_min}-{age_max} | {kind}",
        status=child_status(rng, campaign.status, 0.15),
        cpc_bid=None,
        targeting={
            "geo_locations": {"countries": [brand.country]},
            "age_min": age_min,
            "age_max": age_max,
            "publisher_platforms": ["facebook", "instagram"],
        },
    )


def _ad(
    seed: int,
    account: SandboxAccount,
    brand: Brand,
    campaign: Campaign,
    group: AdGroup,
    theme: str,
    letter: str,
    rng: random.Random,
) -> tuple[Ad, Creative]:
    ad_id = numeric_id(seed, account, "ad", group.ad_group_id, letter, prefix="120", length=18)
    creative_id = numeric_id(seed, account, "creative", ad_id, prefix="120", length=18)
    is_video = rng.random() < 0.4
    link = (
        f"{brand.site}/{slugify(theme)}?utm_source=facebook&utm_medium=paid_social"
        f"&utm_campaign={campaign.utm_campaign}&utm_content={ad_id}"
    )
    title = f"{theme} at {brand.name}"
    ad = Ad(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        ad_group_id=group.ad_group_id,
        ad_id=ad_id,
        name=f"{theme} - {'Video' if is_video else 'Image'} {letter}",
        status=child_status(rng, group.status, 0.15),
        ad_type="VIDEO" if is_video else "IMAGE",
        final_urls=(link,),
        headlines=(title,),
        creative_id=creative_id,
    )
    creative = Creative(
        account_id=account.account_id,
        creative_id=creative_id,
        ad_id=ad_id,
        name=f"{ad.name} creative",
        title=title,
        body=rng.choice(BODIES),
        image_url=None
        if is_video
        else f"https://scontent.xx.fbcdn.net/v/t45.1600-4/{digits(rng, 9)}_{digits(rng, 17)}_n.jpg",
        video_id=digits(rng, 16) if is_video else None,
        link_url=link,
        call_to_action_type=rng.choice(("SHOP_NOW", "LEARN_MORE", "SHOP_NOW")),
    )
    return ad, creative


def _audiences(
    seed: int, account: SandboxAccount, brand: Brand, anchor: date, rng: random.Random
) -> list[Audience]:
    audiences = []
    for index, template in enumerate(rng.sample(AUDIENCE_TEMPLATES, rng.randint(3, 4))):
        name, subtype, description, retention, low, high = template
        # Meta reports sizes only as a rounded range (two significant digits, ~15 % wide).
        size = rng.randint(low, high)
        lower = round(size, 2 - len(str(size)))
        created = anchor - timedelta(days=rng.randint(30, 700))
        audiences.append(
            Audience(
                account_id=account.account_id,
                audience_id=numeric_id(seed, account, "audience", index, prefix="238", length=17),
                name=name.format(country=brand.country),
                subtype=subtype,
                description=description,
                approximate_count_lower_bound=lower,
                approximate_count_upper_bound=int(round(lower * 1.15, 2 - len(str(lower)))),
                retention_days=retention,
                created_at=datetime.combine(created, time(12), account.zone).astimezone(UTC),
            )
        )
    return audiences
