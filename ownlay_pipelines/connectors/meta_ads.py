"""Meta (Facebook/Instagram) Marketing API: campaigns, ad sets, ads, creatives, audiences, insights.

Wire facts (reference/connectors.md §1.1): every number is a string; purchases live in the
`actions` / `action_values` arrays; report dates are in the ad account's timezone; rate limits
and token expiry arrive as HTTP 400 with `error.code` (17/613/80000…, 190) plus usage headers;
daily insights are pulled as an asynchronous AdReportRun, as mature connectors do.
"""

from __future__ import annotations

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
    key_fields,
    text_fields,
)
from ownlay_pipelines.connectors.wire_values import (
    RowError,
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
from ownlay_pipelines.http.pagination import NextUrlPaginator
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import error_object
from ownlay_pipelines.schema.campaign_metrics import MONEY, campaign_day_schema
from ownlay_pipelines.schema.currency import minor_units_to_amount
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

API_VERSION = "v25.0"
BASE_URL = f"https://graph.facebook.com/{API_VERSION}"
PAGE_SIZE = 100
CONVERSION_ACTION = "purchase"
"""The action type counted as a conversion; `omni_purchase` repeats it and is never added."""
ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view")
"""Meta's current windows; 7d_view and 28d_view were removed on 2026-01-12."""
EFFECTIVE_STATUSES = (
    "ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "CAMPAIGN_PAUSED", "ADSET_PAUSED", "IN_PROCESS",
    "WITH_ISSUES", "PENDING_REVIEW", "DISAPPROVED", "PREAPPROVED", "PENDING_BILLING_INFO",
)  # fmt: skip
"""Every effective_status: Meta matches the filter exactly, omits deleted and archived objects
unless asked, and marks children of paused parents CAMPAIGN_PAUSED / ADSET_PAUSED."""
ALL_STATUSES = json.dumps(list(EFFECTIVE_STATUSES))
INSIGHTS_FILTERING = json.dumps(
    [{"field": "campaign.effective_status", "operator": "IN", "value": list(EFFECTIVE_STATUSES)}]
)
"""Account-level insights leave out deleted campaigns unless the request filters them in."""

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TOKEN_EXPIRED_CODE = 190
PERMISSION_CODES = frozenset({10, *range(200, 300)})
REDUCE_DATA_CODES = frozenset({1, 100})
USAGE_PAUSE_PERCENT = 95
USAGE_PAUSE_SECONDS = 60.0

STATUS_VOCABULARY = {
    "ACTIVE": "active",
    "PAUSED": "paused",
    "CAMPAIGN_PAUSED": "paused",
    "ADSET_PAUSED": "paused",
    "DELETED": "removed",
    "ARCHIVED": "removed",
}


class MetaAdsClient(ApiClient):
    """Graph API client for one ad account; maps Meta's error bodies onto the shared taxonomy."""

    platform = Platform.META_ADS.value

    def __init__(self, *, access_token: str, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(**kwargs)
        self._access_token = access_token

    def auth_headers(self) -> dict[str, str]:
        # A header keeps the token out of the `paging.next` URLs Meta builds from the query.
        return {"Authorization": f"Bearer {self._access_token}"}

    def classify(self, response: httpx.Response) -> ApiError | None:
        error = error_object(response)
        if error is None:
            return super().classify(response) if response.status_code >= 400 else None
        code = error.get("code")
        message = str(error.get("message", "Meta API error"))
        where = {"status": response.status_code, "code": str(code)}
        if code == TOKEN_EXPIRED_CODE:
            return AuthExpired(f"access token rejected: {message}; re-authorise", **where)
        if code in RATE_LIMIT_CODES:
            return RateLimited(message, wait_seconds=_regain_access_seconds(response), **where)
        if code in REDUCE_DATA_CODES and "reduce the amount of data" in message.lower():
            return PayloadTooLarge(message, **where)
        if code in PERMISSION_CODES:
            return PermissionDenied(message, **where)
        if error.get("is_transient") or code == 2 or response.status_code >= 500:
            return TransientError(message, **where)
        return FatalApiError(message, **where)

    def observe(self, response: httpx.Response) -> float:
        """Pause when Meta says an account is nearly out of budget (usage > 95 %)."""
        regain = _regain_access_seconds(response) or 0.0
        busiest = max(_usage_percentages(response), default=0.0)
        return max(regain, USAGE_PAUSE_SECONDS if busiest > USAGE_PAUSE_PERCENT else 0.0)

    @property
    def account_path(self) -> str:
        return f"act_{self.account_id}"

    @cached_property
    def account(self) -> Mapping[str, Any]:
        """The ad account's name, currency and timezone (report dates are in that timezone)."""
        return self.request_json(
            "GET",
            self.account_path,
            params={"fields": "name,currency,timezone_name,account_status"},
        )

    def list_edge(self, edge: str, fields: str) -> Iterator[Mapping[str, Any]]:
        """Every object on an account edge (campaigns, adsets, …), deleted ones included."""
        params = {"fields": fields, "limit": PAGE_SIZE, "effective_status": ALL_STATUSES}
        for page in NextUrlPaginator().pages(
            self, "GET", f"{self.account_path}/{edge}", params=params
        ):
            yield from page.get("data", [])


class CampaignInsightsJob:
    """Meta's asynchronous AdReportRun for daily campaign insights of one account."""

    def __init__(self, client: MetaAdsClient) -> None:
        self.client = client

    def create(self, date_range: DateRange) -> str:
        params = {
            "level": "campaign",
            "fields": INSIGHTS_FIELDS,
            "time_range": json.dumps(
                {"since": date_range.start.isoformat(), "until": date_range.end.isoformat()}
            ),
            "time_increment": 1,
            "action_attribution_windows": json.dumps(list(ATTRIBUTION_WINDOWS)),
            "filtering": INSIGHTS_FILTERING,
            "limit": PAGE_SIZE,
        }
        body = self.client.request_json(
            "POST", f"{self.client.account_path}/insights", params=params
        )
        run_id = body.get("report_run_id") if isinstance(body, Mapping) else None
        if not run_id:
            raise FatalApiError("async insights request returned no report_run_id")
        return str(run_id)

    def poll(self, job_id: str) -> JobStatus:
        body = self.client.request_json("GET", job_id)
        status = str(body.get("async_status", ""))
        percent = float(body.get("async_percent_completion") or 0)
        return JobStatus(state=JOB_STATES.get(status, "running"), percent=percent, detail=status)

    def fetch(self, job_id: str) -> Iterator[dict]:
        for page in NextUrlPaginator().pages(
            self.client, "GET", f"{job_id}/insights", params={"limit": PAGE_SIZE}
        ):
            yield from page.get("data", [])


JOB_STATES = {
    "Job Not Started": "pending",
    "Job Started": "running",
    "Job Running": "running",
    "Job Completed": "completed",
    "Job Failed": "failed",
    "Job Skipped": "skipped",
}

INSIGHTS_FIELDS = ",".join(
    [
        "account_id",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "impressions",
        "reach",
        "clicks",
        "spend",
        "actions",
        "action_values",
        "date_start",
        "date_stop",
    ]
)


def _usage_headers(response: httpx.Response) -> list[Any]:
    values = []
    for name in ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage"):
        raw = response.headers.get(name)
        if raw:
            try:
                values.append(json.loads(raw))
            except ValueError:
                continue
    return values


def _business_entries(response: httpx.Response) -> list[Mapping[str, Any]]:
    raw = response.headers.get("x-business-use-case-usage")
    try:
        usage = json.loads(raw) if raw else {}
    except ValueError:
        return []
    if not isinstance(usage, Mapping):
        return []
    return [e for entries in usage.values() if isinstance(entries, list) for e in entries]


def _regain_access_seconds(response: httpx.Response) -> float | None:
    """Meta's own wait hint: `estimated_time_to_regain_access` is in minutes."""
    minutes = [
        float(e.get("estimated_time_to_regain_access") or 0) for e in _business_entries(response)
    ]
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None


def _usage_percentages(response: httpx.Response) -> list[float]:
    percentages: list[float] = []
    for usage in _usage_headers(response):
        entries = (
            [e for v in usage.values() if isinstance(v, list) for e in v]
            if isinstance(usage, Mapping) and all(isinstance(v, list) for v in usage.values())
            else [usage]
        )
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                value = entry.get(key)
                if isinstance(value, int | float):
                    percentages.append(float(value))
    return percentages


def _action_value(actions: object, action_type: str, field: str) -> Decimal:
    """The `value` of `action_type` in a Meta actions array; zero when the action is absent."""
    if actions is None:
        return Decimal(0)
    if not isinstance(actions, list):
        raise RowError(field, f"expected a list of actions, got {type(actions).__name__}")
    for action in actions:
        if isinstance(action, Mapping) and action.get("action_type") == action_type:
            return to_non_negative_decimal(action.get("value"), f"{field}[{action_type}].value")
    return Decimal(0)


def _fetch_insights(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, MetaAdsClient) and request.date_range is not None
    account = client.account
    try:
        for record in run_report_job(
            CampaignInsightsJob(client), request.date_range, clock=client.clock
        ):
            yield {**record, "_account_timezone": account.get("timezone_name")}
    except ReportJobFailed as error:
        # run_report_job does not know whose job it ran; say it for the alert.
        error.platform, error.account_id = client.platform, client.account_id
        raise


def _normalise_insights(record: Record, request: FetchRequest) -> dict[str, Any]:
    report_date = to_date(dig(record, "date_start"), "date_start")
    if to_date(dig(record, "date_stop"), "date_stop") != report_date:
        raise RowError("date_stop", "differs from date_start; insights must be daily")
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "campaign_name": to_text(record.get("campaign_name"), "campaign_name", required=False),
        "report_date": report_date,
        "account_timezone": record.get("_account_timezone"),
        "currency": to_text(dig(record, "account_currency"), "account_currency"),
        "impressions": to_count(dig(record, "impressions"), "impressions"),
        "clicks": to_count(record.get("clicks", "0"), "clicks"),
        "spend": to_non_negative_decimal(dig(record, "spend"), "spend"),
        "conversions": _action_value(record.get("actions"), CONVERSION_ACTION, "actions"),
        "conversion_value": _action_value(
            record.get("action_values"), CONVERSION_ACTION, "action_values"
        ),
        "reach": to_count(record["reach"], "reach") if record.get("reach") is not None else None,
        "link_clicks": int(_action_value(record.get("actions"), "link_click", "actions")),
        "add_to_cart": int(_action_value(record.get("actions"), "add_to_cart", "actions")),
        "attribution_windows": ",".join(ATTRIBUTION_WINDOWS),
    }


def _edge_fetcher(edge: str, fields: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, MetaAdsClient)
        currency = str(client.account.get("currency") or request.workspace.currency)
        for record in client.list_edge(edge, fields):
            yield {**record, "_currency": currency}

    return fetch


def _budget(record: Record, field: str) -> Decimal | None:
    value = record.get(field)
    if value in (None, "", "0"):
        return None
    return minor_units_to_amount(to_count(value, field), str(record["_currency"]))


def _status(record: Record) -> tuple[str, str]:
    platform_status = to_text(
        record.get("effective_status") or record.get("status"), "effective_status"
    )
    return STATUS_VOCABULARY.get(platform_status, "other"), platform_status


def _normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record)
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "id"), "id"),
        "campaign_name": to_text(dig(record, "name"), "name"),
        "status": status,
        "platform_status": platform_status,
        "objective": to_text(record.get("objective"), "objective", required=False),
        "daily_budget": _budget(record, "daily_budget"),
        "lifetime_budget": _budget(record, "lifetime_budget"),
        "currency": record["_currency"],
    }


