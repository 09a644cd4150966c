"""Entities of the second-wave ad platforms (TikTok, Snapchat, LinkedIn), from one shared shape.

They all nest campaign → ad group (TikTok ad group, Snapchat ad squad; LinkedIn has none, its
creatives hang off the campaign) → ad. A `CatalogStyle` carries what differs: id format, campaign
and group names, objectives and the UTM tags their ads' landing URLs carry.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

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
from ownlay_pipelines.sandbox.entities import Ad, AdGroup, Campaign, SandboxAccount
from ownlay_pipelines.sandbox.seeding import rng_for

IdMaker = Callable[[int, SandboxAccount, str, tuple[object, ...]], str]


def numeric_ids(prefix: str, length: int) -> IdMaker:
    """Ids of `length` digits starting with `prefix` (TikTok 19 digits "17…", LinkedIn 9)."""
    return lambda seed, account, kind, path: numeric_id(
        seed, account, kind, *path, prefix=prefix, length=length
    )


def uuid_ids(seed: int, account: SandboxAccount, kind: str, path: tuple[object, ...]) -> str:
    """Random-looking version-4 UUIDs, as Snapchat's object ids are."""
    rng = rng_for(
        seed, "id", account.workspace_id, account.platform, account.account_id, kind, *path
    )
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class CatalogStyle:
    """How one platform's entities look."""

    funnels: tuple[tuple[str, str], ...]
    """(campaign name prefix, objective) choices, at least 7, none shared with another platform:
    `utm_campaign` is the name's slug and must name one campaign per workspace."""
    group_kinds: tuple[str, ...]
    """Ad group name suffixes (audiences), at least 3."""
    make_id: IdMaker
    utm_source: str
    utm_medium: str
    budget_usd: tuple[float, float]
    ad_type: str
    has_ad_groups: bool = True


def catalog_builder(
    style: CatalogStyle,
) -> Callable[[int, SandboxAccount, Brand, date], AccountCatalog]:
    """A sandbox catalog builder for platforms shaped like `style`."""

    def build(seed: int, account: SandboxAccount, brand: Brand, anchor: date) -> AccountCatalog:
        rng = rng_for(seed, "catalog", account.workspace_id, account.platform, account.account_id)
        plans = plan_campaigns(rng, anchor)
        funnels = rng.sample(style.funnels, len(plans))
        themes = rng.sample(THEMES, len(plans))
        campaigns, groups, ads = [], [], []
        for plan, (funnel, objective), theme in zip(plans, funnels, themes, strict=True):
            campaign = _campaign(seed, style, account, plan, f"{funnel} | {theme}", objective, rng)
            campaigns.append(campaign)
            kinds = (
                rng.sample(style.group_kinds, rng.randint(2, 3)) if style.has_ad_groups else [""]
            )
            for index, kind in enumerate(kinds):
                group = _group(seed, style, account, brand, campaign, index, kind, rng)
                if style.has_ad_groups:
                    groups.append(group)
                for letter in letters(rng.randint(2, 3)):
                    ads.append(
                        _ad(seed, style, account, brand, campaign, group, theme, letter, rng)
                    )
        return AccountCatalog(campaigns=tuple(campaigns), ad_groups=tuple(groups), ads=tuple(ads))

    return build


def _campaign(
    seed: int,
    style: CatalogStyle,
    account: SandboxAccount,
    plan: CampaignPlan,
    name: str,
    objective: str,
    rng: random.Random,
) -> Campaign:
    return Campaign(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=style.make_id(seed, account, "campaign", (plan.index,)),
        name=name,
        status=plan.status,
        objective=objective,
        bidding_strategy="LOWEST_COST",
        daily_budget=budget(rng, *style.budget_usd, account.currency),
        start_date=plan.start_date,
        ended_on=plan.ended_on,
        utm_campaign=slugify(name),
    )


def _group(
    seed: int,
    style: CatalogStyle,
    account: SandboxAccount,
    brand: Brand,
    campaign: Campaign,
    index: int,
    kind: str,
    rng: random.Random,
) -> AdGroup:
    return AdGroup(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        # Without ad groups (LinkedIn) ads hang off the campaign itself.
        ad_group_id=style.make_id(seed, account, "group", (campaign.campaign_id, index))
        if style.has_ad_groups
        else campaign.campaign_id,
        name=f"{brand.country} | {kind}",
        status=child_status(rng, campaign.status, 0.15),
        cpc_bid=bid(rng, 0.3, 2.0, account.currency),
        targeting={"location": [brand.country], "audience": kind},
    )


def _ad(
    seed: int,
    style: CatalogStyle,
    account: SandboxAccount,
    brand: Brand,
    campaign: Campaign,
    group: AdGroup,
    theme: str,
    letter: str,
    rng: random.Random,
) -> Ad:
    ad_id = style.make_id(seed, account, "ad", (group.ad_group_id, letter))
    link = (
        f"{brand.site}/{slugify(theme)}?utm_source={style.utm_source}"
        f"&utm_medium={style.utm_medium}&utm_campaign={campaign.utm_campaign}&utm_content={ad_id}"
    )
    return Ad(
        platform=account.platform,
        account_id=account.account_id,
        campaign_id=campaign.campaign_id,
        ad_group_id=group.ad_group_id,
        ad_id=ad_id,
        name=f"{theme} - {style.ad_type.title()} {letter}",
        status=child_status(rng, group.status, 0.15),
        ad_type=style.ad_type,
        final_urls=(link,),
        headlines=(f"{theme} at {brand.name}",),
        creative_id=ad_id,
    )
