import json
from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.connectors.google_ads import STREAMS, GoogleAdsClient
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired, FatalApiError, TransientError
from ownlay_pipelines.http.pagination import RepeatedCursorError
from ownlay_pipelines.http.retry import RetryPolicy
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines_tests.connectors.wire import Script, json_response

METRICS = next(s for s in STREAMS if s.table == "campaign_metrics")
KEYWORDS = next(s for s in STREAMS if s.table == "keywords")
WORKSPACE = Workspace(
    id="acme",
    name="Acme",
    tier="growth",
    timezone="Europe/Berlin",
    currency="EUR",
    connections=(Connection(platform="google_ads", account_id="1234567890"),),
)
REQUEST = FetchRequest(
    WORKSPACE, WORKSPACE.connections[0], DateRange(date(2026, 1, 1), date(2026, 1, 31))
)

RESULT = {
    "customer": {
        "resourceName": "customers/1234567890",
        "currencyCode": "EUR",
        "timeZone": "Europe/Berlin",
    },
    "campaign": {
        "resourceName": "customers/1234567890/campaigns/555",
        "id": "555",
        "name": "Brand",
    },
    "segments": {"date": "2026-01-01"},
    "metrics": {
        "impressions": "1200",
        "clicks": "35",
        "costMicros": "12340000",
        "conversions": 2.5,
        "conversionsValue": 180.37,
    },
}
QUOTA = {
    "error": {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
                "errors": [
                    {
                        "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"},
                        "message": "Too many requests. Retry in 30 seconds.",
                        "details": {
                            "quotaErrorDetails": {
                                "rateScope": "ACCOUNT",
                                "rateName": "Requests per service per method",
                                "retryDelay": "30s",
                            }
                        },
                    }
                ],
                "requestId": "abc",
            }
        ],
    }
}
EXPIRED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials.",
        "status": "UNAUTHENTICATED",
        "details": [
            {
                "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
                "errors": [
                    {
                        "errorCode": {"authenticationError": "OAUTH_TOKEN_EXPIRED"},
                        "message": "The access token expired.",
                    }
                ],
            }
        ],
    }
}


def _client(script: Script, **kwargs) -> GoogleAdsClient:
    return GoogleAdsClient(
        access_token="ya29-secret",
        developer_token="dev-secret",
        account_id="1234567890",
        transport=script.transport,
        clock=FakeClock(),
        **kwargs,
    )


def test_metrics_row_turns_micros_and_int64_strings_into_exact_values():
    row = METRICS.normalise(RESULT, REQUEST)

    assert row["report_date"] == date(2026, 1, 1)
    assert (row["impressions"], row["clicks"], row["cost_micros"]) == (1200, 35, 12340000)
    assert row["spend"] == Decimal("12.34")
    assert row["conversions"] == Decimal("2.5")
    assert row["conversion_value"] == Decimal("180.37")
    assert (row["currency"], row["account_timezone"]) == ("EUR", "Europe/Berlin")


def test_metrics_omitted_by_proto3_json_mean_zero():
    row = METRICS.normalise({**RESULT, "metrics": {"impressions": "10"}}, REQUEST)
    assert (row["clicks"], row["spend"], row["conversions"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metrics": {"costMicros": "12.5.0"}}, "metrics.costMicros"),
        ({"segments": None}, "segments.date"),
        ({"campaign": {"name": "x"}}, "campaign.id"),
    ],
)
def test_malformed_metrics_row_names_the_field(change, field):
    with pytest.raises(RowError) as error:
        METRICS.normalise({**RESULT, **change}, REQUEST)
    assert error.value.field == field


def test_keyword_without_quality_score_keeps_null():
    record = {
        "adGroup": {"id": "77"},
        "adGroupCriterion": {
            "criterionId": "9",
            "status": "ENABLED",
            "cpcBidMicros": "1500000",
            "keyword": {"text": "hiking boots", "matchType": "PHRASE"},
        },
    }
    row = KEYWORDS.normalise(record, REQUEST)
    assert row["quality_score"] is None and row["cpc_bid"] == Decimal("1.5")


def test_http_429_resource_exhausted_honours_retry_delay():
    script = Script([json_response(429, QUOTA), json_response(200, {"results": [RESULT]})])
    client = _client(script)

    rows = list(METRICS.fetch(client, REQUEST))

    assert len(rows) == 1
    assert client.clock.sleeps == [30.0]
    assert client.stats.throttled == 1


def test_expired_token_is_not_retried():
    script = Script([json_response(401, EXPIRED)])
    with pytest.raises(AuthExpired, match="access token expired"):
        list(METRICS.fetch(_client(script), REQUEST))
    assert len(script.requests) == 1


def test_transient_internal_error_is_retried_then_gives_up():
    body = {
        "error": {
            "code": 500,
            "status": "INTERNAL",
            "message": "Internal error",
            "details": [
                {
                    "errors": [
                        {"errorCode": {"internalError": "TRANSIENT_ERROR"}, "message": "retry"}
                    ]
                }
            ],
        }
    }
    script = Script([json_response(500, body)] * 3)
    client = _client(script, retry_policy=RetryPolicy(max_attempts=3))
    with pytest.raises(Exception) as error:
        list(METRICS.fetch(client, REQUEST))
    assert isinstance(getattr(error.value, "last_error", error.value), TransientError)
    assert len(script.requests) == 3


def test_query_error_is_fatal():
    body = {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "message": "Request contains an invalid argument.",
            "details": [
                {
                    "errors": [
                        {
                            "errorCode": {"queryError": "UNRECOGNIZED_FIELD"},
                            "message": "Unrecognized field",
                        }
                    ]
                }
            ],
        }
    }
    with pytest.raises(FatalApiError, match="Unrecognized field"):
        list(METRICS.fetch(_client(Script([json_response(400, body)])), REQUEST))


def test_page_token_paging_repeats_the_query_and_stops_on_the_last_page():
    script = Script(
        [
            json_response(200, {"results": [RESULT], "nextPageToken": "T1"}),
            json_response(200, {"results": [], "nextPageToken": "T2"}),
            json_response(200, {"results": [RESULT]}),
        ]
    )
    rows = list(METRICS.fetch(_client(script), REQUEST))

    bodies = [json.loads(r.content) for r in script.requests]
    assert len(rows) == 2
    assert [b.get("pageToken") for b in bodies] == [None, "T1", "T2"]
    assert len({b["query"] for b in bodies}) == 1
    assert "BETWEEN '2026-01-01' AND '2026-01-31'" in bodies[0]["query"]
    assert script.requests[0].headers["developer-token"] == "dev-secret"


def test_repeated_page_token_stops_instead_of_looping():
    script = Script(
        [
            json_response(200, {"results": [RESULT], "nextPageToken": "T1"}),
            json_response(200, {"results": [RESULT], "nextPageToken": "T1"}),
        ]
    )
    with pytest.raises(RepeatedCursorError):
        list(METRICS.fetch(_client(script), REQUEST))
