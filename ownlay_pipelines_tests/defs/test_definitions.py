from datetime import date
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.definitions import defs
from ownlay_pipelines.defs.partitions import days_by_workspace, multi_key
from ownlay_pipelines.defs.resources import RegistryResource
from ownlay_pipelines.defs.workspace_sync import partition_changes, workspace_registry_sensor
from ownlay_pipelines.lifecycle.export_config import EXPORTABLE_TABLES
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

EXPECTED_ASSETS = {
    *(str(spec.ref) for _, spec in all_streams()),
    "raw/fx/daily_rates",
    "raw/events",
    "ledger/restatements",
    *(
        f"export/{kind}/{table.replace('/', '_')}"
        for kind in ("bigquery", "snowflake")
        for table in EXPORTABLE_TABLES
    ),
    "unified/campaign_metrics_daily",
    "marts/attribution",
    "marts/roas_daily",
    "marts/dashboard_metrics",
    "marts/channel_claims_daily",
    "ops/omnisend/campaigns",
    "ops/omnisend/automations",
    "ops/scraper/cvr",
    "ops/internal/communication_reports",
    "ops/internal/clients",
    "warehouse/duckdb/catalog",
    "raw/uploads/costs",
    "raw/uploads/orders",
    "raw/uploads/events",
    "raw/stripe/charges",
    "raw/stripe/refunds",
    "raw/stripe/invoices",
    "raw/stripe/subscription_events",
    "raw/stripe/customers",
    "raw/stripe/subscriptions",
    "marts/mrr_daily",
    "raw/mailchimp/reports",
    "raw/mailchimp/email_campaigns",
    "raw/mailchimp/lists",
    "raw/mailchimp/members",
    "ops/mailchimp/reports",
    "marts/funnels",
    "marts/conversion_paths",
    "marts/path_attribution",
    "reports/analyst_report",
    "capi/forwarded_meta",
    "capi/forwarded_google",
    "capi/forwarded_tiktok",
    "capi/forwarded_snapchat",
    "ops/capi/health",
}


def test_definitions_load_with_the_expected_assets_jobs_and_sensors():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}

    assert keys == EXPECTED_ASSETS
    assert {job.name for job in defs.jobs} == {
        "entity_snapshots",
        "daily_metrics",
        "marts",
        "models",
        "refresh_warehouse",
        "watchtower_sources",
        "watchtower_notifications",
        "flush_events",
        "retention",
        "gdpr_request",
        "warehouse_export",
        "event_compaction",
        "shopify_webhooks",
        "fx_rates",
        "file_uploads",
        "analyst_marts",
        "analyst_report",
        "mrr",
        "stripe_webhooks",
        "stripe_events",
        "linkedin_lead_webhooks",
        "restatement_watch",
        "capi_forwarding",
        "capi_backfill",
        "capi_order_capture",
    }
    checks = {key.to_user_string() for key in graph.asset_check_keys}
    assert "unified/campaign_metrics_daily:watchtower" in checks  # all of them: test_checks.py
    assert (
        defs.resolve_sensor_def("workspace_registry").default_status
        is dg.DefaultSensorStatus.RUNNING
    )
    for job in defs.jobs:
        defs.resolve_job_def(job.name)


def test_every_asset_has_a_description_group_and_connector_assets_a_pool():
    for assets_def in defs.resolve_all_asset_specs():
        assert assets_def.description, assets_def.key
        assert assets_def.group_name, assets_def.key
    meta = defs.get_assets_def(dg.AssetKey(["raw", "meta_ads", "insights"]))
    assert meta.op.pool == "meta_ads_api"
    assert meta.backfill_policy == dg.BackfillPolicy.multi_run(31)
    unified = defs.get_assets_def(dg.AssetKey(["unified", "campaign_metrics_daily"]))
    assert unified.backfill_policy == dg.BackfillPolicy.single_run()


def test_partition_keys_group_by_workspace_in_date_order():
    keys = [
        multi_key(date(2026, 11, 2), "b"),
        multi_key(date(2026, 11, 1), "b"),
        multi_key(date(2026, 11, 1), "a"),
    ]
    assert str(keys[0]) == "2026-11-02|b"
    assert days_by_workspace(keys) == {
        "a": [date(2026, 11, 1)],
        "b": [date(2026, 11, 1), date(2026, 11, 2)],
    }


def test_partition_changes_add_new_and_remove_dropped_workspaces():
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    assert partition_changes(["acme-outdoor", "gone"], registry) == (
        ["blumen-haus", "kumo-tea", "rive-gauche"],
        ["gone"],
    )


def _registry_tick(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    # With an instance ref Dagster checks run partitions against the instance, as the daemon does.
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"registry": RegistryResource()},
        definitions=defs,
    ) as context:
        return workspace_registry_sensor.evaluate_tick(context)


def test_workspace_sensor_requests_the_registry_difference_then_skips():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("workspace", ["acme-outdoor", "gone"])

        result = _registry_tick(instance)

        adds = [
            r
            for r in result.dynamic_partitions_requests
            if isinstance(r, dg.AddDynamicPartitionsRequest)
        ]
        deletes = [
            r
            for r in result.dynamic_partitions_requests
            if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        assert adds[0].partition_keys == ["blumen-haus", "kumo-tea", "rive-gauche"]
        assert deletes[0].partition_keys == ["gone"]
        assert {r.tags["ownlay/workspace"] for r in result.run_requests} == {
            "blumen-haus",
            "kumo-tea",
            "rive-gauche",
        }

        instance.add_dynamic_partitions("workspace", ["blumen-haus", "kumo-tea", "rive-gauche"])
        instance.delete_dynamic_partition("workspace", "gone")
        again = _registry_tick(instance, cursor=result.cursor)
        assert again.skip_message.startswith("workspace partitions already match the registry")
        assert again.run_requests == []


def test_sync_schedules_wait_in_the_sandbox_while_sensors_that_keep_data_correct_run():
    schedules = {s.name: s for s in defs.schedules}
    for name in ("sync_entity_snapshots", "sync_daily_metrics", "stripe_events_hourly"):
        assert schedules[name].default_status is dg.DefaultScheduleStatus.STOPPED
        assert schedules[name].execution_timezone == "UTC"
    sensors = {s.name: s.default_status for s in defs.sensors}
    for name in (
        "workspace_registry",
        "models_follow_upstream",
        "warehouse_catalog_refresh",
        "sync_failure_alerts",
        "sync_recovery",
    ):
        assert sensors[name] is dg.DefaultSensorStatus.RUNNING


def test_every_mailchimp_call_shares_one_pool_within_mailchimps_ten_connections():
    # In one process the client's slots cap an account at ten requests at once; across runs
    # (a process each) only the Dagster pool does, and a run's own steps never overlap.
    import yaml

    from ownlay_pipelines.connectors import mailchimp

    calling = [
        a for a in defs.resolve_all_asset_specs() if a.tags.get("ownlay/platform") == "mailchimp"
    ]
    assert {str(a.key.to_user_string()) for a in calling} >= {
        "raw/mailchimp/members",
        "raw/mailchimp/reports",
        "ops/mailchimp/reports",
    }
    assert {defs.get_assets_def(a.key).op.pool for a in calling} == {"mailchimp_api"}
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
    pools = yaml.safe_load(deploy.read_text())["concurrency"]["pools"]
    assert pools["granularity"] == "op"
    assert pools["default_limit"] <= mailchimp.MAX_CONNECTIONS
    assert defs.executor is dg.in_process_executor
