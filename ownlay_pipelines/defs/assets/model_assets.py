"""Model assets: the unified campaign metrics table and the analysts' warehouse catalog."""

import dagster as dg
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.defs.column_schema import table_schema
from ownlay_pipelines.defs.partition_rows import report_partition_rows
from ownlay_pipelines.defs.partitions import daily_by_workspace, days_by_workspace
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.lake.catalog_descriptions import catalog_descriptions
from ownlay_pipelines.lake.warehouse import build_warehouse, discover_tables
from ownlay_pipelines.lake.writer import sweep_leftovers
from ownlay_pipelines.models.campaign_metrics import (
    UNIFIED_CAMPAIGN_METRICS,
    UNIFIED_SCHEMA,
    superseded_uploads,
    write_campaign_metrics,
)
from ownlay_pipelines.models.metric_definitions import DERIVED_METRICS
from ownlay_pipelines.uploads.campaign_costs import UPLOADED_COSTS

METRIC_SOURCES = [
    (spec.platform.value, spec.ref) for _, spec in all_streams() if spec.feeds_campaign_metrics
]
CAMPAIGN_SNAPSHOTS = [
    spec.ref
    for _, spec in all_streams()
    if spec.table == "campaigns" and spec.partitioning is Partitioning.WORKSPACE
]


@dg.asset(
    key=UNIFIED_CAMPAIGN_METRICS.parts,
    description=(
        "One row per workspace, platform, ad account, campaign and account-local report date: "
        "impressions, clicks, exact spend, conversions and conversion value as the platform "
        "reported them, with ctr_percent, cpc, cpm and roas (NULL when the denominator is zero)."
    ),
    group_name="unified",
    kinds={"duckdb", "parquet"},
    partitions_def=daily_by_workspace,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        *(dg.AssetDep(list(ref.parts)) for _, ref in METRIC_SOURCES),
        dg.AssetDep(list(UPLOADED_COSTS.parts)),
        *(
            dg.AssetDep(
                list(ref.parts),
                partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                    partition_dimension_name="workspace"
                ),
            )
            for ref in CAMPAIGN_SNAPSHOTS
        ),
    ],
    metadata={
        "lake_table": str(UNIFIED_CAMPAIGN_METRICS),
        "derived_metrics": dg.MetadataValue.md(
            "\n".join(f"- `{m.name}` ({m.unit}): {m.description}" for m in DERIVED_METRICS)
        ),
        "dagster/column_schema": table_schema(UNIFIED_SCHEMA),
    },
)
def campaign_metrics_daily(
    context: dg.AssetExecutionContext, lake: LakeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Rebuild the unified rows of every partition in the run from the raw platform tables."""
    tables: list[pa.Table] = []
    superseded: list[dict[str, str]] = []
    targets = days_by_workspace(list(context.partition_keys))
    with duckdb.get_connection() as connection:
        for workspace_id, days in targets.items():
            table = write_campaign_metrics(
                connection,
                lake.lake_root,
                sources=METRIC_SOURCES,
                workspace_id=workspace_id,
                days=days,
            )
            context.log.info(
                f"{UNIFIED_CAMPAIGN_METRICS} {workspace_id}: {len(days)} day(s), {table.num_rows} rows"
            )
            tables.append(table)
            for left_out in superseded_uploads(
                connection,
                lake.lake_root,
                sources=METRIC_SOURCES,
                workspace_id=workspace_id,
                days=days,
            ):
                context.log.warning(
                    f"{workspace_id} {left_out['platform']} {left_out['report_date']}: "
                    f"{left_out['rows']} uploaded cost row(s), spend {left_out['spend']} "
                    f"{left_out['currency']}, left out: the connector has rows for that day"
                )
                superseded.append({"workspace_id": workspace_id, **_as_text(left_out)})
    combined = pa.concat_tables(tables) if tables else UNIFIED_SCHEMA.empty_table()
    report_partition_rows(context, combined)
    spend = combined.group_by("currency").aggregate([("spend", "sum")]).to_pylist()
    metadata: dict[str, object] = {
        "run_row_count": combined.num_rows,
        "spend_by_currency": dg.MetadataValue.json(
            {row["currency"]: str(row["spend_sum"]) for row in spend}
        ),
    }
    if superseded:
        metadata["uploaded_rows_superseded"] = sum(int(x["rows"]) for x in superseded)
        metadata["uploads_superseded_by_connectors"] = dg.MetadataValue.json(superseded[:50])
    if combined.num_rows:
        preview = combined.slice(0, 10).to_pandas().astype(str)
        metadata["preview"] = dg.MetadataValue.md(preview.to_markdown(index=False))
    return dg.MaterializeResult(metadata=metadata)


def _as_text(row: dict[str, object]) -> dict[str, str]:
    return {name: str(value) for name, value in row.items()}


WAREHOUSE_KEY = dg.AssetKey(["warehouse", "duckdb", "catalog"])


@dg.asset(
    key=WAREHOUSE_KEY,
    description=(
        "The analysts' DuckDB file: one view per lake table (raw_*, quarantine_*, unified_*), "
        "rebuilt as a new file and swapped in only when the set of tables changes."
    ),
    group_name="warehouse",
    kinds={"duckdb"},
    deps=[*(list(spec.ref.parts) for _, spec in all_streams()), campaign_metrics_daily],
)
def warehouse_catalog(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    """Refresh `warehouse.duckdb` so every lake table has a view, and sweep crash leftovers."""
    # Each view is described by the asset that writes its table, as the UI shows it. Imported
    # here: the code location's Definitions include this asset.
    from ownlay_pipelines.definitions import defs

    asset_descriptions = {
        tuple(spec.key.path): spec.description for spec in defs.resolve_all_asset_specs()
    }
    descriptions = catalog_descriptions(asset_descriptions, discover_tables(lake.lake_root))
    build = build_warehouse(lake.lake_root, lake.warehouse_path, descriptions=descriptions)
    # Temp files of writes that crashed before their os.replace (older than an hour, so never a
    # write in progress); readers already ignore them, this keeps the lake tidy.
    swept = sum(sweep_leftovers(lake.lake_root, ref) for ref in discover_tables(lake.lake_root))
    context.log.info(
        f"warehouse {build.path}: {len(build.views)} views ({'rebuilt' if build.rebuilt else 'unchanged'})"
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(build.path)),
            "views": dg.MetadataValue.json(list(build.views)),
            "rebuilt": build.rebuilt,
            "crash_leftovers_swept": swept,
        }
    )
