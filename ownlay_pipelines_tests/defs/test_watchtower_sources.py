"""Source assets `ops/...` and the connector sync log, materialized in-process on the sandbox."""

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.assets.connector_assets import CONNECTOR_ASSETS
from ownlay_pipelines.defs.assets.watchtower_sources import (
    WATCHTOWER_SOURCE_ASSETS,
    watchtower_sources_job,
)
from ownlay_pipelines.defs.resources import (
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
    default_resources,
)
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.file_drops import write_sandbox_drops
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings
from ownlay_pipelines.watchtower.tables import api_records, api_snapshots, api_sources
from ownlay_pipelines_tests.sandbox.omnisend_world import NOW, write_registry

CAMPAIGNS = dg.AssetKey(["ops", "omnisend", "campaigns"])


def _resources(data_dir: Path, registry_file: Path, **platform_config) -> dict[str, object]:
    settings = Settings(data_dir=data_dir, registry_file=registry_file)
    registry = RegistryResource(registry_file=str(registry_file))
    platforms = PlatformClientsResource(
        registry=registry, sandbox_now=NOW.isoformat(), **platform_config
    )
    return {**default_resources(settings), "registry": registry, "platforms": platforms}


def _asset(key: dg.AssetKey, assets: list[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    return next(a for a in assets if a.key == key)


def _snapshots(resources: dict[str, object]) -> list[sa.Row]:
    store = resources["ops_store"]
    assert isinstance(store, OpsStoreResource)
    query = (
        sa.select(api_sources.c.provider, api_sources.c.endpoint, api_snapshots)
        .join(api_sources, api_sources.c.id == api_snapshots.c.source_id)
        .order_by(api_snapshots.c.created_at)
    )
    with store.engine().connect() as connection:
        return connection.execute(query).all()


def test_source_assets_load_beside_the_code_location_with_its_resources(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE)
    defs = dg.Definitions.merge(
        build_definitions(settings),
        dg.Definitions(assets=WATCHTOWER_SOURCE_ASSETS, jobs=[watchtower_sources_job]),
    )
    assert defs.get_assets_def(CAMPAIGNS).op.pool == "omnisend_api"
    job = defs.resolve_job_def("watchtower_sources")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == {
        "ops/omnisend/campaigns",
        "ops/omnisend/automations",
        "ops/scraper/cvr",
        "ops/internal/communication_reports",
        "ops/internal/clients",
        "ops/mailchimp/reports",
    }


def test_a_scheduled_omnisend_run_stores_a_completed_snapshot_of_every_campaign(tmp_path):
    resources = _resources(tmp_path / "data", write_registry(tmp_path))
    campaigns = _asset(CAMPAIGNS, WATCHTOWER_SOURCE_ASSETS)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor", "kumo-tea"])
        result = dg.materialize(
            [campaigns],
            partition_key="acme-outdoor",
            instance=instance,
            resources=resources,
            tags={"dagster/schedule_name": "omnisend_hourly"},
        )
    assert result.success
    metadata = result.asset_materializations_for_node(campaigns.op.name)[0].metadata
    (snapshot,) = _snapshots(resources)
    assert (snapshot.provider, snapshot.endpoint, snapshot.client_id) == (
        "omnisend",
        "campaigns",
        "acme-outdoor",
    )
    assert (snapshot.status, snapshot.snapshot_type) == ("completed", "scheduled")
    assert metadata["api_snapshot_id"].value == str(snapshot.id)
    assert metadata["dagster/row_count"].value == snapshot.total_records > 0
    assert metadata["metric_rows"].value > 0


def test_a_file_drop_run_without_schedule_tags_is_a_manual_snapshot(tmp_path):
    data_dir = tmp_path / "data"
    resources = _resources(data_dir, DEFAULT_REGISTRY_FILE)
    write_sandbox_drops(SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), now=NOW), data_dir)
    cvr = _asset(dg.AssetKey(["ops", "scraper", "cvr"]), WATCHTOWER_SOURCE_ASSETS)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["kumo-tea"])
        assert dg.materialize(
            [cvr], partition_key="kumo-tea", instance=instance, resources=resources
        ).success
    (snapshot,) = _snapshots(resources)
    assert (snapshot.endpoint, snapshot.snapshot_type, snapshot.total_records) == (
        "cvr",
        "manual",
        4,
    )
    with resources["ops_store"].engine().connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(api_records)).scalar() == 4


@pytest.mark.parametrize(
    ("faults", "status"), [({}, "completed"), ({"meta_ads": {"token_expired": 1.0}}, "failed")]
)
def test_every_connector_partition_run_records_its_sync_in_api_snapshots(tmp_path, faults, status):
    resources = _resources(tmp_path / "data", DEFAULT_REGISTRY_FILE, sandbox_faults=faults)
    campaigns = _asset(dg.AssetKey(["raw", "meta_ads", "campaigns"]), CONNECTOR_ASSETS)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor"])
        result = dg.materialize(
            [campaigns],
            partition_key="acme-outdoor",
            instance=instance,
            resources=resources,
            tags={"dagster/sensor_name": "workspace_registry"},
            raise_on_error=False,
        )
    (snapshot,) = _snapshots(resources)
    assert (snapshot.provider, snapshot.endpoint, snapshot.client_id) == (
        "meta_ads",
        "campaigns",
        "acme-outdoor",
    )
    assert (snapshot.status, snapshot.snapshot_type) == (status, "triggered")
    if status == "completed":
        metadata = result.asset_materializations_for_node(campaigns.op.name)[0].metadata
        assert snapshot.total_records == metadata["dagster/row_count"].value > 0
        assert metadata["api_snapshot_ids"].value == {"acme-outdoor": str(snapshot.id)}
    else:
        assert not result.success
        assert snapshot.error_message.startswith("AuthExpired: meta_ads/1000000001 HTTP 400")
