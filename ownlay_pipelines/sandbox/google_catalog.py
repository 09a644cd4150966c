"""The entities of a Google Ads customer: campaigns, ad groups, ads, keywords, conversion actions.

Campaigns are Search (brand, competitors, generic themes) plus at most one Display remarketing
campaign; only Search ad groups hold keywords, as on the platform. Ids are numeric like Google's.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from ownlay_pipelines.sandbox.catalog import (
    THEMES,
    AccountCatalog,
    Brand,
    CampaignPlan,
    bid,
    budget,
    child_status,
    letters,
    numeric_id,
    plan_campaigns,
    slugify,
)
from ownlay_pipelines.sandbox.currency import amount_from_minor, minor_from_amount, price_level
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Campaign,
    ConversionAction,
    EntityStatus,
    Keyword,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.performance import DeliveryProfile
from ownlay_pipelines.sandbox.seeding import rng_for

DELIVERY = DeliveryProfile(
    budget_utilisation=(0.55, 0.95),
    ctr_mean=(0.02, 0.035),
    cpc_usd=(0.8, 2.8),
    conversion_rate=(0.02, 0.06),
    order_value_usd=(40, 130),
    frequency=None,
    # Data-driven attribution hands out fractional credit (reported with two decimals).
    fractional_conversions=True,
    restatement_days=30,
    reports_actions=False,
)
"""How Google Ads campaigns deliver; conversions restate for the 30-day conversion window."""

SEARCH = "SEARCH"
DISPLAY = "DISPLAY"
BIDDING_STRATEGIES = (
    "MAXIMIZE_CONVERSIONS",
    "TARGET_CPA",
    "TARGET_ROAS",
    "MAXIMIZE_CONVERSION_VALUE",
    "MANUAL_CPC",
)
MATCH_TYPES = ("EXACT", "PHRASE", "BROAD")
GROUP_SUFFIXES = ("Core terms", "Long tail", "Gifts", "Deals")
HEADLINES = (
    "Official {brand} Store",
    "{theme} - Shop Now",
    "Free Shipping Over 50",
    "Rated 4.8 by Customers",
    "New Styles Every Week",
    "Order Today, Ships Tomorrow",
)
EXTRA_CONVERSIONS = (
    ("Add to cart", "ADD_TO_CART"),
    ("Begin checkout", "BEGIN_CHECKOUT"),
    ("Newsletter signup", "SIGNUP"),
    ("Contact form", "SUBMIT_LEAD_FORM"),
)
ATTRIBUTION_MODELS = ("GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN", "GOOGLE_ADS_LAST_CLICK")


def build_google_catalog(
    seed: int, account: SandboxAccount, brand: Brand, anchor: date
) -> AccountCatalog:
    """Every entity of one Google Ads customer, generated from the seed and the timeline anchor."""
    rng = rng_for(seed, "catalog", account.workspace_id, account.platform, account.account_id)
    plans = plan_campaigns(rng, anchor)
    themes = rng.sample(THEMES, len(plans))
    display_index = rng.randrange(2, len(plans)) if rng.random() < 0.7 else None
    campaigns, ad_groups, ads, keywords = [], [], [], []
    for plan, theme in zip(plans, themes, strict=True):
        channel = DISPLAY if plan.index == display_index else SEARCH
        name, topic = _campaign_name(plan.index, channel, theme)
        campaign = _campaign(seed, account, plan, name, channel, rng)
        campaigns.append(campaign)
        for group_index, suffix in enumerate(rng.sample(GROUP_SUFFIXES, rng.randint(2, 3))):
            group = _ad_group(seed, account, campaign, group_index, f"{topic} - {suffix}", rng)
            ad_groups.append(group)
            ads.extend(_ads(seed, account, brand, campaign, group, theme, channel, rng))
            if channel == SEARCH:
                keywords.extend(_keywords(seed, account, brand, group, topic, rng))
    return AccountCatalog(
        campaigns=tuple(campaigns),
        ad_groups=tuple(ad_groups),
        ads=tuple(ads),
        keywords=tuple(keywords),
        conversion_actions=tuple(_conversion_actions(seed, account, rng)),
    )


def _campaign_name(index: int, channel: str, theme: str) -> tuple[str, str]:
    """The campaign's name and the topic its ad groups and keywords are about."""
    if channel == DISPLAY:
        return f"Display - Remarketing | {theme}", theme
    if index == 0:
        return "Search - Brand", "Brand"
    if index == 1:
        return "Search - Competitors", "Competitors"
    return f"Search - Generic | {theme}", theme


