"""Snapchat Marketing API connector against its sandbox simulator: tokens, windows, micros, paging."""

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from ownlay_pipelines.connectors import snapchat_ads
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.http.errors import AuthExpired
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, SandboxWorld, sandbox_transport
from ownlay_pipelines.sandbox.snapchat_ads import AUTH_HOST, HOST, SnapchatAdsSimulator
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener, sync_days, truth

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
CONNECTOR = snapchat_ads.CONNECTOR
STATS = next(s for s in CONNECTOR.streams if s.feeds_campaign_metrics)
ADS = next(s for s in CONNECTOR.streams if s.table == "ads")
DAYS = [date(2026, 11, 19) - timedelta(days=n) for n in range(90)]


def test_ninety_days_come_in_thirty_day_windows_on_local_midnight_with_tokens_refreshed(tmp_path):
    result, rows, transport = sync_days(
        WORLD, REGISTRY, CONNECTOR, STATS, "kumo-tea", tmp_path, DAYS
    )

    assert rows == truth(WORLD, "kumo-tea", "snapchat_ads", DAYS)
    stats_calls = [
        httpx.URL(r.url)
        for r in transport.request_log
        if r.url.split("?")[0].endswith("/stats") and r.status == 200
    ]
    assert len(stats_calls) == 3
    assert {c.params["start_time"][-6:] for c in stats_calls} == {"+09:00"}
    assert all("T00:00:00" in c.params["start_time"] for c in stats_calls)
    simulator = transport.simulator("snapchat_ads")
    token_calls = transport.requests_to("accounts.snapchat.com")
    # Each sandbox token is good for a few calls: the sync met 401s and refreshed its way on.
    assert simulator.refreshes == len(token_calls) > 1
    assert result.http["http_errors_auth_expired"] == simulator.refreshes - 1
    assert all(r.status == 200 for r in token_calls)


def test_spend_and_purchase_value_arrive_in_micros_and_land_in_currency_units(tmp_path):
    sync_days(WORLD, REGISTRY, CONNECTOR, STATS, "acme-outdoor", tmp_path, DAYS[:10])
    rows = [
        row
        for day in DAYS[:10]
        for row in read_partition(
            tmp_path, STATS.ref, workspace_id="acme-outdoor", report_date=day
        ).to_pylist()
    ]

    assert rows and all(r["currency"] == "USD" for r in rows)
    assert all(r["spend"] == r["spend"].quantize(r["spend"].__class__("0.01")) for r in rows)
    assert any(r["conversion_value"] > 0 for r in rows)
    assert {r["attribution_windows"] for r in rows} == {"swipe_up:7_DAY,view:1_DAY"}


def test_entity_lists_follow_next_link_to_the_last_page():
    transport = sandbox_transport(WORLD)
    small_pages = SnapchatAdsSimulator(WORLD, min_limit=10)
    transport.register(small_pages, (HOST, AUTH_HOST))
    workspace = REGISTRY.get("blumen-haus")
    connection = workspace.connections_for("snapchat_ads")[0]
    client = opener(CONNECTOR, transport, page_limit=10)(connection)

    ads = list(ADS.fetch(client, FetchRequest(workspace, connection)))

    listed = [a for a in WORLD.ads("snapchat_ads", connection.account_id) if a.status != "deleted"]
    assert [a["id"] for a in ads] == [a.ad_id for a in listed]
    pages = [
        r for r in transport.request_log if r.url.split("?")[0].endswith("/ads") and r.status == 200
    ]
    assert len(pages) == -(-len(listed) // 10) > 1
    assert "cursor=" in pages[1].url


def test_a_refused_refresh_token_is_auth_expired_without_leaking_secrets():
    transport = sandbox_transport(
        WORLD, FaultPlan({"snapchat_ads": PlatformFaults(token_expired=True)})
    )
    workspace = REGISTRY.get("acme-outdoor")
    connection = workspace.connections_for("snapchat_ads")[0]
    client = opener(CONNECTOR, transport)(connection)

    with pytest.raises(AuthExpired, match="refresh token refused") as caught:
        list(ADS.fetch(client, FetchRequest(workspace, connection)))
    assert "sandbox-refresh_token" not in str(caught.value)
    assert "sandbox-client_secret" not in str(caught.value)
    assert not transport.requests_to("adsapi.snapchat.com")
