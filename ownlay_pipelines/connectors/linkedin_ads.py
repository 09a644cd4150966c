"""LinkedIn Marketing API (versioned REST): campaign groups, campaigns, creatives, adAnalytics
(lead gen forms and leads: `connectors/linkedin_leads.py`).

Wire facts (reference/connectors.md §1.4): every call carries `LinkedIn-Version: YYYYMM` and
`X-Restli-Protocol-Version: 2.0.0`; query values use Rest.li 2.0 syntax whose `(`, `)`, `:` and
`,` must stay unescaped while URNs inside `List(…)` are percent-encoded, so the analytics query is
built by hand; adAnalytics (`q=analytics`, `pivot=CAMPAIGN`, `timeGranularity=DAILY`) does not
page, takes at most 20 fields and caps its answer, so ranges are split; finders page with
`pageToken` / `metadata.nextPageToken`; report days are UTC days; money is a decimal string.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from functools import cached_property
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa

from ownlay_pipelines.connectors.linkedin_leads import STREAMS as LEAD_STREAMS
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
    RowError,
    dig,
    to_count,
    to_date,
    to_non_negative_decimal,
    to_text,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import ApiError
from ownlay_pipelines.http.oauth import REFRESH_CREDENTIALS, token_source
from ownlay_pipelines.http.pagination import PageTokenPaginator
from ownlay_pipelines.http.pagination import dig as json_at
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import json_object, with_platform_detail
from ownlay_pipelines.schema.campaign_metrics import campaign_day_schema
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform

TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
"""Where a refresh grant is exchanged for a new access token (used when one is configured)."""
BASE_URL = "https://api.linkedin.com/rest/"
LINKEDIN_VERSION = "202511"
PAGE_SIZE = 100
ANALYTICS_FIELDS = (
    "dateRange",
    "pivotValues",
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
)
MAX_FIELDS_PER_REQUEST = 20
ANALYTICS_WINDOW_DAYS = 30
"""Days per adAnalytics request: with a few hundred campaigns that stays far below the 15,000
elements LinkedIn returns at most, since the endpoint cannot page."""
RESTATEMENT_LOOKBACK_DAYS = 30
"""LinkedIn credits conversions within its default 30-day post-click window (7 post-view), so
the last 30 UTC days are re-read; singer re-reads only 7 and Airbyte none (§1.4)."""
STATUS_VOCABULARY = {
    "ACTIVE": "active",
    "PAUSED": "paused",
    "COMPLETED": "paused",
    "DRAFT": "paused",
    "ARCHIVED": "removed",
    "CANCELED": "removed",
    "REMOVED": "removed",
    "PENDING_DELETION": "removed",
}
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"

if len(ANALYTICS_FIELDS) > MAX_FIELDS_PER_REQUEST:  # pragma: no cover - a definition-time guard
    raise ValueError("adAnalytics accepts at most 20 fields; split ANALYTICS_FIELDS into chunks")


class LinkedInAdsClient(ApiClient):
    """Versioned REST client for one ad account."""

    platform = Platform.LINKEDIN_ADS.value

    def __init__(self, *, access_token: str, page_size: int = PAGE_SIZE, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(**kwargs)
        self._access_token = access_token
        self.page_size = page_size

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.bearer_token(self._access_token)}",
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def classify(self, response: httpx.Response) -> ApiError | None:
        error = super().classify(response)
        body = json_object(response) if error is not None else {}
        if error is None or not body.get("message"):
            return error
        code = body.get("code") or body.get("serviceErrorCode")
        return with_platform_detail(error, body["message"], code)

    @cached_property
    def ad_account(self) -> Mapping[str, Any]:
        """The ad account's name and currency."""
        return self.request_json("GET", f"adAccounts/{self.account_id}")

    def finder(self, collection: str, q: str) -> Iterator[Mapping[str, Any]]:
        """Every element of an ad account finder, following `metadata.nextPageToken`."""
        paginator = PageTokenPaginator(
            token_field=("metadata", "nextPageToken"), in_json_body=False
        )
        params = {"q": q, "pageSize": self.page_size}
        for page in paginator.pages(
            self, "GET", f"adAccounts/{self.account_id}/{collection}", params=params
        ):
            yield from json_at(page, "elements") or []

    def analytics(self, window: DateRange) -> list[Mapping[str, Any]]:
        """Daily adAnalytics elements of the account's campaigns for `window` (UTC days)."""
        account_urn = quote(f"urn:li:sponsoredAccount:{self.account_id}", safe="")
        query = "&".join(
            [
                "q=analytics",
                "pivot=CAMPAIGN",
                "timeGranularity=DAILY",
                f"dateRange=(start:{_restli_date(window.start)},end:{_restli_date(window.end)})",
                f"accounts=List({account_urn})",
                f"fields={','.join(ANALYTICS_FIELDS)}",
            ]
        )
        body = self.request_json("GET", f"adAnalytics?{query}")
        return list(json_at(body, "elements") or [])


