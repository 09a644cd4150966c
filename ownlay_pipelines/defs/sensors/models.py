"""`models_follow_upstream`: models recompute exactly the (workspace, day)s whose inputs changed.

A cursor sensor, not declarative automation: an automation sensor evaluates every partition of
every target asset each tick (705k per asset at 1,000 workspaces from 2025: 8 s and a 33 MB
cursor, issue 15), while this one reads only the materializations written since its cursor
(`instance.fetch_materializations` with `AssetRecordsFilter(after_storage_id=…)`), so a tick
costs what changed, not what exists.

A model is any asset partitioned `date × workspace` with inputs (`build_models_sensor` finds them
in the Definitions, so a new mart is followed without touching this file). How an input day
spreads into a model's days comes from the dependency: same day by default, the following
`n` days for a `TimeWindowPartitionMapping(start_offset=-n)` (the dashboard's 90-day periods,
attribution's click window) and the `m` days before for `end_offset=m`,
the attribution window for an unpartitioned input that lists its `day_files` (raw events).
Workspace snapshots (campaign names) are not followed: they refresh every 15 minutes and map
onto every day of a workspace; the next metrics sync carries their changes.

Each tick: new input materializations → pending (workspace, first day, last day, models) kept in
the cursor → for each workspace with no unfinished reporting-data sync or model run, one run of
`models` over the range with the changed models and everything downstream of them. A change
written by a run that also computed a reading model does not count for it, so a model run never
triggers itself. A workspace is held back (named in the skip message, kept in the cursor's
`held`) while the latest run that changed one of its inputs failed a blocking check on it: the
check stops the models of its own run, and this keeps them stopped until a sync passes.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any

import dagster as dg

from ownlay_pipelines.defs.jobs import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from ownlay_pipelines.defs.partitions import (
    HISTORY_START,
    WORKSPACE_DIMENSION,
    daily_by_workspace,
    multi_key,
    split_key,
)
from ownlay_pipelines.defs.sensors.run_scope import busy_workspaces
from ownlay_pipelines.models.attribution import AttributionSettings
from ownlay_pipelines.orchestration.model_plan import (
    MAX_RUNS_PER_TICK,
    Change,
    ModelGraph,
    ModelInput,
    ModelRun,
    Pending,
    add_changes,
    plan_model_runs,
)
from ownlay_pipelines.orchestration.plan import WORKSPACE_TAG
from ownlay_pipelines.watchtower.clock import utc_now

MODELS_JOB = "models"
SENSOR_NAME = "models_follow_upstream"
RECORDS_PER_SOURCE_PER_TICK = 1_000
"""Bounds a tick's work; a larger burst (a 1,000-workspace backfill) drains over a few ticks."""
DAY_FILES_METADATA = "day_files"
"""Metadata of an unpartitioned input listing the (workspace_id, day) files a run wrote."""
EVENT_DAYS_BEFORE = 1
"""An event's UTC day may be the previous shop-local day."""


