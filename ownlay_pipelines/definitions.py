"""The one Definitions object of the code location: assets, jobs, sensors and resources."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.defs.assets.billing_assets import billing_follow_stripe, mrr_daily
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
    capi_backfill,
    capi_forwarding_job,
    capi_outbox_sensor,
)
from ownlay_pipelines.defs.checks import ASSET_CHECKS, CHECK_SENSORS
from ownlay_pipelines.defs.events import (
    event_buffer_sensor,
    event_compaction,
    event_compaction_schedule,
    event_retention,
    event_retention_schedule,
    flush_events_job,
    raw_events,
)
from ownlay_pipelines.defs.jobs import JOBS
from ownlay_pipelines.defs.notifications import (
    watchtower_notifications,
    watchtower_notifications_schedule,
)
from ownlay_pipelines.defs.resources import default_resources
from ownlay_pipelines.defs.schedules import build_sync_schedules
from ownlay_pipelines.defs.sensors import SENSORS
from ownlay_pipelines.defs.sensors.models import build_models_sensor
from ownlay_pipelines.defs.shopify_webhooks import shopify_webhook_sensor, shopify_webhooks
from ownlay_pipelines.defs.source_schedules import build_source_schedule
from ownlay_pipelines.defs.uploads import UPLOAD_ASSETS, file_uploads, upload_drop_folder
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
        *UPLOAD_ASSETS,
        campaign_metrics_daily,
        *MART_ASSETS,
        mrr_daily,
        warehouse_catalog,
        *CAPI_ASSETS,
    ]
    models_sensor, models_job = build_models_sensor(assets)
    return dg.Definitions(
        assets=assets,
        asset_checks=ASSET_CHECKS,
        jobs=[
            *JOBS,
            models_job,
            watchtower_sources_job,
            watchtower_notifications,
            flush_events_job,
            event_retention,
            event_compaction,
            shopify_webhooks,
            fx_rates_job,
            file_uploads,
            capi_forwarding_job,
            capi_backfill,
        ],
        schedules=[
            watchtower_notifications_schedule,
            event_retention_schedule,
            event_compaction_schedule,
            fx_rates_schedule,
            *build_sync_schedules(settings),
            build_source_schedule(settings),
        ],
        sensors=[
            workspace_registry_sensor,
            event_buffer_sensor,
            shopify_webhook_sensor,
            models_sensor,
            upload_drop_folder,
            billing_follow_stripe,
            capi_outbox_sensor,
            *SENSORS,
            *CHECK_SENSORS,
        ],
        resources={
            **default_resources(settings),
            "duckdb": MODEL_DUCKDB,
            **(resource_overrides or {}),
        },
        # Steps are I/O-bound API calls and short DuckDB queries: a process per step would cost
        # more than the work (reference/perf_reliability.md §2).
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
