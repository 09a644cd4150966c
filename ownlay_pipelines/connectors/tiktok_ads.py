"""TikTok Marketing (Business) API v1.3: campaigns, ad groups, ads and daily campaign reports.

Wire facts (reference/connectors.md §1.3): `Access-Token` header; answers are HTTP 200 and only
`code == 0` is success, so the body code decides the error class (40100 rate limit, 401xx token,
40001 permission, 5xxxx transient); `page`/`page_size` paging with `data.page_info.total_page`;
report dates (`stat_time_day`) are in the advertiser's timezone and money in its currency, both
read from `/advertiser/info/`. Daily reports come from the synchronous integrated report for up to
30 days (its limit) and from an asynchronous report task (create, check, download CSV) for longer
ranges such as backfills.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cached_property
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
    campaign_snapshot_schema,
    key_fields,
    text_fields,
)
from ownlay_pipelines.connectors.wire_values import (
    dig,
    to_count,
    to_date,
    to_non_negative_decimal,
    to_text,
)
from ownlay_pipelines.http.async_jobs import JobStatus, ReportJobFailed, run_report_job
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
from ownlay_pipelines.http.pagination import PageNumberPaginator
from ownlay_pipelines.http.pagination import dig as json_at
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import json_object
from ownlay_pipelines.schema.campaign_metrics import MONEY, campaign_day_schema
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

API_VERSION = "v1.3"
BASE_URL = f"https://business-api.tiktok.com/open_api/{API_VERSION}/"
PAGE_SIZE = 1000
SYNC_REPORT_MAX_DAYS = 30
"""A stat_time_day integrated report may span at most 30 days (tap-tiktok-ads batches 29)."""
RESTATEMENT_LOOKBACK_DAYS = 7
"""TikTok attributes conversions to the click day within its default 7-day click window; that
covers Airbyte's 3-day default re-read and the ~11 h reporting latency (§1.3)."""

RATE_LIMIT_CODES = frozenset({40100})
AUTH_CODES = frozenset({40102, 40104, 40105})
PERMISSION_CODES = frozenset({40001})
TOO_LARGE_CODES = frozenset({40067})
TRANSIENT_CODES = frozenset({40200, 40201, 40202, 40700, 50000, 50002, 60001})
"""Codes tap-tiktok-ads retries (40100 among them, classified as a rate limit here) plus 60001,
service maintenance (Airbyte)."""

REPORT_METRICS = (
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "conversion_cost",
    "complete_payment",
    "total_complete_payment_rate",
)
CSV_COLUMNS = {
    "Campaign ID": "campaign_id",
    "By Day": "stat_time_day",
    "Campaign name": "campaign_name",
    "Cost": "spend",
    "Impressions": "impressions",
    "Clicks (Destination)": "clicks",
    "Conversions": "conversion",
    "Cost per conversion": "conversion_cost",
    "Complete payment": "complete_payment",
    "Total complete payment value": "total_complete_payment_rate",
}
"""The task download's display-name headers → report metric names."""
TASK_STATES = {
    "QUEUING": "pending",
    "PROCESSING": "running",
    "SUCCESS": "completed",
    "FAILED": "failed",
    "CANCELED": "failed",
}
STATUS_WORDS = {
    "ENABLE": "active",
    "DELIVERY_OK": "active",
    "DISABLE": "paused",
    "DELETE": "removed",
}
"""The word after `<OBJECT>_STATUS_` in a secondary status → the shared vocabulary."""
STATUS_VOCABULARY = {f"CAMPAIGN_STATUS_{word}": status for word, status in STATUS_WORDS.items()}
NO_DATA = "-"
"""TikTok's placeholder for a metric it cannot compute (no conversions → no cost per one)."""


