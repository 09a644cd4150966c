"""The asset checks of the code location: which exist, which block, and what runs them."""

from datetime import date
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.catalog import ad_platforms, all_streams
from ownlay_pipelines.definitions import build_definitions, defs
from ownlay_pipelines.defs.checks.freshness import FRESHNESS_CHECKS, freshness_checks_sensor
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings

QUALITY = {"row_count", "schema", "required_fields", "duplicate_keys"}
UNIFIED = dg.AssetKey(["unified", "campaign_metrics_daily"])


def _check_specs() -> dict[dg.AssetCheckKey, dg.AssetCheckSpec]:
    graph = defs.resolve_asset_graph()
    return {key: graph.get_check_spec(key) for key in graph.asset_check_keys}


def test_every_connector_asset_has_quality_and_freshness_checks():
    names: dict[dg.AssetKey, set[str]] = {}
    for key in _check_specs():
        names.setdefault(key.asset_key, set()).add(key.name)
    for _, spec in all_streams():
        assert names[dg.AssetKey(list(spec.ref.parts))] == {*QUALITY, "freshness_check"}, spec.ref
    assert names[UNIFIED] == {"reconciles_with_raw", "watchtower"}
    assert names[dg.AssetKey(["marts", "roas_daily"])] == {"watchtower"}
    for ops_source in (k for k in names if k.path[0] == "ops"):
        assert names[ops_source] == {"watchtower"}
    assert len([k for k in names if k.path[0] == "ops"]) == 6  # with capi/health


def test_checks_block_only_where_a_model_reads_the_table():
    specs = _check_specs()

    def blocking(asset: str, name: str) -> bool:
        return specs[dg.AssetCheckKey(dg.AssetKey(asset.split("/")), name)].blocking

    for name in QUALITY:
        assert blocking("raw/meta_ads/insights", name)  # unified input
        assert blocking("raw/google_ads/campaigns", name)  # campaign status joins into unified
        assert blocking("raw/shopify/orders", name)  # attribution input
        assert not blocking("raw/meta_ads/audiences", name)  # nothing reads it
    assert blocking("unified/campaign_metrics_daily", "reconciles_with_raw")
    assert not blocking("unified/campaign_metrics_daily", "watchtower")
    assert not blocking("raw/meta_ads/insights", "freshness_check")


def test_freshness_windows_follow_the_slowest_cadence_and_a_running_sensor_runs_them():
    windows = {
        spec.asset_key.to_user_string(): spec.metadata["dagster/freshness_params"].data[
            "lower_bound_delta_seconds"
        ]
        for check in FRESHNESS_CHECKS
        for spec in check.check_specs
    }
    hour = 3600
    assert windows["raw/meta_ads/insights"] == 2 * hour  # starter tier: hourly
    assert windows["raw/meta_ads/audiences"] == 12 * hour  # seed 000: every 6 hours
    assert windows["raw/shopify/orders"] == 48 * hour  # reports: daily for growth/starter
    assert len(windows) == len(all_streams())
    sensor = {s.name: s for s in defs.sensors}["freshness_checks_sensor"]
    assert sensor is freshness_checks_sensor
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING


def test_every_check_runs_with_its_asset_or_from_the_freshness_sensor():
    in_jobs = {
        key
        for job in defs.jobs
        for key in defs.resolve_job_def(job.name).asset_layer.asset_graph.asset_check_keys
    }
    freshness = {key for check in FRESHNESS_CHECKS for key in check.check_keys}
    assert not in_jobs & freshness  # right after a sync a freshness check could only pass
    assert set(_check_specs()) == in_jobs | freshness


def test_a_sandbox_metrics_run_passes_quality_and_reconciliation_checks(tmp_path: Path):
    registry = RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))
    local = build_definitions(
        Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE),
        resource_overrides={
            "platforms": PlatformClientsResource(
                registry=registry, sandbox_now="2026-11-20T15:00:00+00:00"
            ),
            "ops_store": OpsStoreResource(database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}"),
        },
    )
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, load_registry(DEFAULT_REGISTRY_FILE))
        result = local.resolve_job_def("daily_metrics").execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": multi_key(date(2026, 11, 17), "kumo-tea"),
                "dagster/asset_partition_range_end": multi_key(date(2026, 11, 19), "kumo-tea"),
            },
        )
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    metric_streams = [s for _, s in all_streams() if s.partitioning.value == "date_and_workspace"]
    for spec in metric_streams:
        for name in QUALITY:
            assert evaluations[(str(spec.ref), name)].passed, (spec.ref, name)
    row_count = evaluations[("raw/meta_ads/insights", "row_count")].metadata
    assert row_count["partitions"].value == 3 and row_count["rows"].value > 0
    reconciled = evaluations[("unified/campaign_metrics_daily", "reconciles_with_raw")]
    assert reconciled.passed
    kumo_platforms = {
        c.platform.value for c in load_registry(DEFAULT_REGISTRY_FILE).get("kumo-tea").connections
    } & {plugin.platform for plugin in ad_platforms()}
    assert reconciled.metadata["compared_workspace_day_platforms"].value == 3 * len(kumo_platforms)
