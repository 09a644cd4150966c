import json
from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.connectors.meta_ads import STREAMS, MetaAdsClient
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.wire_values import RowError
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import (
    AuthExpired,
    PayloadTooLarge,
    RateLimited,
    RetryBudgetExhausted,
)
from ownlay_pipelines.http.retry import RetryPolicy
from ownlay_pipelines.registry.workspaces import Connection, Workspace
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines_tests.connectors.wire import Script, json_response

INSIGHTS = next(s for s in STREAMS if s.table == "insights")
CAMPAIGNS = next(s for s in STREAMS if s.table == "campaigns")
WORKSPACE = Workspace(
    id="acme",
    name="Acme",
    tier="growth",
    timezone="America/New_York",
    currency="USD",
    connections=(Connection(platform="meta_ads", account_id="123"),),
)
REQUEST = FetchRequest(
    WORKSPACE, WORKSPACE.connections[0], DateRange(date(2026, 1, 1), date(2026, 1, 2))
)

INSIGHT_ROW = {
    "account_id": "123",
    "account_currency": "USD",
    "campaign_id": "23851234567890123",
    "campaign_name": "Spring",
    "impressions": "9708",
    "reach": "8001",
    "clicks": "120",
    "spend": "45.67",
    "actions": [
        {"action_type": "link_click", "value": "98"},
        {"action_type": "add_to_cart", "value": "11"},
        {"action_type": "purchase", "value": "3", "1d_click": "2", "7d_click": "3"},
        {"action_type": "omni_purchase", "value": "3"},
    ],
    "action_values": [
        {"action_type": "purchase", "value": "210.50"},
        {"action_type": "omni_purchase", "value": "210.50"},
    ],
    "date_start": "2026-01-01",
    "date_stop": "2026-01-01",
}
THROTTLED = {
    "error": {
        "message": "(#17) User request limit reached",
        "type": "OAuthException",
        "code": 17,
        "error_subcode": 2446079,
        "is_transient": True,
        "fbtrace_id": "AbC",
    }
}
EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired on Friday.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "AbC",
    }
}


def _client(script: Script, **kwargs) -> MetaAdsClient:
    return MetaAdsClient(
        access_token="EAAB-secret",
        account_id="123",
        transport=script.transport,
        clock=FakeClock(),
        **kwargs,
    )


def test_insights_row_normalises_strings_actions_and_never_double_counts_omni_purchase():
    row = INSIGHTS.normalise({**INSIGHT_ROW, "_account_timezone": "America/New_York"}, REQUEST)

    assert row["report_date"] == date(2026, 1, 1)
    assert (row["impressions"], row["clicks"], row["reach"]) == (9708, 120, 8001)
    assert row["spend"] == Decimal("45.67")
    assert row["conversions"] == Decimal(3)
    assert row["conversion_value"] == Decimal("210.50")
    assert (row["link_clicks"], row["add_to_cart"]) == (98, 11)
    assert row["account_timezone"] == "America/New_York"


def test_insights_row_without_purchases_has_zero_conversions():
    row = INSIGHTS.normalise({**INSIGHT_ROW, "actions": None, "action_values": None}, REQUEST)
    assert row["conversions"] == 0 and row["conversion_value"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"spend": "N/A"}, "spend"),
        ({"date_start": None}, "date_start"),
        ({"impressions": "-5"}, "impressions"),
        ({"date_stop": "2026-01-07"}, "date_stop"),
        ({"actions": "purchase"}, "actions"),
    ],
)
def test_malformed_insights_row_raises_row_error_naming_the_field(change, field):
    with pytest.raises(RowError) as error:
        INSIGHTS.normalise({**INSIGHT_ROW, **change}, REQUEST)
    assert error.value.field == field


def test_campaign_budget_in_minor_units_respects_zero_decimal_currencies():
    record = {"id": "1", "name": "C", "effective_status": "ACTIVE", "daily_budget": "5000"}
    usd = CAMPAIGNS.normalise({**record, "_currency": "USD"}, REQUEST)
    jpy = CAMPAIGNS.normalise({**record, "_currency": "JPY"}, REQUEST)

    assert usd["daily_budget"] == Decimal("50") and jpy["daily_budget"] == Decimal(5000)
    assert usd["status"] == "active"


