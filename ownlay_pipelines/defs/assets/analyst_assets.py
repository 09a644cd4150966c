"""Analyst assets: funnels, conversion paths, path-based attribution and the HTML report.

Thin wiring over analyst/: the three marts are partitioned by date × workspace and refresh by
automation (the last two days hourly, the last nine daily, since late orders and windows change
them); the report is one file rebuilt daily and whenever it is missing and its inputs changed.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.analyst.conversion_paths import (
    CONVERSION_PATHS,
    CONVERSION_PATHS_SCHEMA,
    write_conversion_paths,
)
from ownlay_pipelines.analyst.funnel_definitions import DEFAULT_WINDOW_SECONDS, load_funnels
from ownlay_pipelines.analyst.funnels import FUNNEL_SCHEMA, FUNNELS, write_funnels
from ownlay_pipelines.analyst.path_attribution import (
    PATH_ATTRIBUTION,
    PATH_ATTRIBUTION_SCHEMA,
    PERIOD_DAYS,
    write_path_attribution,
)
from ownlay_pipelines.analyst.report import latest_mart_day, render_report
from ownlay_pipelines.defs.assets.mart_assets import CAMPAIGN_SOURCES, attribution
from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.partitions import (
    DATE_DIMENSION,
    WORKSPACE_DIMENSION,
    daily_by_workspace,
    days_by_workspace,
)
from ownlay_pipelines.defs.resources import LakeResource, RegistryResource
from ownlay_pipelines.events.layout import EVENTS_TABLE
from ownlay_pipelines.models.fx import FX_RATES
from ownlay_pipelines.models.roas import ROAS_DAILY

FUNNEL_EVENT_DAYS = dg.MultiPartitionMapping(
    {
        DATE_DIMENSION: dg.DimensionPartitionMapping(
            DATE_DIMENSION,
            dg.TimeWindowPartitionMapping(
                start_offset=-1, end_offset=1 + DEFAULT_WINDOW_SECONDS // 86_400
            ),
        ),
        WORKSPACE_DIMENSION: dg.DimensionPartitionMapping(
            WORKSPACE_DIMENSION, dg.IdentityPartitionMapping()
        ),
    }
)
"""A funnel of first-step local day D reads the UTC event days D-1 … D+1+window (default window
seven days), so `models_follow_upstream` recomputes the funnels a late event can change; a
funnel defined with a longer window sees later events at the next change of its own days."""

REPORT_REFRESH = (
    (
        dg.AutomationCondition.cron_tick_passed("30 7 * * *", "UTC")
        | (dg.AutomationCondition.missing() & dg.AutomationCondition.any_deps_updated())
    ).since_last_handled()
    & ~dg.AutomationCondition.in_progress()
).with_label("daily at 07:30 UTC, and once its inputs first exist")

SAME_WORKSPACE_PERIOD = dg.MultiPartitionMapping(
    {
        DATE_DIMENSION: dg.DimensionPartitionMapping(
            DATE_DIMENSION, dg.TimeWindowPartitionMapping(start_offset=-(PERIOD_DAYS - 1))
        ),
        WORKSPACE_DIMENSION: dg.DimensionPartitionMapping(
            WORKSPACE_DIMENSION, dg.IdentityPartitionMapping()
        ),
    }
)


@dg.asset(
    key=FUNNELS.parts,
    description=(
        "One row per workspace, local day of the first step, funnel, breakdown (total, "
        "utm_source, campaign, device, country), breakdown value and step: visitors reaching "
        "the step, drop-off, conversion and median seconds from the previous step "
        "(ClickHouse windowFunnel semantics; funnels from the workspace's definitions file)."
    ),
    group_name="analyst",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(list(EVENTS_TABLE.parts), partition_mapping=FUNNEL_EVENT_DAYS)],
    metadata={"lake_table": str(FUNNELS), "dagster/column_schema": table_schema(FUNNEL_SCHEMA)},
)
def funnels(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Rebuild the run's days of every funnel of each workspace."""
    rows = 0
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            definitions = load_funnels(Path(lake.data_dir).resolve(), workspace_id)
            table = write_funnels(
                connection,
                lake.lake_root,
                workspace=registry.workspace(workspace_id),
                funnels=definitions,
                days=days,
            )
            context.log.info(
                f"{FUNNELS} {workspace_id}: {len(definitions)} funnel(s), {len(days)} day(s)"
            )
            rows += table.num_rows
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


