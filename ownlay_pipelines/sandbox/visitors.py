"""The world's shop visitors: who clicked which ad when, and how each visit ended.

Visits are drawn per campaign-day from the same final numbers the ad platforms report, so the
shop and the platforms tell one story: of the conversions a platform claims for a campaign-day,
about 65 % are real orders whose last ad click (within 7 days) is that campaign's — the rest are
the platforms' over-attribution. Some ad visitors only look, some abandon a checkout, and a few
buyers per day come without any ad click in the last 7 days (organic). Every visitor is a new
browser (`visitor_id`), so one visitor's clicks never reach another visitor's order.

The URLs carry what the ad platforms really append: the ad's own UTM parameters and the
platform's click id (Meta `fbclid`, Google auto-tagging `gclid`, …), as each platform plug-in
declares it (`ClickId`). That declaration belongs to the sandbox side on purpose: the attribution
model has its own map (`models/channels.py`), and a shared one would hide a bug in both.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from ownlay_pipelines.sandbox.catalog import Brand
from ownlay_pipelines.sandbox.entities import Ad, Campaign, SandboxAccount
from ownlay_pipelines.sandbox.plugins import modelled_ad_platforms
from ownlay_pipelines.sandbox.seeding import poisson, rng_for, stable_seed
from ownlay_pipelines.sandbox.shop_catalog import build_products, draw_lines
from ownlay_pipelines.sandbox.shop_entities import Click, LineItem, Visit, VisitOutcome

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.world import SandboxWorld

REAL_ORDER_SHARE = 0.65
"""Share of a platform's claimed conversions that are real orders last-clicked on that campaign."""
BOUNCE_SHARE = 0.02
"""Visits per ad click that view the landing page only (a sample: most clicks send no events)."""
ABANDONED_PER_ORDER = 0.4
ORGANIC_ORDERS_PER_DAY = 3.0
MAX_ORDER_DELAY = timedelta(days=6)
"""The latest an order follows its driving click, inside the 7-day attribution window."""
SESSION_TIMEOUT = timedelta(minutes=30)
DEVICES = ("desktop", "mobile", "mobile", "tablet")


@dataclass(frozen=True)
class AdCampaign:
    """A campaign of one of the workspace's ad accounts, with its ads (where clicks land)."""

    account: SandboxAccount
    campaign: Campaign
    ads: tuple[Ad, ...]


