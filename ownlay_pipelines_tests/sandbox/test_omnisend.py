"""The Omnisend simulator: both flavours' shapes and paging, problem bodies, accruing counters."""

from __future__ import annotations

import re

import httpx
import pytest

from ownlay_pipelines.connectors.omnisend import ApiFlavour, Resource, pull
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.omnisend import OmnisendSimulator
from ownlay_pipelines.sandbox.omnisend_catalog import brand_campaigns, omnisend_brands
from ownlay_pipelines.sandbox.transport import sandbox_transport
from ownlay_pipelines_tests.sandbox.omnisend_world import (
    ACME_BRAND,
    API,
    LATER,
    NOW,
    REGISTRY,
    V3,
    api_headers,
    sandbox_opener,
    v3_headers,
    world_at,
)

WORLD = world_at(NOW)
HEX_ID = re.compile(r"^[0-9a-f]{24}$")


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(transport=sandbox_transport(WORLD)) as http:
        yield http


def _campaigns_now() -> int:
    (brand,) = [b for b in omnisend_brands(REGISTRY) if b.brand_id == ACME_BRAND]
    return sum(
        c.created_at <= NOW for c in brand_campaigns(WORLD.seed, brand, WORLD.timeline_anchor)
    )


def test_brands_are_not_ad_accounts_of_the_world():
    assert WORLD.accounts() == []
    assert [b.brand_id for b in omnisend_brands(REGISTRY)] == [
        ACME_BRAND,
        "60aa11bb22cc33dd44ee55ff",
    ]


def test_v3_campaign_pages_link_by_an_absolute_next_url_and_carry_counters(client):
    first = client.get(f"{V3}/campaigns", params={"limit": 5}, headers=v3_headers()).json()
    assert set(first) == {"campaign", "paging"}
    assert len(first["campaign"]) == 5
    assert first["paging"]["next"] == f"{V3}/campaigns?limit=5&offset=5"
    assert first["paging"]["previous"] is None
    item = first["campaign"][0]
    assert HEX_ID.match(item["campaignID"])
    assert {"sent", "opened", "clicked", "bounced", "complained", "unsubscribed"} <= set(item)
    assert set(item["byDevices"]) == {"opened", "clicked"}

    total = _campaigns_now()
    last = client.get(
        f"{V3}/campaigns", params={"limit": 5, "offset": total - 2}, headers=v3_headers()
    ).json()
    assert len(last["campaign"]) == 2 and last["paging"]["next"] is None


def test_campaigns_go_draft_scheduled_sent_and_sent_ones_accrue_opens(client):
    items = client.get(f"{V3}/campaigns", params={"limit": 4}, headers=v3_headers()).json()
    newest, last_sent, older = items["campaign"][0], items["campaign"][1], items["campaign"][2]
    # Newest first: next Tuesday's campaign exists as a draft; Tuesday's went out three days ago.
    assert (newest["status"], newest["sent"], newest["startDate"]) == ("draft", 0, None)
    assert last_sent["status"] == "sent" and last_sent["sent"] > 0

    later = world_at(LATER)
    with httpx.Client(transport=sandbox_transport(later)) as http:
        moved = http.get(f"{V3}/campaigns", params={"limit": 4}, headers=v3_headers()).json()
    again_sent, again_older = moved["campaign"][1], moved["campaign"][2]
    assert again_sent["sent"] == last_sent["sent"]
    assert (
        again_sent["opened"] > last_sent["opened"] and again_sent["clicked"] >= last_sent["clicked"]
    )
    assert again_older["opened"] == older["opened"]