def _restli_date(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def _day(element: Mapping[str, Any], end: str) -> str | None:
    when = json_at(element, ("dateRange", end))
    if not isinstance(when, Mapping):
        return None
    try:
        return date(int(when["year"]), int(when["month"]), int(when["day"])).isoformat()
    except (KeyError, TypeError, ValueError):
        return None


def _fetch_analytics(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, LinkedInAdsClient) and request.date_range is not None
    currency = client.ad_account.get("currency")
    names = {str(c.get("id")): c.get("name") for c in client.finder("adCampaigns", "search")}
    for window in request.date_range.chunks(ANALYTICS_WINDOW_DAYS):
        for element in client.analytics(window):
            pivots = element.get("pivotValues") or [None]
            campaign_id = str(pivots[0]).removeprefix(CAMPAIGN_URN) if pivots[0] else None
            yield {
                **element,
                "campaign_id": campaign_id,
                "campaign_name": names.get(str(campaign_id)),
                "date": _day(element, "start"),
                "date_end": _day(element, "end"),
                "_currency": currency,
            }


def _normalise_analytics(record: Record, request: FetchRequest) -> dict[str, Any]:
    report_date = to_date(record.get("date"), "dateRange.start")
    if record.get("date_end") != record.get("date"):
        raise RowError("dateRange.end", "differs from dateRange.start; analytics must be daily")
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "campaign_id"), "pivotValues"),
        "campaign_name": to_text(record.get("campaign_name"), "campaign_name", required=False),
        "report_date": report_date,
        "account_timezone": "UTC",
        "currency": to_text(dig(record, "_currency"), "adAccount.currency"),
        "impressions": to_count(record.get("impressions", 0), "impressions"),
        "clicks": to_count(record.get("clicks", 0), "clicks"),
        "spend": to_non_negative_decimal(
            record.get("costInLocalCurrency", "0"), "costInLocalCurrency"
        ),
        "conversions": to_non_negative_decimal(
            record.get("externalWebsiteConversions", 0), "externalWebsiteConversions"
        ),
        "conversion_value": to_non_negative_decimal(
            record.get("conversionValueInLocalCurrency", "0"), "conversionValueInLocalCurrency"
        ),
    }


def _entity_fetcher(collection: str, q: str):
    def fetch(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
        assert isinstance(client, LinkedInAdsClient)
        currency = str(client.ad_account.get("currency") or request.workspace.currency)
        for element in client.finder(collection, q):
            yield {**element, "_currency": currency}

    return fetch


def _urn_id(value: object, field: str) -> str:
    text = to_text(value, field) or ""
    return text.rsplit(":", 1)[-1]


def _normalise_campaign_group(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "status"), "status") or ""
    return {
        **request.row_keys(),
        "campaign_group_id": to_text(dig(record, "id"), "id"),
        "campaign_group_name": to_text(dig(record, "name"), "name"),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
    }