def model_assets(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """The models: assets partitioned date × workspace that read other assets."""
    return [
        a
        for a in assets
        if isinstance(a, dg.AssetsDefinition)
        and a.partitions_def == daily_by_workspace
        and any(a.asset_deps.get(key) for key in a.keys)
    ]


def _days_spread(mapping: Any) -> tuple[int, int]:
    """(days before, days after): which model days read one input day under `mapping`."""
    if isinstance(mapping, dg.MultiPartitionMapping):
        for dimension in mapping.downstream_mappings_by_upstream_dimension.values():
            inner = dimension.partition_mapping
            if isinstance(inner, dg.TimeWindowPartitionMapping):
                return inner.end_offset, -inner.start_offset
    if isinstance(mapping, dg.TimeWindowPartitionMapping):
        return mapping.end_offset, -mapping.start_offset
    return 0, 0


def model_graph(assets: Sequence[dg.AssetsDefinition]) -> ModelGraph:
    """The models in dependency order and how each input's days reach them."""
    everything = {key: a for a in assets if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    models = model_assets(assets)
    model_keys = {key for model in models for key in model.keys}
    window = AttributionSettings().window_days
    inputs = []
    for model in models:
        for key in model.keys:
            for source in model.asset_deps.get(key, ()):
                upstream = everything.get(source)
                partitions = upstream.partitions_def if upstream else None
                name = source.to_user_string()
                if partitions == daily_by_workspace:
                    before, after = _days_spread(model.get_partition_mapping(source))
                    inputs.append(ModelInput(key.to_user_string(), name, before, after))
                elif partitions is None and upstream is not None:
                    inputs.append(
                        ModelInput(key.to_user_string(), name, EVENT_DAYS_BEFORE, window + 1)
                    )
    ordered = _dependency_order(models, model_keys)
    return ModelGraph([key.to_user_string() for key in ordered], inputs)


def _dependency_order(
    models: Sequence[dg.AssetsDefinition], keys: set[dg.AssetKey]
) -> list[dg.AssetKey]:
    upstream = {
        key: {dep for dep in model.asset_deps.get(key, ()) if dep in keys}
        for model in models
        for key in model.keys
    }
    ordered: list[dg.AssetKey] = []
    while upstream:
        ready = sorted((k for k, deps in upstream.items() if deps <= set(ordered)), key=str)
        if not ready:
            raise ValueError(f"models depend on each other in a cycle: {sorted(upstream)}")
        ordered.extend(ready)
        for key in ready:
            del upstream[key]
    return ordered


def _record_changes(
    record: Any, source: str, computed: dict[str, frozenset[str]]
) -> Iterable[Change]:
    """The (workspace, day)s one materialization record changed."""
    done = computed.get(record.run_id, frozenset())
    if record.partition_key:
        day, workspace = split_key(record.partition_key)
        yield Change(source, workspace, date.fromisoformat(day), done)
        return
    materialization = record.asset_materialization
    files = materialization.metadata.get(DAY_FILES_METADATA) if materialization else None
    for item in (files.value if files is not None else None) or []:
        yield Change(source, item["workspace_id"], date.fromisoformat(item["day"]), done)


def _runs_read(
    context: dg.SensorEvaluationContext, run_ids: set[str]
) -> tuple[dict[str, frozenset[str]], set[str]]:
    """(run id → the asset keys that run computed, the ids of those runs that failed)."""
    if not run_ids:
        return {}, set()
    computed, failed = {}, set()
    for run in context.instance.get_runs(filters=dg.RunsFilter(run_ids=sorted(run_ids))):
        keys = run.asset_selection
        if keys is None and context.repository_def is not None:
            try:
                job = context.repository_def.get_job(run.job_name)
                keys = job.asset_layer.executable_asset_keys
            except dg.DagsterInvariantViolationError:
                keys = frozenset()
        computed[run.run_id] = frozenset(key.to_user_string() for key in keys or ())
        if run.status is dg.DagsterRunStatus.FAILURE:
            failed.add(run.run_id)
    return computed, failed


FailedChecks = dict[tuple[str, str | None], set[str]]
"""(input asset, workspace or None for every workspace of the run) → failed blocking checks."""


def _failed_blocking_checks(
    instance: dg.DagsterInstance, run_ids: set[str]
) -> dict[str, FailedChecks]:
    """Run id → the blocking checks that failed in it, by input asset and workspace.

    Only failed runs are read: a failing blocking check fails its run (it stops the steps
    downstream in the same run), so a successful run has none.
    """
    failed: dict[str, FailedChecks] = {}
    for run_id in sorted(run_ids):
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for record in records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            evaluation = event.asset_check_evaluation_data
            if evaluation.passed or not evaluation.blocking:
                continue
            workspace = split_key(evaluation.partition)[1] if evaluation.partition else None
            key = (evaluation.asset_key.to_user_string(), workspace)
            failed.setdefault(run_id, {}).setdefault(key, set()).add(evaluation.check_name)
    return failed


def update_held(
    held: dict[str, dict[str, list[str]]],
    changes: Iterable[tuple[str, str, str]],
    failed: dict[str, FailedChecks],
) -> None:
    """Fold (input, workspace, run id) changes, oldest first, into the held-back inputs.

    A workspace's input is held while the latest run that changed it failed a blocking check on
    it; the next change by a run whose checks passed releases it.
    """
    for source, workspace, run_id in changes:
        checks = failed.get(run_id, {})
        names = checks.get((source, workspace), set()) | checks.get((source, None), set())
        if names:
            held.setdefault(workspace, {})[source] = sorted(names)
        elif source in held.get(workspace, {}):
            del held[workspace][source]
            if not held[workspace]:
                del held[workspace]


def _held_summary(held: dict[str, dict[str, list[str]]], workspaces: Iterable[str]) -> str:
    """ "ws (raw/x check, check), …" for the first ten held-back workspaces."""
    parts = []
    for workspace in sorted(workspaces):
        inputs = "; ".join(
            f"{src} {', '.join(names)}" for src, names in sorted(held[workspace].items())
        )
        parts.append(f"{workspace} ({inputs})")
    return ", ".join(parts[:10]) + (" …" if len(parts) > 10 else "")


Cursor = tuple[dict[str, int], dict[str, Pending], dict[str, dict[str, list[str]]]]


def read_cursor(text: str | None) -> Cursor:
    """(last storage id read per input, pending work per workspace, held-back inputs)."""
    if not text:
        return {}, {}, {}
    document = json.loads(text)
    return (
        {k: int(v) for k, v in document["after"].items()},
        {ws: Pending.from_json(item) for ws, item in document["pending"].items()},
        document.get("held", {}),
    )


def write_cursor(
    after: dict[str, int],
    pending: dict[str, Pending],
    held: dict[str, dict[str, list[str]]] | None = None,
) -> str:
    document: dict[str, object] = {
        "after": dict(sorted(after.items())),
        "pending": {ws: entry.to_json() for ws, entry in sorted(pending.items())},
    }
    if held:
        document["held"] = dict(sorted(held.items()))
    return json.dumps(document, separators=(",", ":"))


def model_run_request(run: ModelRun, trigger: str) -> dg.RunRequest:
    """One single-run range of `run`'s models for its workspace."""
    return dg.RunRequest(
        run_key=f"{trigger}:{run.workspace_id}:{run.first}:{run.last}",
        job_name=MODELS_JOB,
        asset_selection=[dg.AssetKey.from_user_string(model) for model in run.models],
        tags={
            WORKSPACE_TAG: run.workspace_id,
            PARTITION_RANGE_START_TAG: multi_key(run.first, run.workspace_id),
            PARTITION_RANGE_END_TAG: multi_key(run.last, run.workspace_id),
        },
    )


def build_models_sensor(
    assets: Sequence[dg.AssetsDefinition],
) -> tuple[dg.SensorDefinition, Any]:
    """The sensor following every model among `assets`, and the job its runs use."""
    graph = model_graph(assets)
    job = dg.define_asset_job(
        MODELS_JOB,
        selection=dg.AssetSelection.assets(
            *(dg.AssetKey.from_user_string(model) for model in graph.models)
        ),
        description="Recompute models (unified table and marts) for one workspace's days; "
        f"launched by `{SENSOR_NAME}`.",
    )

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Recomputes the models (the unified table and every mart) for exactly the "
        "workspaces and days whose inputs were materialized since its last tick, once none of "
        "the workspace's syncs is unfinished: one run per workspace. Runs by default: sync runs "
        "never include models.",
    )
    def models_follow_upstream(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        instance = context.instance
        after, pending, held = read_cursor(context.cursor)
        records_by_source = {}
        for source in graph.sources:
            result = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey.from_user_string(source),
                    after_storage_id=after.get(source),
                ),
                limit=RECORDS_PER_SOURCE_PER_TICK,
                ascending=True,
            )
            records_by_source[source] = result.records
            if result.records:
                after[source] = result.records[-1].storage_id
        computed, failed_runs = _runs_read(
            context, {r.run_id for records in records_by_source.values() for r in records}
        )
        update_held(
            held,
            (
                (source, split_key(record.partition_key)[1], record.run_id)
                for source, records in records_by_source.items()
                for record in records
                if record.partition_key
            ),
            _failed_blocking_checks(instance, failed_runs),
        )
        today = utc_now().astimezone(UTC).date()
        add_changes(
            graph,
            pending,
            (
                change
                for source, records in records_by_source.items()
                for record in records
                for change in _record_changes(record, source, computed)
            ),
            first_day=HISTORY_START,
            last_day=today,
        )
        known = set(instance.get_dynamic_partitions(WORKSPACE_DIMENSION))
        pending = {ws: entry for ws, entry in pending.items() if ws in known}
        held = {ws: inputs for ws, inputs in held.items() if ws in known}
        busy = busy_workspaces(instance, MODELS_JOB) if pending else set()
        blocked = set(pending) & set(held)
        runs, kept = plan_model_runs(graph, pending, busy=busy | blocked, last_day=today)
        read = sum(len(records) for records in records_by_source.values())
        trigger = f"{SENSOR_NAME}:{max(after.values(), default=0)}"
        cursor = write_cursor(after, kept, held)
        waiting = len(set(kept) & busy - blocked)
        held_back = (
            f"{len(blocked)} held back by a failed blocking check on an input: "
            + _held_summary(held, blocked)
            if blocked
            else ""
        )
        if kept:
            context.log.info(
                f"{len(kept)} workspace(s) pending: {waiting} wait for an unfinished sync or "
                f"model run, {len(kept) - waiting - len(blocked)} for the next tick (at most "
                f"{MAX_RUNS_PER_TICK} runs a tick)" + (f"; {held_back}" if held_back else "")
            )
        if not runs:
            return dg.SensorResult(
                skip_reason=f"{read} new input materialization(s); nothing to recompute now"
                + (f" ({waiting} workspace(s) waiting for their syncs)" if waiting else "")
                + (f"; {held_back}" if held_back else ""),
                cursor=cursor,
            )
        return dg.SensorResult(
            run_requests=[model_run_request(run, trigger) for run in runs], cursor=cursor
        )

    return models_follow_upstream, job
