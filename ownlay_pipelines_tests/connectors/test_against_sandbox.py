"""Each connector, over its real HTTP path to the sandbox, reproduces the world's ground truth."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ownlay_pipelines.connectors import meta_ads
from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.connectors.streams import Connector
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.http.async_jobs import ReportJobFailed
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.rate_limit import RateLimiterRegistry
from ownlay_pipelines.lake.quarantine import quarantine_ref
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, SandboxWorld, sandbox_transport
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
END = date(2026, 11, 19)
DAYS = [END - timedelta(days=offset) for offset in range(90)]
AD_CONNECTORS = [plugin.connector for plugin in ad_platforms()]
AD_PLATFORM_NAMES = [plugin.platform for plugin in ad_platforms()]
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
COLUMNS = (
    "account_id",
    "campaign_id",
    "report_date",
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "conversion_value",
)


def _sync(
    connector: Connector,
    workspace_id: str,
    lake: Path,
    faults: FaultPlan | None = None,
    days: list[date] = DAYS,
):
    transport = sandbox_transport(WORLD, faults)
    clock = FakeClock()
    limiters = RateLimiterRegistry()
    spec = next(s for s in connector.streams if s.feeds_campaign_metrics)

    def open_client(connection):
        return connector.build_client(
            credentials={name: "sandbox" for name in connector.credential_names},
            account_id=connection.account_id,
            transport=transport,
            clock=clock,
            rate_limits=connector.rate_limits,
            limiter_registry=limiters,
        )

    result = sync_stream(
        spec,
        workspace=REGISTRY.get(workspace_id),
        open_client=open_client,
        lake_root=lake,
        days=days,
    )
    rows = []
    for day in days:
        table = read_partition(lake, spec.ref, workspace_id=workspace_id, report_date=day)
        rows += [tuple(row[c] for c in COLUMNS) for row in table.to_pylist()]
    return spec, result, sorted(rows), transport


def _truth(workspace_id: str, platform: str) -> list[tuple]:
    rows = WORLD.ground_truth_campaign_daily(workspace_id, platform, DAYS[-1], DAYS[0])
    return sorted(tuple(row[c] for c in COLUMNS) for row in rows)


@pytest.mark.parametrize("workspace_id", REGISTRY.workspace_ids)
@pytest.mark.parametrize("connector", AD_CONNECTORS, ids=AD_PLATFORM_NAMES)
def test_ninety_days_match_ground_truth_under_faults_including_deleted_campaigns(
    tmp_path, connector, workspace_id
):
    platform = connector.platform.value
    faults = PlatformFaults(
        throttle_rate=0.15, server_error_rate=0.1, async_failure_rate=0.2, async_stall_rate=0.1
    )
    _, result, rows, _ = _sync(connector, workspace_id, tmp_path, FaultPlan({platform: faults}))

    assert rows == _truth(workspace_id, connector.platform.value)
    assert result.quarantined == 0 and result.duplicates_dropped == 0
    assert len(result.written) == 90


@pytest.mark.parametrize("connector", AD_CONNECTORS, ids=AD_PLATFORM_NAMES)
def test_throttling_and_server_errors_cost_retries_not_rows(tmp_path, connector):
    platform = connector.platform.value
    faults = FaultPlan({platform: PlatformFaults(throttle_rate=0.3, server_error_rate=0.2)}, seed=3)

    _, result, rows, transport = _sync(connector, "acme-outdoor", tmp_path, faults)

    assert rows == _truth("acme-outdoor", platform)
    fired = transport.simulator(platform).dice.fired
    assert result.http["http_throttled"] == fired["throttle"] > 0
    # Answers of 401 to an expired short-lived token cost one retry each, after a refresh.
    refreshed = result.http.get("http_errors_auth_expired", 0)
    assert result.http["http_retries"] == fired["throttle"] + fired["server_error"] + refreshed
    assert result.http["http_wait_seconds"] > 0


def test_meta_async_job_failures_and_stalls_are_retried_or_split(tmp_path):
    faults = FaultPlan(
        {"meta_ads": PlatformFaults(async_failure_rate=0.3, async_stall_rate=0.2)}, seed=3
    )

    _, _, rows, transport = _sync(meta_ads.CONNECTOR, "blumen-haus", tmp_path, faults)

    assert rows == _truth("blumen-haus", "meta_ads")
    fired = transport.simulator("meta_ads").dice.fired
    assert fired["async_failure"] > 0 and fired["async_stall"] > 0
    assert len(transport.simulator("meta_ads").report_runs) > 1 + fired["async_failure"]


def test_meta_report_job_that_always_fails_names_the_account_and_writes_nothing(tmp_path):
    faults = FaultPlan({"meta_ads": PlatformFaults(async_failure_rate=1.0)})

    with pytest.raises(
        ReportJobFailed, match=r"meta_ads/1000000002: report job for \S+ did not complete"
    ):
        _sync(meta_ads.CONNECTOR, "blumen-haus", tmp_path, faults)
    assert not list(tmp_path.rglob("*.parquet"))


@pytest.mark.parametrize("connector", AD_CONNECTORS, ids=AD_PLATFORM_NAMES)
def test_malformed_rows_are_quarantined_with_reason_and_the_rest_kept(tmp_path, connector):
    platform = connector.platform.value
    faults = FaultPlan({platform: PlatformFaults(malformed_row_rate=0.1)}, seed=11)

    spec, result, rows, transport = _sync(connector, "kumo-tea", tmp_path, faults)

    malformed = {
        (k.account_id, k.campaign_id, k.report_date)
        for k in transport.simulator(platform).malformed_keys
    }
    truth = _truth("kumo-tea", platform)
    assert malformed and result.quarantined == len(malformed)
    assert rows == [row for row in truth if row[:3] not in malformed]
    quarantined = [
        row
        for day in DAYS
        for row in read_partition(
            tmp_path, quarantine_ref(spec.ref), workspace_id="kumo-tea", report_date=day
        ).to_pylist()
    ]
    assert len(quarantined) == len(malformed)
    assert all(
        row["field"] and row["reason"] and row["raw_record"].startswith("{") for row in quarantined
    )
    assert {row["report_date"] for row in quarantined} <= {k[2] for k in malformed} | {DAYS[-1]}


@pytest.mark.parametrize("connector", AD_CONNECTORS, ids=AD_PLATFORM_NAMES)
def test_rerun_of_the_same_days_gives_identical_files(tmp_path, connector):
    _, _, first, _ = _sync(connector, "acme-outdoor", tmp_path, days=DAYS[:14])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    _, _, second, _ = _sync(connector, "acme-outdoor", tmp_path, days=DAYS[:14])

    assert first == second
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
