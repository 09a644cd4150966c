"""The one Definitions object of the code location: assets, jobs, sensors and resources."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.defs.assets.analyst_assets import (
    ANALYST_ASSETS,
    ANALYST_JOBS,
    analyst_report_refresh,
)
from ownlay_pipelines.defs.assets.billing_assets import billing_follow_stripe, mrr_daily, mrr_job
from ownlay_pipelines.defs.assets.connector_assets import CONNECTOR_ASSETS
from ownlay_pipelines.defs.assets.fx_assets import fx_daily_rates, fx_rates_job, fx_rates_schedule
from ownlay_pipelines.defs.assets.mailchimp_watchtower import mailchimp_reports_source
from ownlay_pipelines.defs.assets.mart_assets import MART_ASSETS
from ownlay_pipelines.defs.assets.model_assets import campaign_metrics_daily, warehouse_catalog
from ownlay_pipelines.defs.assets.watchtower_sources import (
    WATCHTOWER_SOURCE_ASSETS,
    watchtower_sources_job,
)
from ownlay_pipelines.defs.capi import (
    CAPI_ASSETS,
    CAPI_CHECKS,
    capi_backfill,
    capi_forwarding_job,
    capi_order_capture,
    capi_order_capture_sensor,
    capi_outbox_sensor,
)
from ownlay_pipelines.defs.checks import ASSET_CHECKS, CHECK_SENSORS
from ownlay_pipelines.defs.events import (
    event_buffer_sensor,
    event_compaction,
    event_compaction_schedule,
    flush_events_job,
    raw_events,
)
from ownlay_pipelines.defs.jobs import JOBS
from ownlay_pipelines.defs.lifecycle import gdpr_request, retention, retention_schedule
from ownlay_pipelines.defs.linkedin_lead_webhooks import (
    linkedin_lead_sensor,
    linkedin_lead_webhooks,
)
from ownlay_pipelines.defs.notifications import (
    watchtower_notifications,
    watchtower_notifications_schedule,
)
from ownlay_pipelines.defs.resources import default_resources
from ownlay_pipelines.defs.restatement_watch import (
    restatement_ledger,
    restatement_ledger_sensor,
    restatement_watch,
)
from ownlay_pipelines.defs.schedules import build_sync_schedules
from ownlay_pipelines.defs.sensors import SENSORS
from ownlay_pipelines.defs.sensors.models import build_models_sensor
from ownlay_pipelines.defs.shopify_webhooks import shopify_webhook_sensor, shopify_webhooks
from ownlay_pipelines.defs.source_schedules import build_source_schedule
from ownlay_pipelines.defs.stripe_webhooks import (
    build_stripe_events_schedule,
    stripe_events,
    stripe_webhook_sensor,
    stripe_webhooks,
)
from ownlay_pipelines.defs.uploads import file_uploads, upload_drop_folder, uploaded_files
from ownlay_pipelines.defs.warehouse_export import (
    EXPORT_ASSETS,
    WarehouseTargetsResource,
    warehouse_export_daily,
    warehouse_export_job,
)
from ownlay_pipelines.defs.workspace_sync import workspace_registry_sensor
from ownlay_pipelines.settings import Settings

MODEL_DUCKDB = DuckDBResource(
    database=":memory:",
    # DuckDB may swap an ASOF join for a quadratic loop when it under-estimates the left side
    # (reference/perf_reliability.md §0, finding 1); models never want that plan.
    connection_config={"asof_loop_join_threshold": 0},
)


def build_definitions(
    settings: Settings, *, resource_overrides: dict[str, dg.ConfigurableResource] | None = None
) -> dg.Definitions:
    """Everything the code location serves, bound to `settings`' lake and registry.

    `resource_overrides` replaces resources by key (tests pin the sandbox clock or add faults).
    """
    assets = [
        *CONNECTOR_ASSETS,
        fx_daily_rates,
        *WATCHTOWER_SOURCE_ASSETS,
        mailchimp_reports_source,
        raw_events,
        uploaded_files,
        campaign_metrics_daily,
        *MART_ASSETS,
        mrr_daily,
        restatement_ledger,
        warehouse_catalog,
        *ANALYST_ASSETS,
        *CAPI_ASSETS,
    ]
    models_sensor, models_job = build_models_sensor(assets)
    return dg.Definitions(
        # Export assets are copied on their own schedule, not followed by the models sensor.
        assets=[*assets, *EXPORT_ASSETS],
        asset_checks=[*ASSET_CHECKS, *CAPI_CHECKS],
        jobs=[
            *JOBS,
            models_job,
            watchtower_sources_job,
            watchtower_notifications,
            flush_events_job,
            retention,
            gdpr_request,
            warehouse_export_job,
            event_compaction,
            shopify_webhooks,
            linkedin_lead_webhooks,
            restatement_watch,
            fx_rates_job,
            file_uploads,
            *ANALYST_JOBS,
            mrr_job,
            stripe_webhooks,
            stripe_events,
            capi_forwarding_job,
            capi_backfill,
            capi_order_capture,
        ],
        schedules=[
            watchtower_notifications_schedule,
            retention_schedule,
            warehouse_export_daily,
            event_compaction_schedule,
            fx_rates_schedule,
            build_stripe_events_schedule(settings),
            *build_sync_schedules(settings),
            build_source_schedule(settings),
        ],
        sensors=[
            workspace_registry_sensor,
            event_buffer_sensor,
            shopify_webhook_sensor,
            stripe_webhook_sensor,
            linkedin_lead_sensor,
            restatement_ledger_sensor,
            models_sensor,
            upload_drop_folder,
            billing_follow_stripe,
            capi_outbox_sensor,
            capi_order_capture_sensor,
            *SENSORS,
            *CHECK_SENSORS,
            analyst_report_refresh,
        ],
        resources={
            **default_resources(settings),
            "duckdb": MODEL_DUCKDB,
            "warehouse_targets": WarehouseTargetsResource(),
            **(resource_overrides or {}),
        },
        # Steps are I/O-bound API calls and short DuckDB queries: a process per step would cost
        # more than the work (reference/perf_reliability.md §2).
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
