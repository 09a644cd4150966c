"""Snapchat Marketing API v1 simulator on adsapi.snapchat.com, with OAuth on accounts.snapchat.com.

What it reproduces (reference/connectors.md §1.5): refresh-token grants that mint short-lived
Bearer tokens (each good for `TOKEN_CALLS` API calls here, standing in for its 30-minute life, so
long syncs meet a 401 and must refresh); entity lists wrapped as `{"campaigns": [{"sub_request_status":
"SUCCESS", "campaign": {…}}], "paging": {"next_link": …}}`; ad account stats at DAY granularity
broken down by campaign, with `start_time`/`end_time` that must sit on the account's local
midnight and span at most 32 days; spend and conversion value in micro-currency; HTTP 429 with
`X-Rate-Limit-*` headers, 5xx hiccups and `{"request_status": "ERROR", …}` bodies. Deleted objects
are not listed (sandbox choice, unverified), but their past spend stays in account stats.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ownlay_pipelines.sandbox.currency import to_micros
from ownlay_pipelines.sandbox.entities import CampaignDayKey, EntityStatus, SandboxAccount
from ownlay_pipelines.sandbox.faults import Fault, FaultDice, FaultPlan
from ownlay_pipelines.sandbox.performance import DeliveryProfile
from ownlay_pipelines.sandbox.social_catalog import CatalogStyle, catalog_builder, uuid_ids
from ownlay_pipelines.sandbox.world import SandboxWorld

HOST = "adsapi.snapchat.com"
AUTH_HOST = "accounts.snapchat.com"
TOKEN_PATH = "/login/oauth2/access_token"
TOKEN_CALLS = 3
TOKEN_LIFETIME_SECONDS = 1800
MAX_STATS_DAYS = 32
DEFAULT_LIMIT = 50
MIN_LIMIT = 50
RATE_LIMIT = 1000
STATS_FIELDS = frozenset(
    {"impressions", "swipes", "spend", "conversion_purchases", "conversion_purchases_value"}
)
ATTRIBUTION_WINDOWS = {
    "swipe_up_attribution_window": {"1_DAY", "7_DAY", "28_DAY"},
    "view_attribution_window": {"1_HOUR", "3_HOUR", "6_HOUR", "1_DAY", "7_DAY", "28_DAY"},
}

STYLE = CatalogStyle(
    funnels=(
        ("Story Ads", "WEB_CONVERSION"),
        ("Collection Ads", "CATALOG_SALES"),
        ("Dynamic Retargeting", "CATALOG_SALES"),
        ("Single Image", "WEB_CONVERSION"),
        ("Awareness", "BRAND_AWARENESS"),
        ("Swipe Traffic", "WEB_VIEW"),
        ("AR Lens", "ENGAGEMENT"),
    ),
    group_kinds=("Snap Lifestyle: Shoppers", "Lookalike", "Pixel Visitors", "Broad 18-34"),
    make_id=uuid_ids,
    utm_source="snapchat",
    utm_medium="paid_social",
    budget_usd=(40, 300),
    ad_type="REMOTE_WEBPAGE",
)
DELIVERY = DeliveryProfile(
    budget_utilisation=(0.55, 0.9),
    ctr_mean=(0.006, 0.012),
    cpc_usd=(0.4, 1.3),
    conversion_rate=(0.008, 0.025),
    order_value_usd=(25, 85),
    frequency=None,
    fractional_conversions=False,
    # The connector asks for a 7-day swipe window (seed 003); conversions restate for 7 days.
    restatement_days=7,
    reports_actions=False,
)


class SnapError(Exception):
    """An error answer: HTTP status, Snap's `error_code` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class SnapchatAdsSimulator:
    """The Snapchat Marketing API and its OAuth token endpoint, faults injected."""

    platform = "snapchat_ads"
    host = HOST

    def __init__(
        self, world: SandboxWorld, faults: FaultPlan | None = None, *, min_limit: int = MIN_LIMIT
    ) -> None:
        self.world = world
        self.min_limit = min_limit
        self.dice = FaultDice(faults or FaultPlan(), self.platform)
        self.malformed_keys: set[CampaignDayKey] = set()
        self.tokens: dict[str, int] = {}
        """Access token → API calls it may still make."""
        self.refreshes = 0
        self._calls = 0

    def use_faults(self, plan: FaultPlan) -> None:
        """Switch to a new fault plan; its decisions start from the first again."""
        self.dice = FaultDice(plan, self.platform)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as adsapi.snapchat.com or accounts.snapchat.com would."""
        if request.url.host == AUTH_HOST:
            return self._token(request)
        self._calls += 1
        request_id = f"{self._calls:08x}-sandbox"
        headers = {
            "X-Rate-Limit-Limit": str(RATE_LIMIT),
            "X-Rate-Limit-Remaining": str(RATE_LIMIT - self._calls % RATE_LIMIT),
            "X-Rate-Limit-Reset": str(int(self.world.now.timestamp()) + 60),
        }
        try:
            self._authenticate(request)
            if self.dice.roll(Fault.THROTTLE):
                headers["X-Rate-Limit-Remaining"] = "0"
                raise SnapError(429, "E1104", "Rate limit exceeded")
            if self.dice.roll(Fault.SERVER_ERROR):
                raise SnapError(503, "E5001", "Service temporarily unavailable")
            body = self._route(request)
        except SnapError as error:
            body = {
                "request_status": "ERROR",
                "request_id": request_id,
                "debug_message": error.message,
                "display_message": "We're sorry, but something went wrong.",
                "error_code": error.code,
            }
            return httpx.Response(error.status, json=body, headers=headers)
        body = {"request_status": "SUCCESS", "request_id": request_id, **body}
        return httpx.Response(200, json=body, headers=headers)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if request.url.path != TOKEN_PATH or request.method != "POST":
            return httpx.Response(404, json={"error": "not_found"})
        if form.get("grant_type") != "refresh_token" or not form.get("client_id"):
            return httpx.Response(400, json={"error": "invalid_request"})
        if not form.get("refresh_token") or self.dice.token_expired():
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"}
            )
        self.refreshes += 1
        token = f"snap-access-{self.refreshes}"
        self.tokens[token] = TOKEN_CALLS
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "refresh_token": form["refresh_token"],
                "scope": "snapchat-marketing-api",
            },
        )

    def _authenticate(self, request: httpx.Request) -> None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.tokens.get(token, 0) <= 0:
            raise SnapError(401, "E3002", "Unauthorized: the access token is invalid or expired")
        self.tokens[token] -= 1

    def _route(self, request: httpx.Request) -> dict[str, Any]:
        parts = request.url.path.strip("/").split("/")
        params = dict(parse_qsl(request.url.query.decode()))
        if request.method != "GET" or parts[:2] != ["v1", "adaccounts"] or len(parts) < 3:
            raise SnapError(404, "E1001", f"Unknown resource {request.url.path}")
        account = self._account(parts[2])
        edge = parts[3] if len(parts) > 3 else None
        if edge is None:
            return {"adaccounts": [_wrapped("adaccount", _account_body(account))]}
        if edge == "stats":
            return self._stats(account, params)
        if edge in ("campaigns", "adsquads", "ads"):
            return _page(request, params, edge, self._entities(account, edge), self.min_limit)
        raise SnapError(404, "E1001", f"Unknown resource {request.url.path}")

    def _account(self, account_id: str) -> SandboxAccount:
        try:
            return self.world.account(self.platform, account_id)
        except KeyError:
            raise SnapError(403, "E3003", f"No access to ad account {account_id}") from None

    def _entities(self, account: SandboxAccount, edge: str) -> list[dict[str, Any]]:
        catalog = self.world.catalog(self.platform, account.account_id)
        status = {EntityStatus.ACTIVE: "ACTIVE", EntityStatus.PAUSED: "PAUSED"}
        if edge == "campaigns":
            items = [
                (c.status, {
                    "id": c.campaign_id, "name": c.name, "ad_account_id": account.account_id,
                    "objective": c.objective, "daily_budget_micro": to_micros(c.daily_budget),
                    "start_time": f"{c.start_date.isoformat()}T00:00:00.000Z",
                })
                for c in catalog.campaigns
            ]  # fmt: skip
        elif edge == "adsquads":
            items = [
                (g.status, {
                    "id": g.ad_group_id, "name": g.name, "campaign_id": g.campaign_id,
                    "type": "SNAP_ADS", "bid_micro": to_micros(g.cpc_bid or 0),
                })
                for g in catalog.ad_groups
            ]  # fmt: skip
        else:
            items = [
                (a.status, {
                    "id": a.ad_id, "name": a.name, "ad_squad_id": a.ad_group_id,
                    "creative_id": a.creative_id, "type": a.ad_type,
                })
                for a in catalog.ads
            ]  # fmt: skip
        return [body | {"status": status[s]} for s, body in items if s is not EntityStatus.DELETED]

    def _stats(self, account: SandboxAccount, params: dict[str, str]) -> dict[str, Any]:
        if params.get("granularity") != "DAY" or params.get("breakdown") != "campaign":
            raise SnapError(400, "E1008", "The sandbox serves granularity=DAY&breakdown=campaign")
        for name, allowed in ATTRIBUTION_WINDOWS.items():
            if name in params and params[name] not in allowed:
                raise SnapError(400, "E1008", f"{name} must be one of {sorted(allowed)}")
        fields = [f for f in params.get("fields", "").split(",") if f]
        unknown = sorted(set(fields) - STATS_FIELDS)
        if not fields or unknown:
            raise SnapError(400, "E1008", f"Invalid fields {unknown or '(none)'}")
        start, end = self._window(account, params)
        zone = account.zone
        days = [start + timedelta(days=n) for n in range((end - start).days)]
        today = self.world.local_today(self.platform, account.account_id)
        served = self.world.campaign_days(
            self.platform, account.account_id, start, min(end - timedelta(days=1), today)
        )
        by_campaign: dict[str, dict[date, Any]] = {}
        for day in served:
            by_campaign.setdefault(day.campaign_id, {})[day.report_date] = day
        plan = self.dice.plan
        campaigns = []
        for campaign_id, reported in by_campaign.items():
            series = []
            for day in days:
                found = reported.get(day)
                stats = {
                    "impressions": found.impressions if found else 0,
                    "swipes": found.clicks if found else 0,
                    "spend": to_micros(found.spend) if found else 0,
                    "conversion_purchases": int(found.conversions) if found else 0,
                    "conversion_purchases_value": to_micros(found.conversion_value) if found else 0,
                }
                entry = {
                    "start_time": _local_midnight(day, zone),
                    "end_time": _local_midnight(day + timedelta(days=1), zone),
                    "stats": {f: stats[f] for f in fields},
                }
                if found and plan.row_is_malformed(self.platform, found.key):
                    self.malformed_keys.add(found.key)
                    if plan.malformation(self.platform, found.key, 2) == 0:
                        entry["stats"]["spend"] = -1
                    else:
                        del entry["start_time"]
                series.append(entry)
            campaigns.append(
                {
                    "id": campaign_id,
                    "type": "CAMPAIGN",
                    "granularity": "DAY",
                    "start_time": _local_midnight(start, zone),
                    "end_time": _local_midnight(end, zone),
                    "timeseries": series,
                }
            )
        stat = {
            "id": account.account_id,
            "type": "AD_ACCOUNT",
            "granularity": "DAY",
            "start_time": _local_midnight(start, zone),
            "end_time": _local_midnight(end, zone),
            "breakdown_stats": {"campaign": campaigns},
        }
        return {"timeseries_stats": [_wrapped("timeseries_stat", stat)]}

    def _window(self, account: SandboxAccount, params: dict[str, str]) -> tuple[date, date]:
        moments = []
        for name in ("start_time", "end_time"):
            try:
                moment = datetime.fromisoformat(params[name])
            except (KeyError, ValueError):
                raise SnapError(400, "E1008", f"{name} must be an ISO-8601 time") from None
            if moment.tzinfo is None:
                raise SnapError(400, "E1008", f"{name} needs a UTC offset")
            local = moment.astimezone(account.zone)
            if local.minute or local.second or local.microsecond:
                raise SnapError(400, "E1008", "Start time should start at the beginning of an hour")
            if local.hour:
                raise SnapError(
                    400, "E1008", f"{name} must be midnight in the ad account's timezone for DAY"
                )
            moments.append(local.date())
        start, end = moments
        if end <= start:
            raise SnapError(400, "E1008", "End time should be after start time")
        if (end - start).days > MAX_STATS_DAYS:
            raise SnapError(400, "E1008", f"DAY stats span at most {MAX_STATS_DAYS} days")
        return start, end


def _local_midnight(day: date, zone: Any) -> str:
    return datetime.combine(day, time(), zone).isoformat(timespec="milliseconds")


def _wrapped(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"sub_request_status": "SUCCESS", kind: body}


def _account_body(account: SandboxAccount) -> dict[str, Any]:
    return {
        "id": account.account_id,
        "name": account.name,
        "type": "PARTNER",
        "status": "ACTIVE",
        "currency": account.currency,
        "timezone": account.timezone,
    }


def _page(
    request: httpx.Request,
    params: dict[str, str],
    edge: str,
    items: list[dict[str, Any]],
    min_limit: int,
) -> dict[str, Any]:
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise SnapError(400, "E1008", "limit must be an integer") from None
    if not min_limit <= limit <= 1000:
        raise SnapError(400, "E1008", f"limit must be between {min_limit} and 1000")
    start = 0
    if "cursor" in params:
        try:
            start = int(base64.urlsafe_b64decode(params["cursor"].encode()).decode())
        except ValueError:
            raise SnapError(400, "E1008", "invalid cursor") from None
    singular = {"campaigns": "campaign", "adsquads": "adsquad", "ads": "ad"}[edge]
    body: dict[str, Any] = {edge: [_wrapped(singular, i) for i in items[start : start + limit]]}
    if start + limit < len(items):
        cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        body["paging"] = {"next_link": str(request.url.copy_set_param("cursor", cursor))}
    else:
        body["paging"] = {}
    return body


build_snapchat_catalog = catalog_builder(STYLE)
"""Snapchat ad accounts' campaigns, ad squads and ads for the sandbox world."""
