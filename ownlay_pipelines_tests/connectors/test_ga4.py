"""GA4 Data API connector against its sandbox simulator: ground truth, (other) rows, sampling,
property quota."""

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from ownlay_pipelines.connectors import ga4
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import FaultPlan, PlatformFaults, SandboxWorld, sandbox_transport
from ownlay_pipelines.sandbox.ga4 import daily_traffic, reported_traffic
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
WORLD = SandboxWorld(REGISTRY, seed=7, now=NOW)
GA4_WORKSPACES = [w.id for w in REGISTRY.workspaces if w.connections_for(Platform.GA4)]
"""Workspaces with a GA4 property (not every sandbox workspace has one)."""
DAYS = [date(2026, 11, 19) - timedelta(days=n) for n in range(90)]
COLUMNS = ("report_date", "session_source", "session_medium", "session_campaign_name",
           "sessions", "engaged_sessions", "key_events", "total_revenue", "is_other_row")  # fmt: skip


def _sync(workspace_id, lake, faults=None):
    transport = sandbox_transport(WORLD, faults)
    result = sync_stream(
        ga4.TRAFFIC,
        workspace=REGISTRY.get(workspace_id),
        open_client=opener(ga4.CONNECTOR, transport),
        lake_root=lake,
        days=DAYS,
    )
    rows = [
        row
        for day in DAYS
        for row in read_partition(
            lake, ga4.TRAFFIC.ref, workspace_id=workspace_id, report_date=day
        ).to_pylist()
    ]
    return result, rows, transport


def _truth(workspace_id):
    rows = []
    for day in DAYS:
        reported, _ = reported_traffic(WORLD, workspace_id, day)
        rows += [
            (r.day, r.source, r.medium, r.campaign, r.sessions, r.engaged_sessions,
             r.key_events, r.revenue, r.campaign == "(other)")
            for r in reported
        ]  # fmt: skip
    return sorted(rows)


@pytest.mark.parametrize("workspace_id", GA4_WORKSPACES)
def test_ninety_days_equal_the_sandbox_under_faults_with_other_rows_flagged(tmp_path, workspace_id):
    faults = FaultPlan({"ga4": PlatformFaults(throttle_rate=0.15, server_error_rate=0.1)}, seed=2)

    result, rows, transport = _sync(workspace_id, tmp_path, faults)

    assert sorted(tuple(r[c] for c in COLUMNS) for r in rows) == _truth(workspace_id)
    fired = transport.simulator("ga4").dice.fired
    assert result.http["http_retries"] == fired["throttle"] + fired["server_error"] > 0
    folded_days = {day for day in DAYS if reported_traffic(WORLD, workspace_id, day)[1]}
    assert {r["report_date"] for r in rows if r["is_other_row"]} == folded_days
    assert {r["report_date"] for r in rows if r["data_loss_from_other_row"]} == folded_days
    assert not any(r["sampled"] for r in rows)


def test_some_property_folds_rows_into_other():
    assert any(reported_traffic(WORLD, w, DAYS[0])[1] for w in GA4_WORKSPACES)


def test_the_other_row_keeps_the_days_totals():
    day = DAYS[3]
    full = daily_traffic(WORLD, "kumo-tea", day)
    reported, folded = reported_traffic(WORLD, "kumo-tea", day)
    assert folded and len(reported) < len(full)
    assert sum(r.sessions for r in reported) == sum(r.sessions for r in full)
    assert sum(r.revenue for r in reported) == sum(r.revenue for r in full)


def test_a_long_range_answered_from_a_sample_is_flagged():
    transport = sandbox_transport(WORLD)
    workspace = REGISTRY.get("blumen-haus")
    connection = workspace.connections_for("ga4")[0]
    client = opener(ga4.CONNECTOR, transport)(connection)
    request = FetchRequest(workspace, connection, DateRange(DAYS[59], DAYS[0]))

    rows = [ga4.TRAFFIC.normalise(r, request) for r in client.run_report(DAYS[59], DAYS[0])]

    assert rows and all(r["sampled"] for r in rows)


def test_property_quota_is_read_from_each_answer_and_a_low_hourly_budget_pauses():
    client = ga4.Ga4Client(access_token="t", account_id="1")

    def answer(hourly: int, daily: int = 150_000) -> httpx.Response:
        quota = {"tokensPerHour": {"consumed": 12, "remaining": hourly},
                 "tokensPerDay": {"consumed": 12, "remaining": daily}}  # fmt: skip
        return httpx.Response(200, json={"rowCount": 0, "propertyQuota": quota})

    assert client.observe(answer(39_000)) == 0
    assert client.property_quota["tokensPerHour"]["remaining"] == 39_000
    assert client.observe(answer(500)) == ga4.QUOTA_PAUSE_SECONDS
    assert client.observe(answer(39_000, daily=100)) > ga4.QUOTA_PAUSE_SECONDS
    sandbox = sandbox_transport(WORLD)
    workspace = REGISTRY.get("kumo-tea")
    live = opener(ga4.CONNECTOR, sandbox)(workspace.connections_for("ga4")[0])
    list(live.run_report(DAYS[0], DAYS[0]))
    assert live.property_quota["tokensPerHour"]["remaining"] < 40_000


def test_malformed_rows_are_quarantined_and_the_rest_kept(tmp_path):
    faults = FaultPlan({"ga4": PlatformFaults(malformed_row_rate=0.05)}, seed=4)

    result, rows, transport = _sync("blumen-haus", tmp_path, faults)

    malformed = {
        (k.report_date, *k.campaign_id.split("|"))
        for k in transport.simulator("ga4").malformed_keys
    }
    assert malformed and result.quarantined == len(malformed)
    kept = sorted(tuple(r[c] for c in COLUMNS) for r in rows)
    assert kept == [row for row in _truth("blumen-haus") if row[:4] not in malformed]
