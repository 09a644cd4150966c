"""Snapchat Marketing API v1: campaigns, ad squads, ads and daily campaign stats.

Wire facts (reference/connectors.md §1.5): Bearer tokens live about an hour and are minted from a
refresh token at accounts.snapchat.com (`http/oauth.py`); entity lists are wrapped per item and
paged by `paging.next_link`; DAY stats need `start_time`/`end_time` on the ad account's local
midnight and span at most ~31 days, so ranges are split; spend and conversion value are
micro-currency; errors are HTTP statuses with `{"request_status": "ERROR", "error_code"}` bodies
and `X-Rate-Limit-*` headers say how much budget is left.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pyarrow as pa

from ownlay_pipelines.connectors.streams import (
    Cadence,
    Connector,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
    campaign_snapshot_schema,
    key_fields,
    text_fields,
)
from ownlay_pipelines.connectors.wire_values import (
    dig,
    micros_to_decimal,
    to_count,
    to_date,
    to_text,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import SystemClock
from ownlay_pipelines.http.errors import ApiError, FatalApiError
from ownlay_pipelines.http.oauth import AccessTokenSource, RefreshGrant
from ownlay_pipelines.http.pagination import NextUrlPaginator
from ownlay_pipelines.http.pagination import dig as json_at
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import json_object, with_platform_detail
from ownlay_pipelines.schema.campaign_metrics import MONEY, campaign_day_schema
from ownlay_pipelines.schema.platforms import Platform

BASE_URL = "https://adsapi.snapchat.com/v1/"
TOKEN_URL = "https://accounts.snapchat.com/login/oauth2/access_token"
PAGE_LIMIT = 1000
STATS_WINDOW_DAYS = 30
"""DAY stats are asked for in windows of at most 30 days (tap-snapchat-ads; the API allows ~31)."""
STATS_FIELDS = "impressions,swipes,spend,conversion_purchases,conversion_purchases_value"
SWIPE_UP_WINDOW, VIEW_WINDOW = "7_DAY", "1_DAY"
"""Seed 003's attribution windows: purchases within 7 days of a swipe or 1 day of a view."""
RESTATEMENT_LOOKBACK_DAYS = 7
"""The longer attribution window (7-day swipe), as tap-snapchat-ads re-reads max(swipe, view);
it also covers the 48–72 h until Snapchat finalises a day (§1.5)."""
LOW_BUDGET_SHARE = 0.05
"""Below this share of X-Rate-Limit-Remaining, wait for the reset as tap-snapchat-ads does."""
STATUS_VOCABULARY = {"ACTIVE": "active", "PAUSED": "paused"}


