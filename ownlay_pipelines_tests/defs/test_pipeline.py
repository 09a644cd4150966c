"""The demo graph, in-process, for one workspace and three days, checked against ground truth."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import PlatformClientsResource, RegistryResource
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.lake.tables import TableRef, table_glob
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
WORKSPACE = "acme-outdoor"
DAYS = [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]
UNIFIED = TableRef.of("unified", "campaign_metrics_daily")


def _definitions(tmp_path: Path, **platform_config) -> dg.Definitions:
    settings = Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE)
    platforms = PlatformClientsResource(
        registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
        sandbox_now=NOW.isoformat(),
        **platform_config,
    )
    return build_definitions(settings, resource_overrides={"platforms": platforms})


def _run_pipeline(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
    assert (
        defs.resolve_job_def("entity_snapshots")
        .execute_in_process(instance=instance, partition_key=WORKSPACE)
        .success
    )
    assert (
        defs.resolve_job_def("daily_metrics")
        .execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": multi_key(DAYS[0], WORKSPACE),
                "dagster/asset_partition_range_end": multi_key(DAYS[-1], WORKSPACE),
            },
        )
        .success
    )
    assert defs.resolve_job_def("refresh_warehouse").execute_in_process(instance=instance).success


def _unified_rows(lake_root: Path) -> list[tuple]:
    return (
        duckdb.connect()
        .sql(
            f"SELECT platform, account_id, campaign_id, report_date, impressions, clicks, spend, "
            f"conversions, conversion_value FROM read_parquet('{table_glob(lake_root, UNIFIED)}') "
            "ORDER BY ALL"
        )
        .fetchall()
    )


def _ground_truth() -> list[tuple]:
    world = SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), seed=7, now=NOW)
    rows = [
        row
        for platform in tuple(p.platform for p in ad_platforms())
        for row in world.ground_truth_campaign_daily(WORKSPACE, platform, DAYS[0], DAYS[-1])
    ]
    return sorted(
        (
            r["platform"],
            r["account_id"],
            r["campaign_id"],
            r["report_date"],
            r["impressions"],
            r["clicks"],
            r["spend"],
            r["conversions"],
            r["conversion_value"],
        )
        for r in rows
    )


@pytest.mark.slow
def test_unified_totals_equal_the_sandbox_ground_truth_to_the_cent(tmp_path: Path):
    defs = _definitions(tmp_path)
    with dg.instance_for_test() as instance:
        _run_pipeline(defs, instance)

    lake_root = tmp_path / "data" / "lake"
    actual = _unified_rows(lake_root)
    expected = _ground_truth()
    assert len(actual) == len(expected) > 0
    assert actual == expected
    assert {r[0] for r in actual} == {p.platform for p in ad_platforms()}
    spend = sum((r[6] for r in actual), Decimal(0))
    assert spend == sum((r[6] for r in expected), Decimal(0))


@pytest.mark.slow
def test_warehouse_views_answer_queries_and_rerun_is_idempotent(tmp_path: Path):
    defs = _definitions(tmp_path)
    with dg.instance_for_test() as instance:
        _run_pipeline(defs, instance)
        files = sorted((tmp_path / "data" / "lake").rglob("*.parquet"))
        first = {path: path.read_bytes() for path in files}
        _run_pipeline(defs, instance)
        assert sorted((tmp_path / "data" / "lake").rglob("*.parquet")) == files
        assert {path: path.read_bytes() for path in files} == first

        materializations = instance.fetch_materializations(
            dg.AssetKey(["unified", "campaign_metrics_daily"]), limit=100
        ).records
        assert len(materializations) == 2 * len(DAYS)

    warehouse = tmp_path / "data" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        views = {r[0] for r in connection.execute("SELECT relation FROM ownlay_catalog").fetchall()}
        assert {
            "raw_meta_ads_insights",
            "raw_google_ads_campaign_metrics",
            "unified_campaign_metrics_daily",
        } <= views
        (rows,) = connection.execute(
            "SELECT count(*) FROM unified_campaign_metrics_daily WHERE ctr_percent > 100 OR spend < 0"
        ).fetchone()
        assert rows == 0


@pytest.mark.slow
def test_malformed_rows_are_quarantined_and_good_rows_kept(tmp_path: Path):
    defs = _definitions(tmp_path, sandbox_faults={"meta_ads": {"malformed_row_rate": 0.2}})
    with dg.instance_for_test() as instance:
        _run_pipeline(defs, instance)
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["raw", "meta_ads", "insights"])
        )
        metadata = event.asset_materialization.metadata

    lake_root = tmp_path / "data" / "lake"
    quarantined = (
        duckdb.connect()
        .sql(
            f"SELECT field, reason FROM read_parquet('{table_glob(lake_root, TableRef.of('quarantine', 'meta_ads', 'insights'))}')"
        )
        .fetchall()
    )
    kept = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{table_glob(lake_root, TableRef.of('raw', 'meta_ads', 'insights'))}')"
        )
        .fetchone()[0]
    )
    truth = [r for r in _ground_truth() if r[0] == "meta_ads"]
    assert len(quarantined) > 0
    assert kept + len(quarantined) == len(truth)
    assert metadata["quarantined_rows"].value == len(quarantined)
    assert all(field in {"spend", "date_start"} for field, _ in quarantined)


def test_expired_token_fails_without_retry_naming_workspace_and_account(tmp_path: Path):
    defs = _definitions(tmp_path, sandbox_faults={"google_ads": {"token_expired": 1.0}})
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
        result = defs.resolve_job_def("entity_snapshots").execute_in_process(
            instance=instance, partition_key=WORKSPACE, raise_on_error=False
        )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures
    text = " ".join(str(e.event_specific_data.error) for e in failures)
    assert "acme-outdoor" in text and "1234567890" in text and "AuthExpired" in text
    assert not [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
