"""The sandbox world: one seeded model of every workspace's ad accounts, seen as of one moment.

Simulators render its views in each platform's wire format; tests read its ground truth. Every
value is computed on demand from (seed, workspace, account, entity id, date), so a single value
never requires generating the others and two worlds with the same seed agree exactly.

Campaign histories are placed relative to a timeline anchor — the Monday starting the 52-week
period (counted from 2024-01-01) that contains `now` — not to `now` itself: two worlds whose
`now` falls in the same period hold identical campaigns and final numbers, and differ only in how
much has been reported yet (partial today, restated conversions, days not yet lived).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox.catalog import AccountCatalog, Brand
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Audience,
    Campaign,
    CampaignDay,
    ConversionAction,
    Creative,
    Keyword,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.google_catalog import build_google_catalog
from ownlay_pipelines.sandbox.meta_catalog import build_meta_catalog
from ownlay_pipelines.sandbox.orders import Shop
from ownlay_pipelines.sandbox.performance import (
    DELIVERY_PROFILES,
    CampaignTraits,
    DayAge,
    FinalDay,
    campaign_traits,
    final_day,
    reported_day,
)

TIMELINE_EPOCH = date(2024, 1, 1)
TIMELINE_PERIOD_DAYS = 364
"""52 weeks, so an anchor is always a Monday and weekday seasonality lines up across periods."""

CatalogBuilder = Callable[[int, SandboxAccount, Brand, date], AccountCatalog]
CATALOG_BUILDERS: dict[str, CatalogBuilder] = {
    "meta_ads": build_meta_catalog,
    "google_ads": build_google_catalog,
}
"""Platforms the world models entities and delivery for; a new platform adds its builder here
and its delivery profile to `performance.DELIVERY_PROFILES`."""
NON_AD_PLATFORMS = frozenset({"omnisend", "shopify", "stripe", "mailchimp"})
"""Connected platforms that are not ad accounts; `sandbox/omnisend_catalog.py` models their brands
and `sandbox/orders.py` the shops (`SandboxWorld.shop`)."""


def timeline_anchor(now: datetime) -> date:
    """The Monday starting the 52-week timeline period that contains `now` (in UTC)."""
    periods = (now.astimezone(UTC).date() - TIMELINE_EPOCH).days // TIMELINE_PERIOD_DAYS
    return TIMELINE_EPOCH + timedelta(days=periods * TIMELINE_PERIOD_DAYS)


class SandboxWorld:
    """Every workspace's platform accounts, their entities and daily delivery, as of `now`."""

    def __init__(
        self,
        registry: Registry,
        *,
        seed: int = 7,
        now: datetime | None = None,
        history_days: int = 400,
    ) -> None:
        if now is None:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now={now.isoformat()} has no timezone; pass an aware datetime (UTC)")
        if history_days < 1:
            raise ValueError(f"history_days must be at least 1, not {history_days}")
        self.registry = registry
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.history_days = history_days
        self.timeline_anchor = timeline_anchor(self.now)
        self._accounts: dict[tuple[str, str], SandboxAccount] = {}
        self._brands: dict[tuple[str, str], Brand] = {}
        for workspace in registry.workspaces:
            for connection in workspace.connections:
                if connection.platform in NON_AD_PLATFORMS:
                    continue
                key = (str(connection.platform), connection.account_id)
                if key in self._accounts:
                    raise ValueError(
                        f"{key[0]} account {key[1]} is connected to two workspaces; the sandbox "
                        "models each platform account in exactly one"
                    )
                self._accounts[key] = SandboxAccount(
                    workspace_id=workspace.id,
                    platform=key[0],
                    account_id=connection.account_id,
                    name=connection.account_name or f"{workspace.name} - {key[0]}",
                    timezone=workspace.timezone,
                    currency=workspace.currency,
                )
                self._brands[key] = Brand.of(workspace.name, workspace.currency)
        self._catalogs: dict[tuple[str, str], AccountCatalog] = {}
        self._traits: dict[tuple[str, str, str], CampaignTraits] = {}
        self._finals: dict[tuple[str, str, str, date], FinalDay] = {}
        self._shops: dict[str, Shop] = {}

    def accounts(self, platform: str | None = None) -> list[SandboxAccount]:
        """Connected accounts (of `platform`, or all), in registry order."""
        return [a for a in self._accounts.values() if platform is None or a.platform == platform]

    def account(self, platform: str, account_id: str) -> SandboxAccount:
        """The connected account; KeyError names the platform's known account ids."""
        try:
            return self._accounts[(str(platform), account_id)]
        except KeyError:
            known = ", ".join(a.account_id for a in self.accounts(platform)) or "none"
            raise KeyError(
                f"{platform} account {account_id!r} is not in the sandbox registry (known: {known})"
            ) from None

    def local_today(self, platform: str, account_id: str) -> date:
        """The account's current local date at `now` (the partial day its reports end with)."""
        return self.now.astimezone(self.account(platform, account_id).zone).date()

    def campaigns(self, platform: str, account_id: str) -> list[Campaign]:
        """Every campaign of the account, deleted ones included."""
        return list(self.catalog(platform, account_id).campaigns)

    def ad_groups(self, platform: str, account_id: str) -> list[AdGroup]:
        """Every Meta ad set / Google ad group of the account."""
        return list(self.catalog(platform, account_id).ad_groups)

    def ads(self, platform: str, account_id: str) -> list[Ad]:
        """Every ad of the account."""
        return list(self.catalog(platform, account_id).ads)

    def creatives(self, platform: str, account_id: str) -> list[Creative]:
        """Every Meta ad creative of the account (empty on platforms without creatives)."""
        return list(self.catalog(platform, account_id).creatives)

    def audiences(self, platform: str, account_id: str) -> list[Audience]:
        """Every Meta custom audience of the account (empty elsewhere)."""
        return list(self.catalog(platform, account_id).audiences)

    def keywords(self, platform: str, account_id: str) -> list[Keyword]:
        """Every Google Ads keyword criterion of the account (empty elsewhere)."""
        return list(self.catalog(platform, account_id).keywords)

    def conversion_actions(self, platform: str, account_id: str) -> list[ConversionAction]:
        """Every Google Ads conversion action of the account (empty elsewhere)."""
        return list(self.catalog(platform, account_id).conversion_actions)

    def campaign(self, platform: str, account_id: str, campaign_id: str) -> Campaign:
        """One campaign; KeyError names the account when the id is unknown."""
        try:
            return self.catalog(platform, account_id).campaign_by_id[campaign_id]
        except KeyError:
            raise KeyError(
                f"campaign {campaign_id!r} is not in {platform} account {account_id}"
            ) from None

    def catalog(self, platform: str, account_id: str) -> AccountCatalog:
        """All entities of one account, built on first use and kept."""
        account = self.account(platform, account_id)
        key = (account.platform, account.account_id)
        if key not in self._catalogs:
            builder = CATALOG_BUILDERS.get(account.platform)
            if builder is None:
                raise ValueError(
                    f"the sandbox does not model {account.platform} yet "
                    f"(modelled: {', '.join(sorted(CATALOG_BUILDERS))})"
                )
            self._catalogs[key] = builder(
                self.seed, account, self._brands[key], self.timeline_anchor
            )
        return self._catalogs[key]

    def campaign_day(
        self, platform: str, account_id: str, campaign_id: str, report_date: date
    ) -> CampaignDay | None:
        """The campaign's numbers for local `report_date` as reported at `now`; None when it had
        no activity, the day is after the account's local today, or before the history starts."""
        account = self.account(platform, account_id)
        campaign = self.campaign(platform, account_id, campaign_id)
        today = self.local_today(platform, account_id)
        if not (today - timedelta(days=self.history_days) < report_date <= today):
            return None
        if not campaign.delivers_on(report_date):
            return None
        profile = DELIVERY_PROFILES[account.platform]
        final = self._final_day(account, campaign, report_date)
        age = DayAge.of(report_date, account.zone, self.now)
        return reported_day(final, profile, account, campaign, report_date, age)

    def campaign_days(
        self, platform: str, account_id: str, start: date, end: date
    ) -> list[CampaignDay]:
        """Every campaign-day with activity in [start, end], by date then campaign listing order."""
        campaigns = self.campaigns(platform, account_id)
        days = []
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            for campaign in campaigns:
                reported = self.campaign_day(platform, account_id, campaign.campaign_id, day)
                if reported is not None:
                    days.append(reported)
        return days

    def ground_truth_campaign_daily(
        self, workspace_id: str, platform: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        """Exactly the rows the unified campaign table must show for the workspace and platform:
        one per account, campaign and local report date in [start, end] with any activity, as
        reported at `now` (Meta: conversions = the `purchase` action, never `omni_purchase`)."""
        self.registry.get(workspace_id)
        rows = []
        for account in self.accounts(platform):
            if account.workspace_id != workspace_id:
                continue
            names = {c.campaign_id: c.name for c in self.campaigns(platform, account.account_id)}
            for day in self.campaign_days(platform, account.account_id, start, end):
                rows.append(
                    {
                        "workspace_id": workspace_id,
                        "platform": account.platform,
                        "account_id": account.account_id,
                        "campaign_id": day.campaign_id,
                        "campaign_name": names[day.campaign_id],
                        "report_date": day.report_date,
                        "currency": day.currency,
                        "impressions": day.impressions,
                        "clicks": day.clicks,
                        "spend": day.spend,
                        "conversions": day.conversions,
                        "conversion_value": day.conversion_value,
                    }
                )
        return sorted(rows, key=lambda r: (r["account_id"], r["campaign_id"], r["report_date"]))

    def final_campaign_day(
        self, platform: str, account_id: str, campaign_id: str, day: date
    ) -> FinalDay:
        """The campaign's final numbers for local `day`, before any reporting delay (the truth
        the shop's visitors are drawn from)."""
        account = self.account(platform, account_id)
        return self._final_day(account, self.campaign(platform, account_id, campaign_id), day)

    def shop(self, workspace_id: str) -> Shop:
        """The workspace's shop: its visitors, orders, checkouts and customers."""
        if workspace_id not in self._shops:
            self.registry.get(workspace_id)
            self._shops[workspace_id] = Shop(self, workspace_id)
        return self._shops[workspace_id]

    def _final_day(self, account: SandboxAccount, campaign: Campaign, day: date) -> FinalDay:
        key = (account.platform, account.account_id, campaign.campaign_id, day)
        if key not in self._finals:
            profile = DELIVERY_PROFILES[account.platform]
            traits_key = key[:3]
            if traits_key not in self._traits:
                self._traits[traits_key] = campaign_traits(self.seed, account, campaign, profile)
            self._finals[key] = final_day(
                self.seed, account, campaign, self._traits[traits_key], profile, day
            )
        return self._finals[key]