def test_http_400_code_17_waits_for_the_usage_header_then_retries():
    usage = json.dumps(
        {"123": [{"type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    )
    script = Script(
        [
            json_response(400, THROTTLED, {"x-business-use-case-usage": usage}),
            json_response(200, {"data": [], "paging": {}}),
        ]
    )
    client = _client(script)

    client.request_json("GET", "act_123/campaigns")

    assert len(script.requests) == 2
    assert client.clock.sleeps[0] == pytest.approx(120.0)
    assert client.stats.throttled == 1


def test_rate_limit_longer_than_the_budget_is_handed_back_not_slept():
    usage = json.dumps({"123": [{"estimated_time_to_regain_access": 120}]})
    script = Script([json_response(400, THROTTLED, {"x-business-use-case-usage": usage})])
    client = _client(script, retry_policy=RetryPolicy(max_server_wait_seconds=3600))

    with pytest.raises(RetryBudgetExhausted) as error:
        client.request_json("GET", "act_123/campaigns")

    assert isinstance(error.value.last_error, RateLimited)
    assert error.value.last_error.wait_seconds == 7200
    assert client.clock.sleeps == []


def test_expired_token_code_190_is_not_retried_and_hides_the_token():
    script = Script([json_response(400, EXPIRED)])
    client = _client(script)

    with pytest.raises(AuthExpired) as error:
        client.request_json("GET", "act_123/campaigns")

    assert len(script.requests) == 1
    assert "re-authorise" in str(error.value) and "EAAB-secret" not in str(error.value)
    assert script.requests[0].headers["authorization"] == "Bearer EAAB-secret"
    assert "access_token" not in str(script.requests[0].url)


def test_reduce_the_amount_of_data_is_payload_too_large():
    body = {
        "error": {
            "code": 1,
            "message": "Please reduce the amount of data you're asking for, then retry your request",
        }
    }
    with pytest.raises(PayloadTooLarge):
        _client(Script([json_response(500, body)])).request_json("GET", "act_123/insights")


def test_high_usage_header_pauses_before_the_next_call():
    usage = json.dumps({"call_count": 97, "total_time": 20, "total_cputime": 10})
    script = Script(
        [
            json_response(200, {"data": []}, {"x-app-usage": usage}),
            json_response(200, {"data": []}),
        ]
    )
    client = _client(script)

    client.request_json("GET", "act_123/campaigns")
    client.request_json("GET", "act_123/adsets")

    assert client.clock.sleeps == [60.0]


def test_async_insights_job_is_created_polled_and_paged():
    row = dict(INSIGHT_ROW)
    script = Script(
        [
            json_response(
                200, {"name": "Acme", "currency": "USD", "timezone_name": "America/New_York"}
            ),
            json_response(200, {"report_run_id": "6020000001"}),
            json_response(
                200,
                {"id": "6020000001", "async_status": "Job Running", "async_percent_completion": 40},
            ),
            json_response(
                200,
                {
                    "id": "6020000001",
                    "async_status": "Job Running",
                    "async_percent_completion": 100,
                },
            ),
            json_response(
                200,
                {
                    "id": "6020000001",
                    "async_status": "Job Completed",
                    "async_percent_completion": 100,
                },
            ),
            json_response(
                200,
                {
                    "data": [row],
                    "paging": {
                        "cursors": {"after": "A1"},
                        "next": "https://graph.facebook.com/v25.0/6020000001/insights?limit=100&after=A1",
                    },
                },
            ),
            json_response(
                200,
                {
                    "data": [{**row, "date_start": "2026-01-02", "date_stop": "2026-01-02"}],
                    "paging": {"cursors": {"after": "A2"}},
                },
            ),
        ]
    )
    client = _client(script)

    records = list(INSIGHTS.fetch(client, REQUEST))

    assert [r["date_start"] for r in records] == ["2026-01-01", "2026-01-02"]
    assert records[0]["_account_timezone"] == "America/New_York"
    create = script.requests[1]
    assert create.method == "POST" and create.url.path == "/v25.0/act_123/insights"
    assert json.loads(create.url.params["time_range"]) == {
        "since": "2026-01-01",
        "until": "2026-01-02",
    }
    assert create.url.params["time_increment"] == "1" and create.url.params["level"] == "campaign"
    assert script.requests[-1].url.params["after"] == "A1"
