"""Google Ads API over REST: campaigns, ad groups, ads, keywords, conversion actions, metrics.

Wire facts (reference/connectors.md §1.2): GAQL in a POST body to `googleAds:search`; camelCase
JSON; int64 values (ids, impressions, `costMicros`) as strings; money in micros of the customer
currency; `segments.date` in the customer's timezone; `nextPageToken` paging of fixed 10,000-row
pages; quota errors are HTTP 429 RESOURCE_EXHAUSTED carrying `retryDelay`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa

from ownlay_pipelines.connectors.streams import (
    Cadence,
    Connector,
    FetchRequest,
    Partitioning,
    Record,
    StreamSpec,
    key_fields,
    text_fields,
)
from ownlay_pipelines.connectors.wire_values import (
    dig,
    micros_to_decimal,
    to_count,
    to_date,
    to_non_negative_decimal,
    to_text,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.oauth import REFRESH_CREDENTIALS, token_source
from ownlay_pipelines.http.pagination import PageTokenPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import error_object
from ownlay_pipelines.schema.campaign_metrics import MONEY, campaign_day_schema
from ownlay_pipelines.schema.platforms import Platform

API_VERSION = "v21"
TOKEN_URL = "https://oauth2.googleapis.com/token"
"""Where a refresh grant is exchanged for a new access token (used when one is configured)."""
BASE_URL = f"https://googleads.googleapis.com/{API_VERSION}"
CONVERSION_WINDOW_DAYS = 30
"""Conversions are restated on the click date for the conversion action's window (1–90 days)."""
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
STATUS_VOCABULARY = {"ENABLED": "active", "PAUSED": "paused", "REMOVED": "removed"}
RETRYABLE_INTERNAL = {"INTERNAL_ERROR", "TRANSIENT_ERROR", "DEADLINE_EXCEEDED"}


class GoogleAdsClient(ApiClient):
    """REST client for one customer id; maps Google's status and GoogleAdsFailure onto the taxonomy."""

    platform = Platform.GOOGLE_ADS.value

    def __init__(
        self,
        *,
        access_token: str,
        developer_token: str,
        login_customer_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(**kwargs)
        self._access_token = access_token
        self._developer_token = developer_token
        self._login_customer_id = login_customer_id

    def auth_headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.bearer_token(self._access_token)}",
            "developer-token": self._developer_token,
        }
        if self._login_customer_id:
            headers["login-customer-id"] = self._login_customer_id
        return headers

    def classify(self, response: httpx.Response) -> ApiError | None:
        if response.status_code < 400:
            return None
        error = error_object(response)
        if error is None:
            return super().classify(response)
        status = str(error.get("status", ""))
        codes = _failure_codes(error)
        message = "; ".join(m for _, _, m in codes) or str(error.get("message", status))
        where = {"status": response.status_code, "code": status}
        if status == "UNAUTHENTICATED" or response.status_code == 401:
            return AuthExpired(f"{message}; refresh or re-authorise the OAuth token", **where)
        if status == "RESOURCE_EXHAUSTED" or response.status_code == 429:
            return RateLimited(message, wait_seconds=_retry_delay_seconds(error), **where)
        if status == "PERMISSION_DENIED" or response.status_code == 403:
            return PermissionDenied(message, **where)
        if any(kind == "internalError" and value in RETRYABLE_INTERNAL for kind, value, _ in codes):
            return TransientError(message, **where)
        if response.status_code >= 500 or status in {
            "UNAVAILABLE",
            "INTERNAL",
            "DEADLINE_EXCEEDED",
        }:
            return TransientError(message, **where)
        if any(value == "REQUEST_SIZE_LIMIT_EXCEEDED" for _, value, _ in codes):
            return PayloadTooLarge(message, **where)
        return FatalApiError(message, **where)

    def search(self, query: str) -> Iterator[Mapping[str, Any]]:
        """Every result row of a GAQL query, following `nextPageToken`."""
        url = f"customers/{self.account_id}/googleAds:search"
        for page in PageTokenPaginator().pages(self, "POST", url, json={"query": query}):
            yield from page.get("results", [])


