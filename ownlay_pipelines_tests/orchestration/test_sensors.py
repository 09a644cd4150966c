"""Sensors on real sandbox runs: failures alert, recoveries resolve, the warehouse follows."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.jobs import sync_run_request
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.defs.sensors.run_scope import run_workspaces
from ownlay_pipelines.defs.sensors.sync_alerts import (
    FailedStep,
    sync_failure_alerts,
    sync_failures,
    sync_recovery,
)
from ownlay_pipelines.defs.sensors.warehouse import warehouse_catalog_refresh
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.orchestration.error_policy import FailureKind
from ownlay_pipelines.orchestration.plan import SyncRequest, plan_tick
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
from ownlay_pipelines.watchtower.alerts import AlertState, list_alerts

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
WORKSPACE = "acme-outdoor"
UNIFIED = dg.AssetKey(["unified", "campaign_metrics_daily"])
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)


def _definitions(tmp_path: Path, store_url: str, **faults: dict) -> dg.Definitions:
    platforms = PlatformClientsResource(
        registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
        sandbox_now=NOW.isoformat(),
        sandbox_faults=faults,
    )
    return build_definitions(
        Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE),
        resource_overrides={
            "platforms": platforms,
            "ops_store": OpsStoreResource(database_url=store_url),
        },
    )


def _request(platform: str, table: str) -> SyncRequest:
    """The 15:00 tick's request that syncs `table` of `platform` for the Growth workspace."""
    requests = plan_tick(
        [REGISTRY.get(WORKSPACE)],
        [spec for _, spec in all_streams()],
        NOW,
        earliest_day=date(2025, 1, 1),
    )
    return next(
        r
        for r in requests
        if r.platform.value == platform and any(t.parts[-1] == table for t in r.tables)
    )


def _run(defs, instance, request: SyncRequest, **extra_tags) -> dg.ExecuteInProcessResult:
    run_request = sync_run_request(request, "test")
    return defs.resolve_job_def(run_request.job_name).execute_in_process(
        instance=instance,
        asset_selection=run_request.asset_selection,
        partition_key=run_request.partition_key,
        tags={**run_request.tags, **extra_tags},
        raise_on_error=False,
    )


def _run_status_context(instance, result, store_url: str, name: str):
    ends = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE}
    status_events = [e for e in result.all_events if e.event_type in ends]
    return dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=status_events[-1],
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        resources={"ops_store": OpsStoreResource(database_url=store_url)},
    )


def _alert_on_failure(instance, result, store_url: str) -> None:
    with _run_status_context(instance, result, store_url, "sync_failure_alerts") as context:
        sync_failure_alerts(context.for_run_failure())


def _recover(instance, result, store_url: str) -> None:
    with _run_status_context(instance, result, store_url, "sync_recovery") as context:
        sync_recovery(context)


def test_expired_meta_token_alerts_at_once_naming_workspace_and_account(tmp_path, store_url, store):
    defs = _definitions(tmp_path, store_url, meta_ads={"token_expired": True})
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        failed = _run(defs, instance, _request("meta_ads", "campaigns"))
        assert not failed.success
        _alert_on_failure(instance, failed, store_url)

    (alert,) = list_alerts(store)
    assert alert.rule_name == "pipeline: sync failing"
    assert alert.entity == {"client_id": WORKSPACE, "source": "meta_ads"}
    assert "auth expired" in alert.message
    assert "meta_ads for workspace acme-outdoor, account 1000000001" in alert.message
    assert failed.run_id in alert.message


def test_a_successful_sync_resolves_only_its_own_platforms_alert(tmp_path, store_url, store):
    broken = _definitions(tmp_path, store_url, google_ads={"token_expired": True})
    healthy = _definitions(tmp_path, store_url)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        _alert_on_failure(
            instance, _run(broken, instance, _request("google_ads", "campaigns")), store_url
        )
        assert [a.entity["source"] for a in list_alerts(store)] == ["google_ads"]

        meta_ok = _run(healthy, instance, _request("meta_ads", "insights"))
        _recover(instance, meta_ok, store_url)
        assert [a.entity["source"] for a in list_alerts(store)] == ["google_ads"]

        google_ok = _run(healthy, instance, _request("google_ads", "campaigns"))
        assert google_ok.success
        _recover(instance, google_ok, store_url)

    assert list_alerts(store) == []
    (resolved,) = list_alerts(store, states=[AlertState.RESOLVED])
    assert resolved.entity == {"client_id": WORKSPACE, "source": "google_ads"}