class VisitorModel:
    """The visitors of one workspace's shop, drawn per day from the world's ad delivery."""

    def __init__(self, world: SandboxWorld, workspace_id: str) -> None:
        workspace = world.registry.get(workspace_id)
        self.world = world
        self.seed = world.seed
        self.workspace_id = workspace_id
        self.zone = workspace.zone
        self.currency = workspace.currency
        self.site = Brand.of(workspace.name, workspace.currency).site
        self.products = build_products(
            self.seed, workspace_id, workspace.currency, world.timeline_anchor
        )
        self.click_ids = {
            platform: plugin.click_id
            for platform, plugin in modelled_ad_platforms().items()
            if plugin.click_id is not None
        }
        self.campaigns = [
            AdCampaign(
                account,
                campaign,
                tuple(
                    ad
                    for ad in world.ads(account.platform, account.account_id)
                    if ad.campaign_id == campaign.campaign_id
                ),
            )
            for account in world.accounts()
            if account.workspace_id == workspace_id and account.platform in self.click_ids
            for campaign in world.campaigns(account.platform, account.account_id)
        ]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The UTC start and end of local date `day` (23 or 25 hours long across DST)."""
        start = datetime.combine(day, time(), self.zone).astimezone(UTC)
        return start, datetime.combine(day + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        """The shop's local date at `moment`."""
        return moment.astimezone(self.zone).date()

    def ad_visits(self, day: date) -> list[Visit]:
        """Every visit whose last ad click was on local date `day`, campaign by campaign."""
        visits: list[Visit] = []
        for ad_campaign in self.campaigns:
            if ad_campaign.campaign.delivers_on(day):
                visits.extend(self._campaign_day_visits(ad_campaign, day))
        return visits

    def organic_purchases(self, day: date) -> list[Visit]:
        """Buyers who order on local date `day` without an ad click in the 7 days before."""
        rng = rng_for(self.seed, "organic-visits", self.workspace_id, day)
        start, end = self.day_bounds(day)
        visits = []
        for index in range(poisson(rng, ORGANIC_ORDERS_PER_DAY)):
            ordered = _whole_second(start + (end - start) * rng.random())
            clicks: tuple[Click, ...] = ()
            if rng.random() < 0.3:
                # An old ad click, 8–20 days back: outside the window, so it credits nothing.
                old = ordered - timedelta(days=rng.uniform(8, 20))
                clicks = tuple(self._earlier_click(rng, old))
            visits.append(
                Visit(
                    visitor_id=self._visitor_id("organic", day, index),
                    clicks=clicks,
                    session_start=ordered - timedelta(minutes=rng.uniform(3, 25)),
                    landing_url=f"{self.site}/",
                    referrer="https://www.google.com/" if rng.random() < 0.5 else None,
                    ended_at=ordered,
                    outcome=VisitOutcome.PURCHASE,
                    line_items=self._lines(rng, "organic", day, index),
                    device=rng.choice(DEVICES),
                )
            )
        return visits

    def _campaign_day_visits(self, ad_campaign: AdCampaign, day: date) -> list[Visit]:
        account, campaign = ad_campaign.account, ad_campaign.campaign
        final = self.world.final_campaign_day(
            account.platform, account.account_id, campaign.campaign_id, day
        )
        identity = (account.platform, account.account_id, campaign.campaign_id, day)
        rng = rng_for(self.seed, "ad-visits", self.workspace_id, *identity)
        buyers = sum(1 for _ in final.conversions if rng.random() < REAL_ORDER_SHARE)
        lookers = poisson(rng, final.clicks * BOUNCE_SHARE)
        abandoners = poisson(rng, buyers * ABANDONED_PER_ORDER)
        plan = [
            *([VisitOutcome.PURCHASE] * buyers),
            *([VisitOutcome.BOUNCE] * lookers),
            *([VisitOutcome.CHECKOUT] * abandoners),
        ]
        start, end = self.day_bounds(day)
        visits = []
        for index, outcome in enumerate(plan):
            clicked = start + (end - start) * rng.random()
            click = self._click(rng, ad_campaign, clicked)
            visit_id = self._visitor_id(*identity, index)
            if outcome is VisitOutcome.PURCHASE:
                visits.append(self._purchase(rng, click, visit_id, identity, index))
            else:
                visits.append(self._browse(rng, click, visit_id, outcome, identity, index))
        return visits

    def _purchase(
        self,
        rng: random.Random,
        click: Click,
        visitor_id: str,
        identity: tuple[object, ...],
        index: int,
    ) -> Visit:
        draw = rng.random()
        if draw < 0.6:
            delay = timedelta(minutes=rng.uniform(2, 60))
        elif draw < 0.9:
            delay = timedelta(hours=rng.uniform(1, 24))
        else:
            delay = timedelta(days=rng.uniform(1, MAX_ORDER_DELAY.days))
        ordered = _whole_second(click.at + delay)
        earlier = []
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            at = click.at - timedelta(minutes=rng.uniform(5, MAX_ORDER_DELAY.days * 24 * 60))
            earlier.extend(self._earlier_click(rng, at))
        same_session = ordered - click.at <= SESSION_TIMEOUT
        return Visit(
            visitor_id=visitor_id,
            clicks=(*sorted(earlier, key=lambda c: c.at), click),
            session_start=click.at
            if same_session
            else ordered - timedelta(minutes=rng.uniform(4, 20)),
            landing_url=click.url if same_session else f"{self.site}/",
            referrer=referrer(click.platform) if same_session else None,
            ended_at=ordered,
            outcome=VisitOutcome.PURCHASE,
            line_items=self._lines(rng, *identity, index),
            device=rng.choice(DEVICES),
        )

    def _browse(
        self,
        rng: random.Random,
        click: Click,
        visitor_id: str,
        outcome: VisitOutcome,
        identity: tuple[object, ...],
        index: int,
    ) -> Visit:
        bounced = outcome is VisitOutcome.BOUNCE
        length = timedelta(seconds=rng.uniform(5, 90) if bounced else rng.uniform(180, 900))
        return Visit(
            visitor_id=visitor_id,
            clicks=(click,),
            session_start=click.at,
            landing_url=click.url,
            referrer=referrer(click.platform),
            ended_at=_whole_second(click.at + length),
            outcome=outcome,
            line_items=() if bounced else self._lines(rng, *identity, index),
            device=rng.choice(DEVICES),
        )

    def _earlier_click(self, rng: random.Random, at: datetime) -> list[Click]:
        """A click at `at` on a campaign that was running that day, if any was."""
        day = self.local_date(at)
        running = [c for c in self.campaigns if c.campaign.delivers_on(day)]
        if not running:
            return []
        return [self._click(rng, rng.choice(running), at)]

    def _click(self, rng: random.Random, ad_campaign: AdCampaign, at: datetime) -> Click:
        account, campaign = ad_campaign.account, ad_campaign.campaign
        spec = self.click_ids[account.platform]
        length = spec.length
        click_id = spec.prefix + base64.urlsafe_b64encode(rng.randbytes(length)).decode()[:length]
        landing = rng.choice(ad_campaign.ads).final_urls[0] if ad_campaign.ads else self.site
        separator = "&" if "?" in landing else "?"
        return Click(
            at=at,
            platform=account.platform,
            account_id=account.account_id,
            campaign_id=campaign.campaign_id,
            url=f"{landing}{separator}{spec.parameter}={click_id}",
        )

    def _lines(self, rng: random.Random, *identity: object) -> tuple[LineItem, ...]:
        return draw_lines(
            rng, self.products, seed=self.seed, workspace_id=self.workspace_id, identity=identity
        )

    def _visitor_id(self, *identity: object) -> str:
        return f"v-{stable_seed(self.seed, 'visitor', self.workspace_id, *identity):016x}"


def referrer(platform: str) -> str:
    """The Referer of a visit arriving from an ad click on `platform`."""
    click_id = modelled_ad_platforms()[platform].click_id
    assert click_id is not None, f"{platform} declares no click id"
    return click_id.referrer


def _whole_second(moment: datetime) -> datetime:
    # Shopify timestamps have whole seconds; the order and its purchase event share one.
    return moment.replace(microsecond=0)