def _normalise_adset(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record)
    targeting = record.get("targeting")
    return {
        **request.row_keys(),
        "adset_id": to_text(dig(record, "id"), "id"),
        "adset_name": to_text(dig(record, "name"), "name"),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "status": status,
        "platform_status": platform_status,
        "daily_budget": _budget(record, "daily_budget"),
        "targeting_json": json.dumps(targeting, sort_keys=True) if targeting is not None else None,
    }


def _normalise_ad(record: Record, request: FetchRequest) -> dict[str, Any]:
    status, platform_status = _status(record)
    creative = record.get("creative")
    return {
        **request.row_keys(),
        "ad_id": to_text(dig(record, "id"), "id"),
        "ad_name": to_text(dig(record, "name"), "name"),
        "adset_id": to_text(dig(record, "adset_id"), "adset_id"),
        "campaign_id": to_text(dig(record, "campaign_id"), "campaign_id"),
        "creative_id": to_text(creative.get("id"), "creative.id")
        if isinstance(creative, Mapping)
        else None,
        "status": status,
        "platform_status": platform_status,
    }


def _normalise_creative(record: Record, request: FetchRequest) -> dict[str, Any]:
    return {
        **request.row_keys(),
        "creative_id": to_text(dig(record, "id"), "id"),
        "title": to_text(record.get("title"), "title", required=False),
        "body": to_text(record.get("body"), "body", required=False),
        "image_url": to_text(record.get("image_url"), "image_url", required=False),
        "video_id": to_text(record.get("video_id"), "video_id", required=False),
    }


