"""The sandbox transport: routing by host, the request log, switching faults and simulators."""

from __future__ import annotations

import httpx

from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.google_ads import GoogleAdsSimulator
from ownlay_pipelines.sandbox.transport import SandboxTransport, sandbox_transport
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import META, META_AUTH, google_search


def test_an_unknown_host_gets_a_404_naming_it(client: httpx.Client) -> None:
    response = client.get("https://api.tiktok.example/open_api/v1.3/report/")
    assert response.status_code == 404
    assert response.json()["error"]["host"] == "api.tiktok.example"
    assert "graph.facebook.com" in response.json()["error"]["message"]


def test_every_request_is_logged_with_its_status_and_without_secrets(
    client: httpx.Client, transport: SandboxTransport
) -> None:
    client.get(f"{META}/act_1000000001", params={"access_token": "secret-value", "fields": "name"})
    client.get(f"{META}/act_999", headers=META_AUTH)
    assert [(e.method, e.status, e.host) for e in transport.request_log] == [
        ("GET", 200, "graph.facebook.com"),
        ("GET", 400, "graph.facebook.com"),
    ]
    assert "secret-value" not in transport.request_log[0].url
    assert "access_token=REDACTED" in transport.request_log[0].url
    assert len(transport.requests_to("graph.facebook.com")) == 2


def test_faults_can_be_switched_on_mid_run(
    client: httpx.Client, transport: SandboxTransport
) -> None:
    assert client.get(f"{META}/act_1000000001", headers=META_AUTH).status_code == 200
    transport.set_faults(FaultPlan({"meta_ads": PlatformFaults(token_expired=True)}))
    assert client.get(f"{META}/act_1000000001", headers=META_AUTH).json()["error"]["code"] == 190
    assert transport.simulator("meta_ads").dice.fired["token_expired"] == 1


def test_a_fault_plan_given_up_front_reaches_only_its_platform(world: SandboxWorld) -> None:
    transport = sandbox_transport(
        world, FaultPlan({"google_ads": PlatformFaults(throttle_rate=1.0)})
    )
    with httpx.Client(transport=transport) as client:
        assert (
            google_search(client, "1234567890", "SELECT customer.id FROM customer").status_code
            == 429
        )
        assert client.get(f"{META}/act_1000000001", headers=META_AUTH).status_code == 200


def test_a_registered_simulator_replaces_the_one_on_its_host(world: SandboxWorld) -> None:
    transport = sandbox_transport(world)
    small_pages = GoogleAdsSimulator(world, page_size=2)
    transport.register(small_pages)
    assert transport.simulator("google_ads") is small_pages
    with httpx.Client(transport=transport) as client:
        body = google_search(client, "1234567890", "SELECT campaign.id FROM campaign").json()
    assert len(body["results"]) == 2 and "nextPageToken" in body
