"""The Dagster wiring: the sensor requests runs for due outbox rows; the asset forwards them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from ownlay_pipelines.capi.outbox import enqueue, status_counts
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.tables import capi_delivery_log, create_capi_schema
from ownlay_pipelines.defs.capi import (
    CAPI_ASSETS,
    CAPI_CHECKS,
    CAPI_HEALTH_KEY,
    capi_asset_key,
    capi_order_capture,
    capi_order_capture_sensor,
    capi_outbox_sensor,
)
from ownlay_pipelines.defs.partitions import WORKSPACE_DIMENSION
from ownlay_pipelines.defs.resources import (
    LakeResource,
    OpsStoreResource,
    PlatformClientsResource,
    RegistryResource,
)
from ownlay_pipelines.ingest.webhook_store import webhook_store_path
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.capi_conversions import sandbox_conversions
from ownlay_pipelines.sandbox.capi_demo import workspace_visitors
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines.watchtower.store import create_store_engine
from ownlay_pipelines_tests.capi.store_orders import deliver, shopify_order

WORKSPACE = "kumo-tea"


def test_sensor_requests_a_run_per_due_platform_and_the_asset_drains_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    store_resource = OpsStoreResource(database_url=url)
    engine = create_store_engine(url)
    create_capi_schema(engine)
    workspace = load_registry(DEFAULT_REGISTRY_FILE).get(WORKSPACE)
    now = datetime.now(UTC)
    conversions = sandbox_conversions(
        WORKSPACE, workspace_visitors(workspace), 30, start=now - timedelta(hours=1),
        currency=workspace.currency, consent_share=1.0,
    )  # fmt: skip
    enqueue(engine, WORKSPACE, workspace.capi, conversions, now=now)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(WORKSPACE_DIMENSION, [WORKSPACE])
        context = dg.build_sensor_context(
            instance=instance, resources={"ops_store": store_resource}
        )
        result = capi_outbox_sensor(context)
        requested = {(r.partition_key, tuple(r.asset_selection)) for r in result.run_requests}
        assert requested == {
            (WORKSPACE, (capi_asset_key(platform), CAPI_HEALTH_KEY)) for platform in CapiPlatform
        }

        registry = RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))
        outcome = dg.materialize(
            CAPI_ASSETS,
            selection=[capi_asset_key(CapiPlatform.META)],
            partition_key=WORKSPACE,
            instance=instance,
            resources={
                "ops_store": store_resource,
                "platforms": PlatformClientsResource(registry=registry),
            },
        )
    assert outcome.success
    [materialization] = outcome.asset_materializations_for_node("capi__forwarded_meta")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["meta-capi.accepted"] == 30
    assert metadata["meta-capi.match_keys_carried"]["em"] == 30
    [check] = outcome.get_asset_check_evaluations()
    assert check.passed and check.metadata["meta-capi.status"].value == "healthy"
    assert status_counts(engine, WORKSPACE, "meta-capi") == {"accepted": 30}
    assert status_counts(engine, WORKSPACE, "snap-capi") == {"pending": 30}


def test_health_asset_snapshots_destinations_and_its_check_alerts_on_unhealthy(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    engine = create_store_engine(url)
    create_capi_schema(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            capi_delivery_log.insert(),
            [
                {
                    "workspace_id": WORKSPACE,
                    "destination_id": "tiktok-events",
                    "platform": "tiktok",
                    "event_id": f"e{i}",
                    "event_name": "CompletePayment",
                    "timestamp": now - timedelta(minutes=5),
                    "success": False,
                    "outcome": "retry",
                    "latency_ms": 120.0,
                    "error_message": "ServerError: 500",
                    "retry_count": 3,
                }
                for i in range(4)
            ],
        )
    registry = RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(WORKSPACE_DIMENSION, [WORKSPACE])
        outcome = dg.materialize(
            [*CAPI_ASSETS, *CAPI_CHECKS],
            selection=[CAPI_HEALTH_KEY],
            partition_key=WORKSPACE,
            instance=instance,
            resources={
                "ops_store": OpsStoreResource(database_url=url),
                "platforms": PlatformClientsResource(registry=registry),
            },
        )
    assert outcome.success
    [materialization] = outcome.asset_materializations_for_node("ops__capi__health")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["dagster/row_count"] == 4
    assert metadata["tiktok-events.status"] == "unhealthy"
    assert metadata["meta-capi.status"] == "healthy"
    [check] = outcome.get_asset_check_evaluations()
    assert check.check_name == "watchtower" and not check.passed
    assert check.severity is dg.AssetCheckSeverity.ERROR


def test_order_sensor_requests_a_capture_and_the_job_queues_the_orders(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    lake = LakeResource(data_dir=str(tmp_path / "data"))
    deliveries = webhook_store_path(Path(lake.data_dir).resolve())
    deliveries.parent.mkdir(parents=True)
    deliver(deliveries, "shopify", "orders/create", shopify_order(3001), "d1")
    deliver(deliveries, "shopify", "orders/create", shopify_order(3002), "d2")
    resources = {
        "lake": lake,
        "registry": RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
        "ops_store": OpsStoreResource(database_url=url),
    }
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        request = capi_order_capture_sensor(context)
        assert isinstance(request, dg.RunRequest)
        result = capi_order_capture.execute_in_process(instance=instance, resources=resources)
        assert result.success
        skipped = capi_order_capture_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
    assert isinstance(skipped, dg.SkipReason)
    engine = create_store_engine(url)
    assert status_counts(engine, "acme-outdoor", "meta-capi") == {"pending": 2}
    assert status_counts(engine, "acme-outdoor", "google-ec") == {"pending": 2}
