"""LinkedIn Marketing API connector against its sandbox simulator: Rest.li queries, versions, UTC."""

from datetime import UTC, date, datetime, timedelta

import httpx

from ownlay_pipelines.connectors import linkedin_ads
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.http.errors import FatalApiError
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import SandboxWorld, sandbox_transport
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener, sync_days, truth

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
CONNECTOR = linkedin_ads.CONNECTOR
ANALYTICS = next(s for s in CONNECTOR.streams if s.feeds_campaign_metrics)
CREATIVES = next(s for s in CONNECTOR.streams if s.table == "creatives")
DAYS = [date(2026, 11, 19) - timedelta(days=n) for n in range(75)]


def test_analytics_speak_restli_in_thirty_day_windows_of_utc_days(tmp_path):
    _, rows, transport = sync_days(
        WORLD, REGISTRY, CONNECTOR, ANALYTICS, "kumo-tea", tmp_path, DAYS
    )

    assert rows == truth(WORLD, "kumo-tea", "linkedin_ads", DAYS)
    # Kumo Tea's workspace is in Tokyo, yet LinkedIn's days are UTC days.
    assert {a.timezone for a in WORLD.accounts("linkedin_ads")} == {"UTC"}
    calls = [r.url for r in transport.request_log if "/adAnalytics?" in r.url]
    assert len(calls) == 3
    first = calls[0]
    assert "q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY" in first
    assert "dateRange=(start:(year:2026,month:9,day:6),end:(year:2026,month:10,day:5))" in first
    assert "accounts=List(urn%3Ali%3AsponsoredAccount%3A508000003)" in first
    assert "fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency" in first


def test_every_call_carries_the_version_headers_and_a_sunset_version_is_refused():
    seen: list[httpx.Request] = []
    sandbox = sandbox_transport(WORLD)

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sandbox.handle_request(request)

    workspace = REGISTRY.get("acme-outdoor")
    connection = workspace.connections_for("linkedin_ads")[0]
    client = opener(CONNECTOR, httpx.MockTransport(spy))(connection)
    assert client.ad_account["currency"] == "USD"
    assert {r.headers["LinkedIn-Version"] for r in seen} == {linkedin_ads.LINKEDIN_VERSION}
    assert {r.headers["X-Restli-Protocol-Version"] for r in seen} == {"2.0.0"}

    old = httpx.Client(transport=sandbox).get(
        "https://api.linkedin.com/rest/adAccounts/508000001",
        headers={"Authorization": "Bearer t", "LinkedIn-Version": "202401",
                 "X-Restli-Protocol-Version": "2.0.0"},
    )  # fmt: skip
    assert old.status_code == 426 and old.json()["code"] == "NONEXISTENT_VERSION"
    error = client.classify(old)
    assert isinstance(error, FatalApiError) and error.status == 426
    assert error.code == "NONEXISTENT_VERSION" and "202401" in error.message


def test_creatives_page_by_page_token_with_campaign_ids_from_urns():
    transport = sandbox_transport(WORLD)
    workspace = REGISTRY.get("blumen-haus")
    connection = workspace.connections_for("linkedin_ads")[0]
    client = opener(CONNECTOR, transport, page_size=5)(connection)

    rows = [
        CREATIVES.normalise(record, FetchRequest(workspace, connection))
        for record in CREATIVES.fetch(client, FetchRequest(workspace, connection))
    ]

    ads = WORLD.ads("linkedin_ads", connection.account_id)
    assert [r["creative_id"] for r in rows] == [a.ad_id for a in ads]
    assert [r["campaign_id"] for r in rows] == [a.campaign_id for a in ads]
    pages = [r.url for r in transport.request_log if "/creatives" in r.url]
    assert len(pages) == -(-len(ads) // 5) > 1 and "pageToken=5" in pages[1]
