"""The Meta Graph API simulator: wire shapes, paging, async report runs, and every error shape."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ownlay_pipelines.sandbox.entities import EntityStatus
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import (
    META,
    META_AUTH,
    action_value,
    insights_params,
    meta_pages,
    with_deleted,
)

ACCOUNT = "1000000001"
INSIGHTS = f"{META}/act_{ACCOUNT}/insights"
SPAN = (date(2026, 3, 9), date(2026, 3, 15))


def _faulty(world: SandboxWorld, **faults: float | bool) -> httpx.Client:
    plan = FaultPlan({"meta_ads": PlatformFaults(**faults)})
    return httpx.Client(transport=sandbox_transport(world, plan))


def _run_report(client: httpx.Client) -> str:
    response = client.post(INSIGHTS, params=insights_params(*SPAN), headers=META_AUTH)
    return response.json()["report_run_id"]


def _poll(client: httpx.Client, run_id: str, times: int) -> list[tuple[str, int]]:
    bodies = [client.get(f"{META}/{run_id}", headers=META_AUTH).json() for _ in range(times)]
    return [(b["async_status"], b["async_percent_completion"]) for b in bodies]


def test_the_ad_account_reports_its_currency_and_timezone(client: httpx.Client) -> None:
    params = {"fields": "name,currency,timezone_name,account_status"}
    body = client.get(f"{META}/act_{ACCOUNT}", params=params, headers=META_AUTH).json()
    assert body == {
        "id": f"act_{ACCOUNT}",
        "name": "Acme Outdoor - Meta",
        "currency": "USD",
        "timezone_name": "America/New_York",
        "account_status": 1,
    }


def test_insights_numbers_are_strings_and_purchases_sit_in_action_arrays(
    client: httpx.Client,
) -> None:
    rows = [
        r for page in meta_pages(client, INSIGHTS, insights_params(*SPAN)) for r in page["data"]
    ]
    assert rows
    for row in rows:
        assert all(isinstance(row[k], str) for k in ("impressions", "clicks", "spend", "reach"))
        assert row["account_currency"] == "USD" and row["date_start"] == row["date_stop"]
        assert SPAN[0].isoformat() <= row["date_start"] <= SPAN[1].isoformat()
    with_purchases = [r for r in rows if action_value(r.get("actions"), "purchase")]
    assert with_purchases
    for row in with_purchases:
        purchase = next(a for a in row["actions"] if a["action_type"] == "purchase")
        assert set(purchase) == {
            "action_type",
            "value",
            "1d_click",
            "7d_click",
            "28d_click",
            "1d_view",
        }
        assert int(purchase["value"]) == int(purchase["7d_click"]) + int(purchase["1d_view"])
        assert int(purchase["1d_click"]) <= int(purchase["7d_click"]) <= int(purchase["28d_click"])
        assert action_value(row["actions"], "omni_purchase") == purchase["value"]
        assert action_value(row["action_values"], "omni_purchase") == action_value(
            row["action_values"], "purchase"
        )


def test_retired_view_windows_are_accepted_but_never_returned(client: httpx.Client) -> None:
    params = insights_params(*SPAN, action_attribution_windows=json.dumps(["7d_click", "28d_view"]))
    rows = client.get(INSIGHTS, params=params | {"limit": 500}, headers=META_AUTH).json()["data"]
    keys = {k for row in rows for action in row.get("actions", []) for k in action}
    assert "7d_click" in keys and "28d_view" not in keys


def test_paging_next_urls_embed_every_parameter_until_the_last_page(client: httpx.Client) -> None:
    params = insights_params(*SPAN, limit=4)
    pages = meta_pages(client, INSIGHTS, params)
    assert len(pages) > 2
    next_query = parse_qs(urlsplit(pages[0]["paging"]["next"]).query)
    for name in ("level", "fields", "time_range", "time_increment", "action_attribution_windows"):
        assert next_query[name] == [str(params[name])]
    assert next_query["limit"] == ["4"] and next_query["after"] == [
        pages[0]["paging"]["cursors"]["after"]
    ]
    assert all(len(p["data"]) == 4 for p in pages[:-1]) and "next" not in pages[-1]["paging"]
    everything = client.get(
        INSIGHTS, params=insights_params(*SPAN, limit=500), headers=META_AUTH
    ).json()
    assert [r for p in pages for r in p["data"]] == everything["data"]


def test_deleted_campaigns_are_listed_and_reported_only_when_asked_for(
    client: httpx.Client, world: SandboxWorld
) -> None:
    deleted = next(
        c for c in world.campaigns("meta_ads", ACCOUNT) if c.status is EntityStatus.DELETED
    )
    listing = f"{META}/act_{ACCOUNT}/campaigns"
    default = client.get(listing, params={"fields": "name", "limit": 50}, headers=META_AUTH).json()
    asked = client.get(
        listing,
        params={
            "fields": "name,effective_status",
            "limit": 50,
            "effective_status": json.dumps(["DELETED"]),
        },
        headers=META_AUTH,
    ).json()
    assert deleted.campaign_id not in {c["id"] for c in default["data"]}
    assert asked["data"] == [
        {"id": deleted.campaign_id, "name": deleted.name, "effective_status": "DELETED"}
    ]
    span = (deleted.ended_on - timedelta(days=3), deleted.ended_on - timedelta(days=1))
    plain = client.get(INSIGHTS, params=insights_params(*span, limit=500), headers=META_AUTH).json()
    filtered = client.get(
        INSIGHTS,
        params=insights_params(*span, limit=500, filtering=with_deleted()),
        headers=META_AUTH,
    ).json()
    assert deleted.campaign_id not in {r["campaign_id"] for r in plain["data"]}
    assert sum(r["campaign_id"] == deleted.campaign_id for r in filtered["data"]) == 3


def test_children_of_a_paused_campaign_are_campaign_paused(
    client: httpx.Client, world: SandboxWorld
) -> None:
    paused = next(
        c for c in world.campaigns("meta_ads", ACCOUNT) if c.status is EntityStatus.PAUSED
    )
    body = client.get(
        f"{META}/act_{ACCOUNT}/ads",
        params={"fields": "campaign_id,status,effective_status,creative{id}", "limit": 200},
        headers=META_AUTH,
    ).json()
    ads = [a for a in body["data"] if a["campaign_id"] == paused.campaign_id]
    assert ads and {a["effective_status"] for a in ads} <= {
        "CAMPAIGN_PAUSED",
        "ADSET_PAUSED",
        "PAUSED",
    }
    assert "CAMPAIGN_PAUSED" in {a["effective_status"] for a in ads}
    assert all(set(a["creative"]) == {"id"} for a in ads)


def test_report_run_goes_through_every_status_including_running_at_100(
    client: httpx.Client,
) -> None:
    run_id = _run_report(client)
    assert client.get(f"{META}/{run_id}/insights", headers=META_AUTH).json()["error"]["code"] == 100
    assert _poll(client, run_id, 6) == [
        ("Job Not Started", 0),
        ("Job Started", 0),
        ("Job Running", 42),
        ("Job Running", 100),
        ("Job Completed", 100),
        ("Job Completed", 100),
    ]
    pages = meta_pages(client, f"{META}/{run_id}/insights", {"limit": 5})
    sync = client.get(INSIGHTS, params=insights_params(*SPAN, limit=500), headers=META_AUTH).json()
    assert [r for p in pages for r in p["data"]] == sync["data"]
    assert pages[-1]["paging"].get("next") is None and len(pages) > 1


def test_failed_stalled_and_skipped_report_runs(world: SandboxWorld) -> None:
    with _faulty(world, async_failure_rate=1.0) as client:
        runs = [_run_report(client) for _ in range(4)]
        assert _poll(client, runs[0], 5)[-2:] == [("Job Failed", 37), ("Job Failed", 37)]
        assert _poll(client, runs[3], 3)[-1] == ("Job Skipped", 0)
    with _faulty(world, async_stall_rate=1.0) as client:
        assert set(_poll(client, _run_report(client), 20)[1:]) == {("Job Started", 0)}


def test_throttling_is_http_400_with_rotating_codes_and_a_regain_estimate(
    world: SandboxWorld,
) -> None:
    with _faulty(world, throttle_rate=1.0) as client:
        responses = [client.get(f"{META}/act_{ACCOUNT}", headers=META_AUTH) for _ in range(3)]
    assert [r.status_code for r in responses] == [400, 400, 400]
    assert [r.json()["error"]["code"] for r in responses] == [17, 613, 80000]
    first = responses[0].json()["error"]
    assert first["message"] == "(#17) User request limit reached"
    assert (first["type"], first["error_subcode"], first["is_transient"]) == (
        "OAuthException",
        2446079,
        True,
    )
    assert len(first["fbtrace_id"]) == 11
    usage = json.loads(responses[0].headers["x-business-use-case-usage"])
    assert usage[ACCOUNT][0]["estimated_time_to_regain_access"] > 0
    assert json.loads(responses[0].headers["x-ad-account-usage"])["acc_id_util_pct"] == 100


def test_usage_headers_come_with_every_response(client: httpx.Client) -> None:
    ok = client.get(f"{META}/act_{ACCOUNT}", headers=META_AUTH)
    refused = client.get(
        f"{META}/act_{ACCOUNT}/insights", params={"level": "ad"}, headers=META_AUTH
    )
    for response in (ok, refused):
        assert {"x-app-usage", "x-ad-account-usage", "x-business-use-case-usage"} <= set(
            response.headers
        )
        usage = json.loads(response.headers["x-business-use-case-usage"])
        assert usage[ACCOUNT][0]["estimated_time_to_regain_access"] == 0
        assert json.loads(response.headers["x-app-usage"])["call_count"] < 95
    assert "x-fb-ads-insights-throttle" in refused.headers


def test_server_hiccups_are_http_500_code_2(world: SandboxWorld) -> None:
    with _faulty(world, server_error_rate=1.0) as client:
        response = client.get(f"{META}/act_{ACCOUNT}", headers=META_AUTH)
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["is_transient"]) == (2, True)
    assert error["message"] == "An unexpected error has occurred. Please retry your request later."


def test_an_expired_token_is_code_190_subcode_463(world: SandboxWorld) -> None:
    with _faulty(world, token_expired=True) as client:
        response = client.get(f"{META}/act_{ACCOUNT}", headers=META_AUTH)
    error = response.json()["error"]
    assert response.status_code == 400
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    assert error["message"].startswith("Error validating access token: Session has expired on ")


def test_a_request_without_a_token_is_refused_with_code_190(client: httpx.Client) -> None:
    response = client.get(f"{META}/act_{ACCOUNT}")
    assert (response.status_code, response.json()["error"]["code"]) == (400, 190)


def test_the_token_may_come_as_a_query_parameter(client: httpx.Client) -> None:
    response = client.get(f"{META}/act_{ACCOUNT}", params={"access_token": "sandbox-token"})
    assert response.status_code == 200


def test_a_long_daily_sync_report_asks_to_reduce_the_data_but_an_async_one_runs(
    client: httpx.Client,
) -> None:
    params = insights_params(date(2025, 12, 1), date(2026, 3, 15))
    response = client.get(INSIGHTS, params=params, headers=META_AUTH)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 1
    assert (
        error["message"]
        == "Please reduce the amount of data you're asking for, then retry your request"
    )
    assert "report_run_id" in client.post(INSIGHTS, params=params, headers=META_AUTH).json()


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        ({"fields": "impressions,bogus"}, 100, "bogus is not valid for fields param"),
        (
            {"time_range": json.dumps({"since": "2022-01-01", "until": "2022-01-02"})},
            3018,
            "37 months",
        ),
        ({"level": "ad"}, 100, "level=campaign"),
    ],
)
def test_invalid_insights_parameters_get_meta_errors(
    client: httpx.Client, params: dict[str, str], code: int, text: str
) -> None:
    response = client.get(INSIGHTS, params=insights_params(*SPAN) | params, headers=META_AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and text in response.json()["error"]["message"]


def test_an_old_api_version_is_refused_with_code_2635(client: httpx.Client) -> None:
    response = client.get(f"https://graph.facebook.com/v19.0/act_{ACCOUNT}", headers=META_AUTH)
    assert response.json()["error"]["code"] == 2635


def test_malformed_rows_are_served_broken_and_exposed_by_key(world: SandboxWorld) -> None:
    transport = sandbox_transport(
        world, FaultPlan({"meta_ads": PlatformFaults(malformed_row_rate=0.2)})
    )
    with httpx.Client(transport=transport) as client:
        params = insights_params(*SPAN, limit=500, fields="campaign_id,spend,date_start")
        rows = client.get(INSIGHTS, params=params, headers=META_AUTH).json()["data"]
    broken = [r for r in rows if r.get("spend") == "N/A" or "date_start" not in r]
    simulator = transport.simulator("meta_ads")
    assert broken and len(broken) == len(simulator.malformed_keys)
    assert {r["campaign_id"] for r in broken} == {k.campaign_id for k in simulator.malformed_keys}