class SnapchatAdsClient(ApiClient):
    """Marketing API client for one ad account with a refreshing OAuth access token."""

    platform = Platform.SNAPCHAT_ADS.value

    def __init__(
        self, *, tokens: AccessTokenSource, page_limit: int = PAGE_LIMIT, **kwargs: Any
    ) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(tokens=tokens, **kwargs)
        self.page_limit = page_limit

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token('')}"}

    def classify(self, response: httpx.Response) -> ApiError | None:
        error = super().classify(response)
        body = json_object(response)
        if error is None:
            if body.get("request_status", "SUCCESS") != "SUCCESS":
                return FatalApiError(str(body.get("debug_message")), code=body.get("error_code"))
            return None
        if not body.get("debug_message"):
            return error
        message = f"{body.get('error_code')}: {body['debug_message']}"
        return with_platform_detail(error, message, body.get("error_code"))

    def observe(self, response: httpx.Response) -> float:
        """Wait for the rate-limit window to reset when less than 5 % of it is left."""
        try:
            limit = int(response.headers["X-Rate-Limit-Limit"])
            remaining = int(response.headers["X-Rate-Limit-Remaining"])
            reset = float(response.headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            return 0.0
        if limit <= 0 or remaining / limit >= LOW_BUDGET_SHARE:
            return 0.0
        return max(0.0, min(60.0, reset - self.clock.now().timestamp()))

    @cached_property
    def ad_account(self) -> Mapping[str, Any]:
        """The ad account's name, currency and timezone (stats days are local to it)."""
        body = self.request_json("GET", f"adaccounts/{self.account_id}")
        listed = json_at(body, "adaccounts") or []
        if not listed or "adaccount" not in listed[0]:
            raise FatalApiError("adaccounts returned no ad account", code="no_ad_account")
        return listed[0]["adaccount"]

    def entities(self, edge: str) -> Iterator[Mapping[str, Any]]:
        """Every object on an ad account edge, unwrapped, following `paging.next_link`."""
        singular = {"campaigns": "campaign", "adsquads": "adsquad", "ads": "ad"}[edge]
        paginator = NextUrlPaginator(next_path=("paging", "next_link"))
        url = f"adaccounts/{self.account_id}/{edge}"
        for page in paginator.pages(self, "GET", url, params={"limit": self.page_limit}):
            for item in json_at(page, edge) or []:
                if item.get("sub_request_status", "SUCCESS").upper() == "SUCCESS":
                    yield item[singular]


def _fetch_stats(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, SnapchatAdsClient) and request.date_range is not None
    account = client.ad_account
    zone = ZoneInfo(str(account.get("timezone") or request.workspace.timezone))
    names = {str(c.get("id")): c.get("name") for c in client.entities("campaigns")}
    extra = {"_timezone": str(zone), "_currency": account.get("currency")}
    for window in request.date_range.chunks(STATS_WINDOW_DAYS):
        start, end = window.bounds_in(zone)
        params = {
            "granularity": "DAY",
            "breakdown": "campaign",
            "fields": STATS_FIELDS,
            "start_time": start.isoformat(),
            "end_time": end.isoformat(),
            "swipe_up_attribution_window": SWIPE_UP_WINDOW,
            "view_attribution_window": VIEW_WINDOW,
        }
        body = client.request_json("GET", f"adaccounts/{client.account_id}/stats", params=params)
        for wrapped in json_at(body, "timeseries_stats") or []:
            stat = wrapped.get("timeseries_stat") or {}
            for campaign in json_at(stat, ("breakdown_stats", "campaign")) or []:
                for entry in campaign.get("timeseries") or []:
                    stats = entry.get("stats") or {}
                    # A day without delivery is no row, as on every other platform.
                    if not any(stats.values()):
                        continue
                    yield {
                        "campaign_id": campaign.get("id"),
                        "campaign_name": names.get(str(campaign.get("id"))),
                        "start_time": entry.get("start_time"),
                        **stats,
                        **extra,
                    }


def _normalise_stats(record: Record, request: FetchRequest) -> dict[str, Any]:
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "campaign_name": to_text(record.get("campaign_name"), "campaign_name", required=False),
        # start_time is the account's local midnight, so its date part is the local day.
        "report_date": to_date(dig(record, "start_time"), "start_time"),
        "account_timezone": record.get("_timezone"),
        "currency": to_text(dig(record, "_currency"), "ad_account.currency"),
        "impressions": to_count(record.get("impressions", 0), "impressions"),
        "clicks": to_count(record.get("swipes", 0), "swipes"),
        "spend": micros_to_decimal(record.get("spend", 0), "spend"),
        "conversions": Decimal(
            to_count(record.get("conversion_purchases", 0), "conversion_purchases")
        ),
        "conversion_value": micros_to_decimal(
            record.get("conversion_purchases_value", 0), "conversion_purchases_value"
        ),
        "attribution_windows": f"swipe_up:{SWIPE_UP_WINDOW},view:{VIEW_WINDOW}",
    }


def _entity_fetcher(edge: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, SnapchatAdsClient)
        currency = str(client.ad_account.get("currency") or request.workspace.currency)
        for item in client.entities(edge):
            yield {**item, "_currency": currency}

    return fetch


def _micros(record: Record, field: str) -> Decimal | None:
    value = record.get(field)
    return None if value is None else micros_to_decimal(value, field)