class TikTokAdsClient(ApiClient):
    """Business API client for one advertiser; maps TikTok's body `code` onto the taxonomy."""

    platform = Platform.TIKTOK_ADS.value

    def __init__(self, *, access_token: str, page_size: int = PAGE_SIZE, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(**kwargs)
        self._access_token = access_token
        self.page_size = page_size

    def auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self._access_token}

    def classify(self, response: httpx.Response) -> ApiError | None:
        # The report download is CSV; anything else that is not a JSON object is judged by
        # status, as is a body whose code says success.
        body = json_object(response)
        code = body.get("code")
        if code in (0, None):
            return super().classify(response)
        message = f"{body.get('message', 'TikTok API error')} (request_id {body.get('request_id')})"
        where = {"status": response.status_code, "code": str(code)}
        if code in RATE_LIMIT_CODES:
            return RateLimited(message, **where)
        if code in AUTH_CODES:
            return AuthExpired(f"{message}; re-authorise the advertiser", **where)
        if code in PERMISSION_CODES:
            return PermissionDenied(message, **where)
        if code in TOO_LARGE_CODES:
            return PayloadTooLarge(message, **where)
        if code in TRANSIENT_CODES or response.status_code >= 500:
            return TransientError(message, **where)
        return FatalApiError(message, **where)

    @cached_property
    def advertiser(self) -> Mapping[str, Any]:
        """The advertiser's name, currency and timezone (report dates are in that timezone)."""
        body = self.request_json(
            "GET", "advertiser/info/", params={"advertiser_ids": json.dumps([self.account_id])}
        )
        listed = json_at(body, ("data", "list")) if isinstance(body, Mapping) else None
        if not listed:
            raise FatalApiError("advertiser/info returned no advertiser", code="no_advertiser")
        return listed[0]

    def pages_of(self, path: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every item of a paged list endpoint, following page/page_size to the last page."""
        paginator = PageNumberPaginator(
            page_size=self.page_size, total_pages_path=("data", "page_info", "total_page")
        )
        query = {"advertiser_id": self.account_id, **params}
        for page in paginator.pages(self, "GET", path, params=query):
            yield from json_at(page, ("data", "list")) or []


def _report_query(date_range: DateRange) -> dict[str, Any]:
    return {
        "service_type": "AUCTION",
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": ["campaign_id", "stat_time_day"],
        "metrics": list(REPORT_METRICS),
        "start_date": date_range.start.isoformat(),
        "end_date": date_range.end.isoformat(),
        "query_lifetime": False,
    }


class CampaignReportTask:
    """TikTok's asynchronous report task for one advertiser's daily campaign report."""

    def __init__(self, client: TikTokAdsClient) -> None:
        self.client = client

    def create(self, date_range: DateRange) -> str:
        body = self.client.request_json(
            "POST",
            "report/task/create/",
            json={"advertiser_id": self.client.account_id, **_report_query(date_range)},
        )
        task_id = json_at(body, ("data", "task_id"))
        if not task_id:
            raise FatalApiError("report/task/create returned no task_id")
        return str(task_id)

    def poll(self, job_id: str) -> JobStatus:
        body = self.client.request_json(
            "GET",
            "report/task/check/",
            params={"advertiser_id": self.client.account_id, "task_id": job_id},
        )
        status = str(json_at(body, ("data", "status")) or "")
        return JobStatus(state=TASK_STATES.get(status, "running"), detail=status)

    def fetch(self, job_id: str) -> Iterator[dict[str, Any]]:
        text = self.client.request_parsed(
            "GET",
            "report/task/download/",
            lambda response: response.text,
            params={"advertiser_id": self.client.account_id, "task_id": job_id},
        )
        for row in csv.DictReader(io.StringIO(text)):
            yield {CSV_COLUMNS.get(header, header): value for header, value in row.items()}


def _sync_report(client: TikTokAdsClient, date_range: DateRange) -> Iterator[dict[str, Any]]:
    query = {
        key: json.dumps(value) if isinstance(value, list | bool) else value
        for key, value in _report_query(date_range).items()
    }
    for row in client.pages_of("report/integrated/get/", query):
        yield {**(row.get("dimensions") or {}), **(row.get("metrics") or {})}


def _fetch_report(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, TikTokAdsClient) and request.date_range is not None
    advertiser = client.advertiser
    extra = {"_timezone": advertiser.get("timezone"), "_currency": advertiser.get("currency")}
    if request.date_range.days <= SYNC_REPORT_MAX_DAYS:
        rows: Iterator[dict[str, Any]] = _sync_report(client, request.date_range)
    else:
        rows = run_report_job(CampaignReportTask(client), request.date_range, clock=client.clock)
    try:
        for row in rows:
            yield {**row, **extra}
    except ReportJobFailed as error:
        error.platform, error.account_id = client.platform, client.account_id
        raise


def _metric(record: Record, name: str) -> object:
    value = record.get(name)
    return None if value == NO_DATA else value


def _normalise_report(record: Record, request: FetchRequest) -> dict[str, Any]:
    cost = _metric(record, "conversion_cost")
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "campaign_name": to_text(record.get("campaign_name"), "campaign_name", required=False),
        "report_date": to_date(dig(record, "stat_time_day"), "stat_time_day"),
        "account_timezone": record.get("_timezone"),
        "currency": to_text(dig(record, "_currency"), "advertiser.currency"),
        "impressions": to_count(dig(record, "impressions"), "impressions"),
        "clicks": to_count(dig(record, "clicks"), "clicks"),
        "spend": to_non_negative_decimal(dig(record, "spend"), "spend"),
        "conversions": to_non_negative_decimal(
            _metric(record, "complete_payment") or "0", "complete_payment"
        ),
        "conversion_value": to_non_negative_decimal(
            _metric(record, "total_complete_payment_rate") or "0", "total_complete_payment_rate"
        ),
        "optimization_conversions": to_count(_metric(record, "conversion") or "0", "conversion"),
        "cost_per_conversion": None
        if cost is None
        else to_non_negative_decimal(cost, "conversion_cost"),
    }


def _entity_fetcher(path: str, status_all: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, TikTokAdsClient)
        currency = str(client.advertiser.get("currency") or request.workspace.currency)
        # Deleted objects are listed only when the filter asks for every secondary status.
        filtering = json.dumps({"secondary_status": status_all})
        for item in client.pages_of(path, {"filtering": filtering}):
            yield {**item, "_currency": currency}

    return fetch


def _amount(record: Record, field: str) -> Decimal | None:
    value = record.get(field)
    if value in (None, "", NO_DATA):
        return None
    return to_non_negative_decimal(str(value), field)


def _status(record: Record, prefix: str) -> tuple[str, str]:
    platform_status = to_text(dig(record, "secondary_status"), "secondary_status") or ""
    word = platform_status.removeprefix(f"{prefix}_STATUS_")
    return STATUS_WORDS.get(word, "other"), platform_status


def _normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "CAMPAIGN")
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "campaign_name": to_text(dig(record, "campaign_name"), "campaign_name"),
        "status": status,
        "platform_status": platform_status,
        "objective": to_text(record.get("objective_type"), "objective_type", required=False),
        "daily_budget": _amount(record, "budget")
        if record.get("budget_mode") == "BUDGET_MODE_DAY"
        else None,
        "currency": record["_currency"],
    }


def _normalise_ad_group(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "ADGROUP")
    return {
        **request.row_keys(),
        "adgroup_id": to_text(dig(record, "adgroup_id"), "adgroup_id"),
        "adgroup_name": to_text(dig(record, "adgroup_name"), "adgroup_name"),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "status": status,
        "platform_status": platform_status,
        "bid_price": _amount(record, "bid_price"),
    }


def _normalise_ad(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record, "AD")
    return {
        **request.row_keys(),
        "ad_id": to_text(dig(record, "ad_id"), "ad_id"),
        "ad_name": to_text(dig(record, "ad_name"), "ad_name"),
        "adgroup_id": to_text(dig(record, "adgroup_id"), "adgroup_id"),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "ad_format": to_text(record.get("ad_format"), "ad_format", required=False),
        "landing_page_url": to_text(
            record.get("landing_page_url"), "landing_page_url", required=False
        ),
        "status": status,
        "platform_status": platform_status,
    }


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.TIKTOK_ADS,
        table="campaign_report",
        description="One row per TikTok advertiser, campaign and advertiser-local day "
        "(stat_time_day). conversions = complete_payment (purchase events); conversion_value = "
        "total_complete_payment_rate, which despite its name is the total value of those "
        "purchases — never conversion_cost, which is spend per conversion (kept as "
        "cost_per_conversion). optimization_conversions is TikTok's `conversion` metric.",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_day_schema(
            pa.field("optimization_conversions", pa.int64()),
            pa.field("cost_per_conversion", MONEY),
        ),
        primary_key=("account_id", "campaign_id", "report_date"),
        fetch=_fetch_report,
        normalise=_normalise_report,
        restatement_lookback_days=RESTATEMENT_LOOKBACK_DAYS,
        feeds_campaign_metrics=True,
        wire_date_path="stat_time_day",
    ),
    StreamSpec(
        platform=Platform.TIKTOK_ADS,
        table="campaigns",
        description="One row per TikTok campaign of the workspace's advertisers, deleted included.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_snapshot_schema(),
        primary_key=("account_id", "campaign_id"),
        fetch=_entity_fetcher("campaign/get/", "CAMPAIGN_STATUS_ALL"),
        normalise=_normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.TIKTOK_ADS,
        table="ad_groups",
        description="One row per TikTok ad group with its campaign and bid.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("adgroup_id"),
                *text_fields("adgroup_name", "campaign_id", "status", "platform_status"),
                pa.field("bid_price", MONEY),
            ]
        ),
        primary_key=("account_id", "adgroup_id"),
        fetch=_entity_fetcher("adgroup/get/", "ADGROUP_STATUS_ALL"),
        normalise=_normalise_ad_group,
    ),
    StreamSpec(
        platform=Platform.TIKTOK_ADS,
        table="ads",
        description="One row per TikTok ad with its ad group, campaign, format and landing page.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_id"),
                *text_fields(
                    "ad_name",
                    "adgroup_id",
                    "campaign_id",
                    "ad_format",
                    "landing_page_url",
                    "status",
                    "platform_status",
                ),
            ]
        ),
        primary_key=("account_id", "ad_id"),
        fetch=_entity_fetcher("ad/get/", "AD_STATUS_ALL"),
        normalise=_normalise_ad,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> TikTokAdsClient:
    """A client for one advertiser; `credentials` holds its long-lived `access_token`."""
    return TikTokAdsClient(access_token=credentials["access_token"], **client_options)


CONNECTOR = Connector(
    platform=Platform.TIKTOK_ADS,
    build_client=build_client,
    # Seed 000: 600 requests per minute.
    rate_limits=(RateLimit(requests=600, per_seconds=60),),
    streams=STREAMS,
    credential_names=("access_token",),
)