def _campaign(
    seed: int,
    account: SandboxAccount,
    plan: CampaignPlan,
    name: str,
    channel: str,
    rng: random.Random,
) -> Campaign:
    return Campaign(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=numeric_id(seed, account, "campaign", plan.index, prefix="2", length=11),
        name=name,
        status=plan.status,
        objective=channel,
        bidding_strategy=rng.choice(BIDDING_STRATEGIES),
        daily_budget=budget(rng, 30, 400, account.currency),
        start_date=plan.start_date,
        ended_on=plan.ended_on,
        utm_campaign=slugify(name),
    )


def _ad_group(
    seed: int,
    account: SandboxAccount,
    campaign: Campaign,
    index: int,
    name: str,
    rng: random.Random,
) -> AdGroup:
    return AdGroup(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        ad_group_id=numeric_id(
            seed, account, "ad_group", campaign.campaign_id, index, prefix="1", length=12
        ),
        name=name,
        status=child_status(rng, campaign.status, 0.15),
        cpc_bid=bid(rng, 0.6, 3.0, account.currency),
    )


def _ads(
    seed: int,
    account: SandboxAccount,
    brand: Brand,
    campaign: Campaign,
    group: AdGroup,
    theme: str,
    channel: str,
    rng: random.Random,
) -> list[Ad]:
    url = (
        f"{brand.site}/{slugify(theme)}?utm_source=google&utm_medium=cpc"
        f"&utm_campaign={campaign.utm_campaign}"
    )
    kind = "RSA" if channel == SEARCH else "RDA"
    ads = []
    for letter in letters(rng.randint(2, 3)):
        picked = rng.sample(HEADLINES, rng.randint(3, 5))
        ads.append(
            Ad(
                platform=account.platform,
                account_id=account.account_id,
                campaign_id=campaign.campaign_id,
                ad_group_id=group.ad_group_id,
                ad_id=numeric_id(
                    seed, account, "ad", group.ad_group_id, letter, prefix="7", length=12
                ),
                name=f"{kind} {letter} - {group.name}",
                status=child_status(rng, group.status, 0.1),
                ad_type="RESPONSIVE_SEARCH_AD" if channel == SEARCH else "RESPONSIVE_DISPLAY_AD",
                final_urls=(url,),
                headlines=tuple(h.format(brand=brand.name, theme=theme) for h in picked),
                creative_id=None,
            )
        )
    return ads


def _keywords(
    seed: int,
    account: SandboxAccount,
    brand: Brand,
    group: AdGroup,
    topic: str,
    rng: random.Random,
) -> list[Keyword]:
    candidates = _keyword_candidates(brand.name.lower(), topic)
    keywords = []
    for index, text in enumerate(rng.sample(candidates, rng.randint(3, 5))):
        keywords.append(
            Keyword(
                account_id=account.account_id,
                campaign_id=group.campaign_id,
                ad_group_id=group.ad_group_id,
                criterion_id=numeric_id(
                    seed, account, "criterion", group.ad_group_id, index, prefix="3", length=12
                ),
                text=text,
                match_type=rng.choice(MATCH_TYPES),
                cpc_bid=bid(rng, 0.5, 3.5, account.currency),
                # Google leaves the quality score unset for keywords with too little traffic.
                quality_score=None if rng.random() < 0.2 else rng.randint(1, 10),
                status=child_status(rng, group.status, 0.1),
            )
        )
    return keywords


def _keyword_candidates(brand: str, topic: str) -> list[str]:
    """Search terms an advertiser would bid on for an ad group about `topic`."""
    if topic == "Brand":
        return [brand, f"{brand} shop", f"{brand} online", f"{brand} discount code", f"buy {brand}"]
    if topic == "Competitors":
        return [
            f"{brand} alternative",
            f"shops like {brand}",
            "best online shop",
            "top rated store",
            "online shop reviews",
        ]
    subject = topic.lower()
    return [subject, f"buy {subject}", f"{subject} online", f"best {subject}", f"{subject} deals"]


def _conversion_actions(
    seed: int, account: SandboxAccount, rng: random.Random
) -> list[ConversionAction]:
    order_value = minor_from_amount(
        rng.uniform(40, 120) * price_level(account.currency), account.currency
    )
    specs = [("Purchase", "PURCHASE", amount_from_minor(order_value, account.currency))]
    specs += [
        (name, category, Decimal(1))
        for name, category in rng.sample(EXTRA_CONVERSIONS, rng.randint(1, 2))
    ]
    return [
        ConversionAction(
            account_id=account.account_id,
            conversion_action_id=numeric_id(
                seed, account, "conversion_action", index, prefix="6", length=9
            ),
            name=name,
            category=category,
            default_value=value,
            attribution_model=ATTRIBUTION_MODELS[0]
            if index == 0
            else rng.choice(ATTRIBUTION_MODELS),
            status=EntityStatus.ACTIVE,
        )
        for index, (name, category, value) in enumerate(specs)
    ]
