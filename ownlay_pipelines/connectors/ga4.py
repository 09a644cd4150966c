"""Google Analytics 4 Data API v1beta: daily sessions, engagement, key events and revenue by
session source / medium / campaign, one property per connection.

Wire facts (reference/connectors.md §1.6): `POST properties/{id}:runReport` with dimensions and
metrics by name; values are strings; `date` is YYYYMMDD in the property's timezone; `rowCount` is
the total across `limit`/`offset` pages; with `returnPropertyQuota` every answer says how many
quota tokens are left, and exhausting any quota fails every request to the property (HTTP 429
RESOURCE_EXHAUSTED), so the client slows down before that. Days are asked for one at a time
(Airbyte's default interval), which keeps sampling and `(other)` folding as small as GA4 allows;
whatever remains is flagged in columns, not hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
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
)
from ownlay_pipelines.connectors.wire_values import (
    RowError,
    dig,
    to_count,
    to_non_negative_decimal,
    to_text,
)
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.errors import ApiError
from ownlay_pipelines.http.oauth import REFRESH_CREDENTIALS, token_source
from ownlay_pipelines.http.pagination import OffsetPaginator
from ownlay_pipelines.http.pagination import dig as json_at
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.responses import error_object, with_platform_detail
from ownlay_pipelines.schema.campaign_metrics import MONEY
from ownlay_pipelines.schema.platforms import Platform

TOKEN_URL = "https://oauth2.googleapis.com/token"
"""Where a refresh grant is exchanged for a new access token (used when one is configured)."""
BASE_URL = "https://analyticsdata.googleapis.com/v1beta/"
PAGE_SIZE = 100_000
DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName")
METRICS = ("sessions", "engagedSessions", "keyEvents", "totalRevenue")
"""`keyEvents` is what GA4 called `conversions` until 2024."""
OTHER = "(other)"
HOURLY_TOKEN_RESERVE = 1_000
"""Pause when fewer property tokens than this are left in the hour (40,000 per standard hour)."""
DAILY_TOKEN_RESERVE = 2_000
QUOTA_PAUSE_SECONDS = 900.0
RESTATEMENT_LOOKBACK_DAYS = 3
"""GA4 keeps processing a day for 24–48 h and more (§1.6); three days re-read that window."""
YYYYMMDD = re.compile(r"^\d{8}$")


class Ga4Client(ApiClient):
    """Data API client for one GA4 property; reads the property quota off every answer."""

    platform = Platform.GA4.value

    def __init__(self, *, access_token: str, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", BASE_URL)
        super().__init__(**kwargs)
        self._access_token = access_token
        self.property_quota: Mapping[str, Any] = {}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token(self._access_token)}"}

    def classify(self, response: httpx.Response) -> ApiError | None:
        error = super().classify(response)
        details = error_object(response) if error is not None else None
        if error is None or details is None:
            return error
        return with_platform_detail(error, details.get("message"), details.get("status"))

    def observe(self, response: httpx.Response) -> float:
        """Remember the property quota and pause when the hour's or day's tokens run low."""
        if not response.is_success:
            return 0.0
        try:
            quota = response.json().get("propertyQuota")
        except (ValueError, AttributeError):
            return 0.0
        if not isinstance(quota, Mapping):
            return 0.0
        self.property_quota = quota
        hourly = json_at(quota, ("tokensPerHour", "remaining"))
        daily = json_at(quota, ("tokensPerDay", "remaining"))
        if isinstance(daily, int) and daily < DAILY_TOKEN_RESERVE:
            return 4 * QUOTA_PAUSE_SECONDS
        if isinstance(hourly, int) and hourly < HOURLY_TOKEN_RESERVE:
            return QUOTA_PAUSE_SECONDS
        return 0.0

    def run_report(self, start: date, end: date) -> Iterator[dict[str, Any]]:
        """Every row of the traffic report for [start, end], with the answer's metadata."""
        body = {
            "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
            "dimensions": [{"name": name} for name in DIMENSIONS],
            "metrics": [{"name": name} for name in METRICS],
            "returnPropertyQuota": True,
            "keepEmptyRows": False,
        }
        paginator = OffsetPaginator(
            limit_param="limit",
            offset_param="offset",
            page_size=PAGE_SIZE,
            records_path="rows",
            total_path="rowCount",
            in_json_body=True,
        )
        url = f"properties/{self.account_id}:runReport"
        for page in paginator.pages(self, "POST", url, json=body):
            metadata = page.get("metadata") or {}
            for row in page.get("rows") or []:
                record: dict[str, Any] = {
                    name: json_at(value, "value")
                    for name, value in zip(
                        DIMENSIONS, row.get("dimensionValues") or [], strict=False
                    )
                }
                record |= {
                    name: json_at(value, "value")
                    for name, value in zip(METRICS, row.get("metricValues") or [], strict=False)
                }
                yield record | {
                    "_currency": metadata.get("currencyCode"),
                    "_timezone": metadata.get("timeZone"),
                    "_other_loss": bool(metadata.get("dataLossFromOtherRow")),
                    "_sampled": bool(metadata.get("samplingMetadatas")),
                }