def _normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "status"), "status") or ""
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "id"), "id"),
        "campaign_name": to_text(dig(record, "name"), "name"),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
        "objective": to_text(record.get("objective"), "objective", required=False),
        "daily_budget": _micros(record, "daily_budget_micro"),
        "currency": record["_currency"],
    }


def _normalise_ad_squad(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "status"), "status") or ""
    return {
        **request.row_keys(),
        "ad_squad_id": to_text(dig(record, "id"), "id"),
        "ad_squad_name": to_text(dig(record, "name"), "name"),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
        "bid": _micros(record, "bid_micro"),
    }


def _normalise_ad(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "status"), "status") or ""
    return {
        **request.row_keys(),
        "ad_id": to_text(dig(record, "id"), "id"),
        "ad_name": to_text(dig(record, "name"), "name"),
        "ad_squad_id": to_text(dig(record, "ad_squad_id"), "ad_squad_id"),
        "creative_id": to_text(record.get("creative_id"), "creative_id", required=False),
        "ad_type": to_text(record.get("type"), "type", required=False),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
    }


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.SNAPCHAT_ADS,
        table="campaign_stats",
        description="One row per Snapchat ad account, campaign and account-local day with "
        "delivery (DAY stats broken down by campaign): clicks = swipes, conversions = "
        "conversion_purchases, conversion_value = conversion_purchases_value (micro-currency → "
        "account currency), 7-day swipe / 1-day view attribution.",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_day_schema(pa.field("attribution_windows", pa.string())),
        primary_key=("account_id", "campaign_id", "report_date"),
        fetch=_fetch_stats,
        normalise=_normalise_stats,
        restatement_lookback_days=RESTATEMENT_LOOKBACK_DAYS,
        feeds_campaign_metrics=True,
        wire_date_path="start_time",
    ),
    StreamSpec(
        platform=Platform.SNAPCHAT_ADS,
        table="campaigns",
        description="One row per Snapchat campaign of the workspace's ad accounts (deleted "
        "campaigns are not listed by the API; their past spend stays in the stats).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_snapshot_schema(),
        primary_key=("account_id", "campaign_id"),
        fetch=_entity_fetcher("campaigns"),
        normalise=_normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.SNAPCHAT_ADS,
        table="ad_squads",
        description="One row per Snapchat ad squad with its campaign and bid.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_squad_id"),
                *text_fields("ad_squad_name", "campaign_id", "status", "platform_status"),
                pa.field("bid", MONEY),
            ]
        ),
        primary_key=("account_id", "ad_squad_id"),
        fetch=_entity_fetcher("adsquads"),
        normalise=_normalise_ad_squad,
    ),
    StreamSpec(
        platform=Platform.SNAPCHAT_ADS,
        table="ads",
        description="One row per Snapchat ad with its ad squad and creative.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_id"),
                *text_fields(
                    "ad_name", "ad_squad_id", "creative_id", "ad_type", "status", "platform_status"
                ),
            ]
        ),
        primary_key=("account_id", "ad_id"),
        fetch=_entity_fetcher("ads"),
        normalise=_normalise_ad,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> SnapchatAdsClient:
    """A client for one ad account; `credentials` holds the OAuth app's `client_id` and
    `client_secret` and the account's `refresh_token` (access tokens are minted from them)."""
    grant = RefreshGrant(
        token_url=TOKEN_URL,
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
    )
    tokens = AccessTokenSource(
        grant,
        clock=client_options.get("clock") or SystemClock(),
        transport=client_options.get("transport"),
    )
    return SnapchatAdsClient(tokens=tokens, **client_options)


CONNECTOR = Connector(
    platform=Platform.SNAPCHAT_ADS,
    build_client=build_client,
    # Seed 000 has no Snapchat row and Snapchat publishes no per-token figure; 1,000 calls a
    # minute is a conservative budget, and the client also honours X-Rate-Limit-* headers.
    rate_limits=(RateLimit(requests=1000, per_seconds=60),),
    streams=STREAMS,
    credential_names=("client_id", "client_secret", "refresh_token"),
)
