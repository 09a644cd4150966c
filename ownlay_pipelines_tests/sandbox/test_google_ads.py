"""The Google Ads REST simulator: row shapes, GAQL checks, page tokens, streams and error bodies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from ownlay_pipelines.sandbox.entities import EntityStatus
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.google_ads import GoogleAdsSimulator
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import GOOGLE, GOOGLE_AUTH, google_pages, google_search

CUSTOMER = "2345678901"
DAILY = (
    "SELECT customer.id, customer.currency_code, customer.time_zone, campaign.id, campaign.name, "
    "campaign.status, segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, "
    "metrics.conversions, metrics.conversions_value FROM campaign "
    "WHERE segments.date BETWEEN '2026-03-09' AND '2026-03-15'"
)


def _faulty(world: SandboxWorld, **faults: float | bool) -> httpx.Client:
    plan = FaultPlan({"google_ads": PlatformFaults(**faults)})
    return httpx.Client(transport=sandbox_transport(world, plan))


def _query_error(response: httpx.Response) -> str:
    assert response.status_code == 400
    (failure,) = response.json()["error"]["details"][0]["errors"]
    return failure["errorCode"]["queryError"]


def test_daily_rows_are_camel_case_with_int64_strings_and_micros(
    client: httpx.Client, world: SandboxWorld
) -> None:
    body = google_search(client, CUSTOMER, DAILY).json()
    assert body["fieldMask"].split(",")[:3] == [
        "customer.id",
        "customer.currencyCode",
        "customer.timeZone",
    ]
    assert "metrics.costMicros" in body["fieldMask"] and body["requestId"]
    assert "nextPageToken" not in body
    for result in body["results"]:
        assert result["customer"] == {
            "resourceName": f"customers/{CUSTOMER}",
            "id": CUSTOMER,
            "currencyCode": "EUR",
            "timeZone": "Europe/Berlin",
        }
        campaign_id = result["campaign"]["id"]
        assert result["campaign"]["resourceName"] == f"customers/{CUSTOMER}/campaigns/{campaign_id}"
        metrics = result["metrics"]
        assert isinstance(metrics["impressions"], str) and isinstance(metrics["costMicros"], str)
        assert isinstance(metrics["conversions"], float)
        report_date = date.fromisoformat(result["segments"]["date"])
        day = world.campaign_day("google_ads", CUSTOMER, campaign_id, report_date)
        assert Decimal(metrics["costMicros"]) / 1_000_000 == day.spend
        assert Decimal(str(metrics["conversions"])) == day.conversions


def test_entity_queries_return_keywords_ads_and_conversion_actions(
    client: httpx.Client, world: SandboxWorld
) -> None:
    keywords = google_search(
        client,
        CUSTOMER,
        "SELECT ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, "
        "ad_group_criterion.keyword.match_type, ad_group_criterion.cpc_bid_micros, "
        "ad_group_criterion.quality_info.quality_score, ad_group_criterion.status, ad_group.id "
        "FROM keyword_view",
    ).json()["results"]
    assert len(keywords) == len(world.keywords("google_ads", CUSTOMER))
    unscored = {
        k.criterion_id for k in world.keywords("google_ads", CUSTOMER) if k.quality_score is None
    }
    for row in keywords:
        criterion = row["adGroupCriterion"]
        assert criterion["keyword"]["matchType"] in ("EXACT", "PHRASE", "BROAD")
        assert ("qualityInfo" in criterion) == (criterion["criterionId"] not in unscored)
        assert row["keywordView"]["resourceName"].endswith(
            f"{row['adGroup']['id']}~{criterion['criterionId']}"
        )
    ad = google_search(
        client,
        CUSTOMER,
        "SELECT ad_group_ad.ad.id, ad_group_ad.ad.type, ad_group_ad.status, "
        "ad_group_ad.ad.final_urls, ad_group_ad.ad.responsive_search_ad.headlines FROM ad_group_ad "
        "WHERE ad_group_ad.ad.type = 'RESPONSIVE_SEARCH_AD' LIMIT 1",
    ).json()["results"][0]["adGroupAd"]
    assert ad["ad"]["resourceName"] == f"customers/{CUSTOMER}/ads/{ad['ad']['id']}"
    assert all(set(h) == {"text"} for h in ad["ad"]["responsiveSearchAd"]["headlines"])
    actions = google_search(
        client,
        CUSTOMER,
        "SELECT conversion_action.name, conversion_action.value_settings.default_value, "
        "conversion_action.attribution_model_settings.attribution_model FROM conversion_action",
    ).json()["results"]
    assert actions[0]["conversionAction"]["name"] == "Purchase"
    assert isinstance(actions[0]["conversionAction"]["valueSettings"]["defaultValue"], float)


def test_removed_campaigns_are_returned_with_their_status(
    client: httpx.Client, world: SandboxWorld
) -> None:
    removed = next(
        c for c in world.campaigns("google_ads", CUSTOMER) if c.status is EntityStatus.DELETED
    )
    rows = google_search(
        client,
        CUSTOMER,
        "SELECT campaign.id, campaign.status, campaign_budget.amount_micros FROM campaign "
        "WHERE campaign.status = 'REMOVED'",
    ).json()["results"]
    assert [r["campaign"]["id"] for r in rows] == [removed.campaign_id]
    assert rows[0]["campaignBudget"]["amountMicros"] == str(int(removed.daily_budget * 1_000_000))


def test_filters_ordering_and_limit_apply(client: httpx.Client) -> None:
    rows = google_search(
        client,
        CUSTOMER,
        "SELECT campaign.id, segments.date, metrics.clicks FROM campaign "
        "WHERE segments.date = '2026-03-10' AND metrics.clicks > 5 "
        "ORDER BY metrics.clicks DESC LIMIT 3",
    ).json()["results"]
    clicks = [int(r["metrics"]["clicks"]) for r in rows]
    assert 0 < len(clicks) <= 3 and clicks == sorted(clicks, reverse=True) and min(clicks) > 5
    assert {r["segments"]["date"] for r in rows} == {"2026-03-10"}


def test_a_date_filter_without_the_date_segment_sums_the_span(client: httpx.Client) -> None:
    daily = google_search(client, CUSTOMER, DAILY).json()["results"]
    summed = google_search(
        client,
        CUSTOMER,
        "SELECT campaign.id, metrics.clicks, metrics.cost_micros FROM campaign "
        "WHERE segments.date BETWEEN '2026-03-09' AND '2026-03-15'",
    ).json()["results"]
    for row in summed:
        own = [d["metrics"] for d in daily if d["campaign"]["id"] == row["campaign"]["id"]]
        assert int(row["metrics"]["clicks"]) == sum(int(m["clicks"]) for m in own)
        assert int(row["metrics"]["costMicros"]) == sum(int(m["costMicros"]) for m in own)
    assert {r["campaign"]["id"] for r in summed} >= {d["campaign"]["id"] for d in daily}


def test_an_empty_result_has_no_results_key(client: httpx.Client) -> None:
    body = google_search(
        client, CUSTOMER, "SELECT campaign.id FROM campaign WHERE campaign.id = 1"
    ).json()
    assert "results" not in body and body["fieldMask"] == "campaign.id"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.colour FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id FROM campaigns", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        (
            "SELECT ad_group_criterion.keyword.text FROM campaign",
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
        ),
        (
            "SELECT campaign.id, segments.date, metrics.clicks FROM campaign",
            "EXPECTED_FILTERS_ON_DATE_RANGE",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.status = 'ACTIVE'", "BAD_ENUM_CONSTANT"),
        (
            "SELECT campaign.id FROM campaign ORDER BY campaign.name",
            "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE",
        ),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date = '03/10/2026'",
            "INVALID_DATE_FORMAT",
        ),
        ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
    ],
)
def test_bad_queries_are_invalid_argument_with_a_query_error(
    client: httpx.Client, query: str, code: str
) -> None:
    response = google_search(client, CUSTOMER, query)
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert _query_error(response) == code


def test_small_pages_link_by_next_page_token_until_the_last(world: SandboxWorld) -> None:
    transport = sandbox_transport(world)
    transport.register(GoogleAdsSimulator(world, page_size=5))
    with httpx.Client(transport=transport) as client:
        pages = google_pages(client, CUSTOMER, DAILY)
    with httpx.Client(transport=sandbox_transport(world)) as client:
        whole = google_search(client, CUSTOMER, DAILY).json()["results"]
    assert len(pages) == -(-len(whole) // 5) > 1
    assert all(len(p["results"]) == 5 for p in pages[:-1]) and "nextPageToken" not in pages[-1]
    assert [r for p in pages for r in p["results"]] == whole


def test_forged_or_foreign_page_tokens_are_refused(world: SandboxWorld) -> None:
    transport = sandbox_transport(world)
    transport.register(GoogleAdsSimulator(world, page_size=2))
    with httpx.Client(transport=transport) as client:
        token = google_search(client, CUSTOMER, DAILY).json()["nextPageToken"]
        forged = google_search(client, CUSTOMER, DAILY, pageToken="CPii5aS87vfFTBAK")
        other_query = google_search(
            client, CUSTOMER, "SELECT campaign.id FROM campaign", pageToken=token
        )
    for response in (forged, other_query):
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
            "requestError": "INVALID_PAGE_TOKEN"
        }


def test_setting_a_page_size_is_refused(client: httpx.Client) -> None:
    response = google_search(client, CUSTOMER, "SELECT campaign.id FROM campaign", pageSize=100)
    assert response.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "requestError": "PAGE_SIZE_NOT_SUPPORTED"
    }


def test_search_stream_is_a_json_array_of_batches(world: SandboxWorld) -> None:
    transport = sandbox_transport(world)
    transport.register(GoogleAdsSimulator(world, page_size=4))
    with httpx.Client(transport=transport) as client:
        response = client.post(
            f"{GOOGLE}/customers/{CUSTOMER}/googleAds:searchStream",
            json={"query": DAILY},
            headers=GOOGLE_AUTH,
        )
        whole = google_pages(client, CUSTOMER, DAILY)
    batches = response.json()
    assert isinstance(batches, list) and len(batches) > 1
    assert all(len(b["results"]) <= 4 and b["fieldMask"] and b["requestId"] for b in batches)
    assert [r for b in batches for r in b["results"]] == [r for p in whole for r in p["results"]]


def test_quota_exhaustion_is_a_429_with_a_retry_delay(world: SandboxWorld) -> None:
    with _faulty(world, throttle_rate=1.0) as client:
        response = google_search(client, CUSTOMER, "SELECT customer.id FROM customer")
    assert response.status_code == 429
    body = response.json()
    request_id = body["error"]["details"][0].pop("requestId")
    assert request_id == response.headers["request-id"]
    assert body == {
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
                }
            ],
        }
    }


def test_an_expired_token_is_401_unauthenticated(world: SandboxWorld) -> None:
    with _faulty(world, token_expired=True) as client:
        response = google_search(client, CUSTOMER, "SELECT customer.id FROM customer")
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["status"]) == (401, 401, "UNAUTHENTICATED")
    assert error["details"][0]["errors"][0]["errorCode"] == {
        "authenticationError": "OAUTH_TOKEN_EXPIRED"
    }


def test_transient_failures_are_500_internal(world: SandboxWorld) -> None:
    with _faulty(world, server_error_rate=1.0) as client:
        response = google_search(client, CUSTOMER, "SELECT customer.id FROM customer")
    assert (response.status_code, response.json()["error"]["status"]) == (500, "INTERNAL")
    assert response.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "internalError": "TRANSIENT_ERROR"
    }


def test_credentials_and_customer_are_checked(client: httpx.Client) -> None:
    url = f"{GOOGLE}/customers/{CUSTOMER}/googleAds:search"
    query = {"query": "SELECT customer.id FROM customer"}
    no_token = client.post(url, json=query, headers={"developer-token": "x"})
    no_developer_token = client.post(url, json=query, headers={"Authorization": "Bearer x"})
    stranger = client.post(
        f"{GOOGLE}/customers/1111111111/googleAds:search", json=query, headers=GOOGLE_AUTH
    )
    manager = client.post(
        url, json=query, headers=GOOGLE_AUTH | {"login-customer-id": "9999999999"}
    )
    assert (no_token.status_code, no_token.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert no_developer_token.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"
    }
    assert (stranger.status_code, stranger.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert manager.status_code == 200


def test_malformed_metric_rows_are_served_broken_and_exposed_by_key(world: SandboxWorld) -> None:
    transport = sandbox_transport(
        world, FaultPlan({"google_ads": PlatformFaults(malformed_row_rate=0.2)})
    )
    with httpx.Client(transport=transport) as client:
        rows = google_search(client, CUSTOMER, DAILY).json()["results"]
    broken = [r for r in rows if "segments" not in r or r["metrics"]["costMicros"] == "12.5.0"]
    keys = transport.simulator("google_ads").malformed_keys
    assert broken and len(broken) == len(keys)
    assert {r["campaign"]["id"] for r in broken} == {k.campaign_id for k in keys}
