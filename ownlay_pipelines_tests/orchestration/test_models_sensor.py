"""`models_follow_upstream` on real sandbox runs: exactly the changed days, never itself."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.connectors import sync as sync_module
from ownlay_pipelines.connectors.catalog import all_streams
from ownlay_pipelines.defs.jobs import sync_run_request
from ownlay_pipelines.defs.sensors import models as models_sensor_module
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.lake.tables import TableRef, partition_dir
from ownlay_pipelines.orchestration.model_plan import (
    Change,
    ModelGraph,
    ModelInput,
    add_changes,
    plan_model_runs,
)
from ownlay_pipelines.orchestration.plan import SyncRequest, Window, plan_tick
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.orchestration.conftest import sandbox_definitions

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
WORKSPACE = "acme-outdoor"
REGISTRY = load_registry(DEFAULT_REGISTRY_FILE)
UNIFIED = "unified/campaign_metrics_daily"
ROAS = "marts/roas_daily"
DASHBOARD = "marts/dashboard_metrics"
ATTRIBUTION = "marts/attribution"
CLAIMS = "marts/channel_claims_daily"
JOURNEYS = "marts/conversion_paths"
PATH_CREDITS = "marts/path_attribution"


@pytest.fixture
def defs(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setattr(models_sensor_module, "utc_now", lambda: NOW)
    return sandbox_definitions(tmp_path / "data", store_url)


def _request(platform: str, table: str) -> SyncRequest:
    requests = plan_tick(
        [REGISTRY.get(WORKSPACE)], [s for _, s in all_streams()], NOW, earliest_day=date(2026, 1, 5)
    )
    return next(
        r
        for r in requests
        if r.platform.value == platform and any(t.parts[-1] == table for t in r.tables)
    )


def _sync(defs, instance, request: SyncRequest) -> None:
    run_request = sync_run_request(request, "test")
    result = defs.resolve_job_def(run_request.job_name).execute_in_process(
        instance=instance,
        asset_selection=run_request.asset_selection,
        partition_key=run_request.partition_key,
        tags=run_request.tags,
    )
    assert result.success


def _tick(defs, instance, cursor):
    sensor = defs.resolve_sensor_def("models_follow_upstream")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor


def _summary(run_request: dg.RunRequest) -> tuple[set[str], str, str]:
    return (
        {key.to_user_string() for key in run_request.asset_selection},
        run_request.tags["dagster/asset_partition_range_start"],
        run_request.tags["dagster/asset_partition_range_end"],
    )


def test_a_metrics_sync_recomputes_the_unified_table_and_its_marts_for_its_days_once(defs):
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        assert _tick(defs, instance, None)[0] == []
        _sync(defs, instance, _request("meta_ads", "insights"))

        (run_request,), cursor = _tick(defs, instance, None)
        # Attribution does not read ad metrics; the dashboard's periods end on or after the days.
        assert _summary(run_request) == (
            {UNIFIED, ROAS, DASHBOARD, CLAIMS},
            "2026-11-19|acme-outdoor",
            "2026-11-20|acme-outdoor",
        )
        assert _tick(defs, instance, cursor)[0] == []

        result = defs.resolve_job_def("models").execute_in_process(
            instance=instance, asset_selection=run_request.asset_selection, tags=run_request.tags
        )
        assert result.success
        # The model run's own materializations feed models it already computed: nothing new.
        assert _tick(defs, instance, cursor)[0] == []
        assert len(json.loads(cursor)["pending"]) == 0


def test_an_orders_sync_recomputes_attribution_and_what_reads_it(defs):
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        orders = next(s for _, s in all_streams() if str(s.ref) == "raw/shopify/orders")
        request = SyncRequest(
            WORKSPACE,
            orders.platform,
            orders.partitioning,
            (orders.ref,),
            Window.INTRADAY,
            DateRange(date(2026, 11, 19), date(2026, 11, 20)),
        )
        _sync(defs, instance, request)
        (run_request,), _ = _tick(defs, instance, None)
    models, first, last = _summary(run_request)
    # Orders also change the journeys (which visitor converted) and the period's path credits.
    assert models == {ATTRIBUTION, ROAS, DASHBOARD, CLAIMS, JOURNEYS, PATH_CREDITS}
    assert (first, last) == ("2026-11-19|acme-outdoor", "2026-11-20|acme-outdoor")


def test_a_workspace_with_an_unfinished_sync_waits_and_keeps_its_days(defs):
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        _sync(defs, instance, _request("meta_ads", "insights"))
        queued = instance.create_run_for_job(
            defs.resolve_job_def("daily_metrics"),
            tags={"ownlay/workspace": WORKSPACE},
            status=dg.DagsterRunStatus.STARTED,
        )

        waiting, cursor = _tick(defs, instance, None)
        assert waiting == []
        assert json.loads(cursor)["pending"] == {WORKSPACE: ["2026-11-19", "2026-11-20", [UNIFIED]]}

        instance.delete_run(queued.run_id)
        (run_request,), cursor = _tick(defs, instance, cursor)
    assert _summary(run_request)[1:] == ("2026-11-19|acme-outdoor", "2026-11-20|acme-outdoor")
    assert json.loads(cursor)["pending"] == {}


GRAPH = ModelGraph(
    ["u", "a", "r", "d"],
    [
        ModelInput("u", "raw"),
        ModelInput("a", "orders"),
        ModelInput("a", "events", days_before=1, days_after=8),
        ModelInput("r", "u"),
        ModelInput("r", "a"),
        ModelInput("d", "r", days_after=89),
    ],
)


def test_changes_spread_to_downstream_models_and_clip_to_existing_days():
    pending = {}
    add_changes(
        GRAPH,
        pending,
        [
            Change("raw", "w1", date(2026, 3, 10)),
            Change("raw", "w1", date(2026, 3, 2)),
            Change("events", "w2", date(2026, 3, 1)),
            Change("orders", "w3", date(2026, 3, 5), computed_in_run=frozenset({"a"})),
        ],
        first_day=date(2026, 3, 1),
        last_day=date(2026, 3, 20),
    )
    assert set(pending) == {"w1", "w2"}
    runs, kept = plan_model_runs(GRAPH, pending, busy={"w2"}, last_day=date(2026, 3, 20))
    (run,) = runs
    assert (run.workspace_id, run.models, run.first, run.last) == (
        "w1",
        ("u", "r", "d"),
        date(2026, 3, 2),
        date(2026, 3, 20),
    )
    # An event day reaches back one day (clipped to the first partition) and 8 days forward.
    assert (kept["w2"].first, kept["w2"].last, kept["w2"].models) == (
        date(2026, 3, 1),
        date(2026, 3, 9),
        {"a"},
    )


def test_each_partition_of_a_multi_day_run_reports_its_own_row_count(defs, tmp_path):
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        request = _request("meta_ads", "insights")
        _sync(defs, instance, request)
        records = instance.fetch_materializations(
            dg.AssetKey(["raw", "meta_ads", "insights"]), limit=10
        ).records

    by_partition = {
        r.partition_key: r.asset_materialization.metadata for r in records if r.partition_key
    }
    assert set(by_partition) == {"2026-11-19|acme-outdoor", "2026-11-20|acme-outdoor"}
    lake = (
        tmp_path / "data" / "lake" / "raw" / "meta_ads" / "insights" / "workspace_id=acme-outdoor"
    )
    for key, metadata in by_partition.items():
        day = key.split("|")[0]
        in_file = pq.read_metadata(lake / f"report_date={day}" / "data.parquet").num_rows
        assert metadata["dagster/row_count"].value == in_file
    totals = {m["run_row_count"].value for m in by_partition.values()}
    assert totals == {sum(m["dagster/row_count"].value for m in by_partition.values())}


def test_a_tick_requests_at_most_its_budget_and_keeps_the_rest_pending():
    pending = {}
    add_changes(
        GRAPH,
        pending,
        [Change("raw", f"w{n:03d}", date(2026, 3, 10 - n % 3)) for n in range(250)],
        first_day=date(2026, 3, 1),
        last_day=date(2026, 3, 20),
    )
    runs, kept = plan_model_runs(GRAPH, pending, busy=set(), last_day=date(2026, 3, 20))
    assert len(runs) == 100
    assert len(kept) == 150
    # Oldest changed day first: all 83 workspaces changed on the 8th, then 17 of the 9th.
    assert [run.first.day for run in runs] == [8] * 83 + [9] * 17


def test_a_failed_blocking_check_holds_back_the_workspaces_models_until_fixed(
    defs, monkeypatch: pytest.MonkeyPatch
):
    request = _request("meta_ads", "insights")
    run_request = sync_run_request(request, "test")
    job = defs.resolve_job_def(run_request.job_name)
    keep_duplicates = sync_module._deduplicate

    def duplicate_first_row(rows, primary_key):
        kept, dropped = keep_duplicates(rows, primary_key)
        return kept + kept[:1], dropped

    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        monkeypatch.setattr(sync_module, "_deduplicate", duplicate_first_row)
        bad = job.execute_in_process(
            instance=instance,
            asset_selection=run_request.asset_selection,
            tags=run_request.tags,
            raise_on_error=False,
        )
        assert not bad.success
        failed = [
            e.asset_check_evaluation_data
            for e in bad.all_events
            if e.event_type is dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and not e.asset_check_evaluation_data.passed
        ]
        assert {(f.check_name, f.blocking) for f in failed} == {("duplicate_keys", True)}

        sensor = defs.resolve_sensor_def("models_follow_upstream")
        context = dg.build_sensor_context(instance=instance, cursor=None, definitions=defs)
        held = sensor.evaluate_tick(context)
        assert held.run_requests == []
        assert "held back by a failed blocking check" in held.skip_message
        assert "acme-outdoor (raw/meta_ads/insights duplicate_keys)" in held.skip_message

        monkeypatch.setattr(sync_module, "_deduplicate", keep_duplicates)
        _sync(defs, instance, request)
        (released,), cursor = _tick(defs, instance, held.cursor)
        assert _summary(released) == (
            {UNIFIED, ROAS, DASHBOARD, CLAIMS},
            "2026-11-19|acme-outdoor",
            "2026-11-20|acme-outdoor",
        )
        assert "held" not in json.loads(cursor)


def test_each_model_partition_of_a_multi_day_run_reports_its_own_row_count(defs, tmp_path):
    days = DateRange(date(2026, 11, 14), date(2026, 11, 20))
    streams = {str(s.ref): s for _, s in all_streams()}
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, REGISTRY)
        for name in ("raw/meta_ads/insights", "raw/shopify/orders"):
            spec = streams[name]
            _sync(
                defs,
                instance,
                SyncRequest(
                    WORKSPACE, spec.platform, spec.partitioning, (spec.ref,), Window.INTRADAY, days
                ),
            )
        (run_request,), _ = _tick(defs, instance, None)
        result = defs.resolve_job_def("models").execute_in_process(
            instance=instance, asset_selection=run_request.asset_selection, tags=run_request.tags
        )
        assert result.success
        lake = tmp_path / "data" / "lake"
        for model in (UNIFIED, ATTRIBUTION, ROAS, DASHBOARD, CLAIMS):
            records = instance.fetch_materializations(
                dg.AssetKey.from_user_string(model), limit=200
            ).records
            counts = {
                r.partition_key: r.asset_materialization.metadata["dagster/row_count"].value
                for r in records
            }
            (run_total,) = {
                r.asset_materialization.metadata["run_row_count"].value for r in records
            }
            assert {key.split("|")[0] for key in counts} >= {d.isoformat() for d in days}
            ref = TableRef(tuple(model.split("/")))
            for key, count in counts.items():
                day, workspace = key.split("|")
                folder = partition_dir(lake, ref, workspace, date.fromisoformat(day))
                in_lake = sum(pq.read_metadata(f).num_rows for f in folder.glob("*.parquet"))
                assert count == in_lake, (model, key)
            # One models run wrote every partition: the days split its total, none shows it all.
            assert sum(counts.values()) == run_total > max(counts.values()) > 0, model
