"""The restatement ledger: a re-sync records exactly how much the platform moved each day."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ownlay_pipelines.connectors import meta_ads, tiktok_ads
from ownlay_pipelines.connectors.restatements import RESTATEMENTS
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import sync_days

REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
FIRST = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LATER = FIRST + timedelta(days=3)
DAYS = [date(2026, 11, 19) - timedelta(days=n) for n in range(12)]


def _ledger(lake, workspace_id):
    rows = []
    for day in DAYS:
        table = read_partition(lake, RESTATEMENTS, workspace_id=workspace_id, report_date=day)
        rows += table.to_pylist() if table is not None else []
    return rows


def _conversions(world, workspace_id, platform):
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for row in world.ground_truth_campaign_daily(workspace_id, platform, DAYS[-1], DAYS[0]):
        totals[row["report_date"]] += row["conversions"]
    return totals


def test_a_resync_records_what_matured_and_a_rerun_records_nothing(tmp_path):
    connector = meta_ads.CONNECTOR
    spec = next(s for s in connector.streams if s.feeds_campaign_metrics)
    early = SandboxWorld(REGISTRY, seed=7, now=FIRST)
    late = SandboxWorld(REGISTRY, seed=7, now=LATER)

    sync_days(early, REGISTRY, connector, spec, "acme-outdoor", tmp_path, DAYS, synced_at=FIRST)
    assert _ledger(tmp_path, "acme-outdoor") == []
    sync_days(late, REGISTRY, connector, spec, "acme-outdoor", tmp_path, DAYS, synced_at=LATER)
    ledger = _ledger(tmp_path, "acme-outdoor")
    sync_days(late, REGISTRY, connector, spec, "acme-outdoor", tmp_path, DAYS, synced_at=LATER)

    assert _ledger(tmp_path, "acme-outdoor") == ledger
    before = _conversions(early, "acme-outdoor", "meta_ads")
    after = _conversions(late, "acme-outdoor", "meta_ads")
    moved = {day: after[day] - before[day] for day in DAYS if after[day] != before[day]}
    assert moved
    assert {
        r["report_date"]: r["conversions_change"] for r in ledger if r["conversions_change"]
    } == (moved)
    assert all(r["conversions_change"] >= 0 for r in ledger)
    assert all(r["synced_at"] == LATER and r["platform"] == "meta_ads" for r in ledger)
    for row in ledger:
        for measure in ("spend", "clicks", "conversions", "conversion_value"):
            assert row[f"{measure}_after"] - row[f"{measure}_before"] == row[f"{measure}_change"]


def test_tiktok_days_older_than_its_window_stop_moving(tmp_path):
    connector = tiktok_ads.CONNECTOR
    spec = next(s for s in connector.streams if s.feeds_campaign_metrics)
    sync_days(SandboxWorld(REGISTRY, seed=7, now=FIRST), REGISTRY, connector, spec, "kumo-tea",
              tmp_path, DAYS, synced_at=FIRST)  # fmt: skip
    sync_days(SandboxWorld(REGISTRY, seed=7, now=LATER), REGISTRY, connector, spec, "kumo-tea",
              tmp_path, DAYS, synced_at=LATER)  # fmt: skip

    moved = {r["report_date"] for r in _ledger(tmp_path, "kumo-tea")}
    settled = {
        d for d in DAYS if (FIRST.date() - d).days > tiktok_ads.RESTATEMENT_LOOKBACK_DAYS + 1
    }
    assert moved and not moved & settled
