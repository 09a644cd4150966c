"""Seed 000's data-quality checks on every connector asset, built from the stream specs.

Four checks per raw table — `row_count`, `schema`, `required_fields`, `duplicate_keys` — over the
partitions the run wrote (quality/lake_checks.py). They are partitioned like their asset, so they
run in the same run as its materialization, and one multi-asset check per partitioning evaluates
every selected stream in one step. A new platform's streams get them by being in the catalog.

Blocking: a failing check on a table a model reads (the unified table's raw inputs, the orders
the marts attribute) fails the run before the model runs, because a duplicate key double-counts
spend or revenue, a NULL key drops rows from joins, a schema drift misreads columns and a missing
partition leaves a day short. On tables nothing in the pipeline reads, the same failures are
recorded (ERROR) without stopping anything.
"""

import warnings
from collections.abc import Callable, Iterator, Sequence

import dagster as dg
import duckdb as duckdb_module
from dagster_duckdb import DuckDBResource

from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.connectors.streams import Partitioning, StreamSpec
from ownlay_pipelines.defs.assets.mart_assets import MART_ASSETS
from ownlay_pipelines.defs.assets.model_assets import campaign_metrics_daily
from ownlay_pipelines.defs.checks.results import quality_result
from ownlay_pipelines.defs.partitions import (
    daily_by_workspace,
    days_by_workspace,
    workspace_partitions,
)
from ownlay_pipelines.defs.resources import LakeResource
from ownlay_pipelines.quality.lake_checks import (
    RunPartitions,
    duplicate_keys,
    required_fields,
    row_count,
    run_partitions,
    schema_conforms,
)
from ownlay_pipelines.quality.outcome import CheckOutcome

Rule = Callable[[duckdb_module.DuckDBPyConnection, StreamSpec, RunPartitions], CheckOutcome]

RULES: dict[str, tuple[str, Rule]] = {
    "row_count": (
        "Every partition the run covered has its file (empty when the platform had no rows).",
        lambda connection, _spec, partitions: row_count(connection, partitions),
    ),
    "schema": (
        "Each written file has the stream spec's columns with its types (seed 000 schema "
        "validation).",
        lambda _connection, spec, partitions: schema_conforms(partitions.files, spec.schema),
    ),
    "required_fields": (
        "No NULL in a column the stream declares required (seed 000 required fields).",
        lambda connection, spec, partitions: required_fields(
            connection, partitions.files, spec.schema
        ),
    ),
    "duplicate_keys": (
        "No two rows share the stream's primary key (seed 000 duplicate detection).",
        lambda connection, spec, partitions: duplicate_keys(
            connection, partitions.files, spec.primary_key
        ),
    ),
}
"""Check name → (description, rule)."""


def _model_inputs() -> set[dg.AssetKey]:
    """Assets some model or mart reads: a failing check on them must stop the run."""
    models = [campaign_metrics_daily, *MART_ASSETS]
    return {dep for model in models for dep in model.dependency_keys}


def _key(spec: StreamSpec) -> dg.AssetKey:
    return dg.AssetKey(list(spec.ref.parts))


def build_stream_quality_checks(
    specs: Sequence[StreamSpec], partitioning: Partitioning
) -> dg.AssetChecksDefinition:
    """One multi-asset check evaluating `RULES` on every stream of `specs` a run selects."""
    dated = partitioning is Partitioning.DATE_AND_WORKSPACE
    partitions_def = daily_by_workspace if dated else workspace_partitions
    blocking_keys = _model_inputs()
    by_key = {_key(spec): spec for spec in specs}
    # Partitioned check specs are a preview API; they are what runs a check on exactly the
    # partitions its asset's run wrote (verified with range runs, reference/dagster.md §2.7).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        check_specs = [
            dg.AssetCheckSpec(
                name,
                asset=key,
                description=description,
                blocking=key in blocking_keys,
                partitions_def=partitions_def,
            )
            for key in by_key
            for name, (description, _) in RULES.items()
        ]
        return _stream_quality_check(check_specs, by_key, partitioning)


def _stream_quality_check(
    check_specs: list[dg.AssetCheckSpec],
    by_key: dict[dg.AssetKey, StreamSpec],
    partitioning: Partitioning,
) -> dg.AssetChecksDefinition:
    dated = partitioning is Partitioning.DATE_AND_WORKSPACE

    @dg.multi_asset_check(
        specs=check_specs,
        name=f"stream_quality_by_{partitioning.value}",
        description="Seed 000's data-quality rules on the partitions each raw table's run wrote.",
        can_subset=True,
    )
    def stream_quality(
        context: dg.AssetCheckExecutionContext, lake: LakeResource, duckdb: DuckDBResource
    ) -> Iterator[dg.AssetCheckResult]:
        keys = list(context.partition_keys)
        partitions = days_by_workspace(keys) if dated else dict.fromkeys(keys)
        selected = sorted(context.selected_asset_check_keys, key=str)
        with duckdb.get_connection() as connection:
            for check_key in selected:
                spec = by_key[check_key.asset_key]
                written = run_partitions(lake.lake_root, spec.ref, partitions)
                outcome = RULES[check_key.name][1](connection, spec, written)
                yield quality_result(
                    outcome, asset_key=check_key.asset_key, check_name=check_key.name
                )

    return stream_quality


STREAM_QUALITY_CHECKS = [
    build_stream_quality_checks(specs, partitioning)
    for partitioning in Partitioning
    if (specs := [spec for _, spec in all_streams() if spec.partitioning is partitioning])
]