def _fetch_traffic(client: ApiClient, request: FetchRequest) -> Iterator[Record]:
    assert isinstance(client, Ga4Client) and request.date_range is not None
    for day in request.date_range:
        yield from client.run_report(day, day)


def _report_date(value: object) -> date:
    if not isinstance(value, str) or not YYYYMMDD.match(value):
        raise RowError("date", f"expected YYYYMMDD, got {value!r}")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise RowError("date", f"not a calendar date: {value!r}") from None


def _normalise_traffic(record: Record, request: FetchRequest) -> dict[str, Any]:
    source = to_text(dig(record, "sessionSource"), "sessionSource")
    medium = to_text(dig(record, "sessionMedium"), "sessionMedium")
    campaign = to_text(dig(record, "sessionCampaignName"), "sessionCampaignName")
    return {
        **request.row_keys(),
        "report_date": _report_date(record.get("date")),
        "session_source": source,
        "session_medium": medium,
        "session_campaign_name": campaign,
        "sessions": to_count(dig(record, "sessions"), "sessions"),
        "engaged_sessions": to_count(dig(record, "engagedSessions"), "engagedSessions"),
        "key_events": to_non_negative_decimal(dig(record, "keyEvents"), "keyEvents"),
        "total_revenue": to_non_negative_decimal(dig(record, "totalRevenue"), "totalRevenue"),
        "currency": to_text(record.get("_currency"), "metadata.currencyCode", required=False),
        "property_timezone": to_text(record.get("_timezone"), "metadata.timeZone", required=False),
        "is_other_row": OTHER in (source, medium, campaign),
        "data_loss_from_other_row": bool(record.get("_other_loss")),
        "sampled": bool(record.get("_sampled")),
    }


TRAFFIC = StreamSpec(
    platform=Platform.GA4,
    table="traffic_daily",
    description="One row per GA4 property (account_id), property-local day and session source / medium / "
    "campaign: sessions, engaged sessions, key events (formerly conversions) and total revenue "
    "as GA4 credits them. is_other_row marks GA4's '(other)' row (rows folded past the "
    "property's cardinality limit), data_loss_from_other_row that the day's answer had one, "
    "sampled that GA4 answered from a sample; none of them is hidden.",
    partitioning=Partitioning.DATE_AND_WORKSPACE,
    cadence=Cadence.HOURLY,
    schema=pa.schema(
        [
            *key_fields(),
            pa.field("report_date", pa.date32(), nullable=False),
            pa.field("session_source", pa.string(), nullable=False),
            pa.field("session_medium", pa.string(), nullable=False),
            pa.field("session_campaign_name", pa.string(), nullable=False),
            pa.field("sessions", pa.int64(), nullable=False),
            pa.field("engaged_sessions", pa.int64(), nullable=False),
            pa.field("key_events", MONEY, nullable=False),
            pa.field("total_revenue", MONEY, nullable=False),
            pa.field("currency", pa.string()),
            pa.field("property_timezone", pa.string()),
            pa.field("is_other_row", pa.bool_(), nullable=False),
            pa.field("data_loss_from_other_row", pa.bool_(), nullable=False),
            pa.field("sampled", pa.bool_(), nullable=False),
        ]
    ),
    primary_key=(
        "account_id",
        "report_date",
        "session_source",
        "session_medium",
        "session_campaign_name",
    ),
    fetch=_fetch_traffic,
    normalise=_normalise_traffic,
    restatement_lookback_days=RESTATEMENT_LOOKBACK_DAYS,
    wire_date_path="date",
)


def build_client(*, credentials: Mapping[str, str], **client_options: Any) -> Ga4Client:
    """A client for one property; `credentials` holds an OAuth `access_token` and
    optionally a refresh grant (`client_id`, `client_secret`, `refresh_token`)."""
    tokens = token_source(credentials, TOKEN_URL, client_options)
    return Ga4Client(tokens=tokens, access_token=credentials["access_token"], **client_options)


CONNECTOR = Connector(
    platform=Platform.GA4,
    build_client=build_client,
    # Seed 000: 10,000 requests per day and 10 queries per second.
    rate_limits=(
        RateLimit(requests=10, per_seconds=1),
        RateLimit(requests=10_000, per_seconds=86_400),
    ),
    streams=(TRAFFIC,),
    credential_names=("access_token",),
    optional_credential_names=REFRESH_CREDENTIALS,
)