@dg.asset(
    key=CONVERSION_PATHS.parts,
    description=(
        "One row per journey ending on the workspace-local day: an order with its visitor's "
        "clicks in the 7-day window (path, length, seconds to convert), or a visitor's clicks "
        "of the day that no order followed; the input of the Markov and Shapley models."
    ),
    group_name="analyst",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # The same inputs as order attribution (orders, events, campaign snapshots by workspace).
    deps=attribution.specs_by_key[attribution.key].deps,
    metadata={
        "lake_table": str(CONVERSION_PATHS),
        "dagster/column_schema": table_schema(CONVERSION_PATHS_SCHEMA),
    },
)
def conversion_paths(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Rebuild the journeys of the run's days."""
    rows = converting = 0
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            table = write_conversion_paths(
                connection,
                lake.lake_root,
                workspace=registry.workspace(workspace_id),
                days=days,
                campaign_sources=CAMPAIGN_SOURCES,
            )
            rows += table.num_rows
            converting += sum(table["converted"].to_pylist())
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "converting_journeys": converting}
    )


@dg.asset(
    key=PATH_ATTRIBUTION.parts,
    description=(
        f"One row per workspace, period end date, model (markov, shapley, first, last, linear) "
        f"and channel: conversions and value credited over the {PERIOD_DAYS} days of "
        "conversion paths ending that day; Markov rows carry the exact removal effect."
    ),
    group_name="analyst",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        dg.AssetDep(list(CONVERSION_PATHS.parts), partition_mapping=SAME_WORKSPACE_PERIOD),
        # Orders in other currencies are converted into the reporting currency.
        dg.AssetDep(list(FX_RATES.parts)),
    ],
    metadata={
        "lake_table": str(PATH_ATTRIBUTION),
        "dagster/column_schema": table_schema(PATH_ATTRIBUTION_SCHEMA),
    },
)
def path_attribution(
    context: dg.AssetExecutionContext,
    registry: RegistryResource,
    lake: LakeResource,
    duckdb: DuckDBResource,
) -> dg.MaterializeResult:
    """Credit channels over the period ending on each of the run's days."""
    rows = 0
    with duckdb.get_connection() as connection:
        for workspace_id, days in days_by_workspace(list(context.partition_keys)).items():
            reporting_currency = registry.workspace(workspace_id).reporting_currency
            for day in days:
                rows += write_path_attribution(
                    connection,
                    lake.lake_root,
                    workspace_id=workspace_id,
                    end=day,
                    reporting_currency=reporting_currency,
                ).num_rows
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


class ReportConfig(dg.Config):
    """The last day the report covers (default: the latest day the marts have, else today)."""

    as_of: str | None = None


@dg.asset(
    key=["reports", "analyst_report"],
    description=(
        "A static HTML page (reports/analyst_report.html under the data dir, plotly.js inlined) "
        "per run: each workspace's funnels, ROAS by platform over time (platform-claimed vs "
        "first-party) and credits by attribution model side by side, for the last 30 days."
    ),
    group_name="analyst",
    kinds={"html"},
    deps=[
        dg.AssetDep(list(FUNNELS.parts)),
        dg.AssetDep(list(ROAS_DAILY.parts)),
        dg.AssetDep(list(PATH_ATTRIBUTION.parts)),
    ],
    automation_condition=REPORT_REFRESH,
)
def analyst_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    registry: RegistryResource,
    lake: LakeResource,
) -> dg.MaterializeResult:
    """Render the report from the marts and link it from the materialization."""
    workspace_ids = registry.load().workspace_ids
    if config.as_of:
        as_of = date.fromisoformat(config.as_of)
    else:
        as_of = latest_mart_day(lake.lake_root, workspace_ids) or datetime.now(UTC).date()
    summary = render_report(
        lake.lake_root,
        Path(lake.data_dir).resolve() / "reports",
        workspace_ids,
        as_of,
    )
    context.log.info(f"report {summary.path}: {summary.charts} chart(s)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(summary.path)),
            "open": dg.MetadataValue.url(summary.path.as_uri()),
            "charts": summary.charts,
            "workspaces_with_data": dg.MetadataValue.json(summary.workspaces_with_data),
            "as_of": as_of.isoformat(),
        }
    )


analyst_marts_job = dg.define_asset_job(
    "analyst_marts",
    selection=dg.AssetSelection.assets(funnels, conversion_paths, path_attribution),
    description="Rebuild funnels, conversion paths and path-based attribution for the run's days.",
)
analyst_report_job = dg.define_asset_job(
    "analyst_report",
    selection=dg.AssetSelection.assets(analyst_report),
    description="Render the analyst HTML report from the marts.",
)

analyst_report_refresh = dg.AutomationConditionSensorDefinition(
    "analyst_report_refresh",
    target=dg.AssetSelection.assets(analyst_report),
    use_user_code_server=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Renders the analyst report daily at 07:30 UTC, and once its inputs first exist. "
    "The funnel, path and path-attribution marts follow their inputs' changed days through "
    "`models_follow_upstream`, like every other date x workspace model.",
)

ANALYST_ASSETS = [funnels, conversion_paths, path_attribution, analyst_report]
ANALYST_JOBS = [analyst_marts_job, analyst_report_job]