def _normalise_audience(record: Record, request: FetchRequest) -> dict[str, Any]:
    lower = record.get("approximate_count_lower_bound")
    upper = record.get("approximate_count_upper_bound")
    return {
        **request.row_keys(),
        "audience_id": to_text(dig(record, "id"), "id"),
        "audience_name": to_text(dig(record, "name"), "name"),
        "subtype": to_text(record.get("subtype"), "subtype", required=False),
        "approximate_size_lower": None
        if lower is None
        else to_count(lower, "approximate_count_lower_bound"),
        "approximate_size_upper": None
        if upper is None
        else to_count(upper, "approximate_count_upper_bound"),
    }


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.META_ADS,
        table="insights",
        description="One row per ad account, campaign and account-local day: Meta's daily "
        "campaign insights (purchases as conversions, money in the account currency).",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_day_schema(
            pa.field("reach", pa.int64()),
            pa.field("link_clicks", pa.int64()),
            pa.field("add_to_cart", pa.int64()),
            pa.field("attribution_windows", pa.string()),
        ),
        primary_key=("account_id", "campaign_id", "report_date"),
        fetch=_fetch_insights,
        normalise=_normalise_insights,
        restatement_lookback_days=28,
        feeds_campaign_metrics=True,
        wire_date_path="date_start",
    ),
    StreamSpec(
        platform=Platform.META_ADS,
        table="campaigns",
        description="One row per Meta campaign of the workspace's ad accounts, deleted included.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("campaign_id"),
                *text_fields("campaign_name", "status", "platform_status", "objective"),
                pa.field("daily_budget", MONEY),
                pa.field("lifetime_budget", MONEY),
                pa.field("currency", pa.string()),
            ]
        ),
        primary_key=("account_id", "campaign_id"),
        fetch=_edge_fetcher(
            "campaigns", "id,name,status,effective_status,objective,daily_budget,lifetime_budget"
        ),
        normalise=_normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.META_ADS,
        table="ad_sets",
        description="One row per Meta ad set, with its campaign, budget and targeting (JSON).",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("adset_id"),
                *text_fields("adset_name", "campaign_id", "status", "platform_status"),
                pa.field("daily_budget", MONEY),
                pa.field("targeting_json", pa.string()),
            ]
        ),
        primary_key=("account_id", "adset_id"),
        fetch=_edge_fetcher(
            "adsets", "id,name,campaign_id,status,effective_status,daily_budget,targeting"
        ),
        normalise=_normalise_adset,
    ),
    StreamSpec(
        platform=Platform.META_ADS,
        table="ads",
        description="One row per Meta ad, with its ad set, campaign and creative.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=pa.schema(
            [
                *key_fields("ad_id"),
                *text_fields("ad_name", "adset_id", "campaign_id", "creative_id", "status"),
                pa.field("platform_status", pa.string()),
            ]
        ),
        primary_key=("account_id", "ad_id"),
        fetch=_edge_fetcher(
            "ads", "id,name,adset_id,campaign_id,creative{id},status,effective_status"
        ),
        normalise=_normalise_ad,
    ),
    StreamSpec(
        platform=Platform.META_ADS,
        table="creatives",
        description="One row per Meta ad creative: its title, body and image or video.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=pa.schema(
            [*key_fields("creative_id"), *text_fields("title", "body", "image_url", "video_id")]
        ),
        primary_key=("account_id", "creative_id"),
        fetch=_edge_fetcher("adcreatives", "id,title,body,image_url,video_id"),
        normalise=_normalise_creative,
    ),
    StreamSpec(
        platform=Platform.META_ADS,
        table="audiences",
        description="One row per Meta custom audience with Meta's approximate size bounds.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_6_HOURS,
        schema=pa.schema(
            [
                *key_fields("audience_id"),
                *text_fields("audience_name", "subtype"),
                pa.field("approximate_size_lower", pa.int64()),
                pa.field("approximate_size_upper", pa.int64()),
            ]
        ),
        primary_key=("account_id", "audience_id"),
        fetch=_edge_fetcher(
            "customaudiences",
            "id,name,subtype,approximate_count_lower_bound,approximate_count_upper_bound",
        ),
        normalise=_normalise_audience,
    ),
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> MetaAdsClient:
    """A client for one connection; `credentials` holds the resolved `access_token`."""
    return MetaAdsClient(access_token=credentials["access_token"], **client_options)


CONNECTOR = Connector(
    platform=Platform.META_ADS,
    build_client=build_client,
    # Seed 000: 200 calls per hour per ad account.
    rate_limits=(RateLimit(requests=200, per_seconds=3600),),
    streams=STREAMS,
    credential_names=("access_token",),
)