def _normalise_campaign(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "status"), "status") or ""
    budget = json_at(record, ("dailyBudget", "amount"))
    return {
        **request.row_keys(),
        "campaign_id": to_text(dig(record, "id"), "id"),
        "campaign_name": to_text(dig(record, "name"), "name"),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
        "campaign_group_id": _urn_id(record.get("campaignGroup"), "campaignGroup"),
        "campaign_type": to_text(record.get("type"), "type", required=False),
        "objective": to_text(record.get("objectiveType"), "objectiveType", required=False),
        "daily_budget": None if budget is None else to_non_negative_decimal(budget, "dailyBudget"),
        "currency": record["_currency"],
    }


def _normalise_creative(record: Record, request: FetchRequest) -> dict[str, Any]:
    platform_status = to_text(dig(record, "intendedStatus"), "intendedStatus") or ""
    return {
        **request.row_keys(),
        "creative_id": _urn_id(dig(record, "id"), "id"),
        "campaign_id": _urn_id(dig(record, "campaign"), "campaign"),
        "status": STATUS_VOCABULARY.get(platform_status, "other"),
        "platform_status": platform_status,
        "landing_page_url": to_text(
            json_at(record, ("content", "reference")), "content.reference", required=False
        ),
    }


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="ad_analytics",
        description="One row per LinkedIn ad account, campaign and UTC day (adAnalytics, pivot "
        "CAMPAIGN, DAILY): conversions = externalWebsiteConversions, conversion_value = "
        "conversionValueInLocalCurrency, spend = costInLocalCurrency. LinkedIn reports UTC "
        "days whatever the account's timezone.",
        partitioning=Partitioning.DATE_AND_WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_day_schema(),
        primary_key=("account_id", "campaign_id", "report_date"),
        fetch=_fetch_analytics,
        normalise=_normalise_analytics,
        restatement_lookback_days=RESTATEMENT_LOOKBACK_DAYS,
        feeds_campaign_metrics=True,
        wire_date_path="date",
    ),
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="campaigns",
        description="One row per LinkedIn campaign with its campaign group, type and budget.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.EVERY_15_MINUTES,
        schema=campaign_snapshot_schema(*text_fields("campaign_group_id", "campaign_type")),
        primary_key=("account_id", "campaign_id"),
        fetch=_entity_fetcher("adCampaigns", "search"),
        normalise=_normalise_campaign,
    ),
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="campaign_groups",
        description="One row per LinkedIn campaign group.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=pa.schema(
            [
                *key_fields("campaign_group_id"),
                *text_fields("campaign_group_name", "status", "platform_status"),
            ]
        ),
        primary_key=("account_id", "campaign_group_id"),
        fetch=_entity_fetcher("adCampaignGroups", "search"),
        normalise=_normalise_campaign_group,
    ),
    StreamSpec(
        platform=Platform.LINKEDIN_ADS,
        table="creatives",
        description="One row per LinkedIn creative with its campaign and landing page.",
        partitioning=Partitioning.WORKSPACE,
        cadence=Cadence.HOURLY,
        schema=pa.schema(
            [
                *key_fields("creative_id"),
                *text_fields("campaign_id", "status", "platform_status", "landing_page_url"),
            ]
        ),
        primary_key=("account_id", "creative_id"),
        fetch=_entity_fetcher("creatives", "criteria"),
        normalise=_normalise_creative,
    ),
    *LEAD_STREAMS,
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> LinkedInAdsClient:
    """A client for one ad account; `credentials` holds its (60-day) `access_token`
    and optionally a refresh grant (`client_id`, `client_secret`, `refresh_token`)."""
    tokens = token_source(credentials, TOKEN_URL, client_options)
    return LinkedInAdsClient(
        tokens=tokens, access_token=credentials["access_token"], **client_options
    )


CONNECTOR = Connector(
    platform=Platform.LINKEDIN_ADS,
    build_client=build_client,
    # Seed 000: 80,000 calls per day.
    rate_limits=(RateLimit(requests=80_000, per_seconds=86_400),),
    streams=STREAMS,
    credential_names=("access_token",),
    optional_credential_names=REFRESH_CREDENTIALS,
)