def _failures(error: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for detail in error.get("details") or []:
        if isinstance(detail, Mapping):
            for failure in detail.get("errors") or []:
                if isinstance(failure, Mapping):
                    yield failure


def _failure_codes(error: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(error kind, enum value, message) of each GoogleAdsFailure error, e.g. quotaError."""
    codes = []
    for failure in _failures(error):
        error_code = failure.get("errorCode") or {}
        for kind, value in error_code.items():
            codes.append((str(kind), str(value), str(failure.get("message", ""))))
    return codes


def _retry_delay_seconds(error: Mapping[str, Any]) -> float | None:
    """`QuotaErrorDetails.retryDelay` ("30s", a protobuf Duration) in seconds."""
    for failure in _failures(error):
        details = failure.get("details") or {}
        delay = (details.get("quotaErrorDetails") or {}).get("retryDelay")
        if isinstance(delay, str) and (match := DURATION.fullmatch(delay)):
            return float(match.group(1))
    return None


def _gaql_fetcher(query: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, GoogleAdsClient)
        text = query
        if request.date_range is not None:
            text = query.format(start=request.date_range.start, end=request.date_range.end)
        yield from client.search(text)

    return fetch


def _status(record: Record, path: str) -> tuple[str, str]:
    platform_status = str(to_text(dig(record, path), path))
    return STATUS_VOCABULARY.get(platform_status, "other"), platform_status


def _optional_micros(record: Record, path: str) -> Decimal | None:
    value = dig(record, path, required=False)
    return None if value is None else micros_to_decimal(value, path)


def _normalise_metrics(record: Record, request: FetchRequest) -> dict[str, Any]:
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign.id"), "campaign.id"),
        "campaign_name": to_text(
            dig(record, "campaign.name", required=False), "campaign.name", required=False
        ),
        "report_date": to_date(dig(record, "segments.date"), "segments.date"),
        "account_timezone": dig(record, "customer.timeZone", required=False),
        "currency": to_text(dig(record, "customer.currencyCode"), "customer.currencyCode"),
        "impressions": to_count(
            dig(record, "metrics.impressions", required=False) or "0", "metrics.impressions"
        ),
        "clicks": to_count(dig(record, "metrics.clicks", required=False) or "0", "metrics.clicks"),
        "spend": micros_to_decimal(
            dig(record, "metrics.costMicros", required=False) or "0", "metrics.costMicros"
        ),
        "conversions": to_non_negative_decimal(
            dig(record, "metrics.conversions", required=False) or 0, "metrics.conversions"
        ),
        "conversion_value": to_non_negative_decimal(
            dig(record, "metrics.conversionsValue", required=False) or 0, "metrics.conversionsValue"
        ),
        "cost_micros": to_count(
            dig(record, "metrics.costMicros", required=False) or "0", "metrics.costMicros"
        ),
    }


def _normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "campaign.status")
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign.id"), "campaign.id"),
        "campaign_name": to_text(dig(record, "campaign.name"), "campaign.name"),
        "status": status,
        "platform_status": platform_status,
        "channel_type": dig(record, "campaign.advertisingChannelType", required=False),
        "bidding_strategy_type": dig(record, "campaign.biddingStrategyType", required=False),
        "daily_budget": _optional_micros(record, "campaignBudget.amountMicros"),
        "start_date": dig(record, "campaign.startDate", required=False),
    }


def _normalise_ad_group(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "adGroup.status")
    return {
        **request.row_keys(),
        "ad_group_id": to_text(dig(record, "adGroup.id"), "adGroup.id"),
        "ad_group_name": to_text(dig(record, "adGroup.name"), "adGroup.name"),
        "campaign_id": to_text(dig(record, "campaign.id"), "campaign.id"),
        "status": status,
        "platform_status": platform_status,
        "cpc_bid": _optional_micros(record, "adGroup.cpcBidMicros"),
    }


def _normalise_ad(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "adGroupAd.status")
    headlines = dig(record, "adGroupAd.ad.responsiveSearchAd.headlines", required=False) or []
    return {
        **request.row_keys(),
        "ad_id": to_text(dig(record, "adGroupAd.ad.id"), "adGroupAd.ad.id"),
        "ad_name": to_text(
            dig(record, "adGroupAd.ad.name", required=False), "ad.name", required=False
        ),
        "ad_group_id": to_text(dig(record, "adGroup.id"), "adGroup.id"),
        "ad_type": dig(record, "adGroupAd.ad.type", required=False),
        "status": status,
        "platform_status": platform_status,
        "final_urls": list(dig(record, "adGroupAd.ad.finalUrls", required=False) or []),
        "headlines": [str(h.get("text", "")) for h in headlines if isinstance(h, Mapping)],
    }


def _normalise_keyword(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "adGroupCriterion.status")
    quality = dig(record, "adGroupCriterion.qualityInfo.qualityScore", required=False)
    return {
        **request.row_keys(),
        "criterion_id": to_text(
            dig(record, "adGroupCriterion.criterionId"), "adGroupCriterion.criterionId"
        ),
        "ad_group_id": to_text(dig(record, "adGroup.id"), "adGroup.id"),
        "keyword_text": to_text(
            dig(record, "adGroupCriterion.keyword.text"), "adGroupCriterion.keyword.text"
        ),
        "match_type": dig(record, "adGroupCriterion.keyword.matchType", required=False),
        "status": status,
        "platform_status": platform_status,
        "cpc_bid": _optional_micros(record, "adGroupCriterion.cpcBidMicros"),
        "quality_score": None if quality is None else to_count(quality, "qualityInfo.qualityScore"),
    }


def _normalise_conversion_action(record: Record, request: FetchRequest) -> dict[str, Any]:
    default_value = dig(record, "conversionAction.valueSettings.defaultValue", required=False)
    return {
        **request.row_keys(),
        "conversion_action_id": to_text(dig(record, "conversionAction.id"), "conversionAction.id"),
        "conversion_action_name": to_text(
            dig(record, "conversionAction.name"), "conversionAction.name"
        ),
        "category": dig(record, "conversionAction.category", required=False),
        "status": dig(record, "conversionAction.status", required=False),
        "default_value": None
        if default_value is None
        else to_non_negative_decimal(default_value, "valueSettings.defaultValue"),
        "attribution_model": dig(
            record, "conversionAction.attributionModelSettings.attributionModel", required=False
        ),
    }


METRICS_QUERY = (
    "SELECT customer.id, customer.currency_code, customer.time_zone, campaign.id, campaign.name, "
    "segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, "
    "metrics.conversions, metrics.conversions_value FROM campaign "
    "WHERE segments.date BETWEEN '{start}' AND '{end}'"
)

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="campaign_metrics",
        description="One row per customer, campaign and customer-local day: Google Ads metrics "
        "(cost from micros, conversions on the click date).",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_day_schema(pa.field("cost_micros", pa.int64())),
        primary_key=("account_id", "campaign_id", "report_date"),
        fetch=_gaql_fetcher(METRICS_QUERY),
        normalise=_normalise_metrics,
        restatement_lookback_days=CONVERSION_WINDOW_DAYS,
        feeds_campaign_metrics=True,
        wire_date_path="segments.date",
    ),
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="campaigns",
        description="One row per Google Ads campaign, removed ones included, with budget and bidding.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("campaign_id"),
                *text_fields("campaign_name", "status", "platform_status", "channel_type"),
                *text_fields("bidding_strategy_type"),
                pa.field("daily_budget", MONEY),
                pa.field("start_date", pa.string()),
            ]
        ),
        primary_key=("account_id", "campaign_id"),
        fetch=_gaql_fetcher(
            "SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, "
            "campaign.bidding_strategy_type, campaign_budget.amount_micros, campaign.start_date "
            "FROM campaign"
        ),
        normalise=_normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="ad_groups",
        description="One row per Google Ads ad group with its campaign and CPC bid.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_group_id"),
                *text_fields("ad_group_name", "campaign_id", "status", "platform_status"),
                pa.field("cpc_bid", MONEY),
            ]
        ),
        primary_key=("account_id", "ad_group_id"),
        fetch=_gaql_fetcher(
            "SELECT ad_group.id, ad_group.name, ad_group.status, campaign.id, "
            "ad_group.cpc_bid_micros FROM ad_group"
        ),
        normalise=_normalise_ad_group,
    ),
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="ads",
        description="One row per Google Ads ad with its type, final URLs and headlines.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_id"),
                *text_fields("ad_name", "ad_group_id", "ad_type", "status", "platform_status"),
                pa.field("final_urls", pa.list_(pa.string())),
                pa.field("headlines", pa.list_(pa.string())),
            ]
        ),
        primary_key=("account_id", "ad_id"),
        fetch=_gaql_fetcher(
            "SELECT ad_group_ad.ad.id, ad_group_ad.ad.name, ad_group_ad.ad.type, "
            "ad_group_ad.status, ad_group_ad.ad.final_urls, "
            "ad_group_ad.ad.responsive_search_ad.headlines, ad_group.id FROM ad_group_ad"
        ),
        normalise=_normalise_ad,
    ),
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="keywords",
        description="One row per Google Ads keyword criterion: text, match type, bid, quality score.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("criterion_id"),
                *text_fields(
                    "ad_group_id", "keyword_text", "match_type", "status", "platform_status"
                ),
                pa.field("cpc_bid", MONEY),
                pa.field("quality_score", pa.int64()),
            ]
        ),
        primary_key=("account_id", "ad_group_id", "criterion_id"),
        fetch=_gaql_fetcher(
            "SELECT ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, "
            "ad_group_criterion.keyword.match_type, ad_group_criterion.cpc_bid_micros, "
            "ad_group_criterion.quality_info.quality_score, ad_group_criterion.status, "
            "ad_group.id FROM keyword_view"
        ),
        normalise=_normalise_keyword,
    ),
    StreamSpec(
        platform=Platform.GOOGLE_ADS,
        table="conversion_actions",
        description="One row per Google Ads conversion action: category, default value, model.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=pa.schema(
            [
                *key_fields("conversion_action_id"),
                *text_fields("conversion_action_name", "category", "status"),
                pa.field("default_value", MONEY),
                pa.field("attribution_model", pa.string()),
            ]
        ),
        primary_key=("account_id", "conversion_action_id"),
        fetch=_gaql_fetcher(
            "SELECT conversion_action.id, conversion_action.name, conversion_action.category, "
            "conversion_action.status, conversion_action.value_settings.default_value, "
            "conversion_action.attribution_model_settings.attribution_model FROM conversion_action"
        ),
        normalise=_normalise_conversion_action,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> GoogleAdsClient:
    """A client for one customer; `credentials` holds `access_token` and `developer_token`,
    and optionally a refresh grant (`client_id`, `client_secret`, `refresh_token`) that renews the
    one-hour access token before it expires and when it is refused."""
    tokens = token_source(credentials, TOKEN_URL, client_options)
    return GoogleAdsClient(
        tokens=tokens,
        access_token=credentials["access_token"],
        developer_token=credentials["developer_token"],
        login_customer_id=credentials.get("login_customer_id"),
        **client_options,
    )


CONNECTOR = Connector(
    platform=Platform.GOOGLE_ADS,
    build_client=build_client,
    # Seed 000: 1,500 requests per 100 seconds and 15,000 per day.
    rate_limits=(
        RateLimit(requests=1500, per_seconds=100),
        RateLimit(requests=15000, per_seconds=86400),
    ),
    streams=STREAMS,
    credential_names=("access_token", "developer_token"),
    optional_credential_names=REFRESH_CREDENTIALS,
)