def test_quarantined_rows_of_a_successful_sync_go_to_the_daily_summary(tmp_path, store_url, store):
    dirty = _definitions(tmp_path, store_url, meta_ads={"malformed_row_rate": 0.5})
    clean = _definitions(tmp_path, store_url)
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        result = _run(dirty, instance, _request("meta_ads", "insights"))
        assert result.success
        _recover(instance, result, store_url)
        (alert,) = list_alerts(store)
        assert alert.rule_name == "pipeline: rows quarantined"
        assert alert.entity == {"client_id": WORKSPACE, "table": "raw/meta_ads/insights"}

        _recover(instance, _run(clean, instance, _request("meta_ads", "insights")), store_url)

    assert list_alerts(store) == []


@pytest.fixture
def sandbox_defs(tmp_path, store_url) -> dg.Definitions:
    return _definitions(tmp_path, store_url)


def _automation_tick(defs, instance, sensor, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = sensor.evaluate_tick(context)
    subsets = [r.asset_graph_subset for r in result.run_requests if r.asset_graph_subset]
    requested = {
        key: frozenset(subset.partitions_subsets_by_asset_key[key].get_partition_keys())
        for subset in subsets
        for key in subset.partitions_subsets_by_asset_key
    }
    # One unpartitioned asset is requested as a plain run, several partitions as a backfill.
    keys = {key for r in result.run_requests for key in r.asset_selection or ()}
    return requested, keys, result.cursor


def test_the_warehouse_is_built_once_lake_data_first_appears(sandbox_defs):
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        _, keys, cursor = _automation_tick(sandbox_defs, instance, warehouse_catalog_refresh, None)
        assert keys == set()
        assert _run(sandbox_defs, instance, _request("meta_ads", "campaigns")).success

        _, keys, _ = _automation_tick(sandbox_defs, instance, warehouse_catalog_refresh, cursor)
    assert keys == {dg.AssetKey(["warehouse", "duckdb", "catalog"])}


def test_a_runs_workspaces_come_from_its_tag_its_partition_or_its_range():
    def run(**tags: str) -> dg.DagsterRun:
        return dg.DagsterRun(job_name="entity_snapshots", tags=tags)

    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        known = instance.get_dynamic_partitions("workspace")
        assert run_workspaces(run(**{"ownlay/workspace": "kumo-tea"}), instance) == ["kumo-tea"]
        assert run_workspaces(run(**{"dagster/partition": "2026-11-20|blumen-haus"}), instance) == [
            "blumen-haus"
        ]
        whole_range = {
            "dagster/asset_partition_range_start": known[0],
            "dagster/asset_partition_range_end": known[-1],
        }
        assert run_workspaces(run(**whole_range), instance) == known
        assert run_workspaces(run(), instance) == []


def test_failed_steps_group_into_one_failure_per_workspace_and_source():
    steps = [
        FailedStep(dg.AssetKey(["raw", "meta_ads", "campaigns"]), FailureKind.AUTH_EXPIRED, "a"),
        FailedStep(dg.AssetKey(["raw", "meta_ads", "ads"]), FailureKind.AUTH_EXPIRED, "b"),
        FailedStep(UNIFIED, FailureKind.UNEXPECTED, "c"),
    ]
    run = dg.DagsterRun(job_name="__ASSET_JOB", run_id="r1")

    failures = sync_failures(run, steps, ["acme-outdoor", "kumo-tea"])

    meta = [f for f in failures if f.source == "meta_ads"]
    assert [f.workspace_id for f in meta] == ["acme-outdoor", "kumo-tea"]
    assert {f.tables for f in meta} == {("ads", "campaigns")}
    (model,) = [f for f in failures if f.source == "unified/campaign_metrics_daily"]
    assert (model.workspace_id, model.connector, model.kind) == (
        None,
        False,
        FailureKind.UNEXPECTED,
    )