def test_versioned_lists_have_ids_states_and_cursor_paging_without_counters(client):
    first = client.get(f"{API}/campaigns", params={"limit": 3}, headers=api_headers()).json()
    item = first["campaigns"][0]
    assert HEX_ID.match(item["id"]) and item["brandID"] == ACME_BRAND
    assert not {"sent", "opened", "clicked"} & set(item)
    assert first["paging"]["hasMore"] is True and first["paging"]["limit"] == 3
    after = first["paging"]["cursors"]["after"]

    second = client.get(
        f"{API}/campaigns", params={"limit": 3, "after": after}, headers=api_headers()
    ).json()
    assert second["campaigns"][0]["id"] not in {c["id"] for c in first["campaigns"]}
    automations = client.get(f"{API}/automations", headers=api_headers()).json()
    assert {type(a["isEnabled"]) for a in automations["automations"]} == {bool}
    assert automations["paging"]["hasMore"] is False
    assert automations["paging"]["cursors"]["after"] is not None


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"after": "x", "before": "y"}, "after", "conflict"),
        ({"orderBy": "name"}, "orderBy", "unknown_parameter"),
        ({"limit": 251}, "limit", "out_of_range"),
        ({"after": "bm90LWEtY3Vyc29y"}, "after", "invalid_cursor"),
    ],
)
def test_versioned_refuses_bad_parameters_with_a_validation_problem(client, params, field, code):
    response = client.get(f"{API}/campaigns", params=params, headers=api_headers())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["field"] == field and body["errors"][0]["code"] == code
    assert body["instance"].startswith("urn:omnisend:request:")


def test_changing_filters_mid_pagination_is_a_400(client):
    first = client.get(
        f"{API}/campaigns", params={"limit": 2, "status": "sent"}, headers=api_headers()
    ).json()
    assert {c["status"] for c in first["campaigns"]} == {"sent"}
    after = first["paging"]["cursors"]["after"]
    response = client.get(
        f"{API}/campaigns", params={"limit": 2, "after": after}, headers=api_headers()
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "filters_changed"


def test_the_version_header_is_required_and_an_old_one_is_gone(client):
    headers = api_headers()
    del headers["Omnisend-Version"]
    assert client.get(f"{API}/campaigns", headers=headers).status_code == 400
    retired = client.get(f"{API}/campaigns", headers=api_headers(version="2025-06-01"))
    assert retired.status_code == 410
    assert retired.json()["type"] == "https://problems.omnisend.com/version-retired"


def test_an_unknown_or_revoked_key_is_a_401_problem(client):
    unknown = client.get(f"{V3}/campaigns", headers={"X-API-KEY": "guess"})
    assert unknown.status_code == 401 and unknown.json()["title"] == "Unauthorized"
    transport = sandbox_transport(
        WORLD, FaultPlan({"omnisend": PlatformFaults(token_expired=True)})
    )
    with httpx.Client(transport=transport) as http:
        revoked = http.get(f"{API}/automations", headers=api_headers())
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == "API key has been revoked"


def test_throttling_is_a_429_whose_only_wait_hint_is_the_body_retry_after():
    transport = sandbox_transport(WORLD, FaultPlan({"omnisend": PlatformFaults(throttle_rate=1.0)}))
    with httpx.Client(transport=transport) as http:
        response = http.get(f"{V3}/campaigns", headers=v3_headers())
    assert response.status_code == 429
    assert response.json()["type"] == "https://problems.omnisend.com/rate-limit-exceeded"
    assert response.json()["retryAfter"] == 2
    assert "retry-after" not in response.headers
    assert not [name for name in response.headers if "ratelimit" in name.replace("-", "")]


@pytest.mark.parametrize("flavour", list(ApiFlavour))
def test_the_connector_reads_every_campaign_across_small_pages(flavour):
    transport = sandbox_transport(WORLD)
    transport.register(OmnisendSimulator(WORLD, page_size=4))
    result = pull(
        Resource.CAMPAIGNS,
        workspace=REGISTRY.get("acme-outdoor"),
        open_client=sandbox_opener(transport, FakeClock(), flavour),
    )
    total = _campaigns_now()
    assert len(result.records) == total and not result.refused
    assert result.http["http_pages"] == -(-total // 4)
    assert len({r["campaignID"] for r in result.records}) == total


def test_the_connector_sleeps_what_each_429_body_asks_and_still_gets_everything():
    plan = FaultPlan({"omnisend": PlatformFaults(throttle_rate=0.4)}, seed=3)
    transport = sandbox_transport(WORLD, plan)
    transport.register(OmnisendSimulator(WORLD, plan, page_size=1))
    clock = FakeClock()
    result = pull(
        Resource.AUTOMATIONS,
        workspace=REGISTRY.get("kumo-tea"),
        open_client=sandbox_opener(transport, clock, ApiFlavour.VERSIONED),
    )
    throttled = [entry for entry in transport.request_log if entry.status == 429]
    assert throttled and len(result.records) >= 4
    assert clock.sleeps == [float(1 + n % 30) for n in range(1, len(throttled) + 1)]
