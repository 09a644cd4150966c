"""LinkedIn Marketing API simulator on api.linkedin.com/rest: ad account, finders, adAnalytics.

What it reproduces (reference/connectors.md §1.4): versioned headers (`LinkedIn-Version: YYYYMM`
required, sunset versions refused with 426; `X-Restli-Protocol-Version: 2.0.0`); Rest.li 2.0 query
syntax with unescaped `(`, `)`, `:` and `,` and URNs percent-encoded inside `List(…)`; entity
finders (`q=search`, `q=criteria`) paged by `pageToken` / `metadata.nextPageToken`; adAnalytics
with `q=analytics`, `pivot=CAMPAIGN`, `timeGranularity=DAILY`, at most 20 `fields`, no paging and
at most 15,000 elements per answer; report days are UTC days; numbers are JSON numbers except
money, which is a decimal string. Errors are `{"status", "code", "message"}` with the HTTP status.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import unquote

import httpx

from ownlay_pipelines.sandbox.entities import CampaignDayKey, EntityStatus, SandboxAccount
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.linkedin_leads import LeadSync, LeadSyncError
from ownlay_pipelines.sandbox.performance import DeliveryProfile
from ownlay_pipelines.sandbox.social_catalog import CatalogStyle, catalog_builder, numeric_ids
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "api.linkedin.com"
CURRENT_VERSION = "202511"
OLDEST_VERSION = "202507"
"""Versions before this are sunset (the docs banner marks 202506 sunset)."""
MAX_FIELDS = 20
MAX_ELEMENTS = 15_000
DEFAULT_PAGE_SIZE = 100
ANALYTICS_FIELDS = frozenset(
    {
        "dateRange",
        "pivotValues",
        "impressions",
        "clicks",
        "costInLocalCurrency",
        "costInUsd",
        "externalWebsiteConversions",
        "conversionValueInLocalCurrency",
        "landingPageClicks",
    }
)
DATE_RANGE = re.compile(
    r"^\(start:\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\)"
    r"(?:,end:\(year:(\d{4}),month:(\d{1,2}),day:(\d{1,2})\))?\)$"
)
STATUS_WORDS = {
    EntityStatus.ACTIVE: "ACTIVE",
    EntityStatus.PAUSED: "PAUSED",
    EntityStatus.DELETED: "ARCHIVED",
}

STYLE = CatalogStyle(
    funnels=(
        ("Sponsored Content", "WEBSITE_CONVERSION"),
        ("Lead Gen Forms", "LEAD_GENERATION"),
        ("Conversation Ads", "WEBSITE_CONVERSION"),
        ("Thought Leader Ads", "ENGAGEMENT"),
        ("Document Ads", "LEAD_GENERATION"),
        ("Website Visits", "WEBSITE_VISIT"),
        ("Brand Awareness", "BRAND_AWARENESS"),
    ),
    group_kinds=("",),
    make_id=numeric_ids("3", 9),
    utm_source="linkedin",
    utm_medium="paid_social",
    budget_usd=(60, 500),
    ad_type="SPONSORED_STATUS_UPDATE",
    has_ad_groups=False,
)
DELIVERY = DeliveryProfile(
    budget_utilisation=(0.6, 0.95),
    ctr_mean=(0.004, 0.009),
    cpc_usd=(3.0, 9.0),
    conversion_rate=(0.01, 0.035),
    order_value_usd=(60, 220),
    frequency=None,
    fractional_conversions=False,
    # LinkedIn's default conversion windows are 30 days after a click (7 after a view).
    restatement_days=30,
    reports_actions=False,
    reports_in_utc=True,
)


class LinkedInError(Exception):
    """An error answer: HTTP status, Rest.li `code` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LinkedInAdsSimulator:
    """The LinkedIn Marketing API for every LinkedIn ad account of the world, faults injected."""

    platform = "linkedin_ads"
    host = HOST

    def __init__(self, world: SandboxWorld, faults: FaultPlan | None = None) -> None:
        self.world = world
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        self.lead_sync = LeadSync(world)
        """Lead gen forms and leads (`sandbox/linkedin_leads.py`); malformed leads are in its
        `malformed_keys`."""

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as api.linkedin.com/rest would."""
        try:
            self._check_headers(request)
            if self.dice.roll(Fault.THROTTLE):
                raise LinkedInError(429, "TOO_MANY_REQUESTS", "Resource level throttle limit "
                                    "for calls to this resource is reached.")  # fmt: skip
            if self.dice.roll(Fault.SERVER_ERROR):
                raise LinkedInError(504, "GATEWAY_TIMEOUT", "Gateway timeout")
            body = self._route(request)
        except (LinkedInError, LeadSyncError) as error:
            body = {"status": error.status, "code": error.code, "message": error.message}
            return httpx.Response(error.status, json=body)
        return httpx.Response(200, json=body, headers={"x-restli-protocol-version": "2.0.0"})

    def _check_headers(self, request: httpx.Request) -> None:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            raise LinkedInError(401, "REVOKED_ACCESS_TOKEN", "Invalid access token")
        if self.dice.token_expired():
            raise LinkedInError(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"
            )
        version = request.headers.get("linkedin-version", "")
        if not re.fullmatch(r"\d{6}", version):
            raise LinkedInError(400, "VERSION_MISSING", "A version must be present. Please "
                                "specify a version by adding the LinkedIn-Version header.")  # fmt: skip
        if version < OLDEST_VERSION or version > CURRENT_VERSION:
            raise LinkedInError(
                426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
            )
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 required")

    def _route(self, request: httpx.Request) -> dict[str, Any]:
        parts = request.url.path.strip("/").split("/")
        params = _restli_params(request.url.query.decode())
        if request.method != "GET" or parts[0] != "rest":
            raise LinkedInError(404, "NOT_FOUND", f"No resource {request.url.path}")
        if parts[1:] == ["adAnalytics"]:
            return self._analytics(params)
        if len(parts) >= 2 and parts[1].startswith("leadForm"):
            return self.lead_sync.route(parts[1:], params, self.dice.plan, self._account)
        if len(parts) >= 3 and parts[1] == "adAccounts":
            account = self._account(parts[2])
            if len(parts) == 3:
                return {
                    "id": int(account.account_id),
                    "name": account.name,
                    "currency": account.currency,
                    "status": "ACTIVE",
                    "type": "BUSINESS",
                }
            finder = {
                "adCampaignGroups": "search",
                "adCampaigns": "search",
                "creatives": "criteria",
            }
            if len(parts) == 4 and parts[3] in finder:
                if params.get("q") != finder[parts[3]]:
                    raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"q={finder[parts[3]]} required")
                return _page(self._entities(account, parts[3]), params)
        raise LinkedInError(404, "NOT_FOUND", f"No resource {request.url.path}")

    def _account(self, account_id: str) -> SandboxAccount:
        try:
            return self.world.account(self.platform, account_id)
        except KeyError:
            raise LinkedInError(403, "ACCESS_DENIED", f"Not enough permissions to access "
                                f"urn:li:sponsoredAccount:{account_id}") from None  # fmt: skip

    def _entities(self, account: SandboxAccount, finder: str) -> list[dict[str, Any]]:
        catalog = self.world.catalog(self.platform, account.account_id)
        account_urn = f"urn:li:sponsoredAccount:{account.account_id}"
        groups = campaign_groups(catalog.campaigns)
        if finder == "adCampaignGroups":
            return [
                {"id": int(group_id), "name": name, "status": "ACTIVE", "account": account_urn}
                for group_id, name in sorted(set(groups.values()))
            ]
        if finder == "adCampaigns":
            return [
                {
                    "id": int(c.campaign_id),
                    "name": c.name,
                    "status": STATUS_WORDS[c.status],
                    "type": "SPONSORED_UPDATES",
                    "objectiveType": c.objective,
                    "costType": "CPC",
                    "account": account_urn,
                    "campaignGroup": f"urn:li:sponsoredCampaignGroup:{groups[c.campaign_id][0]}",
                    "dailyBudget": {
                        "amount": str(c.daily_budget),
                        "currencyCode": account.currency,
                    },
                }
                for c in catalog.campaigns
            ]
        return [
            {
                "id": f"urn:li:sponsoredCreative:{a.ad_id}",
                "campaign": f"urn:li:sponsoredCampaign:{a.campaign_id}",
                "account": account_urn,
                "intendedStatus": STATUS_WORDS[a.status],
                "isServing": a.status is EntityStatus.ACTIVE,
                "content": {"reference": a.final_urls[0]},
            }
            for a in catalog.ads
        ]

    def _analytics(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("q") != "analytics":
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", "q=analytics required")
        if params.get("pivot") != "CAMPAIGN" or params.get("timeGranularity") != "DAILY":
            raise LinkedInError(400, "ILLEGAL_ARGUMENT",
                                "the sandbox serves pivot=CAMPAIGN&timeGranularity=DAILY")  # fmt: skip
        fields = params.get("fields", "").split(",")
        if len(fields) > MAX_FIELDS:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"At most {MAX_FIELDS} fields per request")
        unknown = sorted(set(fields) - ANALYTICS_FIELDS)
        if unknown:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"Unknown fields {unknown}")
        start, end = _date_range(params.get("dateRange", ""))
        accounts = _urn_list(params.get("accounts", ""), "urn:li:sponsoredAccount:")
        elements = []
        for account_id in accounts:
            account = self._account(account_id)
            today = self.world.local_today(self.platform, account.account_id)
            for day in self.world.campaign_days(
                self.platform, account.account_id, start, min(end or today, today)
            ):
                element = _element(account, day, fields)
                if self.dice.plan.row_is_malformed(self.platform, day.key):
                    self.malformed_keys.add(day.key)
                    if self.dice.plan.malformation(self.platform, day.key, 2) == 0:
                        element["costInLocalCurrency"] = "12,50"
                    else:
                        element["dateRange"] = {"end": element["dateRange"]["end"]}
                elements.append(element)
        if len(elements) > MAX_ELEMENTS:
            raise LinkedInError(400, "ILLEGAL_ARGUMENT",
                                f"Request would return more than {MAX_ELEMENTS} elements; "
                                "narrow the date range")  # fmt: skip
        return {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}


def campaign_groups(campaigns: tuple[Any, ...]) -> dict[str, tuple[str, str]]:
    """Campaign id → (campaign group id, group name): one group per objective of the account."""
    groups: dict[str, tuple[str, str]] = {}
    by_objective: dict[str, str] = {}
    for campaign in campaigns:
        group_id = by_objective.setdefault(
            campaign.objective, f"6{int(campaign.campaign_id) % 10**8:08d}"
        )
        groups[campaign.campaign_id] = (group_id, campaign.objective.replace("_", " ").title())
    return groups


def _element(account: SandboxAccount, day: Any, fields: list[str]) -> dict[str, Any]:
    when = {
        "year": day.report_date.year,
        "month": day.report_date.month,
        "day": day.report_date.day,
    }
    values = {
        "dateRange": {"start": when, "end": dict(when)},
        "pivotValues": [f"urn:li:sponsoredCampaign:{day.campaign_id}"],
        "impressions": day.impressions,
        "clicks": day.clicks,
        "landingPageClicks": day.clicks,
        "costInLocalCurrency": str(day.spend),
        "externalWebsiteConversions": int(day.conversions),
        "conversionValueInLocalCurrency": str(day.conversion_value),
    }
    return {name: values[name] for name in fields if name in values}


def _restli_params(query: str) -> dict[str, str]:
    """Query parameters with Rest.li values kept whole (their `:` `,` `(` `)` are literal)."""
    params = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params[unquote(name)] = value
    return params


def _date_range(value: str) -> tuple[date, date | None]:
    match = DATE_RANGE.match(unquote(value) if "%28" in value else value)
    if not match:
        raise LinkedInError(400, "ILLEGAL_ARGUMENT",
                            f"dateRange must be Rest.li (start:(year:Y,month:M,day:D),end:(…)), got {value!r}")  # fmt: skip
    numbers = [int(n) if n else None for n in match.groups()]
    start = date(numbers[0], numbers[1], numbers[2])  # type: ignore[arg-type]
    end = date(numbers[3], numbers[4], numbers[5]) if numbers[3] else None  # type: ignore[arg-type]
    return start, end


def _urn_list(value: str, prefix: str) -> list[str]:
    if not (value.startswith("List(") and value.endswith(")")):
        raise LinkedInError(400, "ILLEGAL_ARGUMENT", "accounts must be List(<encoded urn>,…)")
    urns = [unquote(u) for u in value[5:-1].split(",") if u]
    if not urns or not all(u.startswith(prefix) for u in urns):
        raise LinkedInError(400, "ILLEGAL_ARGUMENT", f"accounts must list {prefix}… URNs")
    return [u.removeprefix(prefix) for u in urns]


def _page(items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    try:
        size = int(params.get("pageSize", DEFAULT_PAGE_SIZE))
        start = int(params.get("pageToken", "0") or 0)
    except ValueError:
        raise LinkedInError(
            400, "ILLEGAL_ARGUMENT", "pageSize and pageToken are integers here"
        ) from None
    body: dict[str, Any] = {"elements": items[start : start + size], "metadata": {}}
    if start + size < len(items):
        body["metadata"]["nextPageToken"] = str(start + size)
    return body


build_linkedin_catalog = catalog_builder(STYLE)
"""LinkedIn ad accounts' campaigns and creatives for the sandbox world."""
