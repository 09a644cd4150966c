"""TikTok Business API v1.3 connector against its sandbox simulator and against scripted bodies."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from ownlay_pipelines.connectors import tiktok_ads
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.http.async_jobs import ReportJobFailed
from ownlay_pipelines.http.errors import (
    AuthExpired,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, SandboxWorld, sandbox_transport
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener, sync_days, truth

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
CONNECTOR = tiktok_ads.CONNECTOR
REPORT = next(s for s in CONNECTOR.streams if s.feeds_campaign_metrics)
CAMPAIGNS = next(s for s in CONNECTOR.streams if s.table == "campaigns")
END = date(2026, 11, 19)


def _days(count: int) -> list[date]:
    return [END - timedelta(days=offset) for offset in range(count)]


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        (40100, 200, RateLimited),
        (40105, 200, AuthExpired),
        (40001, 200, PermissionDenied),
        (40067, 200, PayloadTooLarge),
        (50000, 200, TransientError),
        (50002, 503, TransientError),
        (40002, 200, FatalApiError),
    ],
)
def test_a_non_zero_code_is_an_error_even_with_http_200(code, status, error):
    client = tiktok_ads.TikTokAdsClient(access_token="t", account_id="1")
    body = {"code": code, "message": "no", "request_id": "r1", "data": {}}

    classified = client.classify(httpx.Response(status, json=body))

    assert type(classified) is error and classified.code == str(code)
    assert client.classify(httpx.Response(200, json={"code": 0, "data": {}})) is None


def test_up_to_thirty_days_use_the_synchronous_report_page_by_page(tmp_path):
    days = _days(20)

    result, rows, transport = sync_days(
        WORLD, REGISTRY, CONNECTOR, REPORT, "kumo-tea", tmp_path, days, page_size=25
    )

    assert rows == truth(WORLD, "kumo-tea", "tiktok_ads", days)
    paths = [httpx.URL(r.url).path for r in transport.request_log]
    pages = [
        httpx.URL(r.url).params["page"] for r in transport.request_log if "integrated" in r.url
    ]
    assert pages == [str(n) for n in range(1, len(pages) + 1)] and len(pages) > 1
    assert not any("task" in path for path in paths)
    assert result.http["http_pages"] == len(pages)


def test_backfills_use_report_tasks_and_survive_failed_and_stalled_tasks(tmp_path):
    days = _days(90)
    faults = FaultPlan(
        {"tiktok_ads": PlatformFaults(async_failure_rate=0.3, async_stall_rate=0.3)}, seed=3
    )

    _, rows, transport = sync_days(
        WORLD, REGISTRY, CONNECTOR, REPORT, "blumen-haus", tmp_path, days, faults
    )

    assert rows == truth(WORLD, "blumen-haus", "tiktok_ads", days)
    simulator = transport.simulator("tiktok_ads")
    assert simulator.dice.fired["async_failure"] > 0 and simulator.dice.fired["async_stall"] > 0
    assert len(simulator.tasks) > 1
    downloads = [r for r in transport.request_log if r.url.split("?")[0].endswith("download/")]
    assert downloads and all(r.status == 200 for r in downloads)


def test_a_task_that_always_fails_names_the_advertiser_and_writes_nothing(tmp_path):
    faults = FaultPlan({"tiktok_ads": PlatformFaults(async_failure_rate=1.0)})

    with pytest.raises(ReportJobFailed, match=r"tiktok_ads/7100000000000000002: report job"):
        sync_days(WORLD, REGISTRY, CONNECTOR, REPORT, "blumen-haus", tmp_path, _days(40), faults)
    assert not list(tmp_path.rglob("*.parquet"))


def test_conversion_value_is_the_purchase_value_not_the_cost_per_conversion(tmp_path):
    days = _days(30)
    sync_days(WORLD, REGISTRY, CONNECTOR, REPORT, "acme-outdoor", tmp_path, days)
    rows = [
        row
        for day in days
        for row in read_partition(
            tmp_path, REPORT.ref, workspace_id="acme-outdoor", report_date=day
        ).to_pylist()
    ]

    converting = [r for r in rows if r["conversions"] > 0]
    assert converting
    for row in converting:
        assert row["cost_per_conversion"] == pytest.approx(
            row["spend"] / row["conversions"], abs=Decimal("0.01")
        )
        assert row["conversion_value"] != row["cost_per_conversion"]
    assert all(r["cost_per_conversion"] is None for r in rows if r["conversions"] == 0)
    assert "total_complete_payment_rate" in REPORT.description
    assert "never conversion_cost" in REPORT.description
    assert {r["currency"] for r in rows} == {"USD"}
    assert {r["account_timezone"] for r in rows} == {"America/New_York"}


def test_campaign_snapshot_lists_deleted_campaigns_in_the_shared_status_vocabulary(tmp_path):
    transport = sandbox_transport(WORLD)
    result = sync_stream(
        CAMPAIGNS,
        workspace=REGISTRY.get("acme-outdoor"),
        open_client=opener(CONNECTOR, transport),
        lake_root=tmp_path,
    )

    rows = read_partition(tmp_path, CAMPAIGNS.ref, workspace_id="acme-outdoor").to_pylist()
    account = WORLD.accounts("tiktok_ads")[0]
    assert result.quarantined == 0
    assert {r["campaign_id"] for r in rows} == {
        c.campaign_id for c in WORLD.campaigns("tiktok_ads", account.account_id)
    }
    assert {r["status"] for r in rows} == {"active", "paused", "removed"}
    assert {r["platform_status"] for r in rows if r["status"] == "removed"} == {
        "CAMPAIGN_STATUS_DELETE"
    }


def test_an_expired_token_is_auth_expired_and_not_retried():
    transport = sandbox_transport(
        WORLD, FaultPlan({"tiktok_ads": PlatformFaults(token_expired=True)})
    )
    workspace = REGISTRY.get("acme-outdoor")
    client = opener(CONNECTOR, transport)(workspace.connections_for("tiktok_ads")[0])
    request = FetchRequest(workspace, workspace.connections_for("tiktok_ads")[0])

    with pytest.raises(AuthExpired, match="40105"):
        list(CAMPAIGNS.fetch(client, request))
    assert len(transport.request_log) == 1
