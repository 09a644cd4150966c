"""What every platform's entity catalog shares: campaign timeline, ids, names, budgets.

A platform catalog module (`meta_catalog`, `google_catalog`) turns the timeline planned here into
its own entities. Dates are placed relative to the world's timeline anchor, never to `now`, so
two worlds that differ only in `now` hold the same campaigns with the same histories.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from ownlay_pipelines.sandbox.currency import amount_from_minor, minor_from_amount, price_level
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Audience,
    Campaign,
    ConversionAction,
    Creative,
    EntityStatus,
    Keyword,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.seeding import digits, rng_for

THEMES = (
    "Spring Sale",
    "Summer Collection",
    "Autumn Edit",
    "Holiday Gifts",
    "Bestsellers",
    "New Arrivals",
    "Clearance",
    "Evergreen",
    "Loyalty Members",
    "Bundle Deals",
    "Weekend Flash Sale",
    "Gift Cards",
)
COMPANY_SUFFIXES = re.compile(
    r"\s*,?\s+(co\.?|inc\.?|ltd\.?|llc|gmbh|k\.k\.|ag|s\.a\.|sas|b\.v\.|pty ltd)$", re.IGNORECASE
)
COUNTRY_BY_CURRENCY = {"USD": "US", "EUR": "DE", "JPY": "JP", "GBP": "GB", "CAD": "CA", "AUD": "AU"}


@dataclass(frozen=True)
class CampaignPlan:
    """When one campaign slot of an account ran: its status and its local start / end dates."""

    index: int
    status: EntityStatus
    start_date: date
    ended_on: date | None


@dataclass(frozen=True)
class Brand:
    """The advertiser behind an account: display name, a domain-safe slug, its country."""

    name: str
    slug: str
    country: str

    @classmethod
    def of(cls, workspace_name: str, currency: str) -> Brand:
        """The brand of a workspace: its name without the company suffix ("GmbH", "Co.")."""
        name = COMPANY_SUFFIXES.sub("", workspace_name.strip()) or workspace_name
        return cls(name, re.sub(r"[^a-z0-9]", "", name.lower()), country_of(currency))

    @property
    def site(self) -> str:
        """The brand's shop URL, where ads send people."""
        # .example is reserved (RFC 2606): the sandbox never names a real shop.
        return f"https://www.{self.slug}.example"


@dataclass(frozen=True)
class AccountCatalog:
    """Every entity of one platform account; lists are in the platform's natural listing order."""

    campaigns: tuple[Campaign, ...]
    ad_groups: tuple[AdGroup, ...] = ()
    ads: tuple[Ad, ...] = ()
    creatives: tuple[Creative, ...] = ()
    audiences: tuple[Audience, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    conversion_actions: tuple[ConversionAction, ...] = ()
    campaign_by_id: dict[str, Campaign] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "campaign_by_id", {c.campaign_id: c for c in self.campaigns})


def plan_campaigns(rng: random.Random, anchor: date) -> list[CampaignPlan]:
    """5–7 campaign slots: exactly one deleted (with spend before its removal), 1–2 paused, the
    rest active, so every account shows each status and a deleted campaign with history."""
    count = rng.randint(5, 7)
    deleted = rng.randrange(count)
    paused = set(rng.sample([i for i in range(count) if i != deleted], rng.randint(1, 2)))
    plans = []
    for index in range(count):
        if index == deleted:
            # Removed 7–30 days before the anchor, so even at the end of a 52-week timeline
            # period its last weeks are inside the default 400-day history.
            ended: date | None = anchor - timedelta(days=rng.randint(7, 30))
            start = ended - timedelta(days=rng.randint(60, 300))
            status = EntityStatus.DELETED
        elif index in paused:
            ended = anchor - timedelta(days=rng.randint(1, 60))
            start = ended - timedelta(days=rng.randint(30, 400))
            status = EntityStatus.PAUSED
        else:
            ended, start = None, anchor - timedelta(days=rng.randint(30, 600))
            status = EntityStatus.ACTIVE
        plans.append(CampaignPlan(index, status, start, ended))
    return plans


def child_status(rng: random.Random, parent: EntityStatus, paused_share: float) -> EntityStatus:
    """A child entity's own status: deleted with its deleted parent, otherwise sometimes paused."""
    if parent is EntityStatus.DELETED:
        return EntityStatus.DELETED
    return EntityStatus.PAUSED if rng.random() < paused_share else EntityStatus.ACTIVE


def numeric_id(
    seed: int, account: SandboxAccount, kind: str, *path: object, prefix: str, length: int
) -> str:
    """A platform-looking numeric id (`prefix` + random digits) fixed by the entity's identity."""
    rng = rng_for(
        seed, "id", account.workspace_id, account.platform, account.account_id, kind, *path
    )
    return prefix + digits(rng, length - len(prefix))


def slugify(text: str) -> str:
    """Lower-case words joined by '-', the shape marketers give `utm_campaign` values."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def budget(rng: random.Random, usd_low: float, usd_high: float, currency: str) -> Decimal:
    """A daily budget in whole currency units with two significant digits, as people set them."""
    amount = rng.uniform(usd_low, usd_high) * price_level(currency)
    rounded = round(amount, 1 - len(str(int(amount))))
    return Decimal(int(rounded))


def bid(rng: random.Random, usd_low: float, usd_high: float, currency: str) -> Decimal:
    """A CPC bid rounded to the currency's minor unit (micros on Google stay exact)."""
    minor = minor_from_amount(rng.uniform(usd_low, usd_high) * price_level(currency), currency)
    return amount_from_minor(max(minor, 1), currency)


def country_of(currency: str) -> str:
    """The country an account in `currency` most plausibly targets (for targeting and audiences)."""
    return COUNTRY_BY_CURRENCY.get(currency, "US")


def letters(count: int) -> str:
    """'A', 'B', … for naming ad variants."""
    return "ABCDEFGHIJ"[:count]
